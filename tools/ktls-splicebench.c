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
#include "ktls-splicebench/splicebench.h"
#include <buildconf.h>

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/utsname.h>

#if HAVE_LIBURING
#include <liburing.h>
#endif

#include "ktls.h"

#define EXIT_SKIP	77

const char *const mode_names[NMODES] = {
	"epoll", "uring-poll", "uring-poll1", "uring-splice", "uring-block",
};
const char *const mode_letters[NMODES] = { "a", "b", "b1", "c", "d" };
const char *const mode_desc[NMODES] = {
	"epoll + splice(2) NONBLOCK",
	"POLL_ADD + splice(2) NONBLOCK",
	"POLL_ADD 1-shot + splice(2) NB",
	"POLL_ADD + OP_SPLICE NONBLOCK",
	"OP_SPLICE blocking (io-wq)",
};
const char *const sink_names[NSINKS] = { "plain", "ktls" };

struct sb_opts o = {
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
