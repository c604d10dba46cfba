/* SPDX-License-Identifier: MIT */
/*
 * relay.c - the data relay of an established connection.
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
#include "conn_int.h"
#include "ktls.h"
#include "log.h"
#include "offload.h"
#include "tlsout.h"
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#define CONN_BUF (64 * 1024)	/* plaintext per direction: 4 records */
_Static_assert(CONN_BUF <= WORKER_BUF, "relay buffers come from the pool");
#define PUMP_BUDGET 32		/* rounds before yielding to others */
#define SPLICE_BATCH 16		/* records into a pipe per drain */

/* ---- the relay ------------------------------------------------------------ */

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

void conn_pump(struct conn *c)
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

void conn_start_relay(struct conn *c)
{
	c->d[0].splice = splice_ok(c, &c->d[0]);
	c->d[1].splice = splice_ok(c, &c->d[1]);
	c->state = CONN_RELAY;
	c->t_active = c->w->now;
	conn_pump(c);
}
