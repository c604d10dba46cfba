/* SPDX-License-Identifier: MIT */
/*
 * ktls-splicebench - which way of driving splice(2) relays a kernel TLS
 * socket at the lowest cost (issue 4's open question).
 *
 *	ktls-splicebench [--size N] [--runs N] [--modes LIST] [--sink S]
 *			 [--plain] [--time-limit S] [--json]
 *
 * A relay thread moves --size bytes from a kTLS receive socket through a
 * pipe to a sink socket, the shape of ktlsd's splice relay, driven in one
 * of four ways:
 *
 *   epoll         (a) epoll readiness, then splice(2) SPLICE_F_NONBLOCK:
 *                 ktlsd's epoll engine
 *   uring-poll    (b) io_uring POLL_ADD (multishot), then splice(2)
 *                 SPLICE_F_NONBLOCK from the completion
 *   uring-poll1   (b1) the same with one-shot POLL_ADDs, armed while the
 *                 side is blocked: exactly ktlsd's io_uring engine
 *   uring-splice  (c) io_uring POLL_ADD, then IORING_OP_SPLICE with
 *                 SPLICE_F_NONBLOCK for each hop (two SQEs, never linked:
 *                 a short splice would cancel the link)
 *   uring-block   (d) IORING_OP_SPLICE without SPLICE_F_NONBLOCK on
 *                 blocking descriptors: the splices wait in io-wq workers
 *
 * The bytes come from a producer thread writing to the other end of the
 * receive socket's TCP connection, which has the same dummy TLS 1.3
 * AES-128-GCM key as TLS_TX, so the relay's side decrypts for real. The
 * sink is the other end of a second loopback connection: a plain TCP
 * socket (sink "plain": kTLS in, plain out, ktlsd's server mode), or a
 * kTLS TX relay side with a kTLS RX sink (sink "ktls": kTLS both ways,
 * ktlsd's client mode or a chain). A sink thread reads everything and
 * checks length and SHA-256 against the producer's stream (a fixed
 * pseudo-random pattern, stamped per 4 KiB so that lost, doubled or
 * reordered pages show; its digest is computed once up front).
 *
 * Measured per run: wall time, the relay thread's user and system CPU
 * (getrusage RUSAGE_THREAD), and the CPU of the io-wq workers of the run
 * (threads named iou-wrk-*, /proc/self/task/TID/stat, 10 ms ticks): the
 * modes that splice through SQEs decrypt and encrypt in the workers, so
 * only thread + workers compares fairly. Each run gets a fresh relay
 * thread, ring and sockets; runs are interleaved (run 1 of every mode,
 * then run 2) and the table gives medians and, per run, ratios to the
 * epoll mode of the same round.
 *
 * Without kernel TLS (TCP_ULP "tls" refused) the tool says so and exits
 * 77, unless --plain, which runs the same modes over plain TCP. Exit
 * status: 0 every run relayed every byte intact; 1 a run failed; 77
 * skipped (no kTLS, or a mode needs io_uring and it is unavailable); 64
 * usage. Every run is bounded by --size and --time-limit.
 */
#include "tool.h"
#include "util.h"
#include <buildconf.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/utsname.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#if HAVE_LIBURING
#include <liburing.h>
#endif

#include "ktls.h"

#define EXIT_SKIP	77
#define CHUNK		(1u << 20)	/* producer write, pattern period */
#define STAMP_EVERY	4096
#define SINK_BUF	(256u << 10)
#define SPLICE_LEN	(1u << 20)
#define SPLICE_BATCH	16		/* as daemon/conn.c */
#define PUMP_BUDGET	32		/* as daemon/conn.c */
#define WAIT_MS		100		/* deadline checks while waiting */
#define MAX_RUNS	50
#define GIB		(1024.0 * 1024 * 1024)

enum mode {
	M_EPOLL, M_URING_POLL, M_URING_POLL1, M_URING_SPLICE, M_URING_BLOCK,
	NMODES
};
enum sink { S_PLAIN, S_KTLS, NSINKS };

static const char *const mode_names[NMODES] = {
	"epoll", "uring-poll", "uring-poll1", "uring-splice", "uring-block",
};
static const char *const mode_letters[NMODES] = { "a", "b", "b1", "c", "d" };
static const char *const mode_desc[NMODES] = {
	"epoll + splice(2) NONBLOCK",
	"POLL_ADD + splice(2) NONBLOCK",
	"POLL_ADD 1-shot + splice(2) NB",
	"POLL_ADD + OP_SPLICE NONBLOCK",
	"OP_SPLICE blocking (io-wq)",
};
static const char *const sink_names[NSINKS] = { "plain", "ktls" };

