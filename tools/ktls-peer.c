/*
 * ktls-peer - a full-duplex byte pump with digests, plain or TLS.
 *
 * The test and benchmark peer for ktlsd: it plays the client in front of
 * the daemon or the backend behind it, sends a deterministic pseudo-random
 * stream, hashes both directions and prints one line per connection:
 *
 *   sent=N sent_sha256=HEX recv=M recv_sha256=HEX end=E ms=T
 *
 * Concurrency model: one thread, one poll() loop, every socket non-blocking
 * and every SSL in non-blocking mode. When a connection wakes up, both
 * directions are pumped in turn (read until it would block, write until it
 * would block). Each direction remembers the poll event that its last
 * blocked call asked for (SSL_ERROR_WANT_READ -> POLLIN, WANT_WRITE ->
 * POLLOUT, the same for plain sockets), and the connection polls for the
 * union. Both directions go through the one SSL object from the one
 * thread, so OpenSSL sees strictly sequential calls. With --parallel N,
 * or as a server, all connections share the loop.
 *
 * Only libc and OpenSSL 3 are used.
 */
#include "tool.h"
#include "util.h"
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define RX_SCRATCH	(256 * 1024)	/* read buffer when not echoing */
#define ECHO_CAP	(256 * 1024)	/* echo buffer (grows only with --reply-after-eof) */
#define GEN_BLOCK	(64 * 1024)	/* bytes generated at once */
#define PUMP_BYTES	(1024 * 1024)	/* per direction per turn, for fairness */
#define PUMP_CALLS	4096		/* the same, in calls (tiny chunks) */
#define PUMP_ROUNDS	8

/* ---- options -------------------------------------------------------------- */

static struct {
	int server;
	const char *addr;
	struct tls_opts tls;
	uint64_t send;
	uint64_t seed;
	int echo;
	size_t chunk;
	long reply_after_eof;		/* ms, -1 = off */
	long read_after;		/* ms, 0 = off */
	int rcvbuf;			/* SO_RCVBUF, 0 = the default */
	int no_shutdown;
	int64_t expect;			/* -1 = off */
	double timeout;			/* s, 0 = none */
	int timeout_set;
	int stats;
	int verbose;
	unsigned count;
	unsigned parallel;
	uint64_t key_update;		/* TLS 1.3 KeyUpdate every N bytes */
} o = {
	.seed = 1, .chunk = 16384, .reply_after_eof = -1, .expect = -1,
	.timeout = 120, .count = 1, .parallel = 1,
};

static const char usage_text[] =
"usage: ktls-peer client|server ADDR [options]\n"
"  ADDR is HOST:PORT (split at the last ':'; port 0 for a server) or /path\n"
"  --tls                 speak TLS\n"
"  --cert F --key F      own certificate and key (PEM)\n"
"  --ca F                verify the peer against F\n"
"  --servername NAME     client SNI (and the name to verify)\n"
"  --tls-version 1.2|1.3 --ciphers LIST --ciphersuites LIST\n"
"  --send N[K|M|G]       bytes to send (default 0)   --seed S (default 1)\n"
"  --echo                (server) send back what is received\n"
"  --chunk N             maximum bytes per write call (default 16384)\n"
"  --reply-after-eof MS  send only MS ms after the peer's EOF\n"
"  --read-after MS       read nothing for MS ms after the handshake\n"
"  --rcvbuf N            (client) SO_RCVBUF before connecting\n"
"  --no-shutdown         do not half-close after sending\n"
"  --expect N            fail unless exactly N bytes are received\n"
"  --key-update N        (TLS 1.3) send a KeyUpdate asking for the peer's\n"
"                        every N bytes sent\n"
"  --count N             connections (server: 0 = forever; default 1)\n"
"  --parallel N          (client) connections at the same time\n"
"  --timeout S           overall deadline (default 120; 0 = none), exit 2\n"
"  --stats               print every connection's line, not only the last\n"
"  -v, --verbose         negotiated protocol and cipher on stderr\n";

/* parse_size(), any size */
static uint64_t size_arg(const char *name, const char *s)
{
	return opt_size(name, s, UINT64_MAX);
}

