/* SPDX-License-Identifier: MIT */
/*
 * relay.c - the relay of ktls-splicebench: the kTLS receive socket through
 * a pipe to the sink, with splice(2) driven by epoll (a), io_uring polls
 * (b, b1), IORING_OP_SPLICE behind polls (c) or blocking in io-wq (d).
 */
#include "splicebench.h"
#include "tool.h"

#include <buildconf.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>
#include <sys/epoll.h>

#if HAVE_LIBURING
#include <liburing.h>
#endif

#define SPLICE_LEN	(1u << 20)
#define SPLICE_BATCH	16		/* as daemon/relay.c */
#define PUMP_BUDGET	32		/* as daemon/relay.c */
#define WAIT_MS		100		/* deadline checks while waiting */

/* -- the splice(2) pump of modes a and b, after daemon/relay.c dir_splice -- */

static int relay_fail(struct run *r, const char *what, int err)
{
	r->err = err ? err : -EIO;
	r->err_what = what;
	return r->err;
}

/* Source -> pipe, up to SPLICE_BATCH records. 1 when bytes moved or the
 * end came, 0 when blocked, -errno. An EAGAIN means an empty socket only
 * when the pipe is empty; otherwise the pipe may be full (pipe_full). */
static int splice_fill(struct run *r)
{
	int moved = 0;

	for (int i = 0; i < SPLICE_BATCH; i++) {
		ssize_t n = splice(r->rfd, NULL, r->pipe[1], NULL, SPLICE_LEN,
				   SPLICE_F_NONBLOCK | SPLICE_F_MOVE);

		if (n > 0) {
			r->inpipe += (size_t)n;
			moved = 1;
			continue;
		}
		if (n == 0) {	/* no empty records are sent: EOF */
			r->eof = true;
			return 1;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return relay_fail(r, "splice from the socket", -errno);
		if (r->inpipe)
			r->pipe_full = true;
		else
			r->r_ready = false;
		break;
	}
	return moved;
}

/* Pipe -> destination, one call. 1 moved, 0 blocked, -errno. */
static int splice_drain(struct run *r)
{
	ssize_t n = splice(r->pipe[0], NULL, r->wfd, NULL, r->inpipe,
			   SPLICE_F_NONBLOCK | SPLICE_F_MOVE);

	if (n > 0) {
		r->inpipe -= (size_t)n;
		r->moved += (uint64_t)n;
		r->pipe_full = false;
		return 1;
	}
	if (n < 0 && errno == EAGAIN) {
		r->w_ready = false;
		return 0;
	}
	if (n < 0 && errno == EINTR)
		return 0;
	return relay_fail(r, "splice to the sink", n < 0 ? -errno : -EPIPE);
}

static bool relay_done(const struct run *r)
{
	return r->eof && !r->inpipe;
}

/* Can the pump go on without waiting for an event? */
static bool relay_busy(const struct run *r)
{
	return (r->r_ready && !r->pipe_full && !r->eof) ||
	       (r->w_ready && r->inpipe);
}

static int relay_pump(struct run *r)
{
	for (int round = 0; round < PUMP_BUDGET && !relay_done(r); round++) {
		int progress = 0, rc;

		if (r->r_ready && !r->pipe_full && !r->eof) {
			rc = splice_fill(r);
			if (rc < 0)
				return rc;
			progress |= rc;
		}
		if (r->inpipe && r->w_ready) {
			rc = splice_drain(r);
			if (rc < 0)
				return rc;
			progress |= rc;
		}
		if (!progress)
			break;
	}
	return 0;
}

/* The end of the relay: its wall clock and CPU, the workers' CPU. */
void relay_measure(struct run *r)
{
	struct workers w1;

	r->relay_end = now_s();
	r->thr = thread_cpu(&r->csw);
	r->thr.user -= r->thr0.user;
	r->thr.sys -= r->thr0.sys;
	r->csw -= r->csw0;
	workers_read(&w1);
	r->wrk = workers_delta(&r->w0, &w1);
	r->workers_seen = w1.n;
}

static int relay_timed_out(struct run *r)
{
	if (now_s() < r->deadline)
		return 0;
	return relay_fail(r, "time limit", -ETIMEDOUT);
}

/* (a) level-triggered epoll, interest following what blocked. */
int relay_epoll(struct run *r)
{
	struct epoll_event ev = { 0 }, evs[2];
	uint32_t want[2] = { EPOLLIN, 0 }, reg[2] = { 0, 0 };
	int fds[2] = { r->rfd, r->wfd };
	int ep = epoll_create1(EPOLL_CLOEXEC), rc = 0;

	if (ep < 0)
		return relay_fail(r, "epoll_create1", -errno);
	for (int i = 0; i < 2; i++) {
		ev.events = 0;
		ev.data.u32 = (uint32_t)i;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) < 0) {
			rc = relay_fail(r, "epoll_ctl", -errno);
			goto out;
		}
	}
	while (!relay_done(r)) {
		int n;

		rc = relay_pump(r);
		if (rc < 0 || relay_done(r) || (rc = relay_timed_out(r)))
			break;
		want[0] = !r->eof && !r->r_ready ? EPOLLIN : 0;
		want[1] = r->inpipe && !r->w_ready ? EPOLLOUT : 0;
		for (int i = 0; i < 2; i++) {
			if (want[i] == reg[i])
				continue;
			ev.events = want[i];
			ev.data.u32 = (uint32_t)i;
			if (epoll_ctl(ep, EPOLL_CTL_MOD, fds[i], &ev) < 0) {
				rc = relay_fail(r, "epoll_ctl", -errno);
				goto out;
			}
			reg[i] = want[i];
		}
		n = epoll_wait(ep, evs, 2, relay_busy(r) ? 0 : WAIT_MS);
		if (n < 0 && errno != EINTR) {
			rc = relay_fail(r, "epoll_wait", -errno);
			break;
		}
		for (int i = 0; i < n; i++) {
			if (evs[i].data.u32 == 0)
				r->r_ready = true;
			else
				r->w_ready = true;
		}
	}
