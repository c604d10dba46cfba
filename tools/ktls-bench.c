/*
 * ktls-bench - load generator and backend of the benchmark suite (bench/).
 *
 *   ktls-bench server ADDR [--tls --cert F --key F] [--workers N]
 *   ktls-bench bulk-up|bulk-down|handshake|rr|idle ADDR [options]
 *
 * The server is the backend behind the proxies (plain) and, with --tls,
 * the "TLS straight to a sink" reference. A client starts every connection
 * with a 24-byte request header (magic, op, two sizes) that tells the
 * server what to do:
 *
 *   UP a       read a bytes, answer an 8-byte acknowledgement
 *   DOWN a     send a bytes
 *   RR a b     repeat: read a bytes, send b bytes (request/response)
 *   HOLD       send one byte, then keep the connection open
 *
 * and the server closes when the client does (with close_notify on TLS).
 * A connection that ends before sending a header (the handshake test) is
 * just closed. The bytes are a fixed pattern: nothing is verified here
 * (ktls-peer does that); this program measures.
 *
 * Every client mode prints one JSON object on stdout at the end (idle
 * prints a first one when every connection is established, then waits for
 * SIGUSR1, SIGINT, SIGTERM or the --hold deadline before closing).
 *
 * Concurrency model: one thread, one epoll loop (level triggered), every
 * socket non-blocking and every SSL in non-blocking mode. A connection
 * runs a small program: write the control bytes (header or ack), then
 * wr_left bulk bytes, then read rd_left bytes; when both are done the
 * role's next step decides what follows. The events a connection waits
 * for are the ones its last blocked call asked for. The server may fork
 * --workers processes that share the listening socket.
 *
 * Only libc and OpenSSL 3 are used.
 */
#include "tool.h"
#include "util.h"
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define HDR_MAGIC	0x3142544bu	/* "KTB1" */
#define HDR_LEN		24
#define SCRATCH		(256 * 1024)
#define PUMP_OPS	64		/* calls per wakeup, for fairness */
#define MAX_EVENTS	256
#define MAX_SAMPLES	(4u << 20)	/* rr latencies kept */
#define MAX_ERR_PRINT	5

enum op { OP_UP = 1, OP_DOWN, OP_RR, OP_HOLD };
enum mode { M_SERVER, M_BULK_UP, M_BULK_DOWN, M_HANDSHAKE, M_RR, M_IDLE };
enum state {
	ST_CONNECT, ST_HANDSHAKE, ST_RUN, ST_DRAIN, ST_HOLD, ST_DONE
};

static const char *const mode_names[] = {
	[M_SERVER] = "server", [M_BULK_UP] = "bulk-up",
	[M_BULK_DOWN] = "bulk-down", [M_HANDSHAKE] = "handshake",
	[M_RR] = "rr", [M_IDLE] = "idle",
};

/* ---- options ------------------------------------------------------------ */

static struct {
	enum mode mode;
	const char *addr;
	struct tls_opts tls;
	uint64_t bytes;
	unsigned conns;
	double duration;
	uint64_t count;
	int resume;
	uint64_t req, resp;
	double hold;
	unsigned inflight;
	size_t chunk;
	double timeout;
	unsigned workers;
	int verbose;
} o = {
	.bytes = 256ULL << 20, .conns = 1, .duration = 3, .req = 64,
	.resp = 64, .hold = 600, .inflight = 64, .chunk = 256 * 1024,
	.timeout = 300, .workers = 1,
};

