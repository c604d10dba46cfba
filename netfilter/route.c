/* SPDX-License-Identifier: MIT */
/*
 * route.c - the policy routing of a TPROXY appliance, through
 * libnl-route-3: "fwmark MARK lookup TABLE" and "local 0/0 dev lo table
 * TABLE", per address family.
 */
#include "nftrules.h"
#include "buildconf.h"

#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#if HAVE_LIBNL
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>
#include <netlink/netlink.h>
#include <netlink/route/route.h>
#include <netlink/route/rule.h>

static const int families[2] = { AF_INET, AF_INET6 };

static struct nl_sock *nl_open(char *err, size_t errlen)
{
	struct nl_sock *sk = nl_socket_alloc();
	int rc;

	if (!sk) {
		snprintf(err, errlen, "netlink: out of memory");
		return NULL;
	}
	rc = nl_connect(sk, NETLINK_ROUTE);
	if (rc < 0) {
		snprintf(err, errlen, "netlink: %s", nl_geterror(rc));
		nl_socket_free(sk);
		return NULL;
	}
	return sk;
}

static struct rtnl_rule *make_rule(int family, unsigned long mark,
				   unsigned long table)
{
	struct rtnl_rule *r = rtnl_rule_alloc();

	if (!r)
		return NULL;
	rtnl_rule_set_family(r, family);
	rtnl_rule_set_mark(r, mark);
	rtnl_rule_set_mask(r, 0xffffffff);
	rtnl_rule_set_table(r, table);
	rtnl_rule_set_action(r, FR_ACT_TO_TBL);
	return r;
}

static struct rtnl_route *make_route(int family, unsigned long table)
{
	static const unsigned char zero[16];
	struct rtnl_route *rt = rtnl_route_alloc();
	struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
	struct nl_addr *dst = nl_addr_build(family, zero,
					    family == AF_INET ? 4 : 16);

	if (!rt || !nh || !dst) {
		if (rt)
			rtnl_route_put(rt);
		if (nh)
			rtnl_route_nh_free(nh);
		if (dst)
			nl_addr_put(dst);
		return NULL;
	}
	nl_addr_set_prefixlen(dst, 0);
	rtnl_route_set_family(rt, family);
	rtnl_route_set_table(rt, table);
	rtnl_route_set_type(rt, RTN_LOCAL);
	rtnl_route_set_scope(rt, RT_SCOPE_HOST);
	rtnl_route_set_dst(rt, dst);
	nl_addr_put(dst);
	rtnl_route_nh_set_ifindex(nh, if_nametoindex("lo"));
	rtnl_route_add_nexthop(rt, nh);
	return rt;
}

/* 1 added, 0 it was there already, -1 error */
static int add_one(struct nl_sock *sk, int i, const struct tproxy_routes *st,
		   int route, char *err, size_t errlen)
{
	int rc;

	if (route) {
		struct rtnl_route *rt = make_route(families[i], st->table);

		rc = rt ? rtnl_route_add(sk, rt, NLM_F_EXCL) : -NLE_NOMEM;
		if (rt)
			rtnl_route_put(rt);
	} else {
		struct rtnl_rule *r = make_rule(families[i], st->mark,
						st->table);

		rc = r ? rtnl_rule_add(sk, r, NLM_F_EXCL) : -NLE_NOMEM;
		if (r)
			rtnl_rule_put(r);
	}
	if (rc == -NLE_EXIST)
		return 0;
	if (rc < 0) {
		snprintf(err, errlen, "adding the %s %s: %s",
			 i ? "IPv6" : "IPv4",
			 route ? "local route" : "fwmark rule", nl_geterror(rc));
		return -1;
	}
	return 1;
}