static void parse_args(int argc, char **argv)
{
	enum { O_SEND = 256, O_SEED, O_ECHO, O_CHUNK, O_RAE, O_RA, O_RCVBUF,
	       O_NOSHUT, O_EXPECT, O_TIMEOUT, O_STATS, O_COUNT, O_PARALLEL, O_KU };
	static const struct option longopts[] = {
		TLS_LONGOPTS,
		TLS_LONGOPT_CA,
		{ "send", required_argument, NULL, O_SEND },
		{ "seed", required_argument, NULL, O_SEED },
		{ "echo", no_argument, NULL, O_ECHO },
		{ "chunk", required_argument, NULL, O_CHUNK },
		{ "reply-after-eof", required_argument, NULL, O_RAE },
		{ "read-after", required_argument, NULL, O_RA },
		{ "rcvbuf", required_argument, NULL, O_RCVBUF },
		{ "no-shutdown", no_argument, NULL, O_NOSHUT },
		{ "expect", required_argument, NULL, O_EXPECT },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "stats", no_argument, NULL, O_STATS },
		{ "count", required_argument, NULL, O_COUNT },
		{ "parallel", required_argument, NULL, O_PARALLEL },
		{ "key-update", required_argument, NULL, O_KU },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	char *end;
	int c;

	tool_usage = usage_text;
	while ((c = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		if (tls_opts_take(&o.tls, c, optarg))
			continue;
		switch (c) {
		case O_SEND: o.send = size_arg("--send", optarg); break;
		case O_SEED:
			errno = 0;
			o.seed = strtoull(optarg, &end, 0);
			if (errno || *end || end == optarg)
				usage("--seed: bad number");
			break;
		case O_ECHO: o.echo = 1; break;
		case O_CHUNK:
			v = size_arg("--chunk", optarg);
			if (v < 1 || v > (1U << 30))
				usage("--chunk: 1 .. 1G");
			o.chunk = v;
			break;
		case O_RAE:
			v = size_arg("--reply-after-eof", optarg);
			if (v > 86400000)
				usage("--reply-after-eof: too large");
			o.reply_after_eof = (long)v;
			break;
		case O_RA:
			v = size_arg("--read-after", optarg);
			if (v > 86400000)
				usage("--read-after: too large");
			o.read_after = (long)v;
			break;
		case O_RCVBUF:
			v = size_arg("--rcvbuf", optarg);
			if (v < 1 || v > (1U << 30))
				usage("--rcvbuf: 1 .. 1G");
			o.rcvbuf = (int)v;
			break;
		case O_NOSHUT: o.no_shutdown = 1; break;
		case O_EXPECT:
			v = size_arg("--expect", optarg);
			if (v > INT64_MAX)
				usage("--expect: too large");
			o.expect = (int64_t)v;
			break;
		case O_TIMEOUT:
			errno = 0;
			o.timeout = strtod(optarg, &end);
			if (errno || *end || end == optarg || o.timeout < 0)
				usage("--timeout: seconds");
			o.timeout_set = 1;
			break;
		case O_STATS: o.stats = 1; break;
		case O_COUNT:
			v = size_arg("--count", optarg);
			if (v > 1000000)
				usage("--count: too large");
			o.count = (unsigned)v;
			break;
		case O_PARALLEL:
			v = size_arg("--parallel", optarg);
			if (v < 1 || v > 100000)
				usage("--parallel: 1 .. 100000");
			o.parallel = (unsigned)v;
			break;
		case O_KU:
			o.key_update = size_arg("--key-update", optarg);
			if (!o.key_update)
				usage("--key-update: at least 1 byte");
			break;
		case 'v': o.verbose = 1; break;
		case 'h':
			help();
		default:
			usage(NULL);
		}
	}
	if (argc - optind != 2)
		usage("need a mode and an address");
	if (!strcmp(argv[optind], "server"))
		o.server = 1;
	else if (strcmp(argv[optind], "client"))
		usage("mode is client or server");
	o.addr = argv[optind + 1];

	if (o.server) {
		if (o.tls.on && (!o.tls.cert || !o.tls.key))
			usage("a TLS server needs --cert and --key");
		if (o.count == 0 && !o.timeout_set)
			o.timeout = 0;	/* serving forever: no deadline by default */
	} else {
		if (o.echo)
			usage("--echo is for the server");
		if (o.count == 0)
			usage("--count: at least 1 for a client");
		if (o.parallel > o.count)
			o.count = o.parallel;
	}
	if (!!o.tls.cert != !!o.tls.key)
		usage("--cert and --key go together");
}

/* ---- addresses ------------------------------------------------------------ */

static struct tool_addr addr;

/* ---- the pseudo-random stream: xorshift64*, little-endian words ---------- */

struct gen {
	uint64_t s;
	unsigned char tail[8];
	unsigned pos;		/* bytes of tail already used; 8 = none left */
};

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

enum end { END_NONE, END_CLEAN, END_EOF, END_TRUNCATED, END_RESET, END_ERROR,
	   END_TIMEOUT };
enum phase { PH_CONNECT, PH_HANDSHAKE, PH_DATA, PH_DONE };
enum tx { TX_SEND, TX_SHUTDOWN, TX_DONE };

static const char *end_str(enum end e)
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

struct conn {
	unsigned id;
	int fd;
	SSL *ssl;
	enum phase phase;
	int64_t t0;
	short hs_ev, rd_ev, wr_ev;	/* what each side waits for */
	int again;			/* stopped for fairness: pump again */
	int64_t wake_at;		/* --reply-after-eof timer, 0 = none */
	int64_t read_at;		/* --read-after: not before, 0 = now */

	int rx_done;
	enum end rx_end;
	int64_t eof_at;
	uint64_t recvd;
	EVP_MD_CTX *rx_md;

	enum tx tx;
	struct gen gen;
	uint64_t generated, sent;
	EVP_MD_CTX *tx_md;
	unsigned char *buf;		/* pending output [off, len) */
	size_t cap, off, len;

	enum end end;			/* set by the first failure */
	char reason[256];
	char peer[64];			/* server: the client's address */
	uint64_t ku_next;		/* --key-update: at this many bytes */
	unsigned key_updates;		/* KeyUpdates (update_requested) sent */
};

static SSL_CTX *ctx;
static unsigned char rx_scratch[RX_SCRATCH];
static int64_t deadline;		/* 0 = none */
static unsigned finished, failed;
static unsigned target;			/* connections to finish, 0 = forever */

static PRINTF(3, 4) void conn_fail(struct conn *c, enum end e,
				   const char *fmt, ...)
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

static struct conn *conn_new(unsigned id, int fd, enum phase phase)
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

static void conn_established(struct conn *c)
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

static void conn_handle(struct conn *c)
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

static short conn_events(const struct conn *c)
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

static void conn_report(struct conn *c, enum end e)
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
static void conn_finish(struct conn *c)
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

/* ---- the loop ------------------------------------------------------------- */

static struct conn **conns;
static size_t nconns, conns_cap;
static int lfd = -1;
static unsigned started;

static void conns_add(struct conn *c)
{
	if (nconns == conns_cap) {
		size_t ncap = conns_cap ? conns_cap * 2 : 16;
		struct conn **n = realloc(conns, ncap * sizeof(*n));

		if (!n)
			die("out of memory");
		conns = n;
		conns_cap = ncap;
	}
	conns[nconns++] = c;
}

static void client_start(void)
{
	int fd = socket(addr.ss.ss_family,
			SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct conn *c;

	if (fd < 0)
		die("socket: %s", strerror(errno));
	if (o.rcvbuf && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &o.rcvbuf,
				   sizeof(o.rcvbuf)) < 0)
		die("SO_RCVBUF: %s", strerror(errno));
	c = conn_new(++started, fd, PH_CONNECT);
	conns_add(c);
	if (connect(fd, (struct sockaddr *)&addr.ss, addr.len) == 0)
		conn_established(c);
	else if (errno != EINPROGRESS && errno != EINTR && errno != EAGAIN)
		conn_fail(c, END_ERROR, "connect %s: %s", o.addr,
			  strerror(errno));
	/* EAGAIN: a Unix listener's backlog is full; SO_ERROR tells later */
}

static void server_listen(void)
{
	char port[64];

	lfd = tool_listen(&addr, o.addr);
	if (addr.ss.ss_family == AF_UNIX) {
		snprintf(port, sizeof(port), "%s",
			 ((struct sockaddr_un *)&addr.ss)->sun_path);
	} else {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);

		if (getsockname(lfd, (struct sockaddr *)&ss, &len) < 0)
			die("getsockname: %s", strerror(errno));
		snprintf(port, sizeof(port), "%u", ntohs(ss.ss_family == AF_INET6
			 ? ((struct sockaddr_in6 *)&ss)->sin6_port
			 : ((struct sockaddr_in *)&ss)->sin_port));
	}
	printf("listening on %s\n", port);
	fflush(stdout);
}

