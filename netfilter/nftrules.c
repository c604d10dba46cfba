/* SPDX-License-Identifier: MIT */
#include "nftrules.h"
#include "buildconf.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if HAVE_LIBNFTABLES
#include <nftables/libnftables.h>
#endif

void tproxy_plan_add(struct tproxy_plan *p, const struct tproxy_rule *r)
{
	p->rules = xrealloc(p->rules, (p->n + 1) * sizeof(*r));
	p->rules[p->n++] = *r;
	if (r->family == AF_INET)
		p->v4 = 1;
	else
		p->v6 = 1;
}

void tproxy_plan_free(struct tproxy_plan *p)
{
	free(p->rules);
	p->rules = NULL;
	p->n = 0;
}

/* A growing text buffer (open_memstream). */
struct text {
	char *buf;
	size_t len;
	FILE *f;
};

static void text_open(struct text *t)
{
	t->buf = NULL;
	t->len = 0;
	t->f = open_memstream(&t->buf, &t->len);
	if (!t->f)
		abort();
}

static char *text_close(struct text *t)
{
	if (fclose(t->f))
		abort();
	return t->buf;
}

static void script_body(FILE *f, const struct tproxy_plan *p)
{
	size_t i;

	fprintf(f, "table inet %s\n", NFT_TABLE_NAME);
	fprintf(f, "delete table inet %s\n", NFT_TABLE_NAME);
	fprintf(f, "table inet %s {\n", NFT_TABLE_NAME);
	fprintf(f, "\tchain prerouting {\n");
	fprintf(f, "\t\ttype filter hook prerouting priority mangle; "
		   "policy accept;\n");
	fprintf(f, "\t\tmeta l4proto tcp socket transparent 1 "
		   "meta mark set 0x%lx accept comment \"transparent "
		   "sockets\"\n", p->mark);
	for (i = 0; i < p->n; i++) {
		const struct tproxy_rule *r = &p->rules[i];
		int v6 = r->family == AF_INET6;

		fprintf(f, "\t\tmeta nfproto %s tcp dport { %s } tproxy %s to "
			   "%s%s%s:%d meta mark set 0x%lx accept comment "
			   "\"[%s]\"\n", v6 ? "ipv6" : "ipv4", r->ports,
			v6 ? "ip6" : "ip", v6 && *r->to ? "[" : "", r->to,
			v6 && *r->to ? "]" : "", r->to_port, p->mark, r->name);
	}
	fprintf(f, "\t}\n}\n");
}

char *nft_script(const struct tproxy_plan *p)
{
	struct text t;

	text_open(&t);
	script_body(t.f, p);
	return text_close(&t);
}

char *tproxy_plan_text(const struct tproxy_plan *p)
{
	static const char *fam[2][3] = { { "ip", "0.0.0.0/0", "v4" },
					 { "ip -6", "::/0", "v6" } };
	struct text t;
	int i;

	text_open(&t);
	fprintf(t.f, "# ktlsd: the netfilter and routing state of its "
		     "tproxy services\n# set up:\nnft -f - <<'EOF'\n");
	script_body(t.f, p);
	fprintf(t.f, "EOF\n");
	for (i = 0; i < 2; i++) {
		if (!(i ? p->v6 : p->v4))
			continue;
		fprintf(t.f, "%s rule add fwmark 0x%lx lookup %lu\n",
			fam[i][0], p->mark, p->table);
		fprintf(t.f, "%s route add local %s dev lo table %lu\n",
			fam[i][0], fam[i][1], p->table);
	}
	fprintf(t.f, "# tear down:\nnft delete table inet %s\n",
		NFT_TABLE_NAME);
	for (i = 0; i < 2; i++) {
		if (!(i ? p->v6 : p->v4))
			continue;
		fprintf(t.f, "%s rule del fwmark 0x%lx lookup %lu\n",
			fam[i][0], p->mark, p->table);
		fprintf(t.f, "%s route del local %s dev lo table %lu\n",
			fam[i][0], fam[i][1], p->table);
	}
	return text_close(&t);
}

#if HAVE_LIBNFTABLES
static int nft_run(const char *script, int quiet_enoent, char *err,
		   size_t errlen)
{
	struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	const char *msg;
	int rc;

	if (!ctx) {
		snprintf(err, errlen, "nft_ctx_new failed");
		return -1;
	}
	nft_ctx_buffer_output(ctx);
	nft_ctx_buffer_error(ctx);
	rc = nft_run_cmd_from_buffer(ctx, script);
	msg = nft_ctx_get_error_buffer(ctx);
	if (rc && quiet_enoent && msg && strstr(msg, "No such file"))
		rc = 0;
	if (rc) {
		/* nft's first line is the reason; the rest quotes the
		 * script with a caret under the culprit */
		snprintf(err, errlen, "%.*s", (int)strcspn(msg ? msg : "", "\n"),
			 msg && *msg ? msg : "nft failed");
	}
	nft_ctx_free(ctx);
	return rc ? -1 : 0;
}

int nft_apply(const char *script, char *err, size_t errlen)
{
	return nft_run(script, 0, err, errlen);
}

int nft_remove(char *err, size_t errlen)
{
	return nft_run("delete table inet " NFT_TABLE_NAME "\n", 1, err,
		       errlen);
}
#else
int nft_apply(const char *script, char *err, size_t errlen)
{
	snprintf(err, errlen, "ktlsd was built without libnftables "
		 "(apt-get install libnftables-dev, then rebuild)");
	return -1;
}

int nft_remove(char *err, size_t errlen)
{
	return nft_apply(NULL, err, errlen);
}
#endif
