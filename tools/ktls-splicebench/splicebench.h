/* SPDX-License-Identifier: MIT */
/*
 * splicebench.h - what the files of ktls-splicebench share: the options,
 * one run (ktls-splicebench/run.c) with its relay (relay.c), and the
 * results (report.c).
 */
#ifndef KTLS_SPLICEBENCH_H
#define KTLS_SPLICEBENCH_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CHUNK		(1u << 20)	/* producer write, pattern period */
#define MAX_RUNS	50

enum mode {
	M_EPOLL, M_URING_POLL, M_URING_POLL1, M_URING_SPLICE, M_URING_BLOCK,
	NMODES
};
enum sink { S_PLAIN, S_KTLS, NSINKS };

struct sb_opts {
	uint64_t size;
	unsigned runs;
	unsigned modes;		/* bit per enum mode */
	unsigned sinks;		/* bit per enum sink */
	bool plain, json, verbose;
	double time_limit;
};

/* in ktls-splicebench.c */
extern struct sb_opts o;
extern const char *const mode_names[NMODES];
extern const char *const mode_letters[NMODES];
extern const char *const mode_desc[NMODES];
extern const char *const sink_names[NSINKS];

/* ---- run.c: the stream, the sockets, the CPU, one run -------------------- */

struct cpu {
	double user, sys;
};

#define MAX_WORKERS 256

/* The io-wq worker threads of this process and their CPU ticks. */
struct workers {
	int n;
	pid_t tid[MAX_WORKERS];
	unsigned long long utime[MAX_WORKERS], stime[MAX_WORKERS];
};

struct run {
	enum mode mode;
	enum sink sink;
	/* descriptors: producer -> rfd (relay in), wfd (relay out) -> sink */
	int prod, rfd, wfd, sinkfd, pipe[2];
	pthread_barrier_t start;
	double t0, deadline;
	/* relay state */
	size_t inpipe;
	uint64_t moved;
	bool eof, r_ready, w_ready, pipe_full;
	/* results */
	int err;			/* -errno of the relay, 0 */
	const char *err_what;
	uint64_t produced, sunk;
	unsigned char sink_md[32];
	int prod_err, sink_err;
	double relay_end, sink_end;
	struct cpu thr, wrk;
	long csw;
	int workers_seen;
	struct workers w0;	/* io-wq workers before the run */
	struct cpu thr0;
	long csw0;
};

/* The stream repeats pattern, CHUNK pseudo-random bytes that
 * pattern_init() allocates (or dies) and fills. */
extern unsigned char *pattern;
void pattern_init(void);
/* SHA-256 of the first @size bytes of the stream, in @md. 0, or -1. */
int stream_digest(uint64_t size, unsigned char md[32]);
/* A connected loopback TCP pair: *@a connected to *@b, both blocking,
 * TCP_NODELAY (as ktlsd's defaults). 0 or -errno. */
int tcp_pair(int *a, int *b);
/* The user and system CPU of this thread; voluntary and involuntary
 * context switches in *@nvcsw. */
struct cpu thread_cpu(long *nvcsw);
/* The io-wq worker threads of this process and their CPU ticks. */
void workers_read(struct workers *w);
/* CPU of the workers in @after beyond what they had in @before. */
struct cpu workers_delta(const struct workers *before,
			 const struct workers *after);
/* One run: returns 0 when it ran (see r->err etc. for the verdict),
 * -errno with @what when it could not be set up. */
int run_one(struct run *r, const char **what);

/* ---- relay.c: the relay thread's modes ----------------------------------- */

/* (a) level-triggered epoll, interest following what blocked. */
int relay_epoll(struct run *r);
/* (b), (c), (d) on one ring; measures the run before the ring goes. */
int relay_uring(struct run *r);
/* The end of the relay: its wall clock and CPU, the workers' CPU. */
void relay_measure(struct run *r);

/* ---- report.c ------------------------------------------------------------ */

struct result {
	bool ran, ok;
	char why[160];
	uint64_t sunk;
	char sha[65];
	double wall, thr_user, thr_sys, wrk_user, wrk_sys;
	long csw;
};

extern struct result results[NSINKS][NMODES][MAX_RUNS];
#define R(s, m, i) (&results[s][m][i])
extern unsigned char expect_md[32];	/* SHA-256 of the stream */
extern char expect_hex[65];

/* Fill @x from the finished run @r. */
void judge(const struct run *r, struct result *x);
void print_json(const char *kernel);
void print_table(const char *kernel);

#endif
