/* SPDX-License-Identifier: MIT */
/*
 * conn.c - one connection of ktls-peer: the deterministic stream it sends,
 * both directions pumped in turn through the socket or its SSL (with
 * --echo, --reply-after-eof, --read-after, --key-update), the handshake,
 * the shutdown, and the judgement with its report line.
 */
#include "peer.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#define RX_SCRATCH	(256 * 1024)	/* read buffer when not echoing */
#define ECHO_CAP	(256 * 1024)	/* echo buffer (grows only with --reply-after-eof) */
#define GEN_BLOCK	(64 * 1024)	/* bytes generated at once */
#define PUMP_BYTES	(1024 * 1024)	/* per direction per turn, for fairness */
#define PUMP_CALLS	4096		/* the same, in calls (tiny chunks) */
#define PUMP_ROUNDS	8

/* ---- the pseudo-random stream ------------------------------------------- */

static void gen_init(struct gen *g, uint64_t seed)
{
	/* splitmix64 of the seed, so that small seeds give unrelated streams */
	uint64_t z = seed + 0x9E3779B97F4A7C15ULL;

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	z ^= z >> 31;
	g->s = z ? z : 0x2545F4914F6CDD1DULL;
	g->pos = 8;
}

static inline uint64_t gen_next(struct gen *g)
{
	uint64_t x = g->s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	g->s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static inline void put_le64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void gen_fill(struct gen *g, unsigned char *out, size_t n)
{
	while (n && g->pos < 8) {
		*out++ = g->tail[g->pos++];
		n--;
	}
	for (; n >= 8; n -= 8, out += 8)
		put_le64(out, gen_next(g));
	if (n) {
		put_le64(g->tail, gen_next(g));
		g->pos = 0;
		while (n--)
			*out++ = g->tail[g->pos++];
	}
}

/* ---- connections ---------------------------------------------------------- */

const char *end_str(enum end e)
{
	switch (e) {
	case END_CLEAN: return "clean";
	case END_EOF: return "eof";
	case END_TRUNCATED: return "truncated";
	case END_RESET: return "reset";
	case END_TIMEOUT: return "timeout";
	case END_NONE:
	case END_ERROR: break;
	}
	return "error";
}

static unsigned char rx_scratch[RX_SCRATCH];

void conn_fail(struct conn *c, enum end e, const char *fmt, ...)
{
	va_list ap;

	if (c->end == END_NONE) {
		c->end = e;
		va_start(ap, fmt);
		vsnprintf(c->reason, sizeof(c->reason), fmt, ap);
		va_end(ap);
	}
	c->phase = PH_DONE;
}

static void rx_eof(struct conn *c, enum end e)
{
	c->rx_done = 1;
	c->rx_end = e;
	c->eof_at = clock_ms();
	c->rd_ev = 0;
}

struct conn *conn_alloc(unsigned id, int fd, enum phase phase)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c)
		die("out of memory");
	c->id = id;
	c->fd = fd;
	c->phase = phase;
	c->t0 = clock_ms();
	c->rx_md = EVP_MD_CTX_new();
	c->tx_md = EVP_MD_CTX_new();
	if (!c->rx_md || !c->tx_md ||
	    !EVP_DigestInit_ex(c->rx_md, EVP_sha256(), NULL) ||
	    !EVP_DigestInit_ex(c->tx_md, EVP_sha256(), NULL))
		die("SHA-256 unavailable");
	c->cap = o.echo ? ECHO_CAP : (o.chunk > GEN_BLOCK ? o.chunk : GEN_BLOCK);
	c->buf = malloc(c->cap);
	if (!c->buf)
		die("out of memory");
	gen_init(&c->gen, o.seed);
	return c;
}

static void conn_free(struct conn *c)
{
	if (c->ssl)
		SSL_free(c->ssl);
	if (c->fd >= 0)
		close(c->fd);
	EVP_MD_CTX_free(c->rx_md);
	EVP_MD_CTX_free(c->tx_md);
	free(c->buf);
	free(c);
}

/*
 * Record a failed SSL call. An EOF without close_notify on the read side
 * is not a failure but the end "truncated"; the send side may go on.
 */