static struct {
	uint64_t size;
	unsigned runs;
	unsigned modes;		/* bit per enum mode */
	unsigned sinks;		/* bit per enum sink */
	bool plain, json, verbose;
	double time_limit;
} o = {
	.size = 1ULL << 30, .runs = 3, .modes = (1u << NMODES) - 1,
	.time_limit = 120,
};

static const char usage_text[] =
"usage: ktls-splicebench [options]\n"
"Relays --size bytes from a kernel TLS receive socket through a pipe to a\n"
"sink socket, driving splice in each mode, and reports the relaying CPU.\n"
"  --size N[K|M|G]     bytes per run (default 1G, at most 64G)\n"
"  --runs N            runs per mode and sink, interleaved (default 3)\n"
"  --modes LIST        comma-separated, default all:\n"
"                        epoll (a)        epoll + splice(2) SPLICE_F_NONBLOCK\n"
"                        uring-poll (b)   io_uring multishot POLL_ADD + splice(2)\n"
"                        uring-poll1 (b1) the same, one-shot POLL_ADD (ktlsd)\n"
"                        uring-splice (c) io_uring POLL_ADD + OP_SPLICE NONBLOCK\n"
"                        uring-block (d)  io_uring OP_SPLICE, blocking, io-wq\n"
"  --sink plain|ktls|both\n"
"                      the relay's output: plain TCP, or kTLS TX into a kTLS\n"
"                      RX sink (default both; plain with --plain)\n"
"  --plain             plain TCP sockets everywhere, no kTLS (a host baseline)\n"
"  --time-limit S      seconds per run before it fails (default 120)\n"
"  --json              one JSON document on stdout instead of the table\n"
"  -v, --verbose       one line per run on stderr\n"
"  -h, --help          this text\n"
"Exit: 0 all bytes relayed intact, 1 a run failed, 77 skipped (no kernel\n"
"TLS without --plain, or no io_uring), 64 usage.\n";

/* ---- the stream ---------------------------------------------------------- */

static unsigned char *pattern;	/* CHUNK pseudo-random bytes */

static void pattern_init(void)
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
static int stream_digest(uint64_t size, unsigned char md[32])
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
static int tcp_pair(int *a, int *b)
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

struct cpu {
	double user, sys;
};

static struct cpu thread_cpu(long *nvcsw)
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

#define MAX_WORKERS 256

/* The io-wq worker threads of this process and their CPU ticks. */
struct workers {
	int n;
	pid_t tid[MAX_WORKERS];
	unsigned long long utime[MAX_WORKERS], stime[MAX_WORKERS];
};