/* "192.0.2.2:40000", "[2001:db8::2]:40000" */
static void peer_name(int fd, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[INET6_ADDRSTRLEN] = "?";
	int v6;

	buf[0] = 0;
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0 ||
	    (ss.ss_family != AF_INET && ss.ss_family != AF_INET6))
		return;
	v6 = ss.ss_family == AF_INET6;
	inet_ntop(ss.ss_family, v6 ?
		  (void *)&((struct sockaddr_in6 *)&ss)->sin6_addr :
		  (void *)&((struct sockaddr_in *)&ss)->sin_addr,
		  host, sizeof(host));
	snprintf(buf, len, v6 ? "[%s]:%d" : "%s:%d", host,
		 ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port :
			    ((struct sockaddr_in *)&ss)->sin_port));
}

static void server_accept(void)
{
	while (!target || started < target) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct conn *c;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				fprintf(stderr, "# accept: %s\n", strerror(errno));
			return;
		}
		c = conn_new(++started, fd, PH_CONNECT);
		peer_name(fd, c->peer, sizeof(c->peer));
		conns_add(c);
		conn_established(c);
	}
}

static NORETURN void on_timeout(void)
{
	for (size_t i = 0; i < nconns; i++) {
		struct conn *c = conns[i];
		static const char *const phases[] = {
			"connecting", "in the handshake", "transferring", "done"
		};

		fprintf(stderr, "# conn %u: timeout after %g s %s (tx %s, rx %s)\n",
			c->id, o.timeout, phases[c->phase],
			c->tx == TX_DONE ? "done" : "open",
			c->rx_done ? end_str(c->rx_end) : "open");
		conn_report(c, END_TIMEOUT);
	}
	if (o.server)
		fprintf(stderr, "# timeout: %u of %u connections finished\n",
			finished, target);
	if (lfd >= 0 && addr.ss.ss_family == AF_UNIX)
		unlink(((struct sockaddr_un *)&addr.ss)->sun_path);
	exit(2);
}