static void tls_fail(struct conn *c, const char *what, int err, int e,
		     int reading)
{
	unsigned long code = ERR_peek_error();
	char buf[256];

	if (code && ERR_GET_LIB(code) == ERR_LIB_SYS && !e)
		e = ERR_GET_REASON(code);
	if (reading && err == SSL_ERROR_SSL &&
	    ERR_GET_REASON(code) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
		rx_eof(c, END_TRUNCATED);
	} else if (reading && err == SSL_ERROR_SYSCALL && !code && !e) {
		rx_eof(c, END_TRUNCATED);	/* pre-3.0 style EOF */
	} else if (err == SSL_ERROR_SYSCALL || (code && ERR_GET_LIB(code) == ERR_LIB_SYS)) {
		conn_fail(c, e == ECONNRESET || e == EPIPE ? END_RESET : END_ERROR,
			  "%s: %s", what, e ? strerror(e) : "unexpected EOF");
	} else {
		long vr = c->ssl ? SSL_get_verify_result(c->ssl) : X509_V_OK;

		if (code)
			ERR_error_string_n(code, buf, sizeof(buf));
		else
			snprintf(buf, sizeof(buf), "SSL error %d", err);
		if (o.tls.ca && vr != X509_V_OK)
			conn_fail(c, END_ERROR, "%s: %s (verify: %s)", what, buf,
				  X509_verify_cert_error_string(vr));
		else
			conn_fail(c, END_ERROR, "%s: %s", what, buf);
	}
	ERR_clear_error();
}

/* Each of the four I/O helpers returns 1 if bytes moved, 0 if it would
 * block (the wanted event is recorded), -1 if that side ended or failed. */

static int plain_read(struct conn *c, unsigned char *dst, size_t n, size_t *got)
{
	for (;;) {
		ssize_t r = read(c->fd, dst, n);

		if (r > 0) {
			*got = (size_t)r;
			return 1;
		}
		if (r == 0) {
			rx_eof(c, END_EOF);
			return -1;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			c->rd_ev = POLLIN;
			return 0;
		}
		conn_fail(c, errno == ECONNRESET ? END_RESET : END_ERROR,
			  "read: %s", strerror(errno));
		return -1;
	}
}

static int tls_read(struct conn *c, unsigned char *dst, size_t n, size_t *got)
{
	int err, e;

	ERR_clear_error();
	errno = 0;
	if (SSL_read_ex(c->ssl, dst, n, got))
		return 1;
	e = errno;
	err = SSL_get_error(c->ssl, 0);
	switch (err) {
	case SSL_ERROR_WANT_READ:
		c->rd_ev = POLLIN;
		return 0;
	case SSL_ERROR_WANT_WRITE:
		c->rd_ev = POLLOUT;
		return 0;
	case SSL_ERROR_ZERO_RETURN:
		rx_eof(c, END_CLEAN);
		return -1;
	}
	tls_fail(c, "SSL_read", err, e, 1);
	return -1;
}

static int plain_write(struct conn *c, const unsigned char *src, size_t n,
		       size_t *put)
{
	for (;;) {
		ssize_t r = send(c->fd, src, n, MSG_NOSIGNAL);

		if (r >= 0) {
			*put = (size_t)r;
			return 1;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			c->wr_ev = POLLOUT;
			return 0;
		}
		conn_fail(c, errno == ECONNRESET || errno == EPIPE ?
			  END_RESET : END_ERROR, "write: %s", strerror(errno));
		return -1;
	}
}

/* --key-update: ask for a TLS 1.3 KeyUpdate (ours goes out with the next
 * write, and the peer must answer with its own) every N bytes sent. */
static void key_update_due(struct conn *c)
{
	if (!o.key_update || !c->ssl || SSL_version(c->ssl) < TLS1_3_VERSION)
		return;
	if (!c->ku_next)
		c->ku_next = o.key_update;
	/* never after the last byte: the next write sends it, and
	 * SSL_shutdown() refuses to run while it is pending */
	if (c->sent < c->ku_next || c->sent >= o.send)
		return;
	c->ku_next += o.key_update;
	if (SSL_key_update(c->ssl, SSL_KEY_UPDATE_REQUESTED))
		c->key_updates++;
	ERR_clear_error();
}

