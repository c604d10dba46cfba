/* SPDX-License-Identifier: MIT */
/*
 * conn.c - the connection state machine: its two sides, the TLS
 * handshake, the backend connection, the close, events and timers. The
 * data relay of an established connection is in relay.c.
 */
#include "conn_int.h"
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
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#define CONN_MAGIC 0x6b746c73u	/* "ktls" */

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

void conn_arm(struct conn *c)
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

/* Record on S what OpenSSL waits for; 1 if ERR was a WANT_READ/WRITE. */
static int side_want(struct side *s, int err)
{
	s->need |= ssl_want(err);
	return ssl_want(err) != 0;
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
	     c->state != CONN_RELAY ? "none" :	/* ended before */
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
void conn_tls_fail(struct conn *c, const char *what)
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
void conn_io_fail(struct conn *c, const char *what, int side,
		  const char *err)
{
	char why[128];

	snprintf(why, sizeof(why), "%s %s: %s", what,
		 side == c->tls_side ? "TLS peer" : "socket", err);
	conn_close(c, why, 1);
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
