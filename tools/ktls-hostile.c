/*
 * ktls-hostile - bad TLS clients for the fault matrix (FAULTS.md section
 * 5.1, rows 1 to 4).
 *
 *   ktls-hostile MODE ADDR [--count N] [--parallel P] [--interval MS]
 *                [--timeout S] [--flood N]
 *
 * Every connection sends what its mode says, then only reads, until the
 * server closes (EOF or RST) or --timeout expires, and prints one line:
 *
 *   mode=M closed_after_ms=T how=eof|reset|alert|timeout|error bytes_in=N
 *
 * closed_after_ms counts from the moment the TCP connection was
 * established. how=alert means the server sent a TLS alert record (content
 * type 21) before it closed; the alert itself goes to stderr. how=error is
 * a connection that could not be made (the reason on stderr). Exit status:
 * 0 if the server closed every connection before the timeout, 1 if not.
 *
 * One thread, one poll() loop: the connections of a flood, or of --parallel
 * P, run side by side. Only libc and OpenSSL 3 are used.
 */
#include "tool.h"
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#define HUGE_CLAIM	0xFFFFFFu	/* the largest 24-bit handshake length */
#define HUGE_LIMIT	(16u << 20)	/* bytes sent at most after that claim */
#define FILLER_LEN	16384u		/* payload of each continuation record */

enum mode {
	M_GARBAGE_HTTP, M_GARBAGE_RANDOM, M_SSLV2_HELLO, M_OVERSIZE_HDR,
	M_HUGE_CH_LEN, M_IDLE, M_TRUNCATED, M_TRICKLE, M_FLOOD,
	M_FLOOD_IDLE, M_FLOOD_GARBAGE,
};

static const char *const mode_names[] = {
	[M_GARBAGE_HTTP] = "garbage-http",
	[M_GARBAGE_RANDOM] = "garbage-random",
	[M_SSLV2_HELLO] = "sslv2-hello",
	[M_OVERSIZE_HDR] = "oversize-record-hdr",
	[M_HUGE_CH_LEN] = "huge-clienthello-len",
	[M_IDLE] = "idle-no-bytes",
	[M_TRUNCATED] = "truncated-then-stall",
	[M_TRICKLE] = "trickle",
	[M_FLOOD] = "flood",
	[M_FLOOD_IDLE] = "flood-idle",
	[M_FLOOD_GARBAGE] = "flood-garbage",
};

static struct {
	enum mode mode;
	const char *addr;
	unsigned count;
	unsigned parallel;
	long interval;		/* ms, trickle */
	double timeout;		/* s per connection */
	int count_set;
} o = { .count = 1, .parallel = 1, .interval = 1000, .timeout = 60 };

static const char usage_text[] =
"usage: ktls-hostile MODE HOST:PORT|/path [options]\n"
"  MODE: garbage-http garbage-random sslv2-hello oversize-record-hdr\n"
"        huge-clienthello-len idle-no-bytes truncated-then-stall trickle\n"
"        flood (half idle, half garbage, all at once)\n"
"  --count N      connections (default 1; flood: 100)\n"
"  --parallel P   connections at the same time (default 1; flood: all)\n"
"  --flood N      the same as MODE flood with --count N\n"
"  --interval MS  trickle: one byte every MS ms (default 1000)\n"
"  --timeout S    give up on a connection after S s (default 60)\n";

static unsigned long opt_num(const char *name, const char *s,
			     unsigned long lo, unsigned long hi)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < lo || v > hi)
		usage("%s: expected %lu .. %lu", name, lo, hi);
	return v;
}