static void workers_read(struct workers *w)
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
static struct cpu workers_delta(const struct workers *before,
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

/* ---- one run ------------------------------------------------------------- */

struct run {
	enum mode mode;
	enum sink sink;
	/* descriptors: producer -> rfd (relay in), wfd (relay out) -> sink */
	int prod, rfd, wfd, sinkfd, pipe[2];
	pthread_barrier_t start;
	double t0, deadline;
	/* relay state */
	size_t inpipe;
	uint64_t moved;
	bool eof, r_ready, w_ready, pipe_full;
	/* results */
	int err;			/* -errno of the relay, 0 */
	const char *err_what;
	uint64_t produced, sunk;
	unsigned char sink_md[32];
	int prod_err, sink_err;
	double relay_end, sink_end;
	struct cpu thr, wrk;
	long csw;
	int workers_seen;
	struct workers w0;	/* io-wq workers before the run */
	struct cpu thr0;
	long csw0;
};

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

/* -- the splice(2) pump of modes a and b, after daemon/conn.c dir_splice -- */

static int relay_fail(struct run *r, const char *what, int err)
{
	r->err = err ? err : -EIO;
	r->err_what = what;
	return r->err;
}

/* Source -> pipe, up to SPLICE_BATCH records. 1 when bytes moved or the
 * end came, 0 when blocked, -errno. An EAGAIN means an empty socket only
 * when the pipe is empty; otherwise the pipe may be full (pipe_full). */
static int splice_fill(struct run *r)
{
	int moved = 0;

	for (int i = 0; i < SPLICE_BATCH; i++) {
		ssize_t n = splice(r->rfd, NULL, r->pipe[1], NULL, SPLICE_LEN,
				   SPLICE_F_NONBLOCK | SPLICE_F_MOVE);

		if (n > 0) {
			r->inpipe += (size_t)n;
			moved = 1;
			continue;
		}
		if (n == 0) {	/* no empty records are sent: EOF */
			r->eof = true;
			return 1;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return relay_fail(r, "splice from the socket", -errno);
		if (r->inpipe)
			r->pipe_full = true;
		else
			r->r_ready = false;
		break;
	}
	return moved;
}

/* Pipe -> destination, one call. 1 moved, 0 blocked, -errno. */
static int splice_drain(struct run *r)
{
	ssize_t n = splice(r->pipe[0], NULL, r->wfd, NULL, r->inpipe,
			   SPLICE_F_NONBLOCK | SPLICE_F_MOVE);

	if (n > 0) {
		r->inpipe -= (size_t)n;
		r->moved += (uint64_t)n;
		r->pipe_full = false;
		return 1;
	}
	if (n < 0 && errno == EAGAIN) {
		r->w_ready = false;
		return 0;
	}
	if (n < 0 && errno == EINTR)
		return 0;
	return relay_fail(r, "splice to the sink", n < 0 ? -errno : -EPIPE);
}

static bool relay_done(const struct run *r)
{
	return r->eof && !r->inpipe;
}

/* Can the pump go on without waiting for an event? */
static bool relay_busy(const struct run *r)
{
	return (r->r_ready && !r->pipe_full && !r->eof) ||
	       (r->w_ready && r->inpipe);
}

static int relay_pump(struct run *r)
{
	for (int round = 0; round < PUMP_BUDGET && !relay_done(r); round++) {
		int progress = 0, rc;

		if (r->r_ready && !r->pipe_full && !r->eof) {
			rc = splice_fill(r);
			if (rc < 0)
				return rc;
			progress |= rc;
		}
		if (r->inpipe && r->w_ready) {
			rc = splice_drain(r);
			if (rc < 0)
				return rc;
			progress |= rc;
		}
		if (!progress)
			break;
	}
	return 0;
}

/* The end of the relay: its wall clock and CPU, the workers' CPU. */
static void relay_measure(struct run *r)
{
	struct workers w1;

	r->relay_end = now_s();
	r->thr = thread_cpu(&r->csw);
	r->thr.user -= r->thr0.user;
	r->thr.sys -= r->thr0.sys;
	r->csw -= r->csw0;
	workers_read(&w1);
	r->wrk = workers_delta(&r->w0, &w1);
	r->workers_seen = w1.n;
}

static int relay_timed_out(struct run *r)
{
	if (now_s() < r->deadline)
		return 0;
	return relay_fail(r, "time limit", -ETIMEDOUT);
}

/* (a) level-triggered epoll, interest following what blocked. */
static int relay_epoll(struct run *r)
{
	struct epoll_event ev = { 0 }, evs[2];
	uint32_t want[2] = { EPOLLIN, 0 }, reg[2] = { 0, 0 };
	int fds[2] = { r->rfd, r->wfd };
	int ep = epoll_create1(EPOLL_CLOEXEC), rc = 0;

	if (ep < 0)
		return relay_fail(r, "epoll_create1", -errno);
	for (int i = 0; i < 2; i++) {
		ev.events = 0;
		ev.data.u32 = (uint32_t)i;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) < 0) {
			rc = relay_fail(r, "epoll_ctl", -errno);
			goto out;
		}
	}
	while (!relay_done(r)) {
		int n;

		rc = relay_pump(r);
		if (rc < 0 || relay_done(r) || (rc = relay_timed_out(r)))
			break;
		want[0] = !r->eof && !r->r_ready ? EPOLLIN : 0;
		want[1] = r->inpipe && !r->w_ready ? EPOLLOUT : 0;
		for (int i = 0; i < 2; i++) {
			if (want[i] == reg[i])
				continue;
			ev.events = want[i];
			ev.data.u32 = (uint32_t)i;
			if (epoll_ctl(ep, EPOLL_CTL_MOD, fds[i], &ev) < 0) {
				rc = relay_fail(r, "epoll_ctl", -errno);
				goto out;
			}
			reg[i] = want[i];
		}
		n = epoll_wait(ep, evs, 2, relay_busy(r) ? 0 : WAIT_MS);
		if (n < 0 && errno != EINTR) {
			rc = relay_fail(r, "epoll_wait", -errno);
			break;
		}
		for (int i = 0; i < n; i++) {
			if (evs[i].data.u32 == 0)
				r->r_ready = true;
			else
				r->w_ready = true;
		}
	}
out:
	close(ep);
	return rc;
}

#if HAVE_LIBURING
enum { UD_RPOLL = 1, UD_WPOLL, UD_SPLICE_IN, UD_SPLICE_OUT };

struct ring_state {
	struct io_uring ring;
	bool rpoll, wpoll, in_busy, out_busy;
	bool multishot;
};

