/* SPDX-License-Identifier: MIT */
/*
 * ev.h - the event engine behind each worker: readiness watches on file
 * descriptors, run one batch at a time, level-triggered. Two engines
 * implement it: ev_epoll.c and ev_uring.c (one-shot polls on a ring),
 * chosen once at startup (ioEngine = auto|uring|epoll).
 *
 * Concurrency: a loop belongs to one thread. Callbacks may change or
 * delete any watch of the loop, including their own; a watch deleted
 * during a batch gets no further callbacks in that batch, but its memory
 * must stay valid until ev_run_once() returns (free objects after it).
 * Returns are 0 or -errno; this layer never logs.
 */
#ifndef KTLSD_EV_H
#define KTLSD_EV_H

#include <stdint.h>
#include <sys/epoll.h>

#define EV_READ EPOLLIN
#define EV_WRITE EPOLLOUT

struct ev_loop;
struct ev_watch;

/* EVENTS holds EV_READ/EV_WRITE, plus EPOLLERR/EPOLLHUP as reported. */
typedef void (*ev_cb)(struct ev_watch *w, uint32_t events);

struct ev_watch {
	int fd;
	uint32_t events;	/* what is registered now */
	int added;
	ev_cb cb;
	void *arg;
	uint32_t slot;		/* io_uring engine: slot + 1, 0 = none */
};

int ev_loop_new(struct ev_loop **out);
void ev_loop_free(struct ev_loop *l);

/* Prepare W for FD; nothing is registered yet. */
void ev_watch_init(struct ev_watch *w, int fd, ev_cb cb, void *arg);

/* Watch for EVENTS (0 keeps the fd registered but silent). */
int ev_watch_set(struct ev_loop *l, struct ev_watch *w, uint32_t events);

/* Stop watching; safe on a watch never set. Call before close(fd). */
void ev_watch_del(struct ev_loop *l, struct ev_watch *w);

/* Wait up to TIMEOUT_MS (-1 = forever) and dispatch one batch. Returns
 * the number of events, or -errno (-EINTR is not an error). */
int ev_run_once(struct ev_loop *l, int timeout_ms);

/* ---- engines ------------------------------------------------------------ */

enum ev_engine { EV_EPOLL, EV_URING };

const char *ev_engine_name(enum ev_engine e);

/* Whether the io_uring engine can run here: 0, or -errno (-ENOSYS
 * without liburing or kernel support, -EPERM when forbidden by
 * kernel.io_uring_disabled or a seccomp filter). */
int ev_uring_probe(void);

/* Make the next ev_loop_new() calls use engine E (before any loop). */
void ev_set_engine(enum ev_engine e);
enum ev_engine ev_get_engine(void);

/* What an engine provides; each loop starts with a pointer to its ops. */
struct ev_ops {
	int (*set)(struct ev_loop *l, struct ev_watch *w, uint32_t events);
	void (*del)(struct ev_loop *l, struct ev_watch *w);
	int (*run)(struct ev_loop *l, int timeout_ms);
	void (*free)(struct ev_loop *l);
};
struct ev_loop {
	const struct ev_ops *ops;
};

int ev_epoll_new(struct ev_loop **out);
int ev_uring_new(struct ev_loop **out);

#endif
