/* SPDX-License-Identifier: MIT */
/*
 * tls.h - OpenSSL contexts built from the service options: certificates,
 * trust, revocation, verification policy, protocol versions, ciphers,
 * groups, options, session cache and tickets, SNI virtual hosts, and the
 * client-side session store per backend target.
 */
#ifndef KTLSD_TLS_H
#define KTLSD_TLS_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/ssl.h>

#include "addr.h"
#include "config.h"

/* Once per process, before anything else that touches OpenSSL. */
void tls_global_init(void);

/*
 * Build an SSL_CTX for every service of CFG (svc->tls). Every problem is
 * reported as "file:line: message" through REPORT, at the line of the
 * option at fault (or of the [section]). Returns 0, or -1 if anything was
 * reported; then tls_config_free() is still safe.
 */
int tls_config_init(struct config *cfg, config_report_fn report, void *arg);
void tls_config_free(struct config *cfg);

/*
 * A new SSL object for a connection of SVC (not yet bound to a socket),
 * in accept state for server mode and connect state for client mode, with
 * SNI set and the host checks armed in client mode. CONN_ID tags log
 * lines written from OpenSSL callbacks. TARGET (client mode, may be NULL)
 * selects the cached session to resume. NULL on failure (errors logged).
 */
SSL *tls_conn_new(struct service *svc, uint64_t conn_id,
		  const struct addr *target);

/*
 * Free SSL (NULL is a no-op) and its per-connection state. CLEAN says the
 * connection ended properly (close_notify either way, or a close after
 * the kTLS switch, which OpenSSL never sees): the session then stays in
 * the server cache. OpenSSL alone treats an SSL freed without a TLS
 * shutdown as truncated and forgets its session.
 */
void tls_conn_free(SSL *ssl, int clean);

/*
 * The receive direction of SSL stays in userspace for good (ktls = off,
 * or the kernel did not take it): let OpenSSL read ahead, several records
 * per read(2) into a TLS_READ_AHEAD buffer. Never before the decision to
 * install kTLS RX was taken: bytes read ahead would be lost at the switch.
 */
void tls_conn_read_ahead(SSL *ssl);

/* The service that serves SSL after SNI selection (a secondary section
 * when a pattern matched, the primary otherwise). */
struct service *tls_conn_service(SSL *ssl);

/* Client mode, after a successful handshake: remember the session for
 * TARGET so that the next connection to it resumes. */
void tls_conn_save_session(SSL *ssl, const struct addr *target);

/* "TLSv1.3 TLS_AES_256_GCM_SHA384" into BUF; returns BUF. */
char *tls_conn_describe(SSL *ssl, char *buf, size_t len);

/* The reason of the last verification failure of SSL, or NULL. */
const char *tls_conn_verify_error(SSL *ssl);

#endif
