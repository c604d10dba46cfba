/* SPDX-License-Identifier: MIT */
/*
 * ev.c - the engine-independent part of ev.h: dispatch to the engine a
 * loop was made with.
 */
#include "ev.h"

#include <string.h>

static enum ev_engine engine = EV_EPOLL;

const char *ev_engine_name(enum ev_engine e)
{
	return e == EV_URING ? "io_uring" : "epoll";
}

void ev_set_engine(enum ev_engine e)
{
	engine = e;
}

enum ev_engine ev_get_engine(void)
{
	return engine;
}

int ev_loop_new(struct ev_loop **out)
{
	return engine == EV_URING ? ev_uring_new(out) : ev_epoll_new(out);
}

void ev_loop_free(struct ev_loop *l)
{
	if (l)
		l->ops->free(l);
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
	return l->ops->set(l, w, events);
}

void ev_watch_del(struct ev_loop *l, struct ev_watch *w)
{
	l->ops->del(l, w);
}

int ev_run_once(struct ev_loop *l, int timeout_ms)
{
	return l->ops->run(l, timeout_ms);
}
