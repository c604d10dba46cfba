/* SPDX-License-Identifier: MIT */
/*
 * ktlsctl - look at what ktlsd can use on this machine.
 *
 *   ktlsctl probe [--json]    what the kernel offers: the tls ULP, each
 *                             cipher and version for TX and RX, rekey,
 *                             /proc/net/tls_stat, io_uring, TPROXY
 *
 * Everything is tried for real (loopback sockets, a throwaway ring) and
 * reported as "yes", "no (why)" or "unknown" when the question cannot be
 * answered from here. Nothing is loaded or changed. Exit 0 after a probe,
 * 2 on a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/utsname.h>

#include "buildconf.h"
#include "ktls.h"
#include "tproxy.h"

#if HAVE_LIBURING
#include <poll.h>
#include <liburing.h>
#endif

/* ---- io_uring ------------------------------------------------------------ */

struct uring_report {
	bool built;		/* liburing compiled in */
	int err;		/* io_uring_queue_init: 0 or errno */
	int disabled;		/* kernel.io_uring_disabled, -1 unknown */
	int splice, send_zc, poll_add;	/* opcode probe: 1, 0, -1 unknown */
	int poll_multishot;	/* IORING_POLL_ADD_MULTI works: 1, 0, -1 */
};

static int read_int_file(const char *path, int *out)
{
	FILE *f = fopen(path, "re");
	int ok;

	if (!f)
		return -errno;
	ok = fscanf(f, "%d", out) == 1;
	fclose(f);
	return ok ? 0 : -EINVAL;
}

#if HAVE_LIBURING
/* A multishot poll on a readable pipe: a CQE flagged MORE means the
 * kernel keeps the poll armed (5.13+); older kernels refuse the flag. */
static int uring_try_multishot(struct io_uring *ring)
{
	struct __kernel_timespec ts = { .tv_sec = 1 };
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	int p[2], ok = -1;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	if (write(p[1], "x", 1) != 1)
		goto out;
	sqe = io_uring_get_sqe(ring);
	if (!sqe)
		goto out;
	io_uring_prep_poll_multishot(sqe, p[0], POLLIN);
	if (io_uring_submit(ring) != 1)
		goto out;
	if (io_uring_wait_cqe_timeout(ring, &cqe, &ts) == 0) {
		ok = cqe->res > 0 && (cqe->flags & IORING_CQE_F_MORE);
		io_uring_cqe_seen(ring, cqe);
	}
out:
	close(p[0]);
	close(p[1]);
	return ok;
}

static void probe_uring(struct uring_report *u)
{
	struct io_uring_probe *pr;
	struct io_uring ring;
	int rc;

	u->built = true;
	rc = io_uring_queue_init(4, &ring, 0);
	if (rc < 0) {
		u->err = -rc;
		return;
	}
	pr = io_uring_get_probe_ring(&ring);
	if (pr) {
		u->splice = io_uring_opcode_supported(pr, IORING_OP_SPLICE);
		u->send_zc = io_uring_opcode_supported(pr, IORING_OP_SEND_ZC);
		u->poll_add = io_uring_opcode_supported(pr, IORING_OP_POLL_ADD);
		io_uring_free_probe(pr);
	}
	if (u->poll_add != 0)
		u->poll_multishot = uring_try_multishot(&ring);
	io_uring_queue_exit(&ring);	/* cancels the armed poll */
}
#else
static void probe_uring(struct uring_report *u)
{
	u->built = false;
}
#endif

/* ---- TPROXY -------------------------------------------------------------- */

struct tproxy_report {
	int transparent_err;	/* IP_TRANSPARENT on a fresh socket */
	int xt_target;		/* TPROXY in ip_tables_targets: 1, 0, -1 */
	int nft_module;		/* nft_tproxy loaded: 1, or -1 unknown */
};

static int file_has_line(const char *path, const char *word)
{
	char line[128];
	FILE *f = fopen(path, "re");
	int found = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (!strcmp(line, word))
			found = 1;
	}
	fclose(f);
	return found;
}

static void probe_tproxy(struct tproxy_report *t)
{
	t->transparent_err = tproxy_check_allowed(AF_INET) < 0 ? errno : 0;
	/* lists only the targets registered now (built in or loaded) */
	t->xt_target = file_has_line("/proc/net/ip_tables_targets", "TPROXY");
	t->nft_module = access("/sys/module/nft_tproxy", F_OK) == 0 ? 1 : -1;
}

/* ---- output -------------------------------------------------------------- */

struct report {
	char kernel[128];
	struct ktls_caps caps;
	bool tls_stat;
	struct uring_report uring;
	struct tproxy_report tproxy;
	char summary[512];
};

