/* SPDX-License-Identifier: MIT */
#include "transparent.h"
#include "log.h"
#include "nftrules.h"
#include "tproxy.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* What tproxy = auto installed (main thread only). */
static struct tproxy_routes routes;
static int nft_in_place;

static int uses_ip_transparent(const struct service *s)
{
	return s->tproxy != TPROXY_NO || s->transparent & TRANSPARENT_SOURCE;
}

int transparent_needs_net_admin(const struct config *cfg)
{
	size_t i;

	for (i = 0; i < cfg->n_services; i++)
		if (uses_ip_transparent(cfg->services[i]))
			return 1;
	return 0;
}

int transparent_needs_bind_service(const struct config *cfg)
{
	size_t i, j;

	for (i = 0; i < cfg->n_services; i++) {
		const struct addrlist *al = &cfg->services[i]->accept_addrs;

		for (j = 0; j < al->n; j++) {
			int port = addr_port((const struct sockaddr *)&al->a[j].ss);

			if (port > 0 && port < 1024)
				return 1;
		}
	}
	return 0;
}

static int is_any(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ((const struct sockaddr_in *)ss)->sin_addr.s_addr ==
		       htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(
		&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

static void add_rule(struct tproxy_plan *plan, const struct service *s,
		     int family, const struct addr *a)
{
	struct tproxy_rule r = { .family = family };
	int port = addr_port((const struct sockaddr *)&a->ss);
	const void *in = a->ss.ss_family == AF_INET ?
		(const void *)&((const struct sockaddr_in *)&a->ss)->sin_addr :
		(const void *)&((const struct sockaddr_in6 *)&a->ss)->sin6_addr;

	if (!is_any(&a->ss))
		inet_ntop(family, in, r.to, sizeof(r.to));
	r.to_port = port;
	if (s->tproxy_port.v)
		snprintf(r.ports, sizeof(r.ports), "%s", s->tproxy_port.v);
	else
		snprintf(r.ports, sizeof(r.ports), "%d", port);
	snprintf(r.name, sizeof(r.name), "%s", s->name);
	tproxy_plan_add(plan, &r);
}

/* socket = a:IPV6_V6ONLY=yes: an [::] listener that takes no IPv4 */
static int v6only(const struct service *s)
{
	size_t i;
	int on = 0;

	for (i = 0; i < s->n_sockopts; i++)
		if (s->sockopts[i].side == SOCKSIDE_ACCEPT &&
		    s->sockopts[i].level == IPPROTO_IPV6 &&
		    s->sockopts[i].name == IPV6_V6ONLY)
			on = s->sockopts[i].u.i;
	return on;
}

/* The rules of the services with tproxy = auto (ALL: yes as well). */
static void build_plan(const struct config *cfg, int all,
		       struct tproxy_plan *plan)
{
	size_t i, j;

	memset(plan, 0, sizeof(*plan));
	plan->mark = cfg->tproxy_mark;
	plan->table = cfg->tproxy_table;
	for (i = 0; i < cfg->n_services; i++) {
		const struct service *s = cfg->services[i];

		if (s->tproxy == TPROXY_NO ||
		    (!all && s->tproxy != TPROXY_AUTO))
			continue;
		for (j = 0; j < s->accept_addrs.n; j++) {
			const struct addr *a = &s->accept_addrs.a[j];

			if (a->ss.ss_family != AF_INET &&
			    a->ss.ss_family != AF_INET6)
				continue;
			/* a dual-stack [::] listener takes IPv4 too */
			if (a->ss.ss_family == AF_INET6 && is_any(&a->ss) &&
			    !v6only(s))
				add_rule(plan, s, AF_INET, a);
			add_rule(plan, s, a->ss.ss_family, a);
		}
	}
}

char *transparent_plan_text(const struct config *cfg)
{
	struct tproxy_plan plan;
	char *text = NULL;

	build_plan(cfg, 1, &plan);
	if (plan.n)
		text = tproxy_plan_text(&plan);
	tproxy_plan_free(&plan);
	return text;
}

#define NEED_CAP "run ktlsd as root, or give it CAP_NET_ADMIN (for " \
		 "example AmbientCapabilities=CAP_NET_ADMIN in its systemd unit)"
static const char *need_cap = NEED_CAP;
static const char *need_cap_hint = ": " NEED_CAP;

static int check_privileges(const struct config *cfg)
{
	size_t i;

	for (i = 0; i < cfg->n_services; i++) {
		const struct service *s = cfg->services[i];

		if (!uses_ip_transparent(s))
			continue;
		if (tproxy_check_allowed(AF_INET) == 0)
			return 0;
		logm(LOG_ERR, "Service [%s]: %s needs IP_TRANSPARENT, which "
		     "was refused (%s): %s", s->name,
		     s->tproxy != TPROXY_NO ? "tproxy" : "transparent = source",
		     strerror(errno), need_cap);
		return -1;
	}
	return 0;
}

/* tproxy = yes: the admin's policy routing must be there. */
static int check_routing(const struct config *cfg)
{
	size_t i, j;
	char err[160];

	for (i = 0; i < cfg->n_services; i++) {
		const struct service *s = cfg->services[i];
		int seen[2] = { 0, 0 };

		if (s->tproxy != TPROXY_YES)
			continue;
		for (j = 0; j < s->accept_addrs.n; j++) {
			int fam = s->accept_addrs.a[j].ss.ss_family;
			int v6 = fam == AF_INET6, rc;

			if (seen[v6]++)
				continue;
			rc = tproxy_routes_present(fam, err, sizeof(err));
			if (rc > 0)
				continue;
			if (rc < 0)
				logm(LOG_ERR, "Service [%s]: checking the policy "
				     "routing: %s", s->name, err);
			else
				logm(LOG_ERR, "Service [%s]: tproxy = yes, but no "
				     "%s policy routing delivers marked "
				     "packets locally (an 'ip%s rule add "
				     "fwmark M lookup T' with 'ip%s route add "
				     "local %s dev lo table T'): add it "
				     "('ktlsd --print-netfilter FILE' prints "
				     "the commands) or set tproxy = auto",
				     s->name, v6 ? "IPv6" : "IPv4",
				     v6 ? " -6" : "", v6 ? " -6" : "",
				     v6 ? "::/0" : "0.0.0.0/0");
			return -1;
		}
	}
	return 0;
}

static void log_nft_error(const char *what, const char *err)
{
	const char *hint = "";

	if (strstr(err, "No such file"))
		hint = " (does the kernel have nft_tproxy and nft_socket? "
		       "modprobe nft_tproxy nft_socket)";
	else if (strstr(err, "Operation not permitted"))
		hint = need_cap_hint;
	logm(LOG_ERR, "tproxy: %s the nftables table inet %s: %s%s", what,
	     NFT_TABLE_NAME, err, hint);
}

void transparent_teardown(void)
{
	char err[256];

	if (nft_in_place) {
		if (nft_remove(err, sizeof(err)) < 0)
			log_nft_error("removing", err);
		else
			logm(LOG_NOTICE, "tproxy: removed the nftables table "
			     "inet %s", NFT_TABLE_NAME);
		nft_in_place = 0;
	}
	if (routes.rule_added[0] || routes.rule_added[1] ||
	    routes.route_added[0] || routes.route_added[1]) {
		tproxy_routes_sync(NULL, &routes, err, sizeof(err));
		logm(LOG_NOTICE, "tproxy: removed the policy routing it added "
		     "(fwmark 0x%lx, table %lu)", routes.mark, routes.table);
	}
}

int transparent_apply(const struct config *cfg)
{
	struct tproxy_plan plan;
	char err[256], *script;
	int rc = -1;

	if (check_privileges(cfg) < 0 || check_routing(cfg) < 0)
		return -1;
	build_plan(cfg, 0, &plan);
	if (!plan.n) {
		transparent_teardown();
		return 0;
	}
	if (tproxy_routes_sync(&plan, &routes, err, sizeof(err)) < 0) {
		logm(LOG_ERR, "tproxy: policy routing: %s%s", err,
		     strstr(err, "ermitted") ? need_cap_hint : "");
		goto out;
	}
	script = nft_script(&plan);
	if (nft_apply(script, err, sizeof(err)) < 0) {
		log_nft_error("installing", err);
		free(script);
		goto out;
	}
	free(script);
	nft_in_place = 1;
	logm(LOG_NOTICE, "tproxy: nftables table inet %s in place (%zu "
	     "rule(s)); policy routing fwmark 0x%lx -> table %lu (%s%s%s)",
	     NFT_TABLE_NAME, plan.n, plan.mark, plan.table,
	     plan.v4 ? "IPv4" : "", plan.v4 && plan.v6 ? ", " : "",
	     plan.v6 ? "IPv6" : "");
	rc = 0;
out:
	tproxy_plan_free(&plan);
	return rc;
}

int transparent_listener(const struct service *svc, int fd, int family)
{
	if (family != AF_INET && family != AF_INET6)
		return 0;
	return tproxy_set_transparent(fd, family, svc->tproxy != TPROXY_NO);
}

/* ---- per connection ------------------------------------------------------ */

/* Would connecting to T reach one of CFG's own listeners? */
static int is_own_listener(const struct config *cfg, const struct addr *t)
{
	size_t i, j;

	for (i = 0; i < cfg->n_services; i++) {
		const struct addrlist *al = &cfg->services[i]->accept_addrs;

		for (j = 0; j < al->n; j++) {
			struct addr l = al->a[j];

			tproxy_unmap(&l.ss, &l.len);
			if (l.ss.ss_family != t->ss.ss_family ||
			    addr_port((struct sockaddr *)&l.ss) !=
				    addr_port((const struct sockaddr *)&t->ss))
				continue;
			if (addr_equal(&l, t) ||
			    (is_any(&l.ss) &&
			     tproxy_is_local((const struct sockaddr *)&t->ss,
					     t->len) != 0))
				return 1;
		}
	}
	return 0;
}

int transparent_orig_dst(const struct config *cfg, const struct service *svc,
			 int cfd, struct addr *out, char *why, size_t len)
{
	char a[ADDR_STRLEN];

	if (tproxy_orig_dst(cfd, svc->tproxy != TPROXY_NO, &out->ss,
			    &out->len) < 0) {
		snprintf(why, len, "no original destination (%s)%s",
			 strerror(errno), errno == ENOENT ? ": the connection "
			 "was not redirected by netfilter" : "");
		return -1;
	}
	tproxy_unmap(&out->ss, &out->len);
	if (is_own_listener(cfg, out)) {
		snprintf(why, len, "loop: the original destination %s is "
			 "ktlsd's own listener",
			 addr_format((struct sockaddr *)&out->ss, out->len, a,
				     sizeof(a)));
		return -1;
	}
	return 0;
}

int transparent_source(int cfd, int fd, int target_family, char *why,
		       size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char a[ADDR_STRLEN];

	if (getpeername(cfd, (struct sockaddr *)&ss, &sl) < 0) {
		snprintf(why, len, "transparent = source: getpeername: %s",
			 strerror(errno));
		return -1;
	}
	tproxy_unmap(&ss, &sl);
	addr_format((struct sockaddr *)&ss, sl, a, sizeof(a));
	if (ss.ss_family != target_family) {
		snprintf(why, len, "transparent = source: the client %s and "
			 "the server are not of the same address family", a);
		return -1;
	}
	if (tproxy_bind_source(fd, (struct sockaddr *)&ss, sl) < 0) {
		snprintf(why, len, "transparent = source: binding to %s: %s",
			 a, strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- PROXY protocol (HAProxy's proxy-protocol.txt) ----------------------- */

static const unsigned char v2_sig[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
					  0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a };

static size_t proxy_v1(char *buf, size_t n, const struct sockaddr_storage *src,
		       const struct sockaddr_storage *dst)
{
	char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
	int v6 = src->ss_family == AF_INET6;
	const void *sa = v6 ? (const void *)&((const struct sockaddr_in6 *)src)->sin6_addr
			    : (const void *)&((const struct sockaddr_in *)src)->sin_addr;
	const void *da = v6 ? (const void *)&((const struct sockaddr_in6 *)dst)->sin6_addr
			    : (const void *)&((const struct sockaddr_in *)dst)->sin_addr;

	if (src->ss_family != dst->ss_family)
		return snprintf(buf, n, "PROXY UNKNOWN\r\n");
	inet_ntop(src->ss_family, sa, s, sizeof(s));
	inet_ntop(src->ss_family, da, d, sizeof(d));
	return snprintf(buf, n, "PROXY TCP%c %s %s %d %d\r\n", v6 ? '6' : '4',
			s, d, addr_port((const struct sockaddr *)src),
			addr_port((const struct sockaddr *)dst));
}

static size_t proxy_v2(unsigned char *buf, const struct sockaddr_storage *src,
		       const struct sockaddr_storage *dst)
{
	size_t n = sizeof(v2_sig) + 4, alen = 0;
	uint16_t sp = htons(addr_port((const struct sockaddr *)src));
	uint16_t dp = htons(addr_port((const struct sockaddr *)dst));

	memcpy(buf, v2_sig, sizeof(v2_sig));
	buf[12] = 0x21;			/* version 2, PROXY */
	buf[13] = 0x00;			/* AF_UNSPEC */
	if (src->ss_family == dst->ss_family && src->ss_family == AF_INET) {
		buf[13] = 0x11;		/* TCP over IPv4 */
		alen = 4;
		memcpy(buf + n, &((const struct sockaddr_in *)src)->sin_addr, 4);
		memcpy(buf + n + 4, &((const struct sockaddr_in *)dst)->sin_addr, 4);
	} else if (src->ss_family == dst->ss_family) {
		buf[13] = 0x21;		/* TCP over IPv6 */
		alen = 16;
		memcpy(buf + n, &((const struct sockaddr_in6 *)src)->sin6_addr, 16);
		memcpy(buf + n + 16, &((const struct sockaddr_in6 *)dst)->sin6_addr,
		       16);
	}
	if (alen) {
		memcpy(buf + n + 2 * alen, &sp, 2);
		memcpy(buf + n + 2 * alen + 2, &dp, 2);
		alen = 2 * alen + 4;
	}
	buf[14] = alen >> 8;
	buf[15] = alen & 0xff;
	return n + alen;
}

int transparent_proxy_header(const struct service *svc, int cfd, int fd,
			     char *why, size_t len)
{
	struct sockaddr_storage src, dst;
	socklen_t sl = sizeof(src), dl;
	unsigned char buf[128];
	size_t n;
	ssize_t w;

	if (getpeername(cfd, (struct sockaddr *)&src, &sl) < 0 ||
	    tproxy_orig_dst(cfd, !(svc->transparent & TRANSPARENT_DEST) ||
				 svc->tproxy != TPROXY_NO, &dst, &dl) < 0) {
		snprintf(why, len, "PROXY header: the client's addresses: %s",
			 strerror(errno));
		return -1;
	}
	tproxy_unmap(&src, &sl);
	tproxy_unmap(&dst, &dl);
	if (src.ss_family != AF_INET && src.ss_family != AF_INET6)
		src.ss_family = AF_UNSPEC;	/* a Unix socket client */
	if (svc->proxy_proto == PROXY_V1)
		n = proxy_v1((char *)buf, sizeof(buf), &src, &dst);
	else
		n = proxy_v2(buf, &src, &dst);
	/* the first bytes on a fresh connection: the send buffer is empty */
	w = send(fd, buf, n, MSG_NOSIGNAL);
	if (w != (ssize_t)n) {
		snprintf(why, len, "PROXY header: send: %s",
			 w < 0 ? strerror(errno) : "short write");
		return -1;
	}
	return 0;
}
