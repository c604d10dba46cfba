/* SPDX-License-Identifier: MIT */
/*
 * conn.c - the connection state machine and the userspace relay.
 *
 * The relay is readiness driven and level triggered: conn_pump() tries
 * every operation that could progress (write what is buffered, read where
 * there is room), until none does; the operations that blocked record on
 * their side whether they wait for readability or writability, and only
 * those events are watched. A blocked operation is not tried again until
 * its side's event arrives (dir->rd_wait, wr_wait): a retry could only
 * fail with EAGAIN once more. OpenSSL runs non-blocking on the socket BIO,
 * without read-ahead until the handshake is done and the receive direction
 * stays in userspace for good (ktls = off from the start), so no byte past
 * what was asked for is taken from the kernel before the kTLS switch.
 *
 * Each direction holds at most CONN_BUF bytes: a full buffer stops
 * reading from its source, which is the backpressure. The buffer comes
 * from the worker's pool and goes back at the end of every pump that
 * leaves it empty, so an idle connection holds none. A read fills it
 * (several TLS records at a time) and a write sends it whole; on a TLS
 * side that stays in userspace, the records OpenSSL seals go out batched
 * (tlsout.c), flushed at the end of the pump.
 */
#include "conn.h"
#include "ktls.h"
#include "log.h"
#include "offload.h"
#include "runtime.h"
#include "sockopt.h"
#include "tls.h"
#include "tlsout.h"
#include "transparent.h"
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#define CONN_MAGIC 0x6b746c73u	/* "ktls" */
#define CONN_BUF (64 * 1024)	/* plaintext per direction: 4 records */
_Static_assert(CONN_BUF <= WORKER_BUF, "relay buffers come from the pool");
#define PUMP_BUDGET 32		/* rounds before yielding to others */
#define SPLICE_BATCH 16		/* records into a pipe per drain */


static void conn_arm(struct conn *c);
static void conn_pump(struct conn *c);
static void conn_connect_next(struct conn *c);
static void conn_handshake(struct conn *c);

const char *conn_state_str(enum conn_state s)
{
	static const char *const names[] = {
		[CONN_NEW] = "new", [CONN_HANDSHAKE] = "handshake",
		[CONN_CONNECTING] = "connecting", [CONN_RELAY] = "relay",
		[CONN_CLOSED] = "closed",
	};
	return names[s];
}

static void side_init(struct conn *c, int i, int rfd, int wfd);

struct conn *conn_new(struct config *cfg, struct service *svc, int fd_in,
		      int fd_out, const char *peer)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->magic = CONN_MAGIC;
	c->id = __atomic_add_fetch(&conns_total, 1, __ATOMIC_RELAXED);
	c->cfg = cfg_get(cfg);
	c->svc = svc;
	c->tls_side = svc->client ? 1 : 0;
	side_init(c, 0, fd_in, fd_out);
	side_init(c, 1, -1, -1);
	c->d[0].src = 0;
	c->d[0].dst = 1;
	c->d[1].src = 1;
	c->d[1].dst = 0;
	c->d[0].pipe[0] = c->d[0].pipe[1] = -1;
	c->d[1].pipe[0] = c->d[1].pipe[1] = -1;
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	c->t_start = c->t_active = now_ms();
	c->path = "none";
	return c;
}

/* ---- sides --------------------------------------------------------------- */

static void on_event(struct ev_watch *w, uint32_t events);

static void side_init(struct conn *c, int i, int rfd, int wfd)
{
	struct side *s = &c->s[i];

	s->rfd = rfd;
	s->wfd = wfd;
	ev_watch_init(&s->rw, rfd, on_event, c);
	ev_watch_init(&s->ww, wfd, on_event, c);
}