static struct io_uring_sqe *sqe_get(struct ring_state *s)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&s->ring);

	if (!sqe) {
		io_uring_submit(&s->ring);
		sqe = io_uring_get_sqe(&s->ring);
	}
	return sqe;
}

/* Arm the polls the state asks for: the receive side while it is not
 * known readable (multishot: all the time), the sink once blocked. */
static int ring_arm_polls(struct run *r, struct ring_state *s)
{
	struct io_uring_sqe *sqe;

	if (!s->rpoll && !r->eof && (s->multishot || !r->r_ready)) {
		sqe = sqe_get(s);
		if (!sqe)
			return relay_fail(r, "io_uring_get_sqe", -EBUSY);
		if (s->multishot)
			io_uring_prep_poll_multishot(sqe, r->rfd, POLLIN);
		else
			io_uring_prep_poll_add(sqe, r->rfd, POLLIN);
		io_uring_sqe_set_data64(sqe, UD_RPOLL);
		s->rpoll = true;
	}
	if (!s->wpoll && r->inpipe && !r->w_ready) {
		sqe = sqe_get(s);
		if (!sqe)
			return relay_fail(r, "io_uring_get_sqe", -EBUSY);
		io_uring_prep_poll_add(sqe, r->wfd, POLLOUT);
		io_uring_sqe_set_data64(sqe, UD_WPOLL);
		s->wpoll = true;
	}
	return 0;
}

/* Modes c and d: an OP_SPLICE for each hop that can go, never linked. */
static int ring_queue_splices(struct run *r, struct ring_state *s,
			      unsigned flags)
{
	bool block = !(flags & SPLICE_F_NONBLOCK);
	struct io_uring_sqe *sqe;

	if (!s->in_busy && !r->eof &&
	    (block || (r->r_ready && !r->pipe_full))) {
		sqe = sqe_get(s);
		if (!sqe)
			return relay_fail(r, "io_uring_get_sqe", -EBUSY);
		io_uring_prep_splice(sqe, r->rfd, -1, r->pipe[1], -1,
				     SPLICE_LEN, flags);
		io_uring_sqe_set_data64(sqe, UD_SPLICE_IN);
		s->in_busy = true;
	}
	if (!s->out_busy && r->inpipe && (block || r->w_ready)) {
		sqe = sqe_get(s);
		if (!sqe)
			return relay_fail(r, "io_uring_get_sqe", -EBUSY);
		io_uring_prep_splice(sqe, r->pipe[0], -1, r->wfd, -1,
				     (unsigned)r->inpipe, flags);
		io_uring_sqe_set_data64(sqe, UD_SPLICE_OUT);
		s->out_busy = true;
	}
	return 0;
}

static int ring_complete(struct run *r, struct ring_state *s, uint64_t ud,
			 int res, unsigned cflags)
{
	switch (ud) {
	case UD_RPOLL:
		if (!(s->multishot && (cflags & IORING_CQE_F_MORE)))
			s->rpoll = false;
		if (res == -EINVAL && s->multishot) {
			s->multishot = false;	/* kernel without multishot */
			return 0;
		}
		if (res < 0 && res != -ECANCELED)
			return relay_fail(r, "POLL_ADD on the socket", res);
		r->r_ready = true;
		return 0;
	case UD_WPOLL:
		s->wpoll = false;
		if (res < 0 && res != -ECANCELED)
			return relay_fail(r, "POLL_ADD on the sink", res);
		r->w_ready = true;
		return 0;
	case UD_SPLICE_IN:
		s->in_busy = false;
		if (res > 0) {
			r->inpipe += (size_t)res;
		} else if (res == 0) {
			r->eof = true;
		} else if (res == -EAGAIN) {
			if (r->inpipe || s->out_busy)
				r->pipe_full = true;
			else
				r->r_ready = false;
		} else if (res != -EINTR) {
			return relay_fail(r, "OP_SPLICE from the socket", res);
		}
		return 0;
	case UD_SPLICE_OUT:
		s->out_busy = false;
		if (res > 0) {
			r->inpipe -= (size_t)res;
			r->moved += (uint64_t)res;
			r->pipe_full = false;
		} else if (res == -EAGAIN) {
			r->w_ready = false;
		} else if (res != -EINTR) {
			return relay_fail(r, "OP_SPLICE to the sink",
					  res ? res : -EPIPE);
		}
		return 0;
	}
	return 0;
}

