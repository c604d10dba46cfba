/* SPDX-License-Identifier: MIT */
/*
 * conn.h - one relayed connection: the state machine
 *
 *   HANDSHAKE (server mode) -> CONNECTING -> RELAY -> closed
 *   CONNECTING -> HANDSHAKE (client mode) -> RELAY -> closed
 *
 * A connection has two sides (0: the accepted client, 1: the backend) and
 * two directions (0: client -> backend, 1: backend -> client). Each
 * direction has its own data path, buffer, byte counter and end state, so
 * half-close works per direction and each direction moves from the
 * userspace relay to kernel TLS on its own after the handshake (offload.c);
 * a direction with both ends in the kernel is relayed by splice(2).
 *
 * A connection lives on one worker thread. conn_close() is idempotent; it
 * unhooks everything and hands the memory to the worker, which frees it
 * after the current event batch. Fields read by other threads (status
 * page, SIGUSR2) are the byte counters (atomics) and what is written once
 * before the connection is published.
 */
#ifndef KTLSD_CONN_H
#define KTLSD_CONN_H

#include <stdint.h>
#include <openssl/ssl.h>

#include "addr.h"
#include "config.h"
#include "ev.h"
#include "ktls.h"

struct worker;
struct offload_rekey;

enum conn_state { CONN_NEW, CONN_HANDSHAKE, CONN_CONNECTING, CONN_RELAY,
		  CONN_CLOSED };


struct side {
	int rfd, wfd;		/* equal except in inetd mode (stdin/stdout) */
	SSL *ssl;		/* NULL on the plain side */
	struct ev_watch rw, ww;	/* ww only when wfd != rfd */
	unsigned need;		/* SIDE_NEED_* from the last pump */
	int hup;		/* hung up and no longer watched */
	int ulp;		/* the kernel's tls ULP is attached */
	int ktls_tx, ktls_rx;	/* that direction is in the kernel */
	int close_sent;		/* close_notify sent (kTLS) or queued (OpenSSL) */
	struct offload_rekey *rekey; /* TLS 1.3 secrets, if it can rekey */
	int ku_owed;		/* our KeyUpdate must go before more data */
	struct ktls_txq txq;	/* ktls_tx: what the TLS layer holds back */
};
#define SIDE_NEED_RD 1u
#define SIDE_NEED_WR 2u

struct dir {
	int src, dst;		/* side indices */
	char *buf;
	uint32_t off, len;
	uint64_t bytes;		/* delivered to dst (atomic) */
	uint8_t rd_wait, wr_wait; /* SIDE_NEED_* the last read from src /
				 * write to dst blocked on: not tried again
				 * until that side's event reports it */
	uint8_t eof;		/* nothing more will be read from src */
	uint8_t shut;		/* the end was passed on to dst */
	const char *how;	/* how src ended: "close_notify", "EOF"... */
	int splice;		/* relayed by splice(2) through pipe[] */
	int pipe[2];		/* from the worker's pool while inpipe > 0 */
	size_t inpipe;
	/* The end waits for the kTLS layer to hand TCP its last records
	 * (dir_tx_held): asked again by a timer, after drain_ms. */
	uint8_t drain_wait;
	uint16_t drain_ms;
	uint64_t drain_held;	/* bytes held at the last look */
};

struct conn {
	uint32_t magic;
	uint64_t id;
	struct worker *w;
	struct config *cfg;	/* reference held for the whole life */
	struct service *svc;	/* accepting service, then SNI's choice */
	enum conn_state state;
	int tls_side;		/* 0 in server mode, 1 in client mode */
	int handshake_done;
	struct side s[2];
	struct dir d[2];

	char peer[ADDR_STRLEN];
	struct addrlist own_targets;	/* delay = yes: resolved here */
	const struct addrlist *targets;
	size_t tgt_first, tgt_tried;
	const struct addr *target;	/* the one being tried or in use */

	uint64_t t_start;	/* ms, monotonic */
	uint64_t t_phase;	/* start of the handshake or connect attempt */
	uint64_t t_active;	/* last byte moved */
	char proto[96];		/* "TLSv1.3 TLS_AES_256_GCM_SHA384" */
	const char *path;	/* "userspace", "ktls tx+rx", ... */
	char path_why[160];	/* why not (all) in the kernel; "" */
	char reason[160];

	struct conn *next, *prev;	/* worker's list */
	struct conn *soon_next;		/* worker's timer list (worker_soon) */
	uint64_t soon_at;		/* ms; 0: not on it */
};

/*
 * A connection of SVC (a reference to CFG is taken) on accepted socket
 * FD, or on IN/OUT in inetd mode (FD_OUT = FD_IN otherwise). PEER is
 * the printable client address. NULL on ENOMEM.
 */
struct conn *conn_new(struct config *cfg, struct service *svc, int fd_in,
		      int fd_out, const char *peer);

/* Begin the connection on worker W (its thread). */
void conn_start(struct conn *c, struct worker *w);

/* Close with REASON; ERROR selects the error path (reset = yes sends an
 * RST). Idempotent. */
void conn_close(struct conn *c, const char *reason, int error);

/* Once a second from the worker: enforce the deadlines. */
void conn_tick(struct conn *c, uint64_t now);

/* The time C asked for with worker_soon() has come. */
void conn_soon(struct conn *c);

/* Milliseconds since C last moved a byte, 0 while bytes are buffered,
 * UINT64_MAX before the relay started (nothing worth waiting for). */
uint64_t conn_quiet_ms(const struct conn *c, uint64_t now);

/* Release the memory; only the worker calls this, after the batch. */
void conn_free(struct conn *c);

/* A one-line description for the status page and SIGUSR2. */
void conn_describe(const struct conn *c, char *buf, size_t len);

/* Bytes written to the TLS side and to the plain side (stunnel's words). */
uint64_t conn_bytes_to_tls(const struct conn *c);
uint64_t conn_bytes_to_socket(const struct conn *c);

const char *conn_state_str(enum conn_state s);

#endif