static int tls_write(struct conn *c, const unsigned char *src, size_t n,
		     size_t *put)
{
	int err, e;

	ERR_clear_error();
	errno = 0;
	if (SSL_write_ex(c->ssl, src, n, put))
		return 1;
	e = errno;
	err = SSL_get_error(c->ssl, 0);
	switch (err) {
	case SSL_ERROR_WANT_WRITE:
		c->wr_ev = POLLOUT;
		return 0;
	case SSL_ERROR_WANT_READ:
		c->wr_ev = POLLIN;
		return 0;
	}
	tls_fail(c, "SSL_write", err, e, 0);
	return -1;
}

/* Echo mode: make room at the end of the buffer; 0 if it is full. */
static int echo_room(struct conn *c)
{
	if (c->off == c->len)
		c->off = c->len = 0;
	if (c->cap - c->len < 16384 && c->off > 0) {
		/* safe with a pending SSL_write: ACCEPT_MOVING_WRITE_BUFFER */
		memmove(c->buf, c->buf + c->off, c->len - c->off);
		c->len -= c->off;
		c->off = 0;
	}
	if (c->len < c->cap)
		return 1;
	if (o.reply_after_eof < 0)
		return 0;		/* backpressure */
	/* replying only after EOF: everything must be held */
	{
		unsigned char *nb = realloc(c->buf, c->cap * 2);

		if (!nb) {
			conn_fail(c, END_ERROR, "echo buffer: out of memory");
			return 0;
		}
		c->buf = nb;
		c->cap *= 2;
	}
	return 1;
}

/* Returns 1 if anything happened on the read side. */
static int conn_read(struct conn *c)
{
	size_t bytes = 0, calls = 0;
	int moved = 0;

	if (c->read_at) {
		if (clock_ms() < c->read_at)
			return 0;
		c->read_at = 0;
	}
	while (!c->rx_done && c->phase == PH_DATA) {
		unsigned char *dst = rx_scratch;
		size_t room = sizeof(rx_scratch), got = 0;
		int r;

		if (bytes >= PUMP_BYTES || calls++ >= PUMP_CALLS)
			return 1;
		if (o.echo) {
			if (!echo_room(c)) {
				c->rd_ev = 0;
				return moved;
			}
			dst = c->buf + c->len;
			room = c->cap - c->len;
		}
		r = c->ssl ? tls_read(c, dst, room, &got)
			   : plain_read(c, dst, room, &got);
		if (r < 0)
			return 1;
		if (r == 0)
			return moved;
		EVP_DigestUpdate(c->rx_md, dst, got);
		c->recvd += got;
		if (o.echo)
			c->len += got;
		bytes += got;
		moved = 1;
	}
	return moved;
}

/*
 * Make sure output is pending. Returns 1 if there is some, 0 if not now
 * (maybe never again: then tx has moved on to TX_SHUTDOWN or TX_DONE).
 */
static int tx_ready(struct conn *c)
{
	if (o.reply_after_eof >= 0) {
		int64_t due = c->eof_at + o.reply_after_eof;

		if (!c->rx_done || clock_ms() < due) {
			c->wake_at = c->rx_done ? due : 0;
			c->wr_ev = 0;
			return 0;
		}
		c->wake_at = 0;
	}
	if (c->off < c->len)
		return 1;
	if (o.echo) {
		if (!c->rx_done) {
			c->wr_ev = 0;
			return 0;
		}
	} else if (c->generated < o.send) {
		uint64_t left = o.send - c->generated;
		size_t n = left < c->cap ? (size_t)left : c->cap;

		gen_fill(&c->gen, c->buf, n);
		c->off = 0;
		c->len = n;
		c->generated += n;
		return 1;
	}
	c->tx = o.no_shutdown ? TX_DONE : TX_SHUTDOWN;
	c->wr_ev = 0;
	return 0;
}

