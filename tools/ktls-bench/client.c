/* SPDX-License-Identifier: MIT */
/*
 * client.c - the ktls-bench clients: bulk-up, bulk-down, handshake, rr
 * and idle start their connections, send their requests, account what
 * comes back, and print the JSON result.
 */
#include "bench.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <openssl/err.h>

static void client_start(unsigned slot)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c)
		die("out of memory");
	c->slot = slot;
	c->state = ST_CONNECT;
	c->fd = socket(g.addr.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
		       SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		die("socket: %s", strerror(errno));
	nodelay(c->fd);
	g.slots[slot].c = c;
	g.started++;
	g.live++;
	g.connecting++;
	if (o.tls.on && conn_tls(c, 0) < 0)
		die("SSL_new");
	if (connect(c->fd, (struct sockaddr *)&g.addr.ss, g.addr.len) < 0 &&
	    errno != EINPROGRESS) {
		conn_err(c, "connect: %s", strerror(errno));
		client_done(c, END_ERR);
		return;
	}
	c->want = EPOLLOUT;
	conn_watch(c);
}

int client_ready(struct conn *c)
{
	if (c->ssl && SSL_session_reused(c->ssl))
		g.resumed++;
	c->t_start = now_ns();
	switch (o.mode) {
	case M_BULK_UP:
		put_hdr(c, OP_UP, g.per_conn_bytes[c->slot], 0);
		c->wr_left = g.per_conn_bytes[c->slot];
		c->rd_left = 8;
		break;
	case M_BULK_DOWN:
		put_hdr(c, OP_DOWN, g.per_conn_bytes[c->slot], 0);
		c->rd_left = g.per_conn_bytes[c->slot];
		break;
	case M_RR:
		put_hdr(c, OP_RR, o.req, o.resp);
		c->wr_left = o.req;
		c->rd_left = o.resp;
		c->t_req = c->t_start;
		break;
	case M_IDLE:
		put_hdr(c, OP_HOLD, 0, 0);
		c->rd_left = 1;
		break;
	case M_HANDSHAKE:
		g.handshakes++;
		if (!c->ssl) {
			client_done(c, END_OK);
			return 1;
		}
		/* close_notify, then read to the end: this also takes the
		 * session tickets a TLS 1.3 server sends after the handshake */
		SSL_shutdown(c->ssl);
		ERR_clear_error();
		c->state = ST_DRAIN;
		break;
	default:
		break;
	}
	return 0;
}

int client_next(struct conn *c)
{
	uint64_t t = now_ns();

	switch (o.mode) {
	case M_RR:
		if (g.nlat < MAX_SAMPLES)
			g.lat[g.nlat++] = t - c->t_req;
		c->reqs++;
		g.req_total++;
		if (t >= g.end_at || got_signal ||
		    (o.count && c->reqs >= o.count)) {
			client_done(c, END_OK);
			return 1;
		}
		c->t_req = t;
		c->wr_left = o.req;
		c->rd_left = o.resp;
		return 0;
	case M_IDLE:
		g.established++;
		g.connecting--;
		c->state = ST_HOLD;
		return 0;
	default:	/* bulk: the acknowledgement, or the last byte, is in */
		g.bytes_done += o.mode == M_BULK_UP ? c->tx : c->rx;
		if (!g.t_first || c->t_start < g.t_first)
			g.t_first = c->t_start;
		if (t > g.t_last)
			g.t_last = t;
		g.done_conns++;
		client_done(c, END_OK);
		return 1;
	}
}

static int want_more(void)
{
	uint64_t t = now_ns();

	if (g.stop || got_signal || t >= g.deadline || o.mode != M_HANDSHAKE)
		return 0;
	if (o.count)
		return g.started < o.count;
	return t < g.end_at;
}

void client_done(struct conn *c, enum end how)
{
	unsigned slot = c->slot;

	if (how == END_EOF) {
		if (c->state == ST_HOLD && !g.stop)
			g.lost++;		/* idle: the proxy let go */
		else if (c->state != ST_DRAIN && c->state != ST_HOLD)
			conn_err(c, "closed by the peer early (%s)",
				 c->state == ST_HANDSHAKE ? "handshake" :
				 c->state == ST_CONNECT ? "connect" : "data");
	}
	if (how == END_ERR && c->state == ST_DRAIN)
		g.unclean++;
	if (o.mode == M_IDLE && c->state != ST_HOLD)
		g.connecting--;
	g.slots[slot].c = NULL;
	g.live--;
	conn_destroy(c, how != END_ERR);
	if (g.errors > 1000)
		g.stop = 1;	/* something is badly wrong: wind down */
	if (want_more())
		client_start(slot);
}

