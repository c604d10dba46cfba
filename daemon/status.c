/* SPDX-License-Identifier: MIT */
#include "status.h"
#include "conn.h"
#include "log.h"
#include "offload.h"
#include "runtime.h"
#include "worker.h"

#include <buildconf.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t reload_lock = PTHREAD_MUTEX_INITIALIZER;
static char reload_result[200] = "none yet";

void status_set_reload(const char *result)
{
	pthread_mutex_lock(&reload_lock);
	snprintf(reload_result, sizeof(reload_result), "%s", result);
	pthread_mutex_unlock(&reload_lock);
}

static void add_conn(const struct conn *c, void *arg)
{
	char line[512];

	conn_describe(c, line, sizeof(line));
	fprintf(arg, "  %s\n", line);
}

static void page(FILE *f)
{
	struct config *cfg = runtime_get_current();
	size_t i, j;

	fprintf(f, "ktlsd %s\n", KTLSD_VERSION);
	fprintf(f, "uptime: %llu s\n",
		(unsigned long long)(time(NULL) - started_at));
	fprintf(f, "engine: %s, %d worker(s)\n",
		ev_engine_name(ev_get_engine()), workers_count());
	fprintf(f, "%s\n", offload_summary());
	pthread_mutex_lock(&reload_lock);
	fprintf(f, "last reload: %s\n", reload_result);
	pthread_mutex_unlock(&reload_lock);
	fprintf(f, "log lines dropped: %llu\n",
		(unsigned long long)log_dropped());
	if (cfg) {
		fprintf(f, "configuration: %s\n", cfg->path ? cfg->path : "(fd)");
		fprintf(f, "services:\n");
		for (i = 0; i < cfg->n_services; i++) {
			struct service *s = cfg->services[i];

			fprintf(f, "  [%s] %s mode, ktls = %s", s->name,
				s->client ? "client" : "server",
				s->ktls == KTLS_OFF ? "off" :
				s->ktls == KTLS_REQUIRED ? "required" : "auto");
			for (j = 0; j < s->accept.n; j++)
				fprintf(f, ", accept %s", s->accept.v[j].v);
			for (j = 0; j < s->connect.n; j++)
				fprintf(f, ", connect %s", s->connect.v[j].v);
			if (s->sni_primary)
				fprintf(f, ", sni %s:%s", s->sni_primary->name,
					s->sni_pattern);
			fprintf(f, "\n");
		}
		cfg_put(cfg);
	}
	fprintf(f, "connections: %llu active, %llu total, %ld allowed\n",
		(unsigned long long)__atomic_load_n(&conns_active,
						    __ATOMIC_RELAXED),
		(unsigned long long)__atomic_load_n(&conns_total,
						    __ATOMIC_RELAXED),
		max_clients);
	workers_foreach(add_conn, f);
}

static void *serve(void *arg)
{
	int fd = (int)(intptr_t)arg;
	struct timeval tv = { 5, 0 };
	char req[4096], *body = NULL, hdr[256];
	size_t got = 0, blen = 0;
	FILE *f;
	ssize_t n;

	/* Blocking with timeouts: this thread serves only this client. */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	while (got < sizeof(req) - 1) {
		n = read(fd, req + got, sizeof(req) - 1 - got);
		if (n <= 0)
			break;
		got += n;
		req[got] = '\0';
		if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
			break;
	}
	f = open_memstream(&body, &blen);
	if (f) {
		page(f);
		fclose(f);
		n = snprintf(hdr, sizeof(hdr),
			     "HTTP/1.0 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
			     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
			     blen);
		if (write(fd, hdr, n) == n && write(fd, body, blen) < 0)
			n = 0;
		free(body);
	}
	shutdown(fd, SHUT_WR);
	while (read(fd, req, sizeof(req)) > 0) /* let the client close */
		;
	close(fd);
	return NULL;
}

void status_serve(int fd)
{
	pthread_attr_t a;
	pthread_t th;

	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&th, &a, serve, (void *)(intptr_t)fd)) {
		logm(LOG_ERR, "status page: cannot start a thread");
		close(fd);
	}
	pthread_attr_destroy(&a);
}
