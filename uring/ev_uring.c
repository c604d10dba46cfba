/* SPDX-License-Identifier: MIT */
/*
 * ev_uring.c - the io_uring engine: the readiness of ev.h through poll
 * requests on a ring, one ring per loop (per worker thread).
 *
 * Level-triggered like the epoll engine: every poll is one-shot and is
 * armed again after its callback while the watch still wants events; a
 * one-shot poll that finds its fd ready completes at once, so a ready fd
 * keeps firing exactly as with epoll. A watch with no events keeps a
 * poll for the error and hang-up conditions the kernel always reports.
 *
 * Lifetimes: a poll may complete after its watch was changed or deleted
 * (removal on a ring is asynchronous). Completions therefore name a slot
 * and a generation, never a pointer: the slot table belongs to the loop,
 * a change or a deletion bumps the generation, and completions of an old
 * generation are dropped. So a watch's memory can go as soon as
 * ev_watch_del() returns and the current batch is over, as with epoll.
 * The requests still in flight for dead generations are cancelled and
 * their completions ignored; all are reaped when the ring is freed.
 *
 * Data moves with ordinary syscalls (read/write, SSL, splice(2) with
 * SPLICE_F_NONBLOCK) from the completion handlers: IORING_OP_SPLICE always
 * runs in an io-wq worker (DESIGN.md 3.6), and on kTLS sockets it costs
 * about twice the CPU per GiB on 6.1 and 7.3 alike (tools/ktls-splicebench,
 * bench/README.md "Splice driving on kTLS sockets").
 */
#include "ev.h"

#include <buildconf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#if HAVE_LIBURING
#include <liburing.h>

#define RING_ENTRIES 256
#define NO_SLOT 0

struct slot {
	struct ev_watch *w;	/* NULL when free */
	uint32_t gen;
	uint32_t next_free;
	int armed;		/* a poll of this generation is in flight */
};

struct ur_loop {
	struct ev_loop base;
	struct io_uring ring;
	struct slot *slots;	/* slots[0] is never used */
	uint32_t nslots, free_head;
};

static const struct ev_ops ur_ops;

static uint64_t encode(uint32_t slot, uint32_t gen)
{
	return (uint64_t)slot << 32 | gen;
}

static struct io_uring_sqe *get_sqe(struct ur_loop *l)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&l->ring);

	if (!sqe) {		/* full: hand what is queued to the kernel */
		io_uring_submit(&l->ring);
		sqe = io_uring_get_sqe(&l->ring);
	}
	return sqe;
}

static int slot_alloc(struct ur_loop *l, struct ev_watch *w)
{
	uint32_t i;

	if (!l->free_head) {
		uint32_t n = l->nslots ? l->nslots * 2 : 64;
		struct slot *s = realloc(l->slots, n * sizeof(*s));

		if (!s)
			return -ENOMEM;
		memset(s + l->nslots, 0, (n - l->nslots) * sizeof(*s));
		for (i = n - 1; i >= (l->nslots ? l->nslots : 1); i--) {
			s[i].next_free = l->free_head;
			l->free_head = i;
		}
		l->slots = s;
		l->nslots = n;
	}
	i = l->free_head;
	l->free_head = l->slots[i].next_free;
	l->slots[i].w = w;
	l->slots[i].armed = 0;
	w->slot = i + 1;
	return 0;
}

/* Forget the current generation's poll: cancel it, ignore its end. */
static void disarm(struct ur_loop *l, uint32_t i)
{
	struct slot *s = &l->slots[i];
	struct io_uring_sqe *sqe;

	if (s->armed) {
		sqe = get_sqe(l);
		if (sqe) {
			io_uring_prep_poll_remove(sqe, encode(i, s->gen));
			io_uring_sqe_set_data64(sqe, encode(NO_SLOT, 0));
		}
		s->armed = 0;
	}
	s->gen++;
}

static int arm(struct ur_loop *l, uint32_t i)
{
	struct slot *s = &l->slots[i];
	struct io_uring_sqe *sqe = get_sqe(l);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_poll_add(sqe, s->w->fd, s->w->events);
	io_uring_sqe_set_data64(sqe, encode(i, s->gen));
	s->armed = 1;
	return 0;
}