static void idle_fill(void)
{
	while (!g.stop && !got_signal && g.started < o.conns &&
	       g.connecting < o.inflight)
		client_start(g.started);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* the p-th percentile of the sorted samples, in microseconds */
static double pct(const uint64_t *v, size_t n, double p)
{
	size_t i;

	if (!n)
		return 0;
	i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
	return (double)v[i < n ? i : n - 1] / 1000.0;
}

static double elapsed(void)
{
	return (double)(now_ns() - g.t0) / 1e9;
}

static void report(void)
{
	double secs;

	printf("{\"mode\":\"%s\",\"tls\":%s,\"conns\":%u,\"errors\":%" PRIu64,
	       mode_names[o.mode], o.tls.on ? "true" : "false", o.conns,
	       g.errors);
	switch (o.mode) {
	case M_BULK_UP:
	case M_BULK_DOWN:
		secs = g.t_last > g.t_first ?
			(double)(g.t_last - g.t_first) / 1e9 : 0;
		printf(",\"bytes\":%" PRIu64 ",\"secs\":%.6f,\"mbps\":%.2f"
		       ",\"done_conns\":%" PRIu64 ",\"total_secs\":%.6f",
		       g.bytes_done, secs,
		       secs > 0 ? (double)g.bytes_done / secs / 1e6 : 0.0,
		       g.done_conns, elapsed());
		break;
	case M_HANDSHAKE:
		secs = elapsed();
		printf(",\"resume\":%s,\"handshakes\":%" PRIu64 ",\"resumed\":%"
		       PRIu64 ",\"unclean\":%" PRIu64 ",\"secs\":%.6f"
		       ",\"rate\":%.2f", o.resume ? "true" : "false",
		       g.handshakes, g.resumed, g.unclean, secs,
		       secs > 0 ? (double)g.handshakes / secs : 0.0);
		break;
	case M_RR: {
		double sum = 0;
		size_t i;

		qsort(g.lat, g.nlat, sizeof(g.lat[0]), cmp_u64);
		for (i = 0; i < g.nlat; i++)
			sum += (double)g.lat[i];
		secs = elapsed();
		printf(",\"req\":%" PRIu64 ",\"resp\":%" PRIu64 ",\"requests\":%"
		       PRIu64 ",\"secs\":%.6f,\"rate\":%.2f,\"mean_us\":%.2f"
		       ",\"p50_us\":%.2f,\"p90_us\":%.2f,\"p99_us\":%.2f"
		       ",\"p999_us\":%.2f,\"max_us\":%.2f",
		       o.req, o.resp, g.req_total, secs,
		       secs > 0 ? (double)g.req_total / secs : 0.0,
		       g.nlat ? sum / (double)g.nlat / 1000.0 : 0.0,
		       pct(g.lat, g.nlat, 50), pct(g.lat, g.nlat, 90),
		       pct(g.lat, g.nlat, 99), pct(g.lat, g.nlat, 99.9),
		       g.nlat ? (double)g.lat[g.nlat - 1] / 1000.0 : 0.0);
		break;
	}
	case M_IDLE:
		printf(",\"event\":\"closed\",\"established\":%u,\"lost\":%u"
		       ",\"resumed\":%" PRIu64 ",\"secs\":%.6f",
		       g.established, g.lost, g.resumed, elapsed());
		break;
	default:
		break;
	}
	printf("}\n");
	fflush(stdout);
}

int idle_settled(void)
{
	return g.started == o.conns && g.connecting == 0;
}

void run_client(void)
{
	unsigned i;

	g.ep = epoll_create1(EPOLL_CLOEXEC);
	if (g.ep < 0)
		die("epoll_create1: %s", strerror(errno));
	g.nslots = o.conns;
	g.slots = calloc(g.nslots, sizeof(*g.slots));
	g.per_conn_bytes = calloc(g.nslots, sizeof(uint64_t));
	if (!g.slots || !g.per_conn_bytes)
		die("out of memory");
	for (i = 0; i < g.nslots; i++)
		g.per_conn_bytes[i] = o.bytes / o.conns +
			(i < o.bytes % o.conns ? 1 : 0);
	if (o.mode == M_RR) {
		g.lat = malloc(MAX_SAMPLES * sizeof(uint64_t));
		if (!g.lat)
			die("out of memory");
	}
	g.t0 = now_ns();
	g.deadline = g.t0 + secs_ns(o.timeout);
	/* idle: the hold starts when every connection is set up */
	g.end_at = o.mode == M_IDLE ? UINT64_MAX : g.t0 + secs_ns(o.duration);
	/* handshake: the connections in flight at the end get 10 s more */
	if (o.mode == M_HANDSHAKE && !o.count &&
	    g.end_at + secs_ns(10) < g.deadline)
		g.deadline = g.end_at + secs_ns(10);
	if (o.mode == M_IDLE)
		idle_fill();
	else
		for (i = 0; i < g.nslots && !g.stop; i++)
			client_start(i);
	for (;;) {
		event_loop();
		if (o.mode != M_IDLE)
			break;
		if (!g.idle_reported && idle_settled()) {
			printf("{\"mode\":\"idle\",\"event\":\"established\","
			       "\"established\":%u,\"errors\":%" PRIu64
			       ",\"secs\":%.6f,\"resumed\":%" PRIu64 "}\n",
			       g.established, g.errors, elapsed(), g.resumed);
			fflush(stdout);
			g.idle_reported = 1;
			g.end_at = now_ns() + secs_ns(o.hold);
		}
		if (got_signal || now_ns() >= g.end_at ||
		    now_ns() >= g.deadline || (idle_settled() && !g.live))
			break;
		idle_fill();
	}
	if (o.mode == M_IDLE && !g.idle_reported)
		fprintf(stderr, "ktls-bench: idle: %u of %u established\n",
			g.established, o.conns);
	/* what is left (deadline, idle hold, rr at the end): close it */
	g.stop = 1;
	for (i = 0; i < g.nslots; i++) {
		struct conn *c = g.slots[i].c;

		if (!c)
			continue;
		if (c->state != ST_HOLD && o.mode != M_RR &&
		    o.mode != M_HANDSHAKE)
			conn_err(c, "unfinished at the deadline");
		client_done(c, END_OK);
	}
	report();
	exit(g.errors ? 1 : 0);
}

