/* SPDX-License-Identifier: MIT */
/*
 * server.c - the ktls-bench server: the backend behind the proxies, and
 * with --tls the TLS sink. It reads each client's request header and
 * runs what it asks for; --workers processes share the listener.
 */
#include "bench.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

void srv_close(struct conn *c, int clean)
{
	conn_destroy(c, clean);
}

int srv_on_hdr(struct conn *c)
{
	uint32_t magic;

	memcpy(&magic, c->hdr, 4);
	memcpy(&c->op, c->hdr + 4, 4);
	memcpy(&c->a, c->hdr + 8, 8);
	memcpy(&c->b, c->hdr + 16, 8);
	if (magic != HDR_MAGIC) {
		conn_err(c, "bad request header");
		return -1;
	}
	c->got_hdr = 1;
	switch (c->op) {
	case OP_UP: c->rd_left = c->a; break;
	case OP_DOWN: c->wr_left = c->a; break;
	case OP_RR: c->rd_left = c->a; break;
	case OP_HOLD:
		c->ctrl[0] = 'H';
		c->ctrl_len = 1;
		c->ctrl_off = 0;
		break;
	default:
		conn_err(c, "bad request op %u", c->op);
		return -1;
	}
	return 0;
}

void srv_next(struct conn *c)
{
	switch (c->op) {
	case OP_UP:
		if (!c->ctrl_len) {
			memcpy(c->ctrl, &c->a, 8);
			c->ctrl_len = 8;
			c->ctrl_off = 0;
			c->op = OP_HOLD;	/* then wait for the end */
		}
		break;
	case OP_RR:
		/* a request was read: answer it; an answer went: read on */
		if (c->reqs++ % 2 == 0)
			c->wr_left = c->b;
		else
			c->rd_left = c->a;
		break;
	default:
		break;
	}
}

void srv_accept(void)
{
	unsigned i;

	for (i = 0; i < 64; i++) {
		int fd = accept4(g.lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct conn *c;

		if (fd < 0) {
			if (errno != EAGAIN && errno != ECONNABORTED &&
			    errno != EINTR)
				fprintf(stderr, "ktls-bench: accept: %s\n",
					strerror(errno));
			return;
		}
		nodelay(fd);
		c = calloc(1, sizeof(*c));
		if (!c)
			die("out of memory");
		c->fd = fd;
		c->state = ST_RUN;
		if (o.tls.on) {
			if (conn_tls(c, 1) < 0)
				die("SSL_new");
			c->state = ST_HANDSHAKE;
		}
		c->want = EPOLLIN;
		conn_watch(c);
	}
}

void run_server(void)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE };
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[128], port[16];
	unsigned i;

	g.lfd = tool_listen(&g.addr, o.addr);
	getsockname(g.lfd, (struct sockaddr *)&ss, &sl);
	getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), port,
		    sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV);
	for (i = 1; i < o.workers; i++) {
		pid_t pid = fork();

		if (pid < 0)
			die("fork: %s", strerror(errno));
		if (pid == 0) {
			/* a worker ends with its parent */
			prctl(PR_SET_PDEATHSIG, SIGTERM);
			if (getppid() == 1)
				_exit(0);
			break;
		}
	}
	if (i == o.workers) {
		printf("listening on %s:%s\n", host, port);
		fflush(stdout);
	}
	g.ep = epoll_create1(EPOLL_CLOEXEC);
	if (g.ep < 0)
		die("epoll_create1: %s", strerror(errno));
	ev.data.ptr = NULL;
	if (epoll_ctl(g.ep, EPOLL_CTL_ADD, g.lfd, &ev) < 0)
		die("epoll_ctl: %s", strerror(errno));
	g.deadline = now_ns() + secs_ns(o.timeout);
	event_loop();
	exit(0);
}

