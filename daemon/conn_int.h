/* SPDX-License-Identifier: MIT */
/*
 * conn_int.h - what conn.c (the state machine) and relay.c (the data
 * relay) share; not for use elsewhere.
 */
#ifndef KTLSD_CONN_INT_H
#define KTLSD_CONN_INT_H

#include <openssl/ssl.h>

#include "conn.h"

/* ---- conn.c ---- */

/* Watch what the last pump (or handshake, or connect) found each side
 * waiting for (side->need); closes C when the loop refuses. */
void conn_arm(struct conn *c);

/* Close after a TLS failure, with OpenSSL's reason as the end. */
void conn_tls_fail(struct conn *c, const char *what);

/* Close C after a failed I/O call WHAT ("read from") on side SIDE. */
void conn_io_fail(struct conn *c, const char *what, int side,
		  const char *err);

/* What OpenSSL's ERR waits for (SIDE_NEED_*), 0 if it is no WANT_*. */
static inline unsigned ssl_want(int err)
{
	return err == SSL_ERROR_WANT_READ ? SIDE_NEED_RD :
	       err == SSL_ERROR_WANT_WRITE ? SIDE_NEED_WR : 0;
}

/* ---- relay.c ---- */

/* The handshake and the backend connection are done: choose splice or
 * copy per direction, enter CONN_RELAY and pump. */
void conn_start_relay(struct conn *c);

/* Move what can move both ways until nothing progresses (or the budget
 * is spent), then watch what blocked. May close C. */
void conn_pump(struct conn *c);

#endif