static void run(void)
{
	struct pollfd *pfd = NULL;
	size_t pfd_cap = 0;

	for (;;) {
		size_t n = 0, base, npoll;
		int64_t now = clock_ms(), wait = -1;

		if (!o.server)
			while (nconns < o.parallel && started < o.count)
				client_start();
		/* drop what finished */
		for (size_t i = 0; i < nconns;) {
			if (conns[i]->phase == PH_DONE) {
				conn_finish(conns[i]);
				conns[i] = conns[--nconns];
			} else {
				i++;
			}
		}
		if (!o.server && nconns < o.parallel && started < o.count)
			continue;
		if (target && finished >= target)
			break;

		if (pfd_cap < nconns + 1) {
			pfd_cap = (nconns + 1) * 2;
			pfd = realloc(pfd, pfd_cap * sizeof(*pfd));
			if (!pfd)
				die("out of memory");
		}
		if (lfd >= 0 && (!target || started < target)) {
			pfd[n].fd = lfd;
			pfd[n].events = POLLIN;
			n++;
		}
		base = n;
		for (size_t i = 0; i < nconns; i++, n++) {
			struct conn *c = conns[i];
			short ev = conn_events(c);

			pfd[n].fd = ev ? c->fd : -1;
			pfd[n].events = ev;
			pfd[n].revents = 0;
			if (c->again)
				wait = 0;
			if (c->wake_at && (wait < 0 || c->wake_at - now < wait))
				wait = c->wake_at > now ? c->wake_at - now : 0;
			if (c->read_at && (wait < 0 || c->read_at - now < wait))
				wait = c->read_at > now ? c->read_at - now : 0;
		}
		npoll = n;
		if (deadline && (wait < 0 || deadline - now < wait))
			wait = deadline > now ? deadline - now : 0;
		if (wait > INT32_MAX)
			wait = INT32_MAX;

		if (poll(pfd, npoll, (int)wait) < 0 && errno != EINTR)
			die("poll: %s", strerror(errno));
		now = clock_ms();
		if (deadline && now >= deadline)
			on_timeout();

		/* conns[] may grow below; only the first nconns_polled were polled */
		{
			size_t polled = npoll - base;

			for (size_t i = 0; i < polled; i++) {
				struct conn *c = conns[i];

				if (pfd[base + i].revents || c->again ||
				    (c->wake_at && now >= c->wake_at) ||
				    (c->read_at && now >= c->read_at))
					conn_handle(c);
			}
		}
		if (base && (pfd[0].revents & POLLIN))
			server_accept();
	}
	free(pfd);
	free(conns);
	conns = NULL;
	nconns = conns_cap = 0;
}

int main(int argc, char **argv)
{
	char err[320];

	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	parse_args(argc, argv);
	if (tool_addr_parse(o.addr, TOOL_ADDR_UNIX |
			    (o.server ? TOOL_ADDR_PASSIVE : 0), &addr, err,
			    sizeof(err)))
		die("%s", err);
	if (o.tls.on)
		ctx = tls_opts_ctx(&o.tls, o.server);
	target = o.count;
	if (o.timeout > 0)
		deadline = clock_ms() + (int64_t)(o.timeout * 1000);
	if (o.server)
		server_listen();
	run();
	if (lfd >= 0) {
		close(lfd);
		if (addr.ss.ss_family == AF_UNIX)
			unlink(((struct sockaddr_un *)&addr.ss)->sun_path);
	}
	SSL_CTX_free(ctx);
	return failed ? 1 : 0;
}