static int ur_set(struct ev_loop *base, struct ev_watch *w, uint32_t events)
{
	struct ur_loop *l = (struct ur_loop *)base;
	uint32_t i;
	int rc;

	if (w->added && w->events == events && l->slots[w->slot - 1].armed)
		return 0;
	if (!w->slot) {
		rc = slot_alloc(l, w);
		if (rc)
			return rc;
	}
	i = w->slot - 1;
	if (w->events != events || !w->added)
		disarm(l, i);
	w->events = events;
	w->added = 1;
	return l->slots[i].armed ? 0 : arm(l, i);
}

static void ur_del(struct ev_loop *base, struct ev_watch *w)
{
	struct ur_loop *l = (struct ur_loop *)base;
	uint32_t i;

	if (!w->slot)
		return;
	i = w->slot - 1;
	disarm(l, i);
	l->slots[i].w = NULL;
	l->slots[i].next_free = l->free_head;
	l->free_head = i;
	w->slot = 0;
	w->added = 0;
	w->events = 0;
}

static void dispatch(struct ur_loop *l, uint64_t ud, int res)
{
	uint32_t i = ud >> 32, gen = (uint32_t)ud;
	struct ev_watch *w;
	struct slot *s;

	if (i == NO_SLOT || i >= l->nslots)
		return;
	s = &l->slots[i];
	if (!s->w || s->gen != gen || !s->armed)
		return;		/* an old generation's completion */
	s->armed = 0;
	w = s->w;
	w->cb(w, res < 0 ? EPOLLERR : (uint32_t)res);
	/* Level-triggered: ask again while the watch is still wanted. */
	s = &l->slots[i];	/* the table may have grown */
	if (s->w == w && s->gen == gen && !s->armed && w->added)
		arm(l, i);
}

static int ur_run(struct ev_loop *base, int timeout_ms)
{
	struct ur_loop *l = (struct ur_loop *)base;
	struct __kernel_timespec ts = {
		.tv_sec = timeout_ms / 1000,
		.tv_nsec = (long long)(timeout_ms % 1000) * 1000000,
	};
	struct io_uring_cqe *cqe;
	int rc, n = 0;

	rc = io_uring_submit_and_wait_timeout(&l->ring, &cqe, 1,
					      timeout_ms < 0 ? NULL : &ts,
					      NULL);
	if (rc < 0 && rc != -ETIME && rc != -EINTR)
		return rc;
	/* Callbacks queue new requests, never new completions: take the
	 * completions one at a time, each consumed before its callback. */
	while (io_uring_peek_cqe(&l->ring, &cqe) == 0) {
		uint64_t ud = io_uring_cqe_get_data64(cqe);
		int res = cqe->res;

		io_uring_cqe_seen(&l->ring, cqe);
		dispatch(l, ud, res);
		n++;
	}
	return n;
}

static void ur_free(struct ev_loop *base)
{
	struct ur_loop *l = (struct ur_loop *)base;

	io_uring_queue_exit(&l->ring);	/* cancels what is in flight */
	free(l->slots);
	free(l);
}

int ev_uring_new(struct ev_loop **out)
{
	struct ur_loop *l = calloc(1, sizeof(*l));
	int rc;

	if (!l)
		return -ENOMEM;
	rc = io_uring_queue_init(RING_ENTRIES, &l->ring, 0);
	if (rc < 0) {
		free(l);
		return rc;
	}
	l->base.ops = &ur_ops;
	*out = &l->base;
	return 0;
}

int ev_uring_probe(void)
{
	struct io_uring ring;
	struct io_uring_probe *p;
	int rc = io_uring_queue_init(4, &ring, 0);

	if (rc < 0)
		return rc;
	p = io_uring_get_probe_ring(&ring);
	if (!p)
		rc = -ENOSYS;
	else if (!io_uring_opcode_supported(p, IORING_OP_POLL_ADD) ||
		 !io_uring_opcode_supported(p, IORING_OP_POLL_REMOVE))
		rc = -EOPNOTSUPP;
	if (p)
		io_uring_free_probe(p);
	io_uring_queue_exit(&ring);
	return rc;
}

static const struct ev_ops ur_ops = {
	.set = ur_set, .del = ur_del, .run = ur_run, .free = ur_free,
};

#else /* !HAVE_LIBURING */

int ev_uring_new(struct ev_loop **out)
{
	(void)out;
	return -ENOSYS;
}

int ev_uring_probe(void)
{
	return -ENOSYS;
}

#endif