out:
	close(ep);
	return rc;
}

#if HAVE_LIBURING
enum { UD_RPOLL = 1, UD_WPOLL, UD_SPLICE_IN, UD_SPLICE_OUT };

struct ring_state {
	struct io_uring ring;
	bool rpoll, wpoll, in_busy, out_busy;
	bool multishot;
};

static struct io_uring_sqe *sqe_get(struct ring_state *s)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&s->ring);

	if (!sqe) {
		io_uring_submit(&s->ring);
		sqe = io_uring_get_sqe(&s->ring);
	}
	return sqe;
}

/* Arm the polls the state asks for: the receive side while it is not
 * known readable (multishot: all the time), the sink once blocked. */
static int ring_arm_polls(struct run *r, struct ring_state *s)
{
	struct io_uring_sqe *sqe;

	if (!s->rpoll && !r->eof && (s->multishot || !r->r_ready)) {
		sqe = sqe_get(s);
		if (!sqe)
			return relay_fail(r, "io_uring_get_sqe", -EBUSY);
		if (s->multishot)
			io_uring_prep_poll_multishot(sqe, r->rfd, POLLIN);
		else
			io_uring_prep_poll_add(sqe, r->rfd, POLLIN);
		io_uring_sqe_set_data64(sqe, UD_RPOLL);
		s->rpoll = true;
	}
	if (!s->wpoll && r->inpipe && !r->w_ready) {
		sqe = sqe_get(s);
		if (!sqe)
			return relay_fail(r, "io_uring_get_sqe", -EBUSY);
		io_uring_prep_poll_add(sqe, r->wfd, POLLOUT);
		io_uring_sqe_set_data64(sqe, UD_WPOLL);
		s->wpoll = true;
	}
	return 0;
}

/* Modes c and d: an OP_SPLICE for each hop that can go, never linked. */
static int ring_queue_splices(struct run *r, struct ring_state *s,
			      unsigned flags)
{
	bool block = !(flags & SPLICE_F_NONBLOCK);
	struct io_uring_sqe *sqe;

	if (!s->in_busy && !r->eof &&
	    (block || (r->r_ready && !r->pipe_full))) {
		sqe = sqe_get(s);
		if (!sqe)
			return relay_fail(r, "io_uring_get_sqe", -EBUSY);
		io_uring_prep_splice(sqe, r->rfd, -1, r->pipe[1], -1,
				     SPLICE_LEN, flags);
		io_uring_sqe_set_data64(sqe, UD_SPLICE_IN);
		s->in_busy = true;
	}
	if (!s->out_busy && r->inpipe && (block || r->w_ready)) {
		sqe = sqe_get(s);
		if (!sqe)
			return relay_fail(r, "io_uring_get_sqe", -EBUSY);
		io_uring_prep_splice(sqe, r->pipe[0], -1, r->wfd, -1,
				     (unsigned)r->inpipe, flags);
		io_uring_sqe_set_data64(sqe, UD_SPLICE_OUT);
		s->out_busy = true;
	}
	return 0;
}

