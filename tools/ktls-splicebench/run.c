/* SPDX-License-Identifier: MIT */
/*
 * run.c - one run of ktls-splicebench: the stream the producer sends, the
 * loopback sockets and their dummy kTLS keys, the CPU accounting, and the
 * producer, sink and relay threads.
 */
#include "splicebench.h"
#include "tool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "ktls.h"

#define STAMP_EVERY	4096
#define SINK_BUF	(256u << 10)

/* ---- the stream ---------------------------------------------------------- */

unsigned char *pattern;		/* CHUNK pseudo-random bytes */

void pattern_init(void)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL;

	pattern = malloc(CHUNK);
	if (!pattern)
		die("out of memory");
	for (size_t i = 0; i < CHUNK; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(pattern + i, &x, 8);
	}
}

/* Chunk @idx of the stream: the pattern, each 4 KiB page stamped with its
 * position in the stream. */
static void chunk_fill(unsigned char *buf, uint64_t idx)
{
	memcpy(buf, pattern, CHUNK);
	for (uint64_t p = 0; p < CHUNK / STAMP_EVERY; p++) {
		uint64_t stamp = idx * (CHUNK / STAMP_EVERY) + p;

		memcpy(buf + p * STAMP_EVERY, &stamp, sizeof(stamp));
	}
}

/* SHA-256 of the first @size bytes of the stream, in @md. */
int stream_digest(uint64_t size, unsigned char md[32])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char *buf = malloc(CHUNK);
	int rc = -1;

	if (ctx && buf && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		rc = 0;
		for (uint64_t off = 0, i = 0; off < size && !rc; off += CHUNK, i++) {
			size_t n = size - off < CHUNK ? size - off : CHUNK;

			chunk_fill(buf, i);
			rc = EVP_DigestUpdate(ctx, buf, n) ? 0 : -1;
		}
		if (!rc && !EVP_DigestFinal_ex(ctx, md, NULL))
			rc = -1;
	}
	EVP_MD_CTX_free(ctx);
	free(buf);
	return rc;
}

/* ---- sockets ------------------------------------------------------------- */

static int set_nonblock(int fd, bool on)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -errno;
	fl = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
	return fcntl(fd, F_SETFL, fl) < 0 ? -errno : 0;
}

/* A connected loopback TCP pair: *@a connected to *@b, both blocking,
 * TCP_NODELAY (as ktlsd's defaults). 0 or -errno. */
