/* SPDX-License-Identifier: MIT */
#include "tlsout.h"
#include "worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>

struct tlsout {
	struct worker *w;
	int fd;
	char *buf;		/* WORKER_BUF bytes from w's pool, or NULL */
	size_t off, len;	/* the bytes not yet written */
};

static BIO_METHOD *method;
static int method_type;
static pthread_once_t method_once = PTHREAD_ONCE_INIT;

/* Write out what O holds: 0 when empty (the buffer goes back to the
 * pool), -EAGAIN when the socket is full, or -errno. */
static int out_drain(struct tlsout *o)
{
	while (o->len) {
		ssize_t n = write(o->fd, o->buf + o->off, o->len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		o->off += (size_t)n;
		o->len -= (size_t)n;
	}
	worker_buf_put(o->w, o->buf);
	o->buf = NULL;
	o->off = 0;
	return 0;
}

/* Room for N more bytes at the end of O's buffer, moving what is left to
 * its start when that helps. */
static int out_fits(struct tlsout *o, size_t n)
{
	if (o->off + o->len + n <= WORKER_BUF)
		return 1;
	if (o->len + n > WORKER_BUF)
		return 0;
	memmove(o->buf, o->buf + o->off, o->len);
	o->off = 0;
	return 1;
}

/* All of IN or nothing, except a write larger than the whole buffer,
 * which goes to the socket directly once the buffer is empty. */
static int out_write(BIO *b, const char *in, int inl)
{
	struct tlsout *o = BIO_get_data(b);
	int rc;

	BIO_clear_retry_flags(b);
	if (inl <= 0)
		return 0;
	if (o->len && !out_fits(o, (size_t)inl)) {
		rc = out_drain(o);
		if (rc == -EAGAIN && !out_fits(o, (size_t)inl)) {
			BIO_set_retry_write(b);
			errno = EAGAIN;
			return -1;
		}
		if (rc < 0 && rc != -EAGAIN) {
			errno = -rc;
			return -1;
		}
	}
	if (!o->len && (size_t)inl > WORKER_BUF) {
		ssize_t n = write(o->fd, in, (size_t)inl);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			BIO_set_retry_write(b);
		return n < 0 ? -1 : (int)n;
	}
	if (!o->buf) {
		o->buf = worker_buf_get(o->w);
		if (!o->buf) {
			errno = ENOMEM;
			return -1;
		}
		o->off = 0;
	}
	memcpy(o->buf + o->off + o->len, in, (size_t)inl);
	o->len += (size_t)inl;
	return inl;
}

static long out_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct tlsout *o = BIO_get_data(b);
	int rc;

	(void)num, (void)ptr;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		/* OpenSSL's own flush (after a KeyUpdate it answers, an
		 * alert): what the socket does not take now stays queued in
		 * order, and the relay's next tlsout_flush() sends it. Never a
		 * retry: OpenSSL 3.0's buffering BIO, pushed over this one
		 * while it writes handshake messages, drops the retry flag of
		 * a flush, and SSL_get_error() then says SSL_ERROR_SYSCALL. */
		BIO_clear_retry_flags(b);
		rc = out_drain(o);
		if (rc < 0 && rc != -EAGAIN) {
			errno = -rc;
			return 0;
		}
		return 1;
	case BIO_CTRL_WPENDING:
		return (long)o->len;
	default:
		return 0;
	}
}

static int out_destroy(BIO *b)
{
	struct tlsout *o = BIO_get_data(b);

	if (o) {
		worker_buf_put(o->w, o->buf);	/* unsent: the end is abrupt */
		free(o);
		BIO_set_data(b, NULL);
	}
	return 1;
}

static void method_init(void)
{
	int type = BIO_get_new_index() | BIO_TYPE_SOURCE_SINK;
	BIO_METHOD *m = BIO_meth_new(type, "ktlsd batched send");

	if (m && (!BIO_meth_set_write(m, out_write) ||
		  !BIO_meth_set_ctrl(m, out_ctrl) ||
		  !BIO_meth_set_destroy(m, out_destroy))) {
		BIO_meth_free(m);
		m = NULL;
	}
	method_type = type;
	method = m;
}

int tlsout_attach(SSL *ssl, struct worker *w, int fd)
{
	struct tlsout *o;
	BIO *b;

	pthread_once(&method_once, method_init);
	if (!method)
		return -ENOMEM;
	o = calloc(1, sizeof(*o));
	b = o ? BIO_new(method) : NULL;
	if (!b) {
		free(o);
		return -ENOMEM;
	}
	o->w = w;
	o->fd = fd;
	BIO_set_data(b, o);
	BIO_set_init(b, 1);
	SSL_set0_wbio(ssl, b);	/* drops the socket BIO's write reference */
	return 0;
}

/* SSL's batching BIO, or NULL. */
static struct tlsout *out_of(SSL *ssl)
{
	BIO *b = SSL_get_wbio(ssl);

	return b && method && BIO_method_type(b) == method_type ?
	       BIO_get_data(b) : NULL;
}

int tlsout_flush(SSL *ssl)
{
	struct tlsout *o = out_of(ssl);
	int rc;

	if (!o)
		return 1;
	rc = out_drain(o);
	if (rc == -EAGAIN) {
		errno = EAGAIN;
		return 0;
	}
	return rc < 0 ? rc : 1;
}

/* a TLS 1.3 record of 16 KiB with its overhead, and a control record */
#define RECORD_ROOM (16384 + 512 + 512)

int tlsout_has_room(SSL *ssl)
{
	struct tlsout *o = out_of(ssl);

	return !o || o->len + RECORD_ROOM <= WORKER_BUF;
}

size_t tlsout_pending(SSL *ssl)
{
	struct tlsout *o = out_of(ssl);

	return o ? o->len : 0;
}