/* (b), (c), (d) on one ring. */
static int relay_uring(struct run *r)
{
	struct ring_state s = { .multishot = r->mode != M_URING_POLL1 };
	unsigned flags = r->mode == M_URING_BLOCK ? SPLICE_F_MOVE :
			 SPLICE_F_MOVE | SPLICE_F_NONBLOCK;
	int rc;

	rc = io_uring_queue_init(64, &s.ring, 0);
	if (rc < 0)
		return relay_fail(r, "io_uring_queue_init", rc);
	while (!relay_done(r)) {
		struct __kernel_timespec ts = { .tv_nsec = WAIT_MS * 1000000L };
		struct io_uring_cqe *cqe;
		unsigned head, n = 0;
		bool busy;

		if (r->mode == M_URING_POLL || r->mode == M_URING_POLL1) {
			rc = relay_pump(r);
			if (rc < 0 || relay_done(r))
				break;
		} else {
			rc = ring_queue_splices(r, &s, flags);
			if (rc < 0)
				break;
		}
		if (r->mode != M_URING_BLOCK && (rc = ring_arm_polls(r, &s)))
			break;
		if ((rc = relay_timed_out(r)))
			break;
		busy = (r->mode == M_URING_POLL || r->mode == M_URING_POLL1) &&
		       relay_busy(r);
		rc = io_uring_submit_and_wait_timeout(&s.ring, &cqe, busy ? 0 : 1,
						      busy ? NULL : &ts, NULL);
		/* -EAGAIN: nothing completed when not waiting */
		if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN) {
			relay_fail(r, "io_uring_submit_and_wait", rc);
			break;
		}
		rc = 0;
		io_uring_for_each_cqe(&s.ring, head, cqe) {
			n++;
			if (!rc)
				rc = ring_complete(r, &s, cqe->user_data,
						   cqe->res, cqe->flags);
		}
		io_uring_cq_advance(&s.ring, n);
		if (rc < 0)
			break;
	}
	/* the CPU of the run is read before the ring (and its workers) go */
	relay_measure(r);
	io_uring_queue_exit(&s.ring);
	return rc < 0 ? rc : r->err;
}
#else
static int relay_uring(struct run *r)
{
	return relay_fail(r, "io_uring", -ENOSYS);
}
#endif

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
static int run_one(struct run *r, const char **what)
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

/* ---- reporting ----------------------------------------------------------- */

struct result {
	bool ran, ok;
	char why[160];
	uint64_t sunk;
	char sha[65];
	double wall, thr_user, thr_sys, wrk_user, wrk_sys;
	long csw;
};

static struct result results[NSINKS][NMODES][MAX_RUNS];
static unsigned char expect_md[32];
static char expect_hex[65];

static double cpu_total(const struct result *x)
{
	return x->thr_user + x->thr_sys + x->wrk_user + x->wrk_sys;
}