static const char usage_text[] =
"usage: ktls-bench MODE ADDR [options]\n"
"  MODE  server | bulk-up | bulk-down | handshake | rr | idle\n"
"  ADDR  HOST:PORT (a server may use port 0; it prints 'listening on')\n"
"common:\n"
"  --tls                 speak TLS (a client does not verify the server)\n"
"  --tls-version 1.2|1.3 --ciphers LIST --ciphersuites LIST --groups LIST\n"
"  --chunk N             bytes per write call (default 256K)\n"
"  --timeout S           overall deadline in seconds (default 300; a\n"
"                        server: its lifetime, default 3600)\n"
"  -v, --verbose         errors of every connection on stderr\n"
"server:\n"
"  --cert F --key F      certificate chain and key (PEM) with --tls\n"
"  --workers N           processes sharing the listener (default 1)\n"
"clients:\n"
"  --conns N             concurrent connections (idle: how many to open)\n"
"  --bytes N[K|M|G]      bulk: total bytes, split over the connections\n"
"  --duration S          handshake, rr: how long to run (default 3)\n"
"  --count N             handshake: stop after N; rr: N requests per conn\n"
"  --resume              handshake: resume the previous session (tickets)\n"
"  --req N --resp N      rr: request and response sizes (default 64)\n"
"  --hold S              idle: how long to hold once all are set up\n"
"                        (default 600; SIGUSR1 ends it earlier)\n"
"  --inflight N          idle: connections being set up at once (64)\n"
"  --servername NAME     SNI (default localhost)\n"
"Output: one JSON object per line on stdout.\n";

static double opt_secs(const char *name, const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !(v >= 0 && v <= 86400))
		usage("%s: bad seconds '%s'", name, s);
	return v;
}