/* After the last byte: close_notify (TLS), then FIN. */
static void conn_shutdown(struct conn *c)
{
	if (c->ssl) {
		int r, err, e;

		ERR_clear_error();
		errno = 0;
		r = SSL_shutdown(c->ssl);
		if (r < 0) {
			e = errno;
			err = SSL_get_error(c->ssl, r);
			if (err == SSL_ERROR_WANT_WRITE) {
				c->wr_ev = POLLOUT;
				return;
			}
			if (err == SSL_ERROR_WANT_READ) {
				c->wr_ev = POLLIN;
				return;
			}
			tls_fail(c, "SSL_shutdown", err, e, 0);
			return;
		}
	}
	if (shutdown(c->fd, SHUT_WR) < 0 && errno != ENOTCONN) {
		conn_fail(c, errno == ECONNRESET ? END_RESET : END_ERROR,
			  "shutdown: %s", strerror(errno));
		return;
	}
	c->tx = TX_DONE;
	c->wr_ev = 0;
}

/* Returns 1 if anything happened on the write side. */
static int conn_write(struct conn *c)
{
	size_t bytes = 0, calls = 0;
	int moved = 0;

	while (c->phase == PH_DATA && c->tx != TX_DONE) {
		size_t n, put = 0;
		int r;

		if (c->tx == TX_SHUTDOWN) {
			conn_shutdown(c);
			return moved || c->tx == TX_DONE || c->phase != PH_DATA;
		}
		if (!tx_ready(c)) {
			if (c->tx == TX_SEND)
				return moved;
			moved = 1;	/* all sent: on to the shutdown */
			continue;
		}
		if (bytes >= PUMP_BYTES || calls++ >= PUMP_CALLS)
			return 1;
		n = c->len - c->off;
		if (n > o.chunk)
			n = o.chunk;
		r = c->ssl ? tls_write(c, c->buf + c->off, n, &put)
			   : plain_write(c, c->buf + c->off, n, &put);
		if (r < 0)
			return 1;
		if (r == 0)
			return moved;
		EVP_DigestUpdate(c->tx_md, c->buf + c->off, put);
		c->off += put;
		c->sent += put;
		bytes += put;
		moved = 1;
		key_update_due(c);
	}
	return moved;
}

static void conn_pump(struct conn *c)
{
	c->again = 0;
	for (int round = 0; round < PUMP_ROUNDS; round++) {
		int moved = conn_read(c);

		if (c->phase != PH_DATA)
			return;
		moved |= conn_write(c);
		if (c->phase != PH_DATA)
			return;
		if (c->rx_done && c->tx == TX_DONE) {
			c->phase = PH_DONE;
			return;
		}
		if (!moved)
			return;
	}
	c->again = 1;
}

static void conn_start_data(struct conn *c)
{
	c->phase = PH_DATA;
	c->rd_ev = POLLIN;
	c->wr_ev = 0;
	c->read_at = o.read_after > 0 ? clock_ms() + o.read_after : 0;
	conn_pump(c);
}

static void conn_handshake(struct conn *c)
{
	int r, err, e;

	ERR_clear_error();
	errno = 0;
	r = SSL_do_handshake(c->ssl);
	if (r == 1) {
		if (o.verbose)
			fprintf(stderr, "# conn %u: %s %s\n", c->id,
				SSL_get_version(c->ssl),
				SSL_get_cipher_name(c->ssl));
		conn_start_data(c);
		return;
	}
	e = errno;
	err = SSL_get_error(c->ssl, r);
	if (err == SSL_ERROR_WANT_READ) {
		c->hs_ev = POLLIN;
		return;
	}
	if (err == SSL_ERROR_WANT_WRITE) {
		c->hs_ev = POLLOUT;
		return;
	}
	if (err == SSL_ERROR_SSL &&
	    ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
		ERR_clear_error();
		conn_fail(c, END_ERROR, "handshake: EOF from the peer");
		return;
	}
	tls_fail(c, "handshake", err, e, 0);
}

