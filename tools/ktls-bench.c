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
#include "ktls-bench/bench.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#define MAX_EVENTS	256

const char *const mode_names[] = {
	[M_SERVER] = "server", [M_BULK_UP] = "bulk-up",
	[M_BULK_DOWN] = "bulk-down", [M_HANDSHAKE] = "handshake",
	[M_RR] = "rr", [M_IDLE] = "idle",
};

/* ---- options ------------------------------------------------------------ */

struct bench_opts o = {
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

struct bench_state g = { .ep = -1, .lfd = -1 };

volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

/* ---- one loop for both roles --------------------------------------------- */

void event_loop(void)
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
