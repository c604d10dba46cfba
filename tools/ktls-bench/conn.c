/* SPDX-License-Identifier: MIT */
/*
 * conn.c - a ktls-bench connection, client or server: reads and writes
 * through the socket or its SSL, the TLS context, and the pump that runs
 * the connection's program (control bytes out, bulk bytes out, bytes in)
 * until it blocks or ends.
 */
#include "bench.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#define PUMP_OPS	64		/* calls per wakeup, for fairness */
#define MAX_ERR_PRINT	5

unsigned char pattern[SCRATCH];
static unsigned char scratch[SCRATCH];

void conn_err(struct conn *c, const char *fmt, ...)
{
	va_list ap;

	g.errors++;
	if (!o.verbose && g.printed_errs >= MAX_ERR_PRINT) {
		ERR_clear_error();
		return;
	}
	g.printed_errs++;
	fprintf(stderr, "ktls-bench: conn %u: ", c->slot);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	ERR_print_errors_fp(stderr);
}

void conn_watch(struct conn *c)
{
	struct epoll_event ev = { .events = c->want, .data.ptr = c };

	if (c->want == c->armed)
		return;
	if (epoll_ctl(g.ep, c->armed ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd,
		      &ev) < 0)
		die("epoll_ctl: %s", strerror(errno));
	c->armed = c->want;
}

void conn_destroy(struct conn *c, int clean)
{
	if (c->ssl) {
		if (clean && !(SSL_get_shutdown(c->ssl) & SSL_SENT_SHUTDOWN))
			SSL_shutdown(c->ssl);
		ERR_clear_error();
		SSL_free(c->ssl);
	}
	if (c->fd >= 0)
		close(c->fd);	/* also leaves the epoll set */
	free(c);
}

/* Maps an SSL result; returns 0 when it would block (want set), -1 on
 * EOF (TLS close or TCP end), -2 on an error (reported). */
static int tls_blocked(struct conn *c, int rc, const char *what)
{
	int e = SSL_get_error(c->ssl, rc);

	switch (e) {
	case SSL_ERROR_WANT_READ:
		c->want = EPOLLIN;
		return 0;
	case SSL_ERROR_WANT_WRITE:
		c->want = EPOLLOUT;
		return 0;
	case SSL_ERROR_ZERO_RETURN:
		return -1;
	case SSL_ERROR_SYSCALL:
		if (errno == 0 || errno == ECONNRESET || errno == EPIPE)
			return -1;
		conn_err(c, "%s: %s", what, strerror(errno));
		return -2;
	default:
		conn_err(c, "%s: TLS error %d", what, e);
		return -2;
	}
}

/* 1: *n bytes written; 0: would block; -1 EOF; -2 error */
static int io_write(struct conn *c, const void *buf, size_t len, size_t *n)
{
	ssize_t r;

	if (c->ssl) {
		int rc = SSL_write_ex(c->ssl, buf, len, n);

		return rc == 1 ? 1 : tls_blocked(c, rc, "write");
	}
	r = send(c->fd, buf, len, MSG_NOSIGNAL);
	if (r >= 0) {
		*n = (size_t)r;
		return 1;
	}
	if (errno == EAGAIN || errno == EINTR) {
		c->want = EPOLLOUT;
		return 0;
	}
	if (errno == ECONNRESET || errno == EPIPE)
		return -1;
	conn_err(c, "send: %s", strerror(errno));
	return -2;
}

/* 1: *n bytes read; 0: would block; -1 EOF; -2 error */
static int io_read(struct conn *c, void *buf, size_t len, size_t *n)
{
	ssize_t r;

	if (c->ssl) {
		int rc = SSL_read_ex(c->ssl, buf, len, n);

		return rc == 1 ? 1 : tls_blocked(c, rc, "read");
	}
	r = recv(c->fd, buf, len, 0);
	if (r > 0) {
		*n = (size_t)r;
		return 1;
	}
	if (r == 0)
		return -1;
	if (errno == EAGAIN || errno == EINTR) {
		c->want = EPOLLIN;
		return 0;
	}
	if (errno == ECONNRESET)
		return -1;
	conn_err(c, "recv: %s", strerror(errno));
	return -2;
}

void put_hdr(struct conn *c, uint32_t op, uint64_t a, uint64_t b)
{
	uint32_t magic = HDR_MAGIC;

	memcpy(c->ctrl, &magic, 4);
	memcpy(c->ctrl + 4, &op, 4);
	memcpy(c->ctrl + 8, &a, 8);
	memcpy(c->ctrl + 16, &b, 8);
	c->ctrl_len = HDR_LEN;
	c->ctrl_off = 0;
}

void nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* ---- TLS setup ---------------------------------------------------------- */

static int new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
	struct conn *c = SSL_get_app_data(ssl);

	if (!c || !g.slots)
		return 0;
	SSL_SESSION_free(g.slots[c->slot].sess);
	g.slots[c->slot].sess = sess;
	return 1;	/* we keep the reference */
}