static double per_gib(double v)
{
	return v / ((double)o.size / GIB);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median of @f over the runs of (@s, @m) that passed; NAN when none. */
static double median(enum sink s, enum mode m,
		     double (*f)(enum sink, enum mode, unsigned))
{
	double v[MAX_RUNS];
	unsigned n = 0;

	for (unsigned i = 0; i < o.runs; i++) {
		double x;

		if (!results[s][m][i].ok)
			continue;
		x = f(s, m, i);
		if (x == x)	/* not NAN */
			v[n++] = x;
	}
	if (!n)
		return 0.0 / 0.0;
	qsort(v, n, sizeof(v[0]), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#define R(s, m, i) (&results[s][m][i])
static double f_wall(enum sink s, enum mode m, unsigned i)
{ return R(s, m, i)->wall; }
static double f_mbps(enum sink s, enum mode m, unsigned i)
{ return (double)o.size / 1e6 / R(s, m, i)->wall; }
static double f_thr_user(enum sink s, enum mode m, unsigned i)
{ return per_gib(R(s, m, i)->thr_user); }
static double f_thr_sys(enum sink s, enum mode m, unsigned i)
{ return per_gib(R(s, m, i)->thr_sys); }
static double f_wrk_user(enum sink s, enum mode m, unsigned i)
{ return per_gib(R(s, m, i)->wrk_user); }
static double f_wrk_sys(enum sink s, enum mode m, unsigned i)
{ return per_gib(R(s, m, i)->wrk_sys); }
static double f_cpu(enum sink s, enum mode m, unsigned i)
{ return per_gib(cpu_total(R(s, m, i))); }
static double f_csw(enum sink s, enum mode m, unsigned i)
{ return per_gib((double)R(s, m, i)->csw); }
/* ratios to the epoll mode of the same round */
static double f_cpu_ratio(enum sink s, enum mode m, unsigned i)
{
	const struct result *b = R(s, M_EPOLL, i);

	return b->ok && cpu_total(b) > 0 ?
	       cpu_total(R(s, m, i)) / cpu_total(b) : 0.0 / 0.0;
}
static double f_wall_ratio(enum sink s, enum mode m, unsigned i)
{
	const struct result *b = R(s, M_EPOLL, i);

	return b->ok && b->wall > 0 ? R(s, m, i)->wall / b->wall : 0.0 / 0.0;
}

static void json_num(const char *key, double v, const char *sep)
{
	if (v == v)
		printf("\"%s\": %.4g%s", key, v, sep);
	else
		printf("\"%s\": null%s", key, sep);
}

static void print_json(const char *kernel)
{
	bool first = true;

	printf("{\"tool\": \"ktls-splicebench\", \"kernel\": \"%s\", "
	       "\"ktls\": %s, \"size\": %" PRIu64 ", \"runs\": %u, "
	       "\"sha256\": \"%s\",\n \"results\": [",
	       kernel, o.plain ? "false" : "true", o.size, o.runs, expect_hex);
	for (int s = 0; s < NSINKS; s++) {
		for (int m = 0; m < NMODES; m++) {
			unsigned passed = 0;

			if (!(o.sinks & 1u << s) || !(o.modes & 1u << m))
				continue;
			printf("%s\n  {\"sink\": \"%s\", \"mode\": \"%s\", "
			       "\"letter\": \"%s\", \"runs\": [",
			       first ? "" : ",", sink_names[s], mode_names[m],
			       mode_letters[m]);
			first = false;
			for (unsigned i = 0; i < o.runs; i++) {
				const struct result *x = R(s, m, i);

				passed += x->ok;
				printf("%s\n   {\"ok\": %s, ", i ? "," : "",
				       x->ok ? "true" : "false");
				if (!x->ran) {
					printf("\"skipped\": \"%s\"}", x->why);
					continue;
				}
				if (!x->ok)
					printf("\"error\": \"%s\", ", x->why);
				printf("\"bytes\": %" PRIu64 ", \"sha256\": \"%s\", ",
				       x->sunk, x->sha);
				json_num("wall_s", x->wall, ", ");
				json_num("thread_user_s", x->thr_user, ", ");
				json_num("thread_sys_s", x->thr_sys, ", ");
				json_num("workers_user_s", x->wrk_user, ", ");
				json_num("workers_sys_s", x->wrk_sys, ", ");
				printf("\"context_switches\": %ld}", x->csw);
			}
			printf("],\n   \"passed\": %u, \"median\": {", passed);
			json_num("wall_s", median(s, m, f_wall), ", ");
			json_num("mbps", median(s, m, f_mbps), ", ");
			json_num("thread_user_s_per_gib", median(s, m, f_thr_user), ", ");
			json_num("thread_sys_s_per_gib", median(s, m, f_thr_sys), ", ");
			json_num("workers_user_s_per_gib", median(s, m, f_wrk_user), ", ");
			json_num("workers_sys_s_per_gib", median(s, m, f_wrk_sys), ", ");
			json_num("cpu_s_per_gib", median(s, m, f_cpu), ", ");
			json_num("context_switches_per_gib", median(s, m, f_csw), ", ");
			json_num("cpu_ratio_vs_epoll", median(s, m, f_cpu_ratio), ", ");
			json_num("wall_ratio_vs_epoll", median(s, m, f_wall_ratio), "");
			printf("}}");
		}
	}
	printf("\n]}\n");
}

/* One column: @v with @prec decimals, or "-". */
static void cell(double v, int prec)
{
	if (v == v)
		printf(" %8.*f", prec, v);
	else
		printf(" %8s", "-");
}

static void print_table(const char *kernel)
{
	printf("ktls-splicebench: kernel %s, %s, %.0f MiB per run, %u run%s\n",
	       kernel, o.plain ? "plain TCP (no kTLS)" :
	       "kTLS RX in (TLS 1.3 AES-128-GCM)", (double)o.size / (1 << 20),
	       o.runs, o.runs == 1 ? "" : "s");
	printf("medians; CPU in s/GiB: relay thread user+sys, io-wq workers "
	       "user+sys; ratios to (a) in the same round\n\n");
	printf("%-6s %-35s %5s %8s %8s %8s %8s %8s %8s %8s %8s\n",
	       "sink", "mode", "ok", "MB/s", "thr usr", "thr sys", "wrk usr",
	       "wrk sys", "CPU/GiB", "CPU x", "wall x");
	for (int s = 0; s < NSINKS; s++) {
		for (int m = 0; m < NMODES; m++) {
			unsigned passed = 0;
			char name[48], ok[16];

			if (!(o.sinks & 1u << s) || !(o.modes & 1u << m))
				continue;
			for (unsigned i = 0; i < o.runs; i++)
				passed += R(s, m, i)->ok;
			snprintf(name, sizeof(name), "(%s) %s", mode_letters[m],
				 mode_desc[m]);
			snprintf(ok, sizeof(ok), "%u/%u", passed, o.runs);
			printf("%-6s %-35s %5s", sink_names[s], name, ok);
			cell(median(s, m, f_mbps), 1);
			cell(median(s, m, f_thr_user), 3);
			cell(median(s, m, f_thr_sys), 3);
			cell(median(s, m, f_wrk_user), 3);
			cell(median(s, m, f_wrk_sys), 3);
			cell(median(s, m, f_cpu), 3);
			cell(median(s, m, f_cpu_ratio), 2);
			cell(median(s, m, f_wall_ratio), 2);
			printf("\n");
		}
	}
	for (int s = 0; s < NSINKS; s++)
		for (int m = 0; m < NMODES; m++)
			for (unsigned i = 0; i < o.runs; i++) {
				const struct result *x = R(s, m, i);

				if ((o.sinks & 1u << s) && (o.modes & 1u << m) &&
				    !x->ok)
					printf("%s (%s) run %u: %s: %s\n",
					       sink_names[s], mode_letters[m],
					       i + 1, x->ran ? "FAILED" : "skipped",
					       x->why);
			}
	printf("\nsha256 of the stream: %s\n", expect_hex);
}

/* ---- main ---------------------------------------------------------------- */

static unsigned parse_modes(const char *arg)
{
	char *dup = strdup(arg), *save = NULL, *t;
	unsigned bits = 0;

	for (t = strtok_r(dup, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		int m;

		for (m = 0; m < NMODES; m++)
			if (!strcmp(t, mode_names[m]) ||
			    !strcmp(t, mode_letters[m]))
				break;
		if (m == NMODES)	/* t is in dup: not freed */
			usage("--modes: unknown mode '%s'", t);
		bits |= 1u << m;
	}
	free(dup);
	if (!bits)
		usage("--modes: empty");
	return bits;
}

static void parse_args(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "size", required_argument, NULL, 's' },
		{ "runs", required_argument, NULL, 'n' },
		{ "modes", required_argument, NULL, 'm' },
		{ "sink", required_argument, NULL, 'k' },
		{ "plain", no_argument, NULL, 'p' },
		{ "time-limit", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sink = NULL;
	char *end;
	int c;

	tool_usage = usage_text;
	while ((c = getopt_long(argc, argv, "vh", lopts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (parse_size(optarg, &o.size) || !o.size ||
			    o.size > 64ULL << 30)
				usage("--size: 1 to 64G, not '%s'", optarg);
			break;
		case 'n':
			o.runs = (unsigned)strtoul(optarg, &end, 10);
			if (*end || !o.runs || o.runs > MAX_RUNS)
				usage("--runs: 1 to %d", MAX_RUNS);
			break;
		case 'm':
			o.modes = parse_modes(optarg);
			break;
		case 'k':
			sink = optarg;
			break;
		case 'p':
			o.plain = true;
			break;
		case 't':
			o.time_limit = strtod(optarg, &end);
			if (*end || !(o.time_limit > 0 && o.time_limit <= 3600))
				usage("--time-limit: 0 to 3600 s");
			break;
		case 'j':
			o.json = true;
			break;
		case 'v':
			o.verbose = true;
			break;
		case 'h':
			help();
		default:
			usage(NULL);
		}
	}
	if (optind < argc)
		usage("unexpected argument '%s'", argv[optind]);
	if (!sink || !strcmp(sink, "both"))
		o.sinks = o.plain ? 1u << S_PLAIN : 3u;
	else if (!strcmp(sink, "plain"))
		o.sinks = 1u << S_PLAIN;
	else if (!strcmp(sink, "ktls"))
		o.sinks = 1u << S_KTLS;
	else
		usage("--sink: plain, ktls or both");
	if (o.plain && (o.sinks & 1u << S_KTLS))
		usage("--sink ktls needs kernel TLS: not with --plain");
}

/* Why the io_uring modes cannot run here, or NULL. */
static const char *uring_missing(void)
{
#if HAVE_LIBURING
	static char why[96];
	struct io_uring ring;
	struct io_uring_probe *p;
	int rc = io_uring_queue_init(4, &ring, 0);

	if (rc < 0) {
		snprintf(why, sizeof(why), "io_uring unavailable: %s",
			 strerror(-rc));
		return why;
	}
	p = io_uring_get_probe_ring(&ring);
	rc = p && io_uring_opcode_supported(p, IORING_OP_SPLICE) &&
	     io_uring_opcode_supported(p, IORING_OP_POLL_ADD);
	if (p)
		io_uring_free_probe(p);
	io_uring_queue_exit(&ring);
	return rc ? NULL : "io_uring lacks POLL_ADD or SPLICE";
#else
	return "built without liburing";
#endif
}

/* Fill @x from the finished run @r. */
static void judge(const struct run *r, struct result *x)
{
	x->ran = true;
	x->sunk = r->sunk;
	sha256_hex(r->sink_md, x->sha);
	x->wall = (r->sink_end > r->relay_end ? r->sink_end : r->relay_end) -
		  r->t0;
	x->thr_user = r->thr.user;
	x->thr_sys = r->thr.sys;
	x->wrk_user = r->wrk.user;
	x->wrk_sys = r->wrk.sys;
	x->csw = r->csw;
	if (r->err == -ETIMEDOUT)
		snprintf(x->why, sizeof(x->why), "relay: time limit (%g s) "
			 "reached after %" PRIu64 " bytes", o.time_limit,
			 r->moved);
	else if (r->err)
		snprintf(x->why, sizeof(x->why), "relay: %s: %s",
			 r->err_what, strerror(-r->err));
	else if (r->prod_err)
		snprintf(x->why, sizeof(x->why), "producer: %s",
			 strerror(-r->prod_err));
	else if (r->sink_err)
		snprintf(x->why, sizeof(x->why), "sink: %s",
			 strerror(-r->sink_err));
	else if (r->sunk != o.size || r->moved != o.size)
		snprintf(x->why, sizeof(x->why), "relayed %" PRIu64 ", sink got "
			 "%" PRIu64 " of %" PRIu64 " bytes", r->moved, r->sunk,
			 o.size);
	else if (memcmp(r->sink_md, expect_md, 32))
		snprintf(x->why, sizeof(x->why), "SHA-256 mismatch at the sink");
	else
		x->ok = true;
}

int main(int argc, char **argv)
{
	struct utsname un;
	const char *no_uring;
	int failed = 0, skipped = 0;

	parse_args(argc, argv);
	uname(&un);
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (!o.plain) {		/* kernel TLS here? */
		int a, b, rc = tcp_pair(&a, &b);

		if (rc) {
			fprintf(stderr, "ktls-splicebench: loopback TCP: %s\n",
				strerror(-rc));
			return 1;
		}
		rc = ktls_ulp(a);
		close(a);
		close(b);
		if (rc) {
			fprintf(stderr, "ktls-splicebench: no kernel TLS on "
				"%s: TCP_ULP \"tls\": %s (%s); --plain runs "
				"the modes on plain TCP\n", un.release,
				strerror(-rc), ktls_err_str(-rc));
			return EXIT_SKIP;
		}
	}
	no_uring = uring_missing();
	if (no_uring && (o.modes & ~(1u << M_EPOLL)))
		fprintf(stderr, "ktls-splicebench: the io_uring modes are "
			"skipped: %s\n", no_uring);
	pattern_init();
	if (stream_digest(o.size, expect_md)) {
		fprintf(stderr, "ktls-splicebench: SHA-256 unavailable\n");
		return 1;
	}
	sha256_hex(expect_md, expect_hex);

	for (unsigned i = 0; i < o.runs; i++) {
		for (int s = 0; s < NSINKS; s++) {
			for (int m = 0; m < NMODES; m++) {
				struct result *x = R(s, m, i);
				struct run r = { .mode = m, .sink = s };
				const char *what = NULL;
				int rc;

				if (!(o.sinks & 1u << s) || !(o.modes & 1u << m))
					continue;
				if (m != M_EPOLL && no_uring) {
					snprintf(x->why, sizeof(x->why), "%s",
						 no_uring);
					skipped++;
					continue;
				}
				rc = run_one(&r, &what);
				if (rc) {
					snprintf(x->why, sizeof(x->why),
						 "setup: %s: %s", what,
						 strerror(-rc));
					x->ran = true;
					failed++;
					continue;
				}
				judge(&r, x);
				failed += !x->ok;
				if (o.verbose)
					fprintf(stderr, "run %u %s (%s) %s: %s "
						"%.2f s, thread %.3f+%.3f s, "
						"workers %.2f+%.2f s (%d seen)\n",
						i + 1, sink_names[s],
						mode_letters[m], mode_names[m],
						x->ok ? "ok" : x->why, x->wall,
						x->thr_user, x->thr_sys,
						x->wrk_user, x->wrk_sys,
						r.workers_seen);
			}
		}
	}
	if (o.json)
		print_json(un.release);
	else
		print_table(un.release);
	free(pattern);
	if (failed)
		return 1;
	return skipped ? EXIT_SKIP : 0;
}
