/* SPDX-License-Identifier: MIT */
/*
 * peer.h - what the files of ktls-peer share: the options, the address,
 * the connections (ktls-peer/conn.c) and their tally.
 */
#ifndef KTLS_PEER_H
#define KTLS_PEER_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "tool.h"

struct peer_opts {
	int server;
	const char *addr;
	struct tls_opts tls;
	uint64_t send;
	uint64_t seed;
	int echo;
	size_t chunk;
	long reply_after_eof;		/* ms, -1 = off */
	long read_after;		/* ms, 0 = off */
	int rcvbuf;			/* SO_RCVBUF, 0 = the default */
	int no_shutdown;
	int64_t expect;			/* -1 = off */
	double timeout;			/* s, 0 = none */
	int timeout_set;
	int stats;
	int verbose;
	unsigned count;
	unsigned parallel;
	uint64_t key_update;		/* TLS 1.3 KeyUpdate every N bytes */
};

/* in ktls-peer.c */
extern struct peer_opts o;
extern struct tool_addr addr;	/* o.addr resolved */
extern SSL_CTX *ctx;		/* with --tls */
extern unsigned finished;	/* connections judged */
extern unsigned failed;		/* of them, failed */
extern unsigned target;		/* connections to finish, 0 = forever */

/* ---- connections (conn.c) ------------------------------------------------ */

/* the pseudo-random stream: xorshift64*, little-endian words */
struct gen {
	uint64_t s;
	unsigned char tail[8];
	unsigned pos;		/* bytes of tail already used; 8 = none left */
};

enum end { END_NONE, END_CLEAN, END_EOF, END_TRUNCATED, END_RESET, END_ERROR,
	   END_TIMEOUT };
enum phase { PH_CONNECT, PH_HANDSHAKE, PH_DATA, PH_DONE };
enum tx { TX_SEND, TX_SHUTDOWN, TX_DONE };

struct conn {
	unsigned id;
	int fd;
	SSL *ssl;
	enum phase phase;
	int64_t t0;
	short hs_ev, rd_ev, wr_ev;	/* what each side waits for */
	int again;			/* stopped for fairness: pump again */
	int64_t wake_at;		/* --reply-after-eof timer, 0 = none */
	int64_t read_at;		/* --read-after: not before, 0 = now */

	int rx_done;
	enum end rx_end;
	int64_t eof_at;
	uint64_t recvd;
	EVP_MD_CTX *rx_md;

	enum tx tx;
	struct gen gen;
	uint64_t generated, sent;
	EVP_MD_CTX *tx_md;
	unsigned char *buf;		/* pending output [off, len) */
	size_t cap, off, len;

	enum end end;			/* set by the first failure */
	char reason[256];
	char peer[64];			/* server: the client's address */
	uint64_t ku_next;		/* --key-update: at this many bytes */
	unsigned key_updates;		/* KeyUpdates (update_requested) sent */
};

/* A connection on FD, starting in PHASE; id is its number in the reports. */
struct conn *conn_alloc(unsigned id, int fd, enum phase phase);
/* The first failure of C ends it with E, for the reason FMT. */
PRINTF(3, 4) void conn_fail(struct conn *c, enum end e, const char *fmt, ...);
/* The TCP connection is up: the handshake (--tls), or the data. */
void conn_established(struct conn *c);
/* C's socket is ready for what conn_events() asked, or a timer is due. */
void conn_handle(struct conn *c);
/* What C waits for: POLLIN, POLLOUT, both, or 0. */
short conn_events(const struct conn *c);
/* The line "sent=N sent_sha256=HEX recv=M ..." of C, ended as E. */
void conn_report(struct conn *c, enum end e);
/* C is PH_DONE: judge, count, report (see --stats) and free it. */
void conn_finish(struct conn *c);
const char *end_str(enum end e);

#endif