static void conn_start_tls(struct conn *c)
{
	SSL *s = SSL_new(ctx);

	if (!s || !SSL_set_fd(s, c->fd))
		die("SSL_new failed");
	c->ssl = s;
	if (o.server) {
		SSL_set_accept_state(s);
	} else {
		const char *name = o.tls.servername;

		if (!name && addr.host[0] && !addr.numeric)
			name = addr.host;
		if (name && !SSL_set_tlsext_host_name(s, name))
			die("bad server name '%s'", name);
		if (o.tls.ca) {
			if (name) {
				if (!SSL_set1_host(s, name))
					die("bad host name '%s'", name);
			} else if (addr.numeric) {
				if (!X509_VERIFY_PARAM_set1_ip_asc(
					    SSL_get0_param(s), addr.host))
					die("bad IP address '%s'", addr.host);
			}
		}
		SSL_set_connect_state(s);
	}
	c->phase = PH_HANDSHAKE;
	conn_handshake(c);
}

void conn_established(struct conn *c)
{
	if (o.tls.on)
		conn_start_tls(c);
	else
		conn_start_data(c);
}

static void conn_on_connect(struct conn *c)
{
	int err = connect_result(c->fd);

	if (err == EINPROGRESS)
		return;
	if (err) {
		conn_fail(c, err == ECONNRESET ? END_RESET : END_ERROR,
			  "connect %s: %s", o.addr, strerror(err));
		return;
	}
	conn_established(c);
}

void conn_handle(struct conn *c)
{
	switch (c->phase) {
	case PH_CONNECT:
		conn_on_connect(c);
		break;
	case PH_HANDSHAKE:
		conn_handshake(c);
		break;
	case PH_DATA:
		conn_pump(c);
		break;
	case PH_DONE:
		break;
	}
}

short conn_events(const struct conn *c)
{
	short ev = 0;

	switch (c->phase) {
	case PH_CONNECT:
		return POLLOUT;
	case PH_HANDSHAKE:
		return c->hs_ev;
	case PH_DATA:
		if (!c->rx_done && !c->read_at)
			ev |= c->rd_ev;
		if (c->tx != TX_DONE)
			ev |= c->wr_ev;
		return ev;
	case PH_DONE:
		break;
	}
	return 0;
}

static void hexdigest(EVP_MD_CTX *md, char out[65])
{
	unsigned char d[EVP_MAX_MD_SIZE];

	EVP_DigestFinal_ex(md, d, NULL);
	sha256_hex(d, out);
}

void conn_report(struct conn *c, enum end e)
{
	char tx[65] = "", rx[65] = "";

	hexdigest(c->tx_md, tx);
	hexdigest(c->rx_md, rx);
	printf("sent=%" PRIu64 " sent_sha256=%s recv=%" PRIu64
	       " recv_sha256=%s end=%s ms=%" PRId64 "%s%s", c->sent, tx,
	       c->recvd, rx, end_str(e), clock_ms() - c->t0,
	       c->peer[0] ? " peer=" : "", c->peer);
	if (o.key_update)
		printf(" key_updates=%u", c->key_updates);
	printf("\n");
	fflush(stdout);
}

/* The connection is over: judge, report, and free it. */
void conn_finish(struct conn *c)
{
	enum end e = c->end != END_NONE ? c->end : c->rx_end;
	int ok = e == END_CLEAN || e == END_EOF;
	int last;

	if (c->ssl && o.no_shutdown && c->end == END_NONE &&
	    !(SSL_get_shutdown(c->ssl) & SSL_SENT_SHUTDOWN)) {
		ERR_clear_error();
		(void)SSL_shutdown(c->ssl);	/* best effort, as we close */
		ERR_clear_error();
	}
	if (c->end != END_NONE)
		fprintf(stderr, "# conn %u: %s\n", c->id, c->reason);
	else if (e == END_TRUNCATED)
		fprintf(stderr, "# conn %u: EOF without close_notify\n", c->id);
	if (o.expect >= 0 && c->recvd != (uint64_t)o.expect) {
		fprintf(stderr, "# conn %u: expected %" PRId64
			" bytes, received %" PRIu64 "\n", c->id, o.expect,
			c->recvd);
		ok = 0;
	}
	finished++;
	if (!ok)
		failed++;
	last = target && finished == target;
	if (o.stats || !ok || last || !target)
		conn_report(c, e);
	conn_free(c);
}