void tls_setup(void)
{
	int server = o.mode == M_SERVER;
	struct tls_opts t = o.tls;
	SSL_CTX *ctx;

	if (!server)
		t.cert = t.key = NULL;	/* a client has no certificate */
	ctx = tls_opts_ctx(&t, server);
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	if (server) {
		static const unsigned char sid[] = "ktls-bench";

		SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid) - 1);
	} else if (o.resume) {
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
				SSL_SESS_CACHE_NO_INTERNAL_STORE);
		SSL_CTX_sess_set_new_cb(ctx, new_session_cb);
	} else {
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	}
	g.ctx = ctx;
}

int conn_tls(struct conn *c, int server)
{
	c->ssl = SSL_new(g.ctx);
	if (!c->ssl || !SSL_set_fd(c->ssl, c->fd))
		return -1;
	SSL_set_app_data(c->ssl, c);
	if (server) {
		SSL_set_accept_state(c->ssl);
		return 0;
	}
	SSL_set_connect_state(c->ssl);
	{
		static char name[256];

		snprintf(name, sizeof(name), "%s",
			 o.tls.servername ? o.tls.servername : "localhost");
		SSL_set_tlsext_host_name(c->ssl, name);
	}
	if (o.resume && g.slots[c->slot].sess)
		SSL_set_session(c->ssl, g.slots[c->slot].sess);
	return 0;
}

/* ---- the pump, shared by both roles -------------------------------------- */

/* Ends a connection after an EOF (rc -1) or an error (rc -2). */
static void conn_end(struct conn *c, int rc)
{
	if (o.mode == M_SERVER)
		srv_close(c, rc == -1);
	else
		client_done(c, rc == -1 ? END_EOF : END_ERR);
}

/* The program ran out: returns 1 when the connection is gone. */
static int conn_next(struct conn *c)
{
	if (o.mode != M_SERVER)
		return client_next(c);
	srv_next(c);
	if ((c->op == OP_HOLD || c->op == OP_DOWN) && !c->ctrl_len &&
	    !c->wr_left && !c->rd_left)
		c->state = ST_HOLD;
	return 0;
}

/* Runs the connection's program until it blocks or ends; returns 1 when
 * the connection is gone. */
static int conn_pump(struct conn *c)
{
	unsigned ops;
	size_t n;
	int rc;

	for (ops = 0; ops < PUMP_OPS; ops++) {
		if (c->state == ST_HANDSHAKE) {
			rc = SSL_do_handshake(c->ssl);
			if (rc == 1) {
				c->state = ST_RUN;
				if (o.mode != M_SERVER && client_ready(c))
					return 1;
				continue;
			}
			rc = tls_blocked(c, rc, "handshake");
		} else if (c->state == ST_DRAIN || c->state == ST_HOLD) {
			/* read and drop until the end */
			rc = io_read(c, scratch, sizeof(scratch), &n);
			if (rc == 1) {
				c->rx += n;
				continue;
			}
		} else if (c->ctrl_off < c->ctrl_len) {
			rc = io_write(c, c->ctrl + c->ctrl_off,
				      c->ctrl_len - c->ctrl_off, &n);
			if (rc == 1) {
				c->ctrl_off += n;
				if (c->ctrl_off == c->ctrl_len)
					c->ctrl_len = c->ctrl_off = 0;
				continue;
			}
		} else if (c->wr_left) {
			size_t len = c->wr_left < o.chunk ? c->wr_left : o.chunk;

			rc = io_write(c, pattern, len, &n);
			if (rc == 1) {
				c->wr_left -= n;
				c->tx += n;
				continue;
			}
		} else if (o.mode == M_SERVER && !c->got_hdr) {
			rc = io_read(c, c->hdr + c->hdr_got,
				     HDR_LEN - c->hdr_got, &n);
			if (rc == 1) {
				c->hdr_got += n;
				if (c->hdr_got == HDR_LEN && srv_on_hdr(c) < 0) {
					srv_close(c, 0);
					return 1;
				}
				continue;
			}
		} else if (c->rd_left) {
			size_t len = c->rd_left < SCRATCH ? c->rd_left : SCRATCH;

			rc = io_read(c, scratch, len, &n);
			if (rc == 1) {
				c->rd_left -= n < c->rd_left ? n : c->rd_left;
				c->rx += n;
				continue;
			}
		} else {
			if (conn_next(c))
				return 1;
			continue;
		}
		if (rc == 0)
			return 0;
		conn_end(c, rc);
		return 1;
	}
	/* budget spent: stay armed for whatever comes, level triggered */
	c->want = EPOLLIN | EPOLLOUT;
	return 0;
}

void on_conn_event(struct conn *c)
{
	if (c->state == ST_CONNECT) {
		int err = connect_result(c->fd);

		if (err) {
			conn_err(c, "connect: %s", strerror(err));
			client_done(c, END_ERR);
			return;
		}
		if (c->ssl) {
			c->state = ST_HANDSHAKE;
		} else {
			c->state = ST_RUN;
			if (client_ready(c))
				return;
		}
	}
	c->want = 0;
	if (conn_pump(c))
		return;
	conn_watch(c);
}