static void parse_args(int argc, char **argv)
{
	enum { O_BYTES = 256, O_CONNS, O_DURATION, O_COUNT, O_RESUME, O_REQ,
	       O_RESP, O_HOLD, O_INFLIGHT, O_CHUNK, O_TIMEOUT, O_WORKERS };
	static const struct option longopts[] = {
		TLS_LONGOPTS,
		TLS_LONGOPT_GROUPS,
		{ "bytes", required_argument, NULL, O_BYTES },
		{ "conns", required_argument, NULL, O_CONNS },
		{ "duration", required_argument, NULL, O_DURATION },
		{ "count", required_argument, NULL, O_COUNT },
		{ "resume", no_argument, NULL, O_RESUME },
		{ "req", required_argument, NULL, O_REQ },
		{ "resp", required_argument, NULL, O_RESP },
		{ "hold", required_argument, NULL, O_HOLD },
		{ "inflight", required_argument, NULL, O_INFLIGHT },
		{ "chunk", required_argument, NULL, O_CHUNK },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "workers", required_argument, NULL, O_WORKERS },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, timeout_set = 0;
	size_t i;

	tool_usage = usage_text;
	while ((c = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		if (tls_opts_take(&o.tls, c, optarg))
			continue;
		switch (c) {
		case O_BYTES: o.bytes = opt_size("--bytes", optarg, UINT64_MAX / 2); break;
		case O_CONNS: o.conns = (unsigned)opt_size("--conns", optarg, 19000); break;
		case O_DURATION: o.duration = opt_secs("--duration", optarg); break;
		case O_COUNT: o.count = opt_size("--count", optarg, UINT64_MAX / 2); break;
		case O_RESUME: o.resume = 1; break;
		case O_REQ: o.req = opt_size("--req", optarg, 1ULL << 30); break;
		case O_RESP: o.resp = opt_size("--resp", optarg, 1ULL << 30); break;
		case O_HOLD: o.hold = opt_secs("--hold", optarg); break;
		case O_INFLIGHT: o.inflight = (unsigned)opt_size("--inflight", optarg, 19000); break;
		case O_CHUNK: o.chunk = opt_size("--chunk", optarg, SCRATCH); break;
		case O_TIMEOUT: o.timeout = opt_secs("--timeout", optarg); timeout_set = 1; break;
		case O_WORKERS: o.workers = (unsigned)opt_size("--workers", optarg, 64); break;
		case 'v': o.verbose = 1; break;
		case 'h': help();
		default: usage("unknown option");
		}
	}
	if (argc - optind != 2)
		usage("want MODE and ADDR");
	for (i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++)
		if (!strcmp(argv[optind], mode_names[i]))
			break;
	if (i == sizeof(mode_names) / sizeof(mode_names[0]))
		usage("unknown MODE");
	o.mode = (enum mode)i;
	o.addr = argv[optind + 1];
	if (o.mode == M_SERVER && o.tls.on && (!o.tls.cert || !o.tls.key))
		usage("a TLS server needs --cert and --key");
	if (o.mode == M_SERVER && !timeout_set)
		o.timeout = 3600;
	if (o.conns < 1 || o.inflight < 1 || o.workers < 1 || o.chunk < 1)
		usage("--conns, --inflight, --workers, --chunk must be >= 1");
	if (o.mode == M_RR && (o.req < 1 || o.resp < 1))
		usage("--req and --resp must be >= 1");
}

/* ---- time --------------------------------------------------------------- */

static uint64_t secs_ns(double s)
{
	return (uint64_t)(s * 1e9);
}

/* ---- connections -------------------------------------------------------- */

struct conn {
	int fd;
	SSL *ssl;
	enum state state;
	uint32_t want, armed;
	unsigned slot;			/* client: index in the slot table */
	/* the program: ctrl bytes out, then wr_left bytes, then rd_left in */
	unsigned char ctrl[HDR_LEN];
	size_t ctrl_len, ctrl_off;
	uint64_t wr_left, rd_left;
	unsigned char hdr[HDR_LEN];	/* server: the request header */
	size_t hdr_got;
	int got_hdr;
	uint32_t op;
	uint64_t a, b;
	uint64_t t_start, t_req;	/* client: data start, rr request sent */
	uint64_t rx, tx;
	uint64_t reqs;
};

struct slot {
	struct conn *c;
	SSL_SESSION *sess;
};

static struct {
	int ep;
	int lfd;
	SSL_CTX *ctx;
	struct tool_addr addr;
	uint64_t t0, deadline, end_at;	/* end_at: handshake/rr duration */
	struct slot *slots;
	unsigned nslots;
	unsigned live, connecting;	/* idle: open, being set up */
	unsigned started, established, lost;
	uint64_t handshakes, resumed, unclean, errors;
	uint64_t bytes_done, t_first, t_last, done_conns;
	uint64_t *lat;
	size_t nlat;
	uint64_t req_total;
	uint64_t *per_conn_bytes;
	int stop;			/* no new connections */
	int idle_reported;
	unsigned printed_errs;
} g = { .ep = -1, .lfd = -1 };

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

static unsigned char pattern[SCRATCH];
static unsigned char scratch[SCRATCH];

static PRINTF(2, 3) void conn_err(struct conn *c, const char *fmt, ...)
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

static void conn_arm(struct conn *c)
{
	struct epoll_event ev = { .events = c->want, .data.ptr = c };

	if (c->want == c->armed)
		return;
	if (epoll_ctl(g.ep, c->armed ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd,
		      &ev) < 0)
		die("epoll_ctl: %s", strerror(errno));
	c->armed = c->want;
}

/* Frees everything; with clean, a TLS connection says close_notify first
 * (best effort, never waiting). */
static void conn_free(struct conn *c, int clean)
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

static void put_hdr(struct conn *c, uint32_t op, uint64_t a, uint64_t b)
{
	uint32_t magic = HDR_MAGIC;

	memcpy(c->ctrl, &magic, 4);
	memcpy(c->ctrl + 4, &op, 4);
	memcpy(c->ctrl + 8, &a, 8);
	memcpy(c->ctrl + 16, &b, 8);
	c->ctrl_len = HDR_LEN;
	c->ctrl_off = 0;
}

static void nodelay(int fd)
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

static void tls_setup(void)
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

static int conn_tls(struct conn *c, int server)
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

/* ---- server ------------------------------------------------------------- */

static void srv_close(struct conn *c, int clean)
{
	conn_free(c, clean);
}

/* The header is complete: set up what the client asked for. */
static int srv_on_hdr(struct conn *c)
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

/* Both halves of the program are done: what follows. */
static void srv_next(struct conn *c)
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

/* ---- the pump, shared by both roles -------------------------------------- */

enum end { END_OK, END_EOF, END_ERR };

static int client_ready(struct conn *c);
static int client_next(struct conn *c);
static void client_done(struct conn *c, enum end how);

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

static void on_conn_event(struct conn *c)
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
	conn_arm(c);
}