static const char *errname(int err)
{
	const char *n = err > 0 ? strerrorname_np(err) : NULL;

	return n ? n : "?";
}

/* One cell: "yes", "no (EINVAL)", "-" untried. */
static const char *cell(int err, char *buf, size_t len)
{
	if (err == 0)
		return "yes";
	if (err == KTLS_CAP_UNTRIED)
		return "-";
	snprintf(buf, len, "no (%s)", errname(err));
	return buf;
}

static const char *tri(int v)
{
	return v > 0 ? "yes" : v == 0 ? "no" : "unknown";
}

static void print_text(const struct report *r)
{
	const struct ktls_caps *c = &r->caps;
	const struct uring_report *u = &r->uring;
	const struct tproxy_report *t = &r->tproxy;
	char b[4][32];

	printf("kernel:            %s\n", r->kernel);
	if (c->setup_err)
		printf("tls ULP:           unknown (loopback test connection "
		       "failed: %s)\n", strerror(c->setup_err));
	else if (c->ulp_err)
		printf("tls ULP:           no (%s: %s)\n", errname(c->ulp_err),
		       ktls_err_str(c->ulp_err));
	else
		printf("tls ULP:           yes\n");

	printf("%-18s %-14s %-14s %-14s %-14s\n", "cipher", "TLS1.2 TX",
	       "TLS1.2 RX", "TLS1.3 TX", "TLS1.3 RX");
	for (int i = 0; i < KTLS_NCIPHERS; i++) {
		const struct ktls_cipher *k = ktls_cipher_get(i);

		printf("%-18s %-14s %-14s %-14s %-14s%s\n", k->display,
		       cell(c->tx_err[i][0], b[0], sizeof(b[0])),
		       cell(c->rx_err[i][0], b[1], sizeof(b[1])),
		       cell(c->tx_err[i][1], b[2], sizeof(b[2])),
		       cell(c->rx_err[i][1], b[3], sizeof(b[3])),
		       (k->versions & KTLS_V13) ? "" :
		       "  (ktlsd offloads it with TLS 1.2 only)");
	}
	printf("rekey (TLS 1.3):   TX %s, RX %s\n",
	       cell(c->rekey_tx_err, b[0], sizeof(b[0])),
	       cell(c->rekey_rx_err, b[1], sizeof(b[1])));
	printf("rx expect no pad:  %s\n", cell(c->no_pad_err, b[0], sizeof(b[0])));
	printf("/proc/net/tls_stat: %s\n", r->tls_stat ? "present" : "absent");

	if (!u->built)
		printf("io_uring:          unknown (ktlsctl built without "
		       "liburing)\n");
	else if (u->err)
		printf("io_uring:          no (%s: %s%s)\n", errname(u->err),
		       strerror(u->err), u->disabled > 0 ?
		       ", kernel.io_uring_disabled is set" : "");
	else
		printf("io_uring:          yes (SPLICE %s, SEND_ZC %s, "
		       "POLL_ADD %s, multishot poll %s)\n", tri(u->splice),
		       tri(u->send_zc), tri(u->poll_add),
		       tri(u->poll_multishot));

	if (t->transparent_err == 0)
		printf("IP_TRANSPARENT:    allowed\n");
	else if (t->transparent_err == EPERM)
		printf("IP_TRANSPARENT:    not permitted (needs "
		       "CAP_NET_ADMIN)\n");
	else
		printf("IP_TRANSPARENT:    no (%s)\n",
		       strerror(t->transparent_err));
	printf("TPROXY target:     xt_TPROXY %s, nft_tproxy %s\n",
	       t->xt_target > 0 ? "registered" :
	       t->xt_target == 0 ? "not registered (may load on first rule)" :
	       "unknown",
	       t->nft_module > 0 ? "loaded" :
	       "unknown (not loaded as a module; may be built in or load "
	       "on first rule)");
	printf("summary:           %s\n", r->summary);
}

/* JSON string body: our strings are ASCII, escape what JSON needs. */
static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", (unsigned char)*s);
		else
			putchar(*s);
	}
	putchar('"');
}

/* "true", "false" or "null" (untried), plus an "<key>_errno" member. */
static void json_cap(const char *key, int err, bool last)
{
	printf("\"%s\": %s", key, err == 0 ? "true" :
	       err == KTLS_CAP_UNTRIED ? "null" : "false");
	if (err > 0) {
		printf(", \"%s_errno\": ", key);
		json_str(errname(err));
	}
	printf("%s", last ? "" : ", ");
}