static void del_family(struct nl_sock *sk, struct tproxy_routes *st, int i)
{
	if (st->route_added[i]) {
		struct rtnl_route *rt = make_route(families[i], st->table);

		if (rt) {
			rtnl_route_delete(sk, rt, 0);
			rtnl_route_put(rt);
		}
		st->route_added[i] = 0;
	}
	if (st->rule_added[i]) {
		struct rtnl_rule *r = make_rule(families[i], st->mark,
						st->table);

		if (r) {
			rtnl_rule_delete(sk, r, 0);
			rtnl_rule_put(r);
		}
		st->rule_added[i] = 0;
	}
}

int tproxy_routes_sync(const struct tproxy_plan *p, struct tproxy_routes *st,
		       char *err, size_t errlen)
{
	struct nl_sock *sk = nl_open(err, errlen);
	int i, rc;

	if (!sk)
		return -1;
	for (i = 0; i < 2; i++) {
		int need = p && (i ? p->v6 : p->v4);

		if (!need || st->mark != p->mark || st->table != p->table)
			del_family(sk, st, i);
	}
	if (p) {
		st->mark = p->mark;
		st->table = p->table;
	}
	for (i = 0; p && i < 2; i++) {
		if (!(i ? p->v6 : p->v4))
			continue;
		if (!st->rule_added[i]) {
			rc = add_one(sk, i, st, 0, err, errlen);
			if (rc < 0)
				goto out;
			st->rule_added[i] = rc;
		}
		if (!st->route_added[i]) {
			rc = add_one(sk, i, st, 1, err, errlen);
			if (rc < 0)
				goto out;
			st->route_added[i] = rc;
		}
	}
	rc = 0;
out:
	nl_socket_free(sk);
	return rc;
}

/* Does TABLE hold "local 0/0" for FAMILY? */
static int has_local_default(struct nl_cache *routes, uint32_t table)
{
	struct nl_object *o;

	for (o = nl_cache_get_first(routes); o; o = nl_cache_get_next(o)) {
		struct rtnl_route *rt = (struct rtnl_route *)o;
		struct nl_addr *dst = rtnl_route_get_dst(rt);

		if (rtnl_route_get_table(rt) == table &&
		    rtnl_route_get_type(rt) == RTN_LOCAL &&
		    (!dst || nl_addr_get_prefixlen(dst) == 0))
			return 1;
	}
	return 0;
}

int tproxy_routes_present(int family, char *err, size_t errlen)
{
	struct nl_sock *sk = nl_open(err, errlen);
	struct nl_cache *rules = NULL, *routes = NULL;
	struct nl_object *o;
	int rc, found = 0;

	if (!sk)
		return -1;
	rc = rtnl_rule_alloc_cache(sk, family, &rules);
	if (rc >= 0)
		rc = rtnl_route_alloc_cache(sk, family, 0, &routes);
	if (rc < 0) {
		snprintf(err, errlen, "netlink: %s", nl_geterror(rc));
		found = -1;
	}
	for (o = rc < 0 ? NULL : nl_cache_get_first(rules); o && !found;
	     o = nl_cache_get_next(o)) {
		struct rtnl_rule *r = (struct rtnl_rule *)o;

		if (rtnl_rule_get_mark(r) != 0 &&
		    rtnl_rule_get_mark(r) != 0xffffffff &&
		    rtnl_rule_get_action(r) == FR_ACT_TO_TBL &&
		    has_local_default(routes, rtnl_rule_get_table(r)))
			found = 1;
	}
	if (rules)
		nl_cache_free(rules);
	if (routes)
		nl_cache_free(routes);
	nl_socket_free(sk);
	return found;
}
#else
#define NO_LIBNL "ktlsd was built without libnl-route-3 (apt-get install " \
		 "libnl-route-3-dev, then rebuild)"

int tproxy_routes_sync(const struct tproxy_plan *p, struct tproxy_routes *st,
		       char *err, size_t errlen)
{
	if (!p)
		return 0;
	snprintf(err, errlen, NO_LIBNL);
	return -1;
}

int tproxy_routes_present(int family, char *err, size_t errlen)
{
	snprintf(err, errlen, NO_LIBNL);
	return -1;
}
#endif