static int ring_complete(struct run *r, struct ring_state *s, uint64_t ud,
			 int res, unsigned cflags)
{
	switch (ud) {
	case UD_RPOLL:
		if (!(s->multishot && (cflags & IORING_CQE_F_MORE)))
			s->rpoll = false;
		if (res == -EINVAL && s->multishot) {
			s->multishot = false;	/* kernel without multishot */
			return 0;
		}
		if (res < 0 && res != -ECANCELED)
			return relay_fail(r, "POLL_ADD on the socket", res);
		r->r_ready = true;
		return 0;
	case UD_WPOLL:
		s->wpoll = false;
		if (res < 0 && res != -ECANCELED)
			return relay_fail(r, "POLL_ADD on the sink", res);
		r->w_ready = true;
		return 0;
	case UD_SPLICE_IN:
		s->in_busy = false;
		if (res > 0) {
			r->inpipe += (size_t)res;
		} else if (res == 0) {
			r->eof = true;
		} else if (res == -EAGAIN) {
			if (r->inpipe || s->out_busy)
				r->pipe_full = true;
			else
				r->r_ready = false;
		} else if (res != -EINTR) {
			return relay_fail(r, "OP_SPLICE from the socket", res);
		}
		return 0;
	case UD_SPLICE_OUT:
		s->out_busy = false;
		if (res > 0) {
			r->inpipe -= (size_t)res;
			r->moved += (uint64_t)res;
			r->pipe_full = false;
		} else if (res == -EAGAIN) {
			r->w_ready = false;
		} else if (res != -EINTR) {
			return relay_fail(r, "OP_SPLICE to the sink",
					  res ? res : -EPIPE);
		}
		return 0;
	}
	return 0;
}

/* (b), (c), (d) on one ring. */
int relay_uring(struct run *r)
{
	struct ring_state s = { .multishot = r->mode != M_URING_POLL1 };
	unsigned flags = r->mode == M_URING_BLOCK ? SPLICE_F_MOVE :
			 SPLICE_F_MOVE | SPLICE_F_NONBLOCK;
	int rc;

	rc = io_uring_queue_init(64, &s.ring, 0);
	if (rc < 0)
		return relay_fail(r, "io_uring_queue_init", rc);
	while (!relay_done(r)) {
		struct __kernel_timespec ts = { .tv_nsec = WAIT_MS * 1000000L };
		struct io_uring_cqe *cqe;
		unsigned head, n = 0;
		bool busy;

		if (r->mode == M_URING_POLL || r->mode == M_URING_POLL1) {
			rc = relay_pump(r);
			if (rc < 0 || relay_done(r))
				break;
		} else {
			rc = ring_queue_splices(r, &s, flags);
			if (rc < 0)
				break;
		}
		if (r->mode != M_URING_BLOCK && (rc = ring_arm_polls(r, &s)))
			break;
		if ((rc = relay_timed_out(r)))
			break;
		busy = (r->mode == M_URING_POLL || r->mode == M_URING_POLL1) &&
		       relay_busy(r);
		rc = io_uring_submit_and_wait_timeout(&s.ring, &cqe, busy ? 0 : 1,
						      busy ? NULL : &ts, NULL);
		/* -EAGAIN: nothing completed when not waiting */
		if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN) {
			relay_fail(r, "io_uring_submit_and_wait", rc);
			break;
		}
		rc = 0;
		io_uring_for_each_cqe(&s.ring, head, cqe) {
			n++;
			if (!rc)
				rc = ring_complete(r, &s, cqe->user_data,
						   cqe->res, cqe->flags);
		}
		io_uring_cq_advance(&s.ring, n);
		if (rc < 0)
			break;
	}
	/* the CPU of the run is read before the ring (and its workers) go */
	relay_measure(r);
	io_uring_queue_exit(&s.ring);
	return rc < 0 ? rc : r->err;
}
#else
int relay_uring(struct run *r)
{
	return relay_fail(r, "io_uring", -ENOSYS);
}
#endif