static void parse_args(int argc, char **argv)
{
	enum { O_COUNT = 256, O_PARALLEL, O_INTERVAL, O_TIMEOUT, O_FLOOD };
	static const struct option longopts[] = {
		{ "count", required_argument, NULL, O_COUNT },
		{ "parallel", required_argument, NULL, O_PARALLEL },
		{ "interval", required_argument, NULL, O_INTERVAL },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "flood", required_argument, NULL, O_FLOOD },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int flood = 0, parallel_set = 0, c, npos;
	char *end;

	tool_usage = usage_text;
	while ((c = getopt_long(argc, argv, "n:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
		case O_COUNT:
			o.count = (unsigned)opt_num("--count", optarg, 1, 100000);
			o.count_set = 1;
			break;
		case O_PARALLEL:
			o.parallel = (unsigned)opt_num("--parallel", optarg, 1,
						       100000);
			parallel_set = 1;
			break;
		case O_INTERVAL:
			o.interval = (long)opt_num("--interval", optarg, 1,
						   3600000);
			break;
		case O_TIMEOUT:
			errno = 0;
			o.timeout = strtod(optarg, &end);
			if (errno || *end || end == optarg || o.timeout <= 0)
				usage("--timeout: seconds, above 0");
			break;
		case O_FLOOD:
			o.count = (unsigned)opt_num("--flood", optarg, 1, 100000);
			o.count_set = 1;
			flood = 1;
			break;
		case 'h':
			help();
		default:
			usage(NULL);
		}
	}
	npos = argc - optind;
	if (flood && npos == 1) {
		o.mode = M_FLOOD;
		o.addr = argv[optind];
	} else if (npos == 2) {
		unsigned m;

		for (m = 0; m <= M_FLOOD; m++)
			if (!strcmp(argv[optind], mode_names[m]))
				break;
		if (m > M_FLOOD)
			usage("unknown mode");
		o.mode = (enum mode)m;
		o.addr = argv[optind + 1];
		if (flood && o.mode != M_FLOOD)
			usage("--flood goes with the mode flood");
	} else {
		usage("need a mode and an address");
	}
	if (o.mode == M_FLOOD) {
		if (!o.count_set)
			o.count = 100;
		if (!parallel_set)
			o.parallel = o.count;
	}
	if (o.parallel > o.count)
		o.parallel = o.count;
}

/* ---- addresses ------------------------------------------------------------ */

static struct tool_addr peer;

/* ---- payloads ------------------------------------------------------------- */

struct buf {
	unsigned char *p;
	size_t len;
};

static struct buf pl_http, pl_random, pl_sslv2, pl_oversize, pl_huge,
		  pl_filler, pl_hello;

static void buf_set(struct buf *b, const void *p, size_t len)
{
	b->p = malloc(len ? len : 1);
	if (!b->p)
		die("out of memory");
	memcpy(b->p, p, len);
	b->len = len;
}

static void rand_fill(unsigned char *p, size_t n)
{
	if (RAND_bytes(p, (int)n) != 1)
		die("RAND_bytes failed");
}

/* A real ClientHello (TLS 1.2 and 1.3 offered), from a memory BIO. */
static void make_hello(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *s = ctx ? SSL_new(ctx) : NULL;
	BIO *rb, *wb;
	char *data;
	long len;

	if (!s)
		die("SSL_new failed");
	rb = BIO_new(BIO_s_mem());
	wb = BIO_new(BIO_s_mem());
	if (!rb || !wb)
		die("BIO_new failed");
	SSL_set_bio(s, rb, wb);
	SSL_set_tlsext_host_name(s, "localhost");
	SSL_set_connect_state(s);
	if (SSL_do_handshake(s) != -1 ||
	    SSL_get_error(s, -1) != SSL_ERROR_WANT_READ)
		die("could not build a ClientHello");
	len = BIO_get_mem_data(wb, &data);
	if (len < 50)
		die("ClientHello too short (%ld bytes)", len);
	buf_set(&pl_hello, data, (size_t)len);
	SSL_free(s);
	SSL_CTX_free(ctx);
	ERR_clear_error();
}

/*
 * An SSLv2-format CLIENT-HELLO (the format itself, version 2): a 2-byte
 * header with the top bit set, then msg type 1, version 0x0002, the
 * lengths of the cipher specs, session id and challenge, and the data.
 */
static void make_sslv2(void)
{
	static const unsigned char specs[] = {
		0x01, 0x00, 0x80,	/* SSL_CK_RC4_128_WITH_MD5 */
		0x07, 0x00, 0xc0,	/* SSL_CK_DES_192_EDE3_CBC_WITH_MD5 */
		0x03, 0x00, 0x80,	/* SSL_CK_RC2_128_CBC_WITH_MD5 */
		0x06, 0x00, 0x40,	/* SSL_CK_DES_64_CBC_WITH_MD5 */
	};
	unsigned char m[2 + 9 + sizeof(specs) + 16];
	size_t body = sizeof(m) - 2, n = 0;

	m[n++] = (unsigned char)(0x80 | (body >> 8));
	m[n++] = (unsigned char)body;
	m[n++] = 0x01;				/* CLIENT-HELLO */
	m[n++] = 0x00; m[n++] = 0x02;		/* SSL 2.0 */
	m[n++] = 0x00; m[n++] = sizeof(specs);	/* cipher specs length */
	m[n++] = 0x00; m[n++] = 0x00;		/* session id length */
	m[n++] = 0x00; m[n++] = 16;		/* challenge length */
	memcpy(m + n, specs, sizeof(specs));
	n += sizeof(specs);
	rand_fill(m + n, 16);
	n += 16;
	buf_set(&pl_sslv2, m, n);
}

static void make_payloads(void)
{
	static const char http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	unsigned char *p;

	buf_set(&pl_http, http, sizeof(http) - 1);

	/* random bytes; the first is kept off the TLS record types (20..24)
	 * and off the SSLv2 length bit, so that the stream is garbage from
	 * its first byte on */
	p = malloc(4096);
	if (!p)
		die("out of memory");
	rand_fill(p, 4096);
	p[0] &= 0x7f;
	if (p[0] >= 20 && p[0] <= 24)
		p[0] ^= 0x40;
	pl_random.p = p;
	pl_random.len = 4096;

	make_sslv2();

	/* a handshake record header claiming 0x4800 bytes, then those bytes */
	p = calloc(1, 5 + 0x4800);
	if (!p)
		die("out of memory");
	memcpy(p, "\x16\x03\x01\x48\x00", 5);
	p[5] = 0x01;				/* looks like a ClientHello */
	p[6] = 0x00; p[7] = 0x47; p[8] = 0xfc;
	p[9] = 0x03; p[10] = 0x03;
	rand_fill(p + 11, 32);
	pl_oversize.p = p;
	pl_oversize.len = 5 + 0x4800;

	/* a ClientHello whose handshake header claims 16 MB: one record of
	 * 4 + 512 bytes; then continuation records (pl_filler) follow */
	p = calloc(1, 5 + 4 + 512);
	if (!p)
		die("out of memory");
	memcpy(p, "\x16\x03\x01\x02\x04", 5);
	p[5] = 0x01;
	p[6] = (unsigned char)(HUGE_CLAIM >> 16);
	p[7] = (unsigned char)(HUGE_CLAIM >> 8);
	p[8] = (unsigned char)HUGE_CLAIM;
	p[9] = 0x03; p[10] = 0x03;
	rand_fill(p + 11, 32);
	pl_huge.p = p;
	pl_huge.len = 5 + 4 + 512;

	p = calloc(1, 5 + FILLER_LEN);
	if (!p)
		die("out of memory");
	p[0] = 0x16; p[1] = 0x03; p[2] = 0x03;
	p[3] = (unsigned char)(FILLER_LEN >> 8);
	p[4] = (unsigned char)FILLER_LEN;
	pl_filler.p = p;
	pl_filler.len = 5 + FILLER_LEN;

	make_hello();
}

/* ---- connections ---------------------------------------------------------- */

enum how { HOW_OPEN, HOW_EOF, HOW_RESET, HOW_TIMEOUT, HOW_ERROR };

struct hconn {
	unsigned id;
	enum mode mode;
	int fd;
	int connected;
	int64_t t_start, t_est;
	const struct buf *pl;	/* what to send */
	size_t off;		/* sent of pl */
	size_t extra;		/* huge-clienthello-len: filler bytes sent */
	int trickle;		/* one byte per interval */
	int64_t next_send;
	int wr_dead;		/* the server does not take more */
	uint64_t bytes_in;
	/* a TLS record scanner over the bytes from the server */
	unsigned char hdr[7];	/* record header and 2 bytes of body */
	unsigned have;
	size_t skip;
	int not_tls;
	int alert;
	int alert_level, alert_desc;
	enum how how;
	char reason[128];
};

static void scan_tls(struct hconn *c, const unsigned char *p, size_t n)
{
	while (n && !c->not_tls) {
		if (c->skip) {
			size_t k = n < c->skip ? n : c->skip;

			p += k;
			n -= k;
			c->skip -= k;
			continue;
		}
		c->hdr[c->have++] = *p++;
		n--;
		if (c->have == 5) {
			if (c->hdr[0] < 20 || c->hdr[0] > 24 ||
			    c->hdr[1] != 3) {
				c->not_tls = 1;
				break;
			}
			if (c->hdr[0] != 21) {
				c->skip = (size_t)c->hdr[3] << 8 | c->hdr[4];
				c->have = 0;
			}
		} else if (c->have == 7) {	/* alert: level, description */
			if (!c->alert) {
				c->alert = 1;
				c->alert_level = c->hdr[5];
				c->alert_desc = c->hdr[6];
			}
			c->skip = ((size_t)c->hdr[3] << 8 | c->hdr[4]);
			c->skip = c->skip > 2 ? c->skip - 2 : 0;
			c->have = 0;
		}
	}
}

static const char *alert_name(int d)
{
	switch (d) {
	case 0: return "close_notify";
	case 10: return "unexpected_message";
	case 20: return "bad_record_mac";
	case 22: return "record_overflow";
	case 40: return "handshake_failure";
	case 47: return "illegal_parameter";
	case 50: return "decode_error";
	case 51: return "decrypt_error";
	case 70: return "protocol_version";
	case 80: return "internal_error";
	case 90: return "user_canceled";
	case 109: return "missing_extension";
	case 110: return "unsupported_extension";
	case 112: return "unrecognized_name";
	case 116: return "certificate_required";
	}
	return "other";
}

static unsigned n_eof, n_reset, n_alert, n_timeout, n_error;
static int64_t max_closed_ms;

static void conn_report(struct hconn *c)
{
	int64_t ms = clock_ms() - (c->connected ? c->t_est : c->t_start);
	const char *how;

	switch (c->how) {
	case HOW_EOF: how = "eof"; n_eof++; break;
	case HOW_RESET: how = "reset"; n_reset++; break;
	case HOW_TIMEOUT: how = "timeout"; n_timeout++; break;
	default: how = "error"; n_error++; break;
	}
	if (c->alert && (c->how == HOW_EOF || c->how == HOW_RESET)) {
		n_alert++;
		if (c->how == HOW_EOF)
			n_eof--;
		else
			n_reset--;
		fprintf(stderr, "# conn %u: alert level %d %d (%s), then %s\n",
			c->id, c->alert_level, c->alert_desc,
			alert_name(c->alert_desc), how);
		how = "alert";
	}
	if (c->how == HOW_EOF || c->how == HOW_RESET) {
		if (ms > max_closed_ms)
			max_closed_ms = ms;
	}
	if (c->reason[0])
		fprintf(stderr, "# conn %u: %s\n", c->id, c->reason);
	printf("mode=%s closed_after_ms=%" PRId64 " how=%s bytes_in=%" PRIu64
	       "\n", mode_names[c->mode], ms, how, c->bytes_in);
	fflush(stdout);
}

static void conn_end(struct hconn *c, enum how how, const char *why, int e)
{
	if (c->how != HOW_OPEN)
		return;
	c->how = how;
	if (why)
		snprintf(c->reason, sizeof(c->reason), "%s: %s", why,
			 strerror(e));
}

static void conn_established(struct hconn *c)
{
	c->connected = 1;
	c->t_est = clock_ms();
	c->next_send = c->t_est;
}

static void conn_start(struct hconn *c, unsigned id, enum mode mode)
{
	memset(c, 0, sizeof(*c));
	c->id = id;
	c->mode = mode;
	c->t_start = clock_ms();
	switch (mode) {
	case M_GARBAGE_HTTP: c->pl = &pl_http; break;
	case M_GARBAGE_RANDOM: c->pl = &pl_random; break;
	case M_SSLV2_HELLO: c->pl = &pl_sslv2; break;
	case M_OVERSIZE_HDR: c->pl = &pl_oversize; break;
	case M_HUGE_CH_LEN: c->pl = &pl_huge; break;
	case M_TRUNCATED: c->pl = &pl_hello; break;
	case M_TRICKLE: c->pl = &pl_hello; c->trickle = 1; break;
	case M_FLOOD_GARBAGE:
		c->pl = id % 4 == 0 ? &pl_random : &pl_http;
		break;
	case M_IDLE:
	case M_FLOOD_IDLE:
	case M_FLOOD:
		c->pl = NULL;
		break;
	}
	c->fd = socket(peer.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
		       SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		conn_end(c, HOW_ERROR, "socket", errno);
		return;
	}
	if (connect(c->fd, (struct sockaddr *)&peer.ss, peer.len) == 0)
		conn_established(c);
	else if (errno != EINPROGRESS && errno != EAGAIN)
		conn_end(c, HOW_ERROR, "connect", errno);
}

/* How many bytes of the payload to send in total. */
static size_t pl_limit(const struct hconn *c)
{
	if (!c->pl)
		return 0;
	if (c->mode == M_TRUNCATED)
		return c->pl->len < 30 ? c->pl->len : 30;
	return c->pl->len;
}

static void conn_send(struct hconn *c, int64_t now)
{
	while (!c->wr_dead && c->how == HOW_OPEN) {
		const unsigned char *p;
		size_t n;
		ssize_t r;

		if (c->off < pl_limit(c)) {
			p = c->pl->p + c->off;
			n = pl_limit(c) - c->off;
			if (c->trickle) {
				if (now < c->next_send)
					return;
				n = 1;
			}
		} else if (c->mode == M_HUGE_CH_LEN && c->extra < HUGE_LIMIT) {
			size_t at = c->extra % pl_filler.len;

			p = pl_filler.p + at;
			n = pl_filler.len - at;
		} else {
			return;
		}
		r = send(c->fd, p, n, MSG_NOSIGNAL);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			/* the server is gone: what the read side says counts */
			c->wr_dead = 1;
			return;
		}
		if (c->off < pl_limit(c))
			c->off += (size_t)r;
		else
			c->extra += (size_t)r;
		if (c->trickle) {
			c->next_send += o.interval;
			return;
		}
	}
}

