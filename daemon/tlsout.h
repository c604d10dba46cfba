/* SPDX-License-Identifier: MIT */
/*
 * tlsout.h - the send side of a userspace TLS connection, batched.
 *
 * OpenSSL writes each TLS record to its BIO as soon as it is sealed, so a
 * socket BIO costs one write(2), one TCP push and one wake-up of the peer
 * per 16 KiB record. tlsout_attach() puts a BIO under OpenSSL that gathers
 * the records in one buffer from the worker's pool (worker_buf_get()) and
 * writes them to the socket in one call: when the buffer is full, or when
 * the relay calls tlsout_flush() after a burst. The buffer is given back
 * as soon as it is empty, so an idle connection holds none.
 *
 * Contract with the relay: bytes are in the socket only after
 * tlsout_flush() returned 1; flush before shutdown(SHUT_WR) and watch the
 * socket for writability while it returns 0 (the pump flushes at the end
 * of every round: that also sends what OpenSSL wrote on its own). OpenSSL
 * sees EAGAIN from this BIO only when a record does not fit and the
 * socket takes nothing; its BIO_flush() never fails for a full socket.
 */
#ifndef KTLSD_TLSOUT_H
#define KTLSD_TLSOUT_H

#include <stddef.h>
#include <openssl/ssl.h>

struct worker;

/*
 * Make SSL write through a batching BIO to FD (the socket BIO, if any,
 * stays the read BIO), with buffers from W's pool. Only for a send
 * direction that stays in userspace for good, after the handshake, from
 * W's thread. Returns 0 or -ENOMEM (SSL is unchanged then).
 */
int tlsout_attach(SSL *ssl, struct worker *w, int fd);

/*
 * Write what SSL's batching BIO holds. Returns 1 when nothing is left
 * (also when SSL has no such BIO), 0 when the socket would block (errno
 * EAGAIN), or -errno.
 */
int tlsout_flush(SSL *ssl);

/*
 * Is there room for one more sealed record, plus a control record that
 * OpenSSL may write on its own while reading (its answer to a peer's
 * KeyUpdate)? The relay calls SSL_write only then, so that OpenSSL never
 * holds a half-written record: OpenSSL 3.0 fails such a control write
 * ("bad length") when an application record is still pending. 1 also
 * without a batching BIO.
 */
int tlsout_has_room(SSL *ssl);

/* Bytes waiting in SSL's batching BIO (0 without one). */
size_t tlsout_pending(SSL *ssl);

#endif