static const char *json_tri(int v)
{
	return v > 0 ? "true" : v == 0 ? "false" : "null";
}

static void print_json(const struct report *r)
{
	const struct ktls_caps *c = &r->caps;
	const struct uring_report *u = &r->uring;
	const struct tproxy_report *t = &r->tproxy;

	printf("{\n  \"kernel\": ");
	json_str(r->kernel);
	printf(",\n  \"tls_ulp\": {");
	if (c->setup_err) {
		printf("\"available\": null, \"error\": ");
		json_str(strerror(c->setup_err));
	} else {
		printf("\"available\": %s", c->ulp_err ? "false" : "true");
		if (c->ulp_err) {
			printf(", \"errno\": ");
			json_str(errname(c->ulp_err));
			printf(", \"error\": ");
			json_str(ktls_err_str(c->ulp_err));
		}
	}
	printf("},\n  \"ciphers\": [\n");
	for (int i = 0; i < KTLS_NCIPHERS; i++) {
		const struct ktls_cipher *k = ktls_cipher_get(i);

		printf("    {\"name\": ");
		json_str(k->name);
		printf(", \"kernel_type\": %u", k->kernel_type);
		for (int v = 0; v < KTLS_NVERSIONS; v++) {
			printf(", \"%s\": ", v ? "tls13" : "tls12");
			if (!(k->versions & (v ? KTLS_V13 : KTLS_V12))) {
				printf("null");
				continue;
			}
			printf("{");
			json_cap("tx", c->tx_err[i][v], false);
			json_cap("rx", c->rx_err[i][v], true);
			printf("}");
		}
		printf("}%s\n", i + 1 < KTLS_NCIPHERS ? "," : "");
	}
	printf("  ],\n  \"rekey\": {");
	json_cap("tx", c->rekey_tx_err, false);
	json_cap("rx", c->rekey_rx_err, true);
	printf("},\n  ");
	json_cap("rx_expect_no_pad", c->no_pad_err, true);
	printf(",\n  \"tls_stat\": %s,\n", r->tls_stat ? "true" : "false");

	printf("  \"io_uring\": {");
	if (!u->built) {
		printf("\"available\": null");
	} else if (u->err) {
		printf("\"available\": false, \"errno\": ");
		json_str(errname(u->err));
	} else {
		printf("\"available\": true, \"splice\": %s, \"send_zc\": %s, "
		       "\"poll_add\": %s, \"poll_multishot\": %s",
		       json_tri(u->splice), json_tri(u->send_zc),
		       json_tri(u->poll_add), json_tri(u->poll_multishot));
	}
	printf("},\n  \"tproxy\": {");
	json_cap("ip_transparent", t->transparent_err, false);
	printf("\"xt_tproxy\": %s, \"nft_tproxy\": %s},\n",
	       json_tri(t->xt_target), json_tri(t->nft_module));
	printf("  \"summary\": ");
	json_str(r->summary);
	printf("\n}\n");
}

static int cmd_probe(int argc, char **argv)
{
	struct report r;
	struct utsname un;
	bool json = false;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else {
			fprintf(stderr, "ktlsctl probe: unknown option '%s'\n"
				"usage: ktlsctl probe [--json]\n", argv[i]);
			return 2;
		}
	}
	memset(&r, 0, sizeof(r));
	snprintf(r.kernel, sizeof(r.kernel), "%s",
		 uname(&un) == 0 ? un.release : "unknown");
	ktls_probe(&r.caps);
	ktls_caps_summary(&r.caps, r.summary, sizeof(r.summary));
	r.tls_stat = access("/proc/net/tls_stat", F_OK) == 0;
	r.uring.splice = r.uring.send_zc = r.uring.poll_add = -1;
	r.uring.poll_multishot = -1;
	if (read_int_file("/proc/sys/kernel/io_uring_disabled",
			  &r.uring.disabled))
		r.uring.disabled = -1;
	probe_uring(&r.uring);
	probe_tproxy(&r.tproxy);
	if (json)
		print_json(&r);
	else
		print_text(&r);
	return fflush(stdout) == 0 ? 0 : 1;
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: ktlsctl [--help] [--version] COMMAND [ARGS]\n"
"\n"
"commands:\n"
"  probe [--json]   what this kernel offers ktlsd: the tls ULP, each\n"
"                   cipher and TLS version for TX and RX, rekey,\n"
"                   /proc/net/tls_stat, io_uring, TPROXY\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("ktlsctl %s\n", KTLSD_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "probe"))
		return cmd_probe(argc - 1, argv + 1);
	fprintf(stderr, "ktlsctl: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