static void side_close(struct conn *c, struct side *s, int error)
{
	ev_watch_del(c->w->loop, &s->rw);
	ev_watch_del(c->w->loop, &s->ww);
	/* Closing without an error (timeouts, shutdown): say so with
	 * close_notify, best effort, never waiting. */
	if (!error && s->ktls_tx && !s->close_sent)
		ktls_send_close_notify(s->wfd, MSG_DONTWAIT);
	if (s->ssl) {
		if (!error && c->handshake_done && !s->ktls_tx &&
		    !(SSL_get_shutdown(s->ssl) & SSL_SENT_SHUTDOWN)) {
			SSL_shutdown(s->ssl);
			ERR_clear_error();
		}
		if (!error)
			tlsout_flush(s->ssl);	/* best effort */
		/* a clean end keeps the session resumable */
		tls_conn_free(s->ssl, !error);
		s->ssl = NULL;
	}
	offload_rekey_free(s->rekey);
	s->rekey = NULL;
	if (error && c->svc->reset && s->rfd >= 0) {
		struct linger l = { 1, 0 };

		setsockopt(s->rfd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	}
	if (s->wfd >= 0 && s->wfd != s->rfd)
		close(s->wfd);
	if (s->rfd >= 0)
		close(s->rfd);
	s->rfd = s->wfd = -1;
}

/* Register what the last pump found each side waiting for. */
static int side_arm(struct conn *c, struct side *s)
{
	uint32_t r = s->need & SIDE_NEED_RD ? EV_READ : 0;
	uint32_t w = s->need & SIDE_NEED_WR ? EV_WRITE : 0;
	int rc;

	if (s->rfd < 0 || s->hup)
		return 0;
	if (s->rfd == s->wfd)
		return ev_watch_set(c->w->loop, &s->rw, r | w);
	rc = ev_watch_set(c->w->loop, &s->rw, r);
	if (!rc && s->wfd >= 0)
		rc = ev_watch_set(c->w->loop, &s->ww, w);
	return rc;
}

static void conn_arm(struct conn *c)
{
	int rc = side_arm(c, &c->s[0]);

	if (!rc)
		rc = side_arm(c, &c->s[1]);
	if (rc) {
		char why[96];

		snprintf(why, sizeof(why), "cannot watch socket: %s",
			 strerror(-rc));
		conn_close(c, why, 1);
	}
}

/* What OpenSSL's ERR waits for (SIDE_NEED_*), 0 if it is no WANT_*. */
static unsigned ssl_want(int err)
{
	return err == SSL_ERROR_WANT_READ ? SIDE_NEED_RD :
	       err == SSL_ERROR_WANT_WRITE ? SIDE_NEED_WR : 0;
}

/* Record on S what OpenSSL waits for; 1 if ERR was a WANT_READ/WRITE. */
static int side_want(struct side *s, int err)
{
	s->need |= ssl_want(err);
	return ssl_want(err) != 0;
}

/*
 * The read of D blocked on WHAT (SIDE_NEED_*) at its source, or its write
 * at its destination. Retrying before that side's event says so would
 * only cost a system call that fails again (EAGAIN): the pump skips the
 * operation until on_event() clears the wait, and keeps the side watched
 * for it meanwhile. Returns 0 (no progress).
 */
static int dir_read_wait(struct conn *c, struct dir *d, unsigned what)
{
	d->rd_wait |= what;
	c->s[d->src].need |= what;
	return 0;
}

static int dir_write_wait(struct conn *c, struct dir *d, unsigned what)
{
	d->wr_wait |= what;
	c->s[d->dst].need |= what;
	return 0;
}

/* ---- close --------------------------------------------------------------- */

uint64_t conn_bytes_to_tls(const struct conn *c)
{
	/* the direction whose destination is the TLS side */
	return __atomic_load_n(&c->d[c->tls_side ? 0 : 1].bytes,
			       __ATOMIC_RELAXED);
}

uint64_t conn_bytes_to_socket(const struct conn *c)
{
	return __atomic_load_n(&c->d[c->tls_side ? 1 : 0].bytes,
			       __ATOMIC_RELAXED);
}

/* "ktls tx+rx", "userspace (why)"... into BUF. */
static const char *path_str(const struct conn *c, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s%s", c->path, c->path_why[0] ? " (" : "",
		 c->path_why, c->path_why[0] ? ")" : "");
	return buf;
}

void conn_close(struct conn *c, const char *reason, int error)
{
	struct service *svc = c->svc;
	char path[200];
	uint64_t ms;

	if (c->state == CONN_CLOSED)
		return;
	if (!c->reason[0])
		snprintf(c->reason, sizeof(c->reason), "%s", reason);
	ms = now_ms() - c->t_start;
	logc(svc, c->id, LOG_NOTICE,
	     "Connection %s: %llu byte(s) sent to TLS, %llu byte(s) sent to socket",
	     error ? "reset" : "closed",
	     (unsigned long long)conn_bytes_to_tls(c),
	     (unsigned long long)conn_bytes_to_socket(c));
	logc(svc, c->id, LOG_INFO,
	     "Connection summary: service=[%s] peer=%s path=%s relay=%s "
	     "protocol=%s client_to_server=%llu server_to_client=%llu "
	     "duration=%llu.%03llus end=\"%s\"",
	     svc->name, c->peer, path_str(c, path, sizeof(path)),
	     c->d[0].splice && c->d[1].splice ? "splice" :
	     c->d[0].splice || c->d[1].splice ? "splice+copy" : "copy",
	     c->proto[0] ? c->proto : "-",
	     (unsigned long long)c->d[0].bytes,
	     (unsigned long long)c->d[1].bytes,
	     (unsigned long long)(ms / 1000), (unsigned long long)(ms % 1000),
	     c->reason);
	c->state = CONN_CLOSED;
	for (int i = 0; i < 2; i++) {	/* not empty: not for the pool */
		if (c->d[i].pipe[0] >= 0) {
			close(c->d[i].pipe[0]);
			close(c->d[i].pipe[1]);
		}
	}
	side_close(c, &c->s[0], error);
	side_close(c, &c->s[1], error);
	worker_conn_done(c->w, c);
}

void conn_free(struct conn *c)
{
	if (!c)
		return;
	if (c->w) {
		worker_buf_put(c->w, c->d[0].buf);
		worker_buf_put(c->w, c->d[1].buf);
	}
	addrlist_free(&c->own_targets);
	cfg_put(c->cfg);
	c->magic = 0;
	free(c);
}

/* Close after a TLS failure, with OpenSSL's reason as the end. */
static void conn_tls_fail(struct conn *c, const char *what)
{
	unsigned long e = ERR_peek_error();
	const char *verr = tls_conn_verify_error(c->s[c->tls_side].ssl);
	char why[160];

	if (verr)
		snprintf(why, sizeof(why), "%s: %s", what, verr);
	else if (e)
		snprintf(why, sizeof(why), "%s: %s", what,
			 ERR_reason_error_string(e) ? ERR_reason_error_string(e) :
						      "unknown error");
	else
		snprintf(why, sizeof(why), "%s: %s", what,
			 errno ? strerror(errno) : "peer closed the connection");
	log_ssl_errors(c->svc, c->id, LOG_ERR, what);
	if (!e)
		logc(c->svc, c->id, LOG_ERR, "%s", why);
	conn_close(c, why, 1);
}

/* Close C after a failed I/O call WHAT ("read from") on side SIDE. */
static void conn_io_fail(struct conn *c, const char *what, int side,
			 const char *err)
{
	char why[128];

	snprintf(why, sizeof(why), "%s %s: %s", what,
		 side == c->tls_side ? "TLS peer" : "socket", err);
	conn_close(c, why, 1);
}

/* ---- the relay ------------------------------------------------------------ */

/*
 * Handshake messages on a kTLS receive side, one record possibly holding
 * several: a TLS 1.3 NewSessionTicket on a client leg is dropped (OpenSSL
 * 3.0 cannot take a ticket back after the switch: no TLS 1.3 resumption
 * on this leg); a KeyUpdate rekeys where the kernel can (Linux >= 6.14),
 * and closes cleanly with the reason where it cannot. Anything else ends
 * the connection. Returns 1 to go on, 0 when C was closed.
 */
static int ktls_handshake(struct conn *c, struct dir *d,
			  const unsigned char *p, ssize_t n)
{
	struct side *s = &c->s[d->src];
	char why[160];
	size_t len;
	int rc;

	for (; n > 0; p += 4 + len, n -= 4 + len) {
		len = n < 4 ? 0 : (size_t)p[1] << 16 | p[2] << 8 | p[3];
		if (n < 4 || len > (size_t)n - 4) {
			snprintf(why, sizeof(why), "a truncated handshake "
				 "message after the switch to kernel TLS");
			break;
		}
		if (p[0] == SSL3_MT_NEWSESSION_TICKET && c->svc->client) {
			logc(c->svc, c->id, LOG_DEBUG,
			     "TLS 1.3 NewSessionTicket dropped (kernel TLS)");
			continue;
		}
		if (p[0] != SSL3_MT_KEY_UPDATE || len != 1 || p[4] > 1) {
			snprintf(why, sizeof(why), "unexpected handshake message "
				 "(type %u) after the switch to kernel TLS",
				 p[0]);
			break;
		}
		rc = offload_key_update_rx(c, s, p[4], why, sizeof(why));
		if (rc == -EOPNOTSUPP) {
			logc(c->svc, c->id, LOG_NOTICE, "%s", why);
			conn_close(c, why, 0);
			return 0;
		}
		if (rc < 0)
			break;
	}
	if (n <= 0)
		return 1;
	logc(c->svc, c->id, LOG_ERR, "%s", why);
	conn_close(c, why, 1);
	return 0;
}

/* Our KeyUpdate is owed on D's destination (the peer asked for one): it
 * goes out, and the transmit key changes, before any more data. 1 when
 * nothing is owed any more; 0 to wait (for writability, or C closed). */
static int key_update_owed(struct conn *c, struct dir *d)
{
	struct side *s = &c->s[d->dst];
	char why[160];
	int rc;

	if (!s->ku_owed)
		return 1;
	rc = offload_key_update_tx(c, s, why, sizeof(why));
	if (!rc)
		return 1;
	if (rc == -EAGAIN)
		return dir_write_wait(c, d, SIDE_NEED_WR);
	logc(c->svc, c->id, LOG_ERR, "%s", why);
	conn_close(c, why, 1);
	return 0;
}

/* A control record on a kTLS receive side (DESIGN.md 3.5). */
static int ktls_control(struct conn *c, struct dir *d, const unsigned char *p,
			ssize_t n, uint8_t type)
{
	char why[160];

	if (type == KTLS_RT_ALERT && n >= 2) {
		if (p[1] == KTLS_ALERT_CLOSE_NOTIFY) {
			d->eof = 1;
			d->how = "close_notify";
			return 1;
		}
		snprintf(why, sizeof(why),
			 "TLS alert received: level %u, description %u", p[0],
			 p[1]);
		logc(c->svc, c->id, LOG_ERR, "%s", why);
		conn_close(c, why, 1);
		return 0;
	}
	if (type == KTLS_RT_HANDSHAKE)
		return ktls_handshake(c, d, p, n);
	snprintf(why, sizeof(why), "unexpected TLS record (type %u) after the "
		 "switch to kernel TLS", type);
	logc(c->svc, c->id, LOG_ERR, "%s", why);
	conn_close(c, why, 1);
	return 0;
}

/* Read from a side whose receive direction is in the kernel. */
static int ktls_read(struct conn *c, struct dir *d, struct side *s)
{
	char *p = d->buf + d->off + d->len;
	size_t room = CONN_BUF - d->off - d->len;
	uint8_t type;
	ssize_t n;
	int again;

	/* a control record must fit whole */
	if (room < 512 && d->off) {
		memmove(d->buf, d->buf + d->off, d->len);
		d->off = 0;
		p = d->buf + d->len;
		room = CONN_BUF - d->len;
	}
	if (room < 512)
		return 0;
	for (again = 0; again < 2; again++) {
		n = ktls_recv_record(s->rfd, p, room, &type, MSG_DONTWAIT);
		if (n == -EINTR) {
			s->need |= SIDE_NEED_RD;
			return 0;
		}
		if (n == -EAGAIN)
			return dir_read_wait(c, d, SIDE_NEED_RD);
		if (n < 0) {
			char why[128];

			if (n == -EBADMSG)
				ktls_send_alert(s->wfd, KTLS_ALERT_FATAL, 20,
						MSG_DONTWAIT);
			snprintf(why, sizeof(why), "kernel TLS receive: %s",
				 n == -EBADMSG ? "a record failed to decrypt" :
						 strerror(-n));
			logc(c->svc, c->id, LOG_ERR, "%s", why);
			conn_close(c, why, 1);
			return 0;
		}
		if (type != KTLS_RT_APPLICATION_DATA)
			return ktls_control(c, (struct dir *)d,
					    (unsigned char *)p, n, type);
		if (n > 0) {
			d->len += n;
			return 1;
		}
		/* 0: EOF, or an empty record; only EOF reads 0 twice */
	}
	d->eof = 1;
	d->how = "EOF without close_notify (truncated)";
	logc(c->svc, c->id, LOG_NOTICE,
	     "TLS peer closed without close_notify (possible truncation)");
	return 1;
}

/* Returns 1 on progress; may close C. */
static int dir_read(struct conn *c, struct dir *d)
{
	struct side *s = &c->s[d->src];
	size_t room, n = 0;
	int err, got = 0;
	char *p;

	if (d->eof || d->len == CONN_BUF)
		return 0;
	if (!d->buf) {
		d->buf = worker_buf_get(c->w);
		if (!d->buf) {
			conn_close(c, "out of memory", 1);
			return 0;
		}
	}
	if (d->off + d->len == CONN_BUF) {
		/* Moving a pending SSL_write buffer is allowed:
		 * SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER. */
		memmove(d->buf, d->buf + d->off, d->len);
		d->off = 0;
	}
	p = d->buf + d->off + d->len;
	room = CONN_BUF - d->off - d->len;

	if (s->ktls_rx)
		return ktls_read(c, d, s);
	if (!s->ssl) {
		ssize_t r = read(s->rfd, p, room);

		if (r > 0) {
			d->len += r;
			return 1;
		}
		if (r == 0) {
			d->eof = 1;
			d->how = "EOF";
			return 1;
		}
		if (errno == EINTR)
			return 1;
		if (errno == EAGAIN)
			return dir_read_wait(c, d, SIDE_NEED_RD);
		conn_io_fail(c, "read from", d->src, strerror(errno));
		return 0;
	}

	/* Fill the buffer: with read-ahead, the records that one read(2)
	 * brought in are all taken before the write. */
	ERR_clear_error();	/* a call that succeeds queues none */
	for (;;) {
		errno = 0;
		if (!SSL_read_ex(s->ssl, p, room, &n))
			break;
		d->len += n;
		p += n;
		room -= n;
		got = 1;
		if (!room)
			return 1;
	}
	err = SSL_get_error(s->ssl, 0);
	if (ssl_want(err))
		return dir_read_wait(c, d, ssl_want(err)) || got;
	switch (err) {
	case SSL_ERROR_ZERO_RETURN:
		d->eof = 1;
		d->how = "close_notify";
		/* Even before TLS 1.3 (where RFC 5246 says close_notify
		 * closes both ways) the other direction keeps flowing, as
		 * with stunnel: a client that half-closes after its request
		 * still gets the whole reply. */
		return 1;
	case SSL_ERROR_SSL:
		if (ERR_GET_REASON(ERR_peek_error()) !=
		    SSL_R_UNEXPECTED_EOF_WHILE_READING)
			break;
		/* fallthrough */
	case SSL_ERROR_SYSCALL:
		if (errno && errno != EPIPE)
			break;
		ERR_clear_error();
		d->eof = 1;
		d->how = "EOF without close_notify (truncated)";
		logc(c->svc, c->id, LOG_NOTICE,
		     "TLS peer closed without close_notify (possible truncation)");
		return 1;
	}
	conn_tls_fail(c, "SSL_read");
	return 0;
}

/*
 * D's end goes to a kTLS socket: its FIN must wait until the TLS layer has
 * handed TCP every record (ktls_txq in ktls.h: behind a full send buffer
 * the kernel holds records back, and shutdown() would lose them). 1 while
 * it still holds some: a timer asks again, sooner at first.
 */
static int dir_tx_held(struct conn *c, struct dir *d)
{
	struct side *s = &c->s[d->dst];
	uint64_t held;
	int rc;

	if (d->drain_wait)
		return 1;
	rc = ktls_txq_held(&s->txq, s->wfd, &held);
	if (rc == -EAGAIN)
		held = d->drain_held ? d->drain_held : 1; /* ask again */
	else if (rc < 0)
		held = 0;	/* the socket is gone: nothing will move */
	if (!held) {
		d->drain_ms = 0;
		return 0;
	}
	if (!d->drain_ms)
		logc(c->svc, c->id, LOG_DEBUG, "%llu bytes of TLS records wait "
		     "behind a full send buffer: the FIN waits for them",
		     (unsigned long long)held);
	else if (held < d->drain_held)
		c->t_active = c->w->now;	/* they move: not idle */
	d->drain_held = held;
	d->drain_ms = !d->drain_ms ? 1 : d->drain_ms < 64 ? d->drain_ms * 2 :
							    100;
	d->drain_wait = 1;
	worker_soon(c->w, c, d->drain_ms);
	return 1;
}

static int dir_write(struct conn *c, struct dir *d)
{
	struct side *s = &c->s[d->dst];
	size_t n = 0;

	if (d->shut)
		return 0;
	if (d->len && !key_update_owed(c, d))
		return 0;
	if (!d->len) {
		if (!d->eof)
			return 0;
		/* The source ended and everything is delivered: pass the end
		 * on (close_notify, then FIN). */
		if (s->ktls_tx) {
			if (!s->close_sent) {
				int rc = ktls_send_close_notify(s->wfd,
								MSG_DONTWAIT);

				if (rc == -EAGAIN)
					return dir_write_wait(c, d,
							      SIDE_NEED_WR);
				if (!rc)
					ktls_txq_add(&s->txq, 2);
				s->close_sent = 1;
			}
			if (dir_tx_held(c, d))
				return 0;
		} else if (s->ssl) {
			/* Once close_notify is queued, never again: a second
			 * SSL_shutdown() waits for the peer's close_notify
			 * by reading, and throws away the data it reads. */
			ERR_clear_error();
			if (!s->close_sent && SSL_shutdown(s->ssl) < 0) {
				int e = SSL_get_error(s->ssl, -1);

				if (e == SSL_ERROR_WANT_WRITE)
					return dir_write_wait(c, d,
							      SIDE_NEED_WR);
				ERR_clear_error();	/* the peer is gone */
			}
			s->close_sent = 1;
			/* close_notify and the records before it, out
			 * before the FIN; an error: the peer is gone */
			if (tlsout_flush(s->ssl) == 0)
				return dir_write_wait(c, d, SIDE_NEED_WR);
		}
		if (shutdown(s->wfd, SHUT_WR) < 0 && errno == ENOTSOCK &&
		    s->wfd != s->rfd) {
			/* inetd mode on a pipe: closing is the only EOF */
			ev_watch_del(c->w->loop, &s->ww);
			close(s->wfd);
			s->wfd = -1;
		}
		d->shut = 1;
		return 1;
	}

	if (!s->ssl || s->ktls_tx) {
		ssize_t r = write(s->wfd, d->buf + d->off, d->len);

		if (r > 0) {
			n = r;
			if (s->ktls_tx)
				ktls_txq_add(&s->txq, n);
		} else if (errno == EINTR) {
			return 1;
		} else if (errno == EAGAIN) {
			return dir_write_wait(c, d, SIDE_NEED_WR);
		} else {
			conn_io_fail(c, "write to", d->dst, strerror(errno));
			return 0;
		}
	} else {
		/* One record per call (partial writes): seal them all into
		 * the batch, until it is full and the socket too. A call
		 * that succeeds queues no error: clear once. */
		ERR_clear_error();
		do {
			size_t put = 0;
			unsigned what;
			int rc;

			if (!tlsout_has_room(s->ssl) &&
			    (rc = tlsout_flush(s->ssl)) < 0) {
				conn_io_fail(c, "write to", d->dst,
					     strerror(-rc));
				return 0;
			}
			if (!tlsout_has_room(s->ssl)) {
				dir_write_wait(c, d, SIDE_NEED_WR);
				if (!n)
					return 0;
				break;
			}
			errno = 0;
			if (SSL_write_ex(s->ssl, d->buf + d->off + n, d->len - n,
					 &put)) {
				n += put;
				continue;
			}
			what = ssl_want(SSL_get_error(s->ssl, 0));
			if (!what) {
				conn_tls_fail(c, "SSL_write");
				return 0;
			}
			dir_write_wait(c, d, what);
			if (!n)
				return 0;
			break;
		} while (n < d->len);
	}
	d->off += n;
	d->len -= n;
	if (!d->len)
		d->off = 0;
	__atomic_add_fetch(&d->bytes, n, __ATOMIC_RELAXED);
	return 1;
}

/*
 * The zero-copy relay of a direction whose both ends are in the kernel
 * (a plain socket, or a kTLS socket in the right direction): source ->
 * pipe -> destination with splice(2). The socket's O_NONBLOCK is not
 * enough for splice, so SPLICE_F_NONBLOCK always. What splice cannot
 * take is left to the copy path: a control record (EINVAL from a kTLS
 * receive side), a 0 that may be an empty record rather than EOF, and
 * the end of the direction. Bytes read that way wait in d->buf, behind
 * those already in the pipe.
 */
/* Source -> pipe, several records before one drain (a kTLS receive side
 * gives one record per call). Returns the last splice result, with
 * errno, and adds what moved to d->inpipe. */
static ssize_t splice_fill(struct conn *c, struct dir *d)
{
	ssize_t n = 0;
	int i;

	for (i = 0; i < SPLICE_BATCH; i++) {
		n = splice(c->s[d->src].rfd, NULL, d->pipe[1], NULL, 1 << 20,
			   SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
		if (n <= 0)
			break;
		d->inpipe += n;
	}
	return n;
}

static int dir_splice(struct conn *c, struct dir *d)
{
	struct side *s = &c->s[d->src], *t = &c->s[d->dst];
	int progress = 0;
	ssize_t n;

	if (d->shut)
		return 0;
	if (!d->inpipe && (d->len || d->eof))
		return dir_write(c, d);	/* bytes behind the pipe, or the end */
	if (!d->len && !d->eof) {
		size_t before = d->inpipe;

		if (d->pipe[0] < 0) {
			int rc = worker_pipe_get(c->w, d->pipe);

			if (rc < 0) {
				char why[96];

				snprintf(why, sizeof(why),
					 "cannot create a pipe: %s",
					 strerror(-rc));
				conn_close(c, why, 1);
				return 0;
			}
		}
		n = splice_fill(c, d);
		progress = d->inpipe > before;
		if (!d->inpipe) {
			/* Nothing moved: what stopped it is the answer. Done
			 * only with an empty pipe, so that bytes read another
			 * way never pass bytes still in the pipe. */
			worker_pipe_put(c->w, d->pipe);
			if (n == 0 && !s->ktls_rx) {
				d->eof = 1;
				d->how = "EOF";
				return 1;
			}
			if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
				s->need |= SIDE_NEED_RD;
				return 0;
			}
			if (s->ktls_rx && (n == 0 || errno == EINVAL))
				return dir_read(c, d); /* not for splice */
			conn_io_fail(c, "splice from", d->src, strerror(errno));
			return 0;
		}
	}
	if (!key_update_owed(c, d))
		return progress;
	n = splice(d->pipe[0], NULL, t->wfd, NULL, d->inpipe,
		   SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
	if (n > 0) {
		d->inpipe -= n;
		if (t->ktls_tx)
			ktls_txq_add(&t->txq, n);
		__atomic_add_fetch(&d->bytes, n, __ATOMIC_RELAXED);
		if (!d->inpipe)
			worker_pipe_put(c->w, d->pipe);
		return 1;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		t->need |= SIDE_NEED_WR;
		return progress;
	}
	conn_io_fail(c, "splice to", d->dst, n < 0 ? strerror(errno) : "closed");
	return 0;
}

/* The records the pump's writes sealed, to the TLS peer in one go; the
 * rest when the socket is writable again. -1 when C was closed. */
static int conn_flush(struct conn *c)
{
	struct side *s = &c->s[c->tls_side];
	int rc;

	if (!s->ssl || s->ktls_tx)
		return 0;
	rc = tlsout_flush(s->ssl);
	if (rc == 0)
		s->need |= SIDE_NEED_WR;
	if (rc < 0) {
		conn_io_fail(c, "write to", c->tls_side, strerror(-rc));
		return -1;
	}
	return 0;
}

static void conn_pump(struct conn *c)
{
	int round, progress, i;
	struct dir *d;

	for (round = 0; round < PUMP_BUDGET; round++) {
		progress = 0;
		c->s[0].need = c->s[1].need = 0;
		for (i = 0; i < 2; i++) {
			if (c->d[i].splice) {
				progress |= dir_splice(c, &c->d[i]);
				if (c->state == CONN_CLOSED)
					return;
				continue;
			}
			d = &c->d[i];
			if (d->wr_wait)	/* still blocked: watch, skip */
				c->s[d->dst].need |= d->wr_wait;
			else
				progress |= dir_write(c, d);
			if (c->state == CONN_CLOSED)
				return;
			if (d->rd_wait)
				c->s[d->src].need |= d->rd_wait;
			else
				progress |= dir_read(c, d);
			if (c->state == CONN_CLOSED)
				return;
		}
		if (!progress)
			break;
		c->t_active = c->w->now;
	}
	if (conn_flush(c) < 0)
		return;
	for (i = 0; i < 2; i++) {	/* empty buffers back to the pool */
		d = &c->d[i];
		if (d->buf && !d->len) {
			worker_buf_put(c->w, d->buf);
			d->buf = NULL;
			d->off = 0;
		}
	}
	if (round == PUMP_BUDGET) {
		/* Still busy: yield, and come back as soon as either side is
		 * ready again (level-triggered, so ready fds fire at once). */
		c->s[0].need = c->s[1].need = SIDE_NEED_RD | SIDE_NEED_WR;
	}
	if (c->d[0].shut && c->d[1].shut) {
		char why[160];

		snprintf(why, sizeof(why), "client: %s, server: %s",
			 c->d[0].how, c->d[1].how);
		conn_close(c, why, 0);
		return;
	}
	conn_arm(c);
}

/* Both ends of D move bytes in the kernel: plain sockets, or kTLS in
 * the right direction. */
static int splice_ok(const struct conn *c, const struct dir *d)
{
	const struct side *s = &c->s[d->src], *t = &c->s[d->dst];

	if (s->rfd != s->wfd || t->rfd != t->wfd)
		return 0;	/* inetd mode: maybe not sockets */
	return (!s->ssl || s->ktls_rx) && (!t->ssl || t->ktls_tx);
}

static void conn_start_relay(struct conn *c)
{
	c->d[0].splice = splice_ok(c, &c->d[0]);
	c->d[1].splice = splice_ok(c, &c->d[1]);
	c->state = CONN_RELAY;
	c->t_active = c->w->now;
	conn_pump(c);
}

/* ---- the handshake -------------------------------------------------------- */

static void conn_handshake_done(struct conn *c)
{
	SSL *ssl = c->s[c->tls_side].ssl;
	struct side *s;
	const SSL_CIPHER *ciph = SSL_get_current_cipher(ssl);
	int bits = 0;

	c->handshake_done = 1;
	if (!c->svc->client)
		c->svc = tls_conn_service(ssl);
	tls_conn_describe(ssl, c->proto, sizeof(c->proto));
	SSL_CIPHER_get_bits(ciph, &bits);
	logc(c->svc, c->id, LOG_INFO, "TLS %s: %s", c->svc->client ?
	     "connected" : "accepted", SSL_session_reused(ssl) ?
	     "previous session reused" : "new session negotiated");
	logc(c->svc, c->id, LOG_INFO, "%s ciphersuite: %s (%d-bit encryption)",
	     SSL_get_version(ssl), SSL_CIPHER_get_name(ciph), bits);

	if (c->svc->client)
		tls_conn_save_session(ssl, c->target);
	if (offload_conn(c) < 0)	/* may free ssl */
		return;
	s = &c->s[c->tls_side];
	if (s->ssl && !s->ktls_rx)	/* for good */
		tls_conn_read_ahead(s->ssl);
	if (s->ssl && !s->ktls_tx && tlsout_attach(s->ssl, c->w, s->wfd) < 0) {
		conn_close(c, "out of memory", 1);
		return;
	}
	if (c->svc->client) {
		conn_start_relay(c);
	} else {
		conn_connect_next(c);
	}
}

static void conn_handshake(struct conn *c)
{
	struct side *s = &c->s[c->tls_side];

	ERR_clear_error();
	errno = 0;
	if (SSL_do_handshake(s->ssl) == 1) {
		conn_handshake_done(c);
		return;
	}
	s->need = 0;
	if (!side_want(s, SSL_get_error(s->ssl, 0))) {
		conn_tls_fail(c, c->svc->client ? "SSL_connect" : "SSL_accept");
		return;
	}
	conn_arm(c);
}

static void conn_start_handshake(struct conn *c)
{
	struct side *s = &c->s[c->tls_side];

	s->ssl = tls_conn_new(c->svc, c->id, c->target);
	if (!s->ssl) {
		conn_close(c, "cannot create the TLS session", 1);
		return;
	}
	if (s->rfd == s->wfd) {
		SSL_set_fd(s->ssl, s->rfd);
	} else {
		SSL_set_rfd(s->ssl, s->rfd);
		SSL_set_wfd(s->ssl, s->wfd);
	}
	offload_attach(c);
	c->state = CONN_HANDSHAKE;
	c->t_phase = now_ms();
	conn_handshake(c);
}

/* ---- the backend connection ---------------------------------------------- */

static void conn_connected(struct conn *c)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char local[ADDR_STRLEN] = "?";

	if (!getsockname(c->s[1].rfd, (struct sockaddr *)&ss, &len))
		addr_format((struct sockaddr *)&ss, len, local, sizeof(local));
	logc(c->svc, c->id, LOG_NOTICE,
	     "Service [%s] connected remote server from %s", c->svc->name,
	     local);
	if (c->svc->proxy_proto != PROXY_NONE) {
		char why[160];

		if (transparent_proxy_header(c->svc, c->s[0].rfd, c->s[1].rfd,
					     why, sizeof(why)) < 0) {
			logc(c->svc, c->id, LOG_ERR, "%s", why);
			conn_close(c, why, 1);
			return;
		}
	}
	if (c->svc->client)
		conn_start_handshake(c);
	else
		conn_start_relay(c);
}

static void conn_connect_failed(struct conn *c, int err)
{
	char a[ADDR_STRLEN];

	addr_format((const struct sockaddr *)&c->target->ss, c->target->len,
		    a, sizeof(a));
	logc(c->svc, c->id, LOG_ERR, "s_connect: connect %s: %s (%d)", a,
	     strerror(err), err);
	ev_watch_del(c->w->loop, &c->s[1].rw);
	close(c->s[1].rfd);
	c->s[1].rfd = c->s[1].wfd = -1;
	conn_connect_next(c);
}

static void conn_connect_next(struct conn *c)
{
	struct service *svc = c->svc;
	int fd, err;

	if (!c->targets) {	/* first attempt */
		c->targets = &svc->connect_addrs;
		if (svc->transparent & TRANSPARENT_DEST) {
			char why[160];
			struct addr dst;

			if (transparent_orig_dst(c->cfg, svc, c->s[0].rfd, &dst,
						 why, sizeof(why)) < 0) {
				logc(svc, c->id, LOG_ERR, "%s", why);
				conn_close(c, why, 1);
				return;
			}
			addrlist_add(&c->own_targets,
				     (struct sockaddr *)&dst.ss, dst.len);
			c->targets = &c->own_targets;
		} else if (svc->delay) {
			char err_s[160];
			size_t i;

			for (i = 0; i < svc->connect.n; i++)
				if (addr_resolve(svc->connect.v[i].v, 0,
						 &c->own_targets, err_s,
						 sizeof(err_s)) < 0)
					logc(svc, c->id, LOG_ERR, "%s", err_s);
			c->targets = &c->own_targets;
		} else if (svc->failover == FAILOVER_RR && c->targets->n) {
			c->tgt_first = __atomic_fetch_add(&svc->rr_next, 1,
							  __ATOMIC_RELAXED) %
				       c->targets->n;
		}
	}
	while (c->tgt_tried < c->targets->n) {
		char a[ADDR_STRLEN];

		c->target = &c->targets->a[(c->tgt_first + c->tgt_tried++) %
					   c->targets->n];
		addr_format((const struct sockaddr *)&c->target->ss,
			    c->target->len, a, sizeof(a));
		logc(svc, c->id, LOG_INFO, "s_connect: connecting %s", a);
		fd = socket(c->target->ss.ss_family,
			    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			err = errno;
			logc(svc, c->id, LOG_ERR, "socket: %s (%d)",
			     strerror(err), err);
			continue;
		}
		sockopt_apply(svc, SOCKSIDE_REMOTE, fd, c->id);
		if (svc->local_addrs.n && sockopt_bind_local(svc, fd, c->target,
							     c->id) < 0) {
			close(fd);
			continue;
		}
		if (svc->transparent & TRANSPARENT_SOURCE) {
			char why[160];

			if (transparent_source(c->s[0].rfd, fd,
					       c->target->ss.ss_family, why,
					       sizeof(why)) < 0) {
				logc(svc, c->id, LOG_ERR, "%s", why);
				close(fd);
				continue;
			}
		}
		c->s[1].rfd = c->s[1].wfd = fd;
		ev_watch_init(&c->s[1].rw, fd, on_event, c);
		c->state = CONN_CONNECTING;
		c->t_phase = now_ms();
		if (connect(fd, (const struct sockaddr *)&c->target->ss,
			    c->target->len) == 0) {
			conn_connected(c);
			return;
		}
		if (errno == EINPROGRESS) {
			c->s[1].need = SIDE_NEED_WR;
			c->s[0].need = 0;
			conn_arm(c);
			return;
		}
		conn_connect_failed(c, errno);
		return;
	}
	logc(svc, c->id, LOG_ERR, "No more addresses to connect");
	conn_close(c, "backend connect failed", 1);
}

static void conn_on_connect_ready(struct conn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(c->s[1].rfd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err) {
		conn_connect_failed(c, err);
		return;
	}
	c->s[1].need = 0;
	conn_connected(c);
}

/* ---- events and timers ---------------------------------------------------- */

/*
 * Side X hung up (both directions shut at the socket: our FIN and theirs,
 * or a reset), and the pump could not finish the connection. If we still
 * owe X data it can never be delivered; otherwise X has nothing more to
 * say (its remaining bytes are read by the pump, which the other side's
 * events keep driving) and its watch is dropped so that the permanent
 * EPOLLHUP does not spin the loop.
 */
static void conn_on_hup(struct conn *c, int x)
{
	struct dir *to_x = &c->d[x == 0 ? 1 : 0];

	if (!to_x->shut) {
		conn_close(c, x == c->tls_side ? "TLS peer hung up" :
						 "peer hung up", 1);
		return;
	}
	c->s[x].hup = 1;
	ev_watch_del(c->w->loop, &c->s[x].rw);
	ev_watch_del(c->w->loop, &c->s[x].ww);
}

static void on_event(struct ev_watch *w, uint32_t events)
{
	struct conn *c = w->arg;
	int x = w == &c->s[0].rw || w == &c->s[0].ww ? 0 : 1;
	int hup = events & (EPOLLHUP | EPOLLERR);
	unsigned got, i;

	if (c->magic != CONN_MAGIC || c->state == CONN_CLOSED)
		return;
	/* What side X is ready for ends the waits of the operations there. */
	got = hup ? SIDE_NEED_RD | SIDE_NEED_WR :
		    (events & EV_READ ? SIDE_NEED_RD : 0) |
		    (events & EV_WRITE ? SIDE_NEED_WR : 0);
	for (i = 0; i < 2; i++) {
		if (c->d[i].src == x && (c->d[i].rd_wait & got))
			c->d[i].rd_wait = 0;
		if (c->d[i].dst == x && (c->d[i].wr_wait & got))
			c->d[i].wr_wait = 0;
	}
	c->w->now = now_ms();
	switch (c->state) {
	case CONN_HANDSHAKE:
		if (x == c->tls_side)
			conn_handshake(c);
		else if (hup)
			conn_close(c, "client disconnected during the handshake",
				   1);
		break;
	case CONN_CONNECTING:
		if (x == 1)
			conn_on_connect_ready(c);
		else if (hup)
			conn_close(c, "client disconnected during connect", 1);
		break;
	case CONN_RELAY:
		conn_pump(c);
		if (hup && c->state == CONN_RELAY)
			conn_on_hup(c, x);
		break;
	default:
		break;
	}
}

void conn_start(struct conn *c, struct worker *w)
{
	c->w = w;
	w->now = now_ms();
	if (c->svc->client)
		conn_connect_next(c);
	else
		conn_start_handshake(c);
}

void conn_soon(struct conn *c)
{
	if (c->state != CONN_RELAY)
		return;
	c->d[0].drain_wait = c->d[1].drain_wait = 0;
	c->w->now = now_ms();
	conn_pump(c);
}

void conn_tick(struct conn *c, uint64_t now)
{
	struct service *svc = c->svc;
	uint64_t limit;

	switch (c->state) {
	case CONN_HANDSHAKE:
		/* An absolute deadline: trickling bytes does not extend it. */
		if (now - c->t_phase >= (uint64_t)svc->timeout_busy * 1000) {
			logc(svc, c->id, LOG_ERR,
			     "TLS handshake timed out (TIMEOUTbusy = %d s)",
			     svc->timeout_busy);
			conn_close(c, "handshake timeout", 1);
		}
		break;
	case CONN_CONNECTING:
		if (now - c->t_phase >= (uint64_t)svc->timeout_connect * 1000)
			conn_connect_failed(c, ETIMEDOUT);
		break;
	case CONN_RELAY:
		limit = c->d[0].eof || c->d[1].eof ? svc->timeout_close :
						     svc->timeout_idle;
		if (now - c->t_active >= limit * 1000) {
			int half = c->d[0].eof || c->d[1].eof;

			logc(svc, c->id, LOG_INFO, "%s timeout (%llu s)",
			     half ? "TIMEOUTclose" : "TIMEOUTidle",
			     (unsigned long long)limit);
			conn_close(c, half ? "close timeout" : "idle timeout",
				   0);
		}
		break;
	default:
		break;
	}
}

uint64_t conn_quiet_ms(const struct conn *c, uint64_t now)
{
	if (c->state != CONN_RELAY)
		return UINT64_MAX;
	if (c->d[0].len || c->d[1].len || c->d[0].inpipe || c->d[1].inpipe ||
	    c->d[0].drain_ms || c->d[1].drain_ms ||
	    (c->s[c->tls_side].ssl && tlsout_pending(c->s[c->tls_side].ssl)))
		return 0;
	return now - c->t_active;
}

void conn_describe(const struct conn *c, char *buf, size_t len)
{
	uint64_t age = (now_ms() - c->t_start) / 1000;
	char path[200];

	snprintf(buf, len,
		 "#%llu [%s] peer %s state %s path %s %s c2s %llu s2c %llu age %llus",
		 (unsigned long long)c->id, c->svc->name, c->peer,
		 conn_state_str(c->state), path_str(c, path, sizeof(path)),
		 c->proto[0] ? c->proto : "-",
		 (unsigned long long)__atomic_load_n(&c->d[0].bytes,
						     __ATOMIC_RELAXED),
		 (unsigned long long)__atomic_load_n(&c->d[1].bytes,
						     __ATOMIC_RELAXED),
		 (unsigned long long)age);
}
