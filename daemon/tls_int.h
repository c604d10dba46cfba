/* SPDX-License-Identifier: MIT */
/*
 * tls_int.h - what tls.c, tls_ctx.c and tls_sess.c share: the state that
 * hangs off OpenSSL's objects, and the helpers that build and find it;
 * not for use elsewhere.
 */
#ifndef KTLSD_TLS_INT_H
#define KTLSD_TLS_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/ssl.h>

#include "addr.h"
#include "config.h"
#include "util.h"

#define TLS_SVC_MAGIC	0x544c5356u	/* "TLSV" */
#define TLS_CONN_MAGIC	0x544c5343u	/* "TLSC" */
#define SESSION_SLOTS	64		/* client sessions kept per service */
#define TICKET_NAME_LEN	16

struct session_slot {
	struct addr target;
	SSL_SESSION *sess;	/* one reference, owned by the slot */
};

/* svc->tls */
struct tls_svc {
	uint32_t magic;
	struct service *svc;
	SSL_CTX *ctx;

	/* session tickets with fixed keys (server mode) */
	int has_ticket_keys;
	int ticket_key_len, ticket_mac_len;
	unsigned char ticket_name[TICKET_NAME_LEN];
	unsigned char ticket_key[32], ticket_mac[32];

	/* client mode: the last session per backend target */
	pthread_mutex_t lock;
	struct session_slot slots[SESSION_SLOTS];
	size_t n_slots, next_evict;
};

/* ex_data of every SSL made by tls_conn_new() */
struct tls_conn {
	uint32_t magic;
	struct service *svc;	/* the service the SSL was created for */
	struct service *sni;	/* the secondary chosen by SNI, or NULL */
	int sni_done;		/* the ClientHello was looked at */
	uint64_t id;
	int has_target;
	struct addr target;
	char verify_err[128];	/* last verification failure, "" if none */
};

/* tls_config_init(): where problems go, and how many there were */
struct init_ctx {
	config_report_fn report;
	void *arg;
	int errors;
};

/* ---- tls.c ---- */

/* SSL_CTX ex_data index of struct tls_svc, set by tls_global_init(). */
extern int ctx_idx;

/* The struct tls_conn of an SSL made by tls_conn_new(), or NULL. */
struct tls_conn *conn_get(const SSL *ssl);

/* svc->tls, or NULL when SVC has no TLS context (yet). */
struct tls_svc *svc_tls(const struct service *svc);

/* The service that serves C: the SNI choice, else the one it was made
 * for. */
struct service *conn_service(const struct tls_conn *c);

/* Report a configuration problem as "FILE:LINE: message" at AT, or at
 * the [section] line of SVC; counts it in IC. */
void __printf(4, 5) report_at(struct init_ctx *ic, const struct service *svc,
			      const struct loc *at, const char *fmt, ...);

/* The root cause from OpenSSL's error queue into BUF, which it
 * returns; the queue is emptied. */
const char *ssl_reason(char *buf, size_t len);

/* ---- tls_ctx.c: the steps of svc_init(), each reporting its errors ---- */

/* Verify modes and callback from the verify* and check* options. */
void setup_verify(struct service *svc, SSL_CTX *ctx);

/* cert and key; 0, or -1 after reporting. */
int load_identity(struct init_ctx *ic, struct service *svc, SSL_CTX *ctx);

/* CAfile, CApath, CRLfile, CRLpath; 0, or -1 after reporting. */
int load_trust(struct init_ctx *ic, struct service *svc, SSL_CTX *ctx);

/* Versions, ciphers, groups, options, and what kTLS needs; 0, or -1
 * after reporting. */
int setup_protocol(struct init_ctx *ic, struct service *svc,
		   SSL_CTX *ctx);

/* ---- tls_sess.c ---- */

/* The session cache and tickets of T's context (server mode), or the
 * client session store; 0, or -1 after reporting. */
int setup_sessions(struct init_ctx *ic, struct service *svc,
		   struct tls_svc *t);

/* Client mode: offer SSL the session stored for TARGET, if resumable. */
void resume_session(struct tls_svc *t, SSL *ssl, const struct addr *target);

#endif