static int conn_wants_write(const struct hconn *c)
{
	if (c->wr_dead || c->trickle)
		return 0;
	return c->off < pl_limit(c) ||
	       (c->mode == M_HUGE_CH_LEN && c->extra < HUGE_LIMIT);
}

static void conn_read(struct hconn *c)
{
	unsigned char buf[16384];

	for (;;) {
		ssize_t r = read(c->fd, buf, sizeof(buf));

		if (r > 0) {
			c->bytes_in += (uint64_t)r;
			scan_tls(c, buf, (size_t)r);
			continue;
		}
		if (r == 0) {
			conn_end(c, HOW_EOF, NULL, 0);
			return;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		if (errno == ECONNRESET)
			conn_end(c, HOW_RESET, NULL, 0);
		else
			conn_end(c, HOW_ERROR, "read", errno);
		return;
	}
}

static void conn_on_connect(struct hconn *c)
{
	int err = connect_result(c->fd);

	if (err == EINPROGRESS)
		return;
	if (err) {
		conn_end(c, HOW_ERROR, "connect", err);
		return;
	}
	conn_established(c);
}

/* ---- the loop ------------------------------------------------------------- */

static void slot_reap(struct hconn *c, unsigned *done)
{
	conn_report(c);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->id = 0;
	(*done)++;
}

static enum mode mode_of(unsigned id)
{
	if (o.mode != M_FLOOD)
		return o.mode;
	return id % 2 ? M_FLOOD_IDLE : M_FLOOD_GARBAGE;
}

static void raise_nofile(unsigned want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < want + 16 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void run(void)
{
	struct hconn *cs = calloc(o.parallel, sizeof(*cs));
	struct pollfd *pfd = calloc(o.parallel, sizeof(*pfd));
	unsigned started = 0, done = 0;
	int64_t tmo = (int64_t)(o.timeout * 1000);

	if (!cs || !pfd)
		die("out of memory");

	while (done < o.count) {
		int64_t now = clock_ms(), wait = -1;

		/* reap finished connections, fill free slots */
		for (unsigned i = 0; i < o.parallel; i++) {
			struct hconn *c = &cs[i];

			if (c->id && c->how != HOW_OPEN)
				slot_reap(c, &done);
			while (!c->id && started < o.count) {
				unsigned id = ++started;

				conn_start(c, id, mode_of(id));
				if (c->how != HOW_OPEN)
					slot_reap(c, &done);
			}
		}
		if (done >= o.count)
			break;

		now = clock_ms();
		for (unsigned i = 0; i < o.parallel; i++) {
			struct hconn *c = &cs[i];
			int64_t due;

			pfd[i].fd = c->id ? c->fd : -1;
			pfd[i].events = 0;
			pfd[i].revents = 0;
			if (pfd[i].fd < 0)
				continue;
			if (!c->connected) {
				pfd[i].events = POLLOUT;
				due = c->t_start + tmo;
			} else {
				pfd[i].events = POLLIN;
				if (conn_wants_write(c))
					pfd[i].events |= POLLOUT;
				due = c->t_est + tmo;
				if (c->trickle && !c->wr_dead &&
				    c->off < pl_limit(c) && c->next_send < due)
					due = c->next_send;
			}
			due -= now;
			if (due < 0)
				due = 0;
			if (wait < 0 || due < wait)
				wait = due;
		}
		if (wait > INT32_MAX)
			wait = INT32_MAX;
		if (poll(pfd, o.parallel, (int)wait) < 0 && errno != EINTR)
			die("poll: %s", strerror(errno));
		now = clock_ms();

		for (unsigned i = 0; i < o.parallel; i++) {
			struct hconn *c = &cs[i];
			short re = pfd[i].revents;

			if (!c->id || c->how != HOW_OPEN)
				continue;
			if (!c->connected) {
				if (re)
					conn_on_connect(c);
				if (!c->connected && c->how == HOW_OPEN &&
				    now >= c->t_start + tmo)
					conn_end(c, HOW_TIMEOUT, NULL, 0);
				if (!c->connected)
					continue;
			}
			conn_send(c, now);
			if (re & (POLLIN | POLLHUP | POLLERR))
				conn_read(c);
			if (c->how == HOW_OPEN && now >= c->t_est + tmo)
				conn_end(c, HOW_TIMEOUT, NULL, 0);
		}
	}
	free(cs);
	free(pfd);
}

int main(int argc, char **argv)
{
	char err[320];

	signal(SIGPIPE, SIG_IGN);
	parse_args(argc, argv);
	if (tool_addr_parse(o.addr, TOOL_ADDR_UNIX, &peer, err, sizeof(err)))
		die("%s", err);
	raise_nofile(o.parallel);
	make_payloads();
	run();
	fprintf(stderr, "# %u connections: eof=%u reset=%u alert=%u "
		"timeout=%u error=%u; slowest close %" PRId64 " ms\n",
		o.count, n_eof, n_reset, n_alert, n_timeout, n_error,
		max_closed_ms);
	return n_timeout || n_error ? 1 : 0;
}
