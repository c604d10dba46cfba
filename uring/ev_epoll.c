/* SPDX-License-Identifier: MIT */
/*
 * ev_epoll.c - the epoll engine: level-triggered readiness.
 *
 * A watch deleted inside a batch must not be called again in the same
 * batch, although epoll_wait() already returned its event: deleting a
 * watch blanks the events still ahead of the dispatcher that name it.
 */
#include "ev.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EV_BATCH 64

struct ev_loop {
	int epfd;
	int in_batch;
	struct epoll_event evs[EV_BATCH];
	int nevs, cur;
};

int ev_loop_new(struct ev_loop **out)
{
	struct ev_loop *l = calloc(1, sizeof(*l));

	if (!l)
		return -ENOMEM;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		int e = errno;

		free(l);
		return -e;
	}
	*out = l;
	return 0;
}

void ev_loop_free(struct ev_loop *l)
{
	if (!l)
		return;
	close(l->epfd);
	free(l);
}

void ev_watch_init(struct ev_watch *w, int fd, ev_cb cb, void *arg)
{
	memset(w, 0, sizeof(*w));
	w->fd = fd;
	w->cb = cb;
	w->arg = arg;
}

int ev_watch_set(struct ev_loop *l, struct ev_watch *w, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	if (w->added && w->events == events)
		return 0;
	if (epoll_ctl(l->epfd, w->added ? EPOLL_CTL_MOD : EPOLL_CTL_ADD,
		      w->fd, &ev) < 0)
		return -errno;
	w->added = 1;
	w->events = events;
	return 0;
}

static void forget(struct ev_loop *l, struct ev_watch *w)
{
	int i;

	/* Only events still ahead in this batch can name W: blank them. */
	for (i = l->cur; i < l->nevs; i++)
		if (l->evs[i].data.ptr == w)
			l->evs[i].data.ptr = NULL;
}

void ev_watch_del(struct ev_loop *l, struct ev_watch *w)
{
	if (!w->added)
		return;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	w->added = 0;
	w->events = 0;
	if (l->in_batch)
		forget(l, w);
}

int ev_run_once(struct ev_loop *l, int timeout_ms)
{
	int n = epoll_wait(l->epfd, l->evs, EV_BATCH, timeout_ms);

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	l->nevs = n;
	l->in_batch = 1;
	for (l->cur = 0; l->cur < n;) {
		struct epoll_event *e = &l->evs[l->cur++];
		struct ev_watch *w = e->data.ptr;

		if (w)
			w->cb(w, e->events);
	}
	l->in_batch = 0;
	l->nevs = 0;
	return n;
}