int tcp_pair(int *a, int *b)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int lfd, one = 1, rc = 0;

	*a = *b = -1;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return -errno;
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    listen(lfd, 1) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &len) < 0)
		goto fail;
	*a = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*a < 0 || connect(*a, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		goto fail;
	*b = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (*b < 0)
		goto fail;
	setsockopt(*a, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(*b, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	close(lfd);
	return 0;
fail:
	rc = -errno;
	close(lfd);
	if (*a >= 0)
		close(*a);
	*a = -1;
	return rc;
}

/* The ULP and the dummy TLS 1.3 AES-128-GCM key for @dir on @fd: both
 * ends of a connection get the same key, so what one encrypts the other
 * decrypts. 0 or -errno (-ENOENT: no tls module). */
static int ktls_dummy(int fd, int dir)
{
	const struct ktls_cipher *c = ktls_cipher_get(KTLS_AES_128_GCM);
	struct ktls_suite s = { .cipher = c, .version = TLS1_3_VERSION };
	union ktls_crypto_info ci;
	struct ktls_keys k;
	int rc;

	rc = ktls_ulp(fd);
	if (rc)
		return rc;
	memset(&k, 0x5a, sizeof(k));
	k.key_len = c->key_len;
	k.iv_len = (size_t)c->salt_len + c->iv_len;
	rc = ktls_crypto_info_fill(&ci, &s, &k, 0);
	OPENSSL_cleanse(&k, sizeof(k));
	if (rc < 0)
		return rc;
	rc = ktls_install(fd, dir, &ci);
	if (!rc && dir == TLS_RX)
		rc = ktls_rx_expect_no_pad(fd);	/* as ktlsd does */
	return rc;
}

/* ---- CPU accounting ------------------------------------------------------ */

struct cpu thread_cpu(long *nvcsw)
{
	struct rusage ru;
	struct cpu c = { 0, 0 };

	if (getrusage(RUSAGE_THREAD, &ru) == 0) {
		c.user = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
		c.sys = ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
		if (nvcsw)
			*nvcsw = ru.ru_nvcsw + ru.ru_nivcsw;
	}
	return c;
}

void workers_read(struct workers *w)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;

	w->n = 0;
	if (!d)
		return;
	while ((e = readdir(d)) && w->n < MAX_WORKERS) {
		char path[300], line[512], *p;
		unsigned long long ut, st;
		FILE *f;
		int ok;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/stat", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		ok = fgets(line, sizeof(line), f) != NULL;
		fclose(f);
		/* "tid (comm) state ..." with utime and stime fields 14, 15 */
		if (!ok || !strstr(line, "(iou-wrk-") || !(p = strrchr(line, ')')))
			continue;
		if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
			   "%llu %llu", &ut, &st) != 2)
			continue;
		w->tid[w->n] = (pid_t)atoi(e->d_name);
		w->utime[w->n] = ut;
		w->stime[w->n] = st;
		w->n++;
	}
	closedir(d);
}

/* CPU of the workers in @after beyond what they had in @before. */
struct cpu workers_delta(const struct workers *before,
			 const struct workers *after)
{
	double hz = (double)sysconf(_SC_CLK_TCK);
	struct cpu c = { 0, 0 };

	for (int i = 0; i < after->n; i++) {
		unsigned long long ut = after->utime[i], st = after->stime[i];

		for (int j = 0; j < before->n; j++) {
			if (before->tid[j] == after->tid[i]) {
				ut -= before->utime[j];
				st -= before->stime[j];
				break;
			}
		}
		c.user += ut / hz;
		c.sys += st / hz;
	}
	return c;
}

static void *producer_main(void *arg)
{
	struct run *r = arg;
	unsigned char *buf = malloc(CHUNK);

	pthread_barrier_wait(&r->start);
	if (!buf) {
		r->prod_err = -ENOMEM;
		goto out;
	}
	for (uint64_t i = 0; r->produced < o.size; i++) {
		size_t n = o.size - r->produced < CHUNK ? o.size - r->produced : CHUNK;
		size_t off = 0;

		chunk_fill(buf, i);
		while (off < n) {
			ssize_t w = send(r->prod, buf + off, n - off, MSG_NOSIGNAL);

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				r->prod_err = w < 0 ? -errno : -EPIPE;
				goto out;
			}
			off += (size_t)w;
			r->produced += (uint64_t)w;
		}
	}
	shutdown(r->prod, SHUT_WR);
out:
	free(buf);
	return NULL;
}

static void *sink_main(void *arg)
{
	struct run *r = arg;
	unsigned char *buf = malloc(SINK_BUF);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	pthread_barrier_wait(&r->start);
	if (!buf || !ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		r->sink_err = -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t n = recv(r->sinkfd, buf, SINK_BUF, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r->sink_err = -errno;
			break;
		}
		if (n == 0)
			break;
		EVP_DigestUpdate(ctx, buf, (size_t)n);
		r->sunk += (uint64_t)n;
	}
	EVP_DigestFinal_ex(ctx, r->sink_md, NULL);
out:
	r->sink_end = now_s();
	EVP_MD_CTX_free(ctx);
	free(buf);
	return NULL;
}

