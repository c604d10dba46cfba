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
#include "ktls-peer/peer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/ssl.h>

/* ---- options -------------------------------------------------------------- */

struct peer_opts o = {
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

/* ---- the loop ------------------------------------------------------------- */

struct tool_addr addr;
SSL_CTX *ctx;
unsigned finished, failed, target;

static int64_t deadline;		/* 0 = none */
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
	c = conn_alloc(++started, fd, PH_CONNECT);
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
		c = conn_alloc(++started, fd, PH_CONNECT);
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
