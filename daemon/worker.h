/* SPDX-License-Identifier: MIT */
/*
 * worker.h - worker threads, each with its own event loop and its own
 * connections. The main thread accepts and hands connections over through
 * a per-worker mailbox (a mutex-protected list plus an eventfd); from then
 * on a connection is touched by its worker only, without locks. The
 * per-worker lock also guards the list of live connections that the
 * status page and SIGUSR2 read.
 */
#ifndef KTLSD_WORKER_H
#define KTLSD_WORKER_H

#include <stdint.h>

#include "conn.h"
#include "ev.h"

struct worker {
	int idx;
	struct ev_loop *loop;
	uint64_t now;		/* ms, refreshed after every batch */
	/* private to worker.c below */
	void *priv;
};

/* Start N workers (N >= 1). Returns 0 or -errno. */
int workers_start(int n);

/* Hand C to the next worker (round robin). */
void workers_dispatch(struct conn *c);

/*
 * Ask every worker to finish: immediately when GRACE_MS is 0, else once
 * its connections are gone or after GRACE_MS (then they are closed).
 */
void workers_stop(uint64_t grace_ms);
void workers_join(void);
int workers_count(void);

/* Call FN for every live connection, under each worker's lock. */
void workers_foreach(void (*fn)(const struct conn *c, void *arg), void *arg);

/* inetd mode: run C on the calling thread until it is closed. */
void worker_run_inline(struct conn *c);

/*
 * Pipes for the splice relay, from a per-worker pool: a connection holds
 * one per direction only while bytes are in flight, so an idle kTLS
 * connection costs its two sockets and nothing more. Get returns 0 or
 * -errno; put takes only empty pipes.
 */
int worker_pipe_get(struct worker *w, int fds[2]);
void worker_pipe_put(struct worker *w, int fds[2]);

/*
 * Relay buffers of WORKER_BUF bytes, from a per-worker pool: a
 * connection holds one only while bytes wait in it, so an idle
 * connection holds none (as HAProxy does), and a busy worker allocates
 * nothing. Get returns NULL when out of memory; put takes NULL too.
 */
#define WORKER_BUF (80 * 1024)	/* 64 KiB, or 4 sealed records */
void *worker_buf_get(struct worker *w);
void worker_buf_put(struct worker *w, void *buf);

/* Call conn_soon(C) once, MS milliseconds from now (or a little later).
 * Asking again while C waits moves the time. */
void worker_soon(struct worker *w, struct conn *c, unsigned ms);

/* From conn.c: C is closed; free it after the current batch. */
void worker_conn_done(struct worker *w, struct conn *c);

#endif