static void *relay_main(void *arg)
{
	struct run *r = arg;

	workers_read(&r->w0);
	r->thr0 = thread_cpu(&r->csw0);
	r->r_ready = r->w_ready = true;
	pthread_barrier_wait(&r->start);
	r->t0 = now_s();
	r->deadline = r->t0 + o.time_limit;
	if (r->mode == M_EPOLL) {
		relay_epoll(r);
		relay_measure(r);
	} else {
		relay_uring(r);
	}
	if (!r->err)
		shutdown(r->wfd, SHUT_WR);	/* the end, to the sink */
	return NULL;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void run_close(struct run *r)
{
	close_fd(&r->prod);
	close_fd(&r->rfd);
	close_fd(&r->wfd);
	close_fd(&r->sinkfd);
	close_fd(&r->pipe[0]);
	close_fd(&r->pipe[1]);
}

/* Sockets, keys and the pipe of one run. 0, or -errno with @what. */
static int run_setup(struct run *r, const char **what)
{
	bool block = r->mode == M_URING_BLOCK;
	int rc;

	r->prod = r->rfd = r->wfd = r->sinkfd = r->pipe[0] = r->pipe[1] = -1;
	*what = "loopback TCP connection";
	if ((rc = tcp_pair(&r->prod, &r->rfd)) ||
	    (rc = tcp_pair(&r->wfd, &r->sinkfd)))
		return rc;
	*what = "kTLS install";
	if (!o.plain &&
	    ((rc = ktls_dummy(r->prod, TLS_TX)) ||
	     (rc = ktls_dummy(r->rfd, TLS_RX))))
		return rc;
	if (r->sink == S_KTLS &&
	    ((rc = ktls_dummy(r->wfd, TLS_TX)) ||
	     (rc = ktls_dummy(r->sinkfd, TLS_RX))))
		return rc;
	/* ktlsd's descriptors are non-blocking; mode d needs blocking ones,
	 * or the kernel adds SPLICE_F_NONBLOCK itself */
	*what = "pipe";
	if (pipe2(r->pipe, O_CLOEXEC | (block ? 0 : O_NONBLOCK)) < 0)
		return -errno;
	*what = "fcntl";
	if ((rc = set_nonblock(r->rfd, !block)) ||
	    (rc = set_nonblock(r->wfd, !block)))
		return rc;
	return 0;
}

/* One run: returns 0 when it ran (see r->err etc. for the verdict),
 * -errno with @what when it could not be set up. */
int run_one(struct run *r, const char **what)
{
	pthread_t th[3];
	void *(*fn[3])(void *) = { producer_main, sink_main, relay_main };
	struct timeval tv = { .tv_sec = (time_t)o.time_limit + 5 };
	int rc, started = 0;

	rc = run_setup(r, what);
	if (rc) {
		run_close(r);
		return rc;
	}
	/* the ends give up a little after the relay does */
	setsockopt(r->prod, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(r->sinkfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	pthread_barrier_init(&r->start, NULL, 3);
	for (int i = 0; i < 3; i++) {
		rc = pthread_create(&th[i], NULL, fn[i], r);
		if (rc)
			break;
		started++;
	}
	if (started < 3) {	/* cannot happen in practice: unwind */
		*what = "pthread_create";
		for (int i = 0; i < started; i++)
			pthread_cancel(th[i]);
		for (int i = 0; i < started; i++)
			pthread_join(th[i], NULL);
		pthread_barrier_destroy(&r->start);
		run_close(r);
		return -rc;
	}
	pthread_join(th[2], NULL);	/* the relay */
	if (r->err) {			/* unblock the ends */
		shutdown(r->prod, SHUT_RDWR);
		shutdown(r->rfd, SHUT_RDWR);
		shutdown(r->wfd, SHUT_RDWR);
		shutdown(r->sinkfd, SHUT_RDWR);
	}
	pthread_join(th[0], NULL);
	pthread_join(th[1], NULL);
	pthread_barrier_destroy(&r->start);
	run_close(r);
	return 0;
}