static void srv_accept(void)
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
		conn_arm(c);
	}
}

static void event_loop(void);

static NORETURN void run_server(void)
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

/* ---- clients ------------------------------------------------------------ */

static void conn_start(unsigned slot)
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
	conn_arm(c);
}

/* The handshake is done (or the TCP connect, in plain mode): the request.
 * Returns 1 when the connection is gone. */
static int client_ready(struct conn *c)
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

/* The program ran out: the next request, or the end. Returns 1 when the
 * connection is gone. */
static int client_next(struct conn *c)
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

/* A connection ends: account, free, and (handshake) start the next one
 * in its slot. */
static void client_done(struct conn *c, enum end how)
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
	conn_free(c, how != END_ERR);
	if (g.errors > 1000)
		g.stop = 1;	/* something is badly wrong: wind down */
	if (want_more())
		conn_start(slot);
}

static void idle_fill(void)
{
	while (!g.stop && !got_signal && g.started < o.conns &&
	       g.connecting < o.inflight)
		conn_start(g.started);
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
	       mode_names[o.mode], o.tls.on ? "true" : "false", o.conns, g.errors);
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

/* idle: every connection is set up (or failed) */
static int idle_settled(void)
{
	return g.started == o.conns && g.connecting == 0;
}

static NORETURN void run_client(void)
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
			conn_start(i);
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

/* One loop for both roles. Returns at the deadline or on a signal; a
 * client also when no connection is left, rr at the end of its duration,
 * idle when it may start more connections or has just settled. */
static void event_loop(void)
{
	struct epoll_event ev[MAX_EVENTS];

	for (;;) {
		uint64_t t = now_ns(), until = g.deadline;
		int n, i, ms;

		if (t >= g.deadline || got_signal)
			return;
		if (o.mode != M_SERVER) {
			if (g.live == 0)
				return;
			if ((o.mode == M_IDLE || o.mode == M_RR) &&
			    t >= g.end_at)
				return;
			if (o.mode == M_IDLE && !g.stop &&
			    g.started < o.conns && g.connecting < o.inflight)
				return;
			if (o.mode == M_IDLE && !g.idle_reported &&
			    idle_settled())
				return;
			if ((o.mode == M_IDLE || o.mode == M_RR) &&
			    g.end_at < until)
				until = g.end_at;
		}
		ms = (int)((until - t) / 1000000) + 1;
		if (ms > 1000)
			ms = 1000;
		n = epoll_wait(g.ep, ev, MAX_EVENTS, ms);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait: %s", strerror(errno));
		}
		for (i = 0; i < n; i++) {
			if (!ev[i].data.ptr)
				srv_accept();
			else
				on_conn_event(ev[i].data.ptr);
		}
	}
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	char err[320];
	size_t i;
	int rc;

	parse_args(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	for (i = 0; i < sizeof(pattern); i++)
		pattern[i] = (unsigned char)(i * 131 + (i >> 9));
	rc = tool_addr_parse(o.addr, o.mode == M_SERVER ? TOOL_ADDR_PASSIVE : 0,
			     &g.addr, err, sizeof(err));
	if (rc == -1)
		usage("%s", err);
	if (rc)
		die("%s", err);
	if (o.tls.on)
		tls_setup();
	if (o.mode == M_SERVER)
		run_server();
	run_client();
}
