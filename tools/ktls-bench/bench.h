/* SPDX-License-Identifier: MIT */
/*
 * bench.h - what the files of ktls-bench share: the options, the state,
 * the connections and their program (ktls-bench/conn.c), the server
 * (server.c) and the clients (client.c).
 */
#ifndef KTLS_BENCH_H
#define KTLS_BENCH_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "tool.h"

#define HDR_MAGIC	0x3142544bu	/* "KTB1" */
#define HDR_LEN		24		/* magic, op, two sizes */
#define SCRATCH		(256 * 1024)
#define MAX_SAMPLES	(4u << 20)	/* rr latencies kept */

enum op { OP_UP = 1, OP_DOWN, OP_RR, OP_HOLD };
enum mode { M_SERVER, M_BULK_UP, M_BULK_DOWN, M_HANDSHAKE, M_RR, M_IDLE };
enum state {
	ST_CONNECT, ST_HANDSHAKE, ST_RUN, ST_DRAIN, ST_HOLD, ST_DONE
};

enum end { END_OK, END_EOF, END_ERR };	/* how a connection ends */

struct bench_opts {
	enum mode mode;
	const char *addr;
	struct tls_opts tls;
	uint64_t bytes;
	unsigned conns;
	double duration;
	uint64_t count;
	int resume;
	uint64_t req, resp;
	double hold;
	unsigned inflight;
	size_t chunk;
	double timeout;
	unsigned workers;
	int verbose;
};

struct conn {
	int fd;
	SSL *ssl;
	enum state state;
	uint32_t want, armed;
	unsigned slot;			/* client: index in the slot table */
	/* the program: ctrl bytes out, then wr_left bytes, then rd_left in */
	unsigned char ctrl[HDR_LEN];
	size_t ctrl_len, ctrl_off;
	uint64_t wr_left, rd_left;
	unsigned char hdr[HDR_LEN];	/* server: the request header */
	size_t hdr_got;
	int got_hdr;
	uint32_t op;
	uint64_t a, b;
	uint64_t t_start, t_req;	/* client: data start, rr request sent */
	uint64_t rx, tx;
	uint64_t reqs;
};

struct slot {
	struct conn *c;
	SSL_SESSION *sess;
};

/* the process: its listener or its client slots, and what it reports */
struct bench_state {
	int ep;
	int lfd;
	SSL_CTX *ctx;
	struct tool_addr addr;
	uint64_t t0, deadline, end_at;	/* end_at: handshake/rr duration */
	struct slot *slots;
	unsigned nslots;
	unsigned live, connecting;	/* idle: open, being set up */
	unsigned started, established, lost;
	uint64_t handshakes, resumed, unclean, errors;
	uint64_t bytes_done, t_first, t_last, done_conns;
	uint64_t *lat;
	size_t nlat;
	uint64_t req_total;
	uint64_t *per_conn_bytes;
	int stop;			/* no new connections */
	int idle_reported;
	unsigned printed_errs;
};

/* in ktls-bench.c */
extern struct bench_opts o;
extern struct bench_state g;
extern const char *const mode_names[];
extern volatile sig_atomic_t got_signal;	/* SIGUSR1, SIGINT, SIGTERM */
/* Returns at the deadline or on a signal; a client also when no
 * connection is left, rr at the end of its duration, idle when it may
 * start more connections or has just settled. */
void event_loop(void);

static inline uint64_t secs_ns(double s)
{
	return (uint64_t)(s * 1e9);
}

/* ---- conn.c: a connection and its program, for both roles ---------------- */

extern unsigned char pattern[SCRATCH];	/* what is sent */

/* An error of C on stderr (the first few, or all with --verbose). */
PRINTF(2, 3) void conn_err(struct conn *c, const char *fmt, ...);
/* The epoll interest of C is what it wants. */
void conn_watch(struct conn *c);
/* Frees everything; with clean, a TLS connection says close_notify first
 * (best effort, never waiting). */
void conn_destroy(struct conn *c, int clean);
/* The request header of a client. */
void put_hdr(struct conn *c, uint32_t op, uint64_t a, uint64_t b);
void nodelay(int fd);
/* g.ctx from the options. */
void tls_setup(void);
/* The SSL of C, for a server or a client; -1 on failure. */
int conn_tls(struct conn *c, int server);
/* C's socket is ready: run its program. */
void on_conn_event(struct conn *c);

/* ---- server.c ------------------------------------------------------------ */

void srv_close(struct conn *c, int clean);
/* The request header is in: set up what it asks for. 0, or -1. */
int srv_on_hdr(struct conn *c);
/* Both halves of the program are done: what follows. */
void srv_next(struct conn *c);
/* Takes the connections that wait on the listener. */
void srv_accept(void);
NORETURN void run_server(void);

/* ---- client.c ------------------------------------------------------------ */

/* The handshake is done (or the TCP connect, in plain mode): the request.
 * Returns 1 when the connection is gone. */
int client_ready(struct conn *c);
/* The program ran out: the next request, or the end. Returns 1 when the
 * connection is gone. */
int client_next(struct conn *c);
/* A connection ends: account, free, and (handshake) start the next one
 * in its slot. */
void client_done(struct conn *c, enum end how);
/* idle: every connection is set up (or failed) */
int idle_settled(void);
NORETURN void run_client(void);

#endif
