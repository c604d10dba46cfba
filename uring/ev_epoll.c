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

struct ep_loop {
	struct ev_loop base;
	int epfd;
	int in_batch;
	struct epoll_event evs[EV_BATCH];
	int nevs, cur;
};

static const struct ev_ops ep_ops;

int ev_epoll_new(struct ev_loop **out)
{
	struct ep_loop *l = calloc(1, sizeof(*l));

	if (!l)
		return -ENOMEM;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		int e = errno;

		free(l);
		return -e;
	}
	l->base.ops = &ep_ops;
	*out = &l->base;
	return 0;
}

static void ep_free(struct ev_loop *base)
{
	struct ep_loop *l = (struct ep_loop *)base;

	close(l->epfd);
	free(l);
}

static int ep_set(struct ev_loop *base, struct ev_watch *w, uint32_t events)
{
	struct ep_loop *l = (struct ep_loop *)base;
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

static void forget(struct ep_loop *l, struct ev_watch *w)
{
	int i;

	/* Only events still ahead in this batch can name W: blank them. */
	for (i = l->cur; i < l->nevs; i++)
		if (l->evs[i].data.ptr == w)
			l->evs[i].data.ptr = NULL;
}

static void ep_del(struct ev_loop *base, struct ev_watch *w)
{
	struct ep_loop *l = (struct ep_loop *)base;

	if (!w->added)
		return;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	w->added = 0;
	w->events = 0;
	if (l->in_batch)
		forget(l, w);
}

static int ep_run(struct ev_loop *base, int timeout_ms)
{
	struct ep_loop *l = (struct ep_loop *)base;
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

static const struct ev_ops ep_ops = {
	.set = ep_set, .del = ep_del, .run = ep_run, .free = ep_free,
};
