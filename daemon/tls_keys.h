/* SPDX-License-Identifier: MIT */
/*
 * tls_keys.h - what the kernel needs from a finished OpenSSL handshake:
 * the traffic secrets (TLS 1.3, captured from the keylog callback) or the
 * master secret and randoms (TLS 1.2), and the record sequence number of
 * each direction, counted from the record headers OpenSSL reports (never
 * assumed): the count restarts at the key change, which is the
 * ChangeCipherSpec record in TLS 1.2 and the Finished message in 1.3.
 */
#ifndef KTLSD_TLS_KEYS_H
#define KTLSD_TLS_KEYS_H

#include <openssl/ssl.h>

#include "ktls.h"

/* Arm secret capture and record counting on every SSL of CTX. */
void tls_keys_setup_ctx(SSL_CTX *ctx);

/*
 * The kernel crypto_info of SSL's transmit (TX = 1) or receive direction,
 * from the local point of view, with the sequence number of the next
 * record. Returns 0, or -errno: -EOPNOTSUPP (the suite cannot be
 * offloaded; *WHY says why), -ENOKEY (no secret captured).
 */
int tls_keys_crypto_info(SSL *ssl, int tx, union ktls_crypto_info *ci,
			 const char **why);

/*
 * TLS 1.3: the suite and the current traffic secrets of SSL from the local
 * point of view (TX: ours, RX: the peer's), for a kernel rekey after the
 * switch. TX and RX have room for KTLS_MAX_SECRET bytes; *LEN gets the
 * length. Returns 0, or -errno when not TLS 1.3 or nothing was captured.
 * The caller wipes the copies (OPENSSL_cleanse).
 */
int tls_keys_tls13_secrets(SSL *ssl, struct ktls_suite *suite,
			   unsigned char *tx, unsigned char *rx, size_t *len);

/* Wipe the captured secrets and stop counting (after the switch). */
void tls_keys_forget(SSL *ssl);

#endif
