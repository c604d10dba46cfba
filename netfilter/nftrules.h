/* SPDX-License-Identifier: MIT */
/*
 * nftrules.h - the netfilter and policy-routing state a TPROXY appliance
 * needs, as one plan that can be printed (for admins who run their own
 * firewall) or installed and removed (tproxy = auto).
 *
 * Installed state:
 *  - an nftables table "inet ktlsd" owned by ktlsd: packets of sockets
 *    that are already transparent (replies to a spoofed source, the rest
 *    of an intercepted connection) are marked; new connections to the
 *    intercepted ports are diverted with TPROXY to the listener and
 *    marked. The table is replaced atomically and deleted as a whole.
 *  - per address family: "ip rule fwmark MARK lookup TABLE" and
 *    "local 0.0.0.0/0 (::/0) dev lo" in TABLE, so that marked packets
 *    are delivered to the local sockets (libnl-route-3). Only what was
 *    added is removed: a rule or route that existed before is left.
 */
#ifndef KTLSD_NFTRULES_H
#define KTLSD_NFTRULES_H

#include <netinet/in.h>
#include <stddef.h>

#define NFT_TABLE_NAME "ktlsd"

struct tproxy_rule {
	int family;			/* AF_INET or AF_INET6 */
	char to[INET6_ADDRSTRLEN];	/* listener address; "" = any */
	int to_port;			/* listener port */
	char ports[128];		/* intercepted ports: "443", "80,443" */
	char name[64];			/* the service, for the comment */
};

struct tproxy_plan {
	unsigned long mark, table;
	int v4, v6;			/* families that need routing */
	struct tproxy_rule *rules;
	size_t n;
};

/* Append a rule (copied) and note its family. */
void tproxy_plan_add(struct tproxy_plan *p, const struct tproxy_rule *r);
void tproxy_plan_free(struct tproxy_plan *p);

/* The nft script (nft -f syntax) that replaces the table; malloc'ed. */
char *nft_script(const struct tproxy_plan *p);

/* Everything an admin runs to set up (and tear down) the same state by
 * hand: the nft script and the ip rule/route commands; malloc'ed. */
char *tproxy_plan_text(const struct tproxy_plan *p);

/* Run SCRIPT through libnftables; 0, or -1 with nft's message in ERR. */
int nft_apply(const char *script, char *err, size_t errlen);
/* Delete the table if it exists; 0 or -1 with ERR. */
int nft_remove(char *err, size_t errlen);

/* Policy routing (libnl-route-3): what ktlsd added, per family (0: v4,
 * 1: v6). Zero-initialised means nothing. */
struct tproxy_routes {
	unsigned long mark, table;
	int rule_added[2], route_added[2];
};

/* Make the routing ktlsd added match plan P (NULL: none): the fwmark rule
 * and the local default route of each family P needs are added unless
 * they exist already (those are left alone, never removed), and what ST
 * recorded but P no longer needs is removed. 0, or -1 with the reason in
 * ERR (ST then still records what is in place). */
int tproxy_routes_sync(const struct tproxy_plan *p, struct tproxy_routes *st,
		       char *err, size_t errlen);

/* Is there, for FAMILY, a fwmark rule whose table holds a local default
 * route (set up by hand for tproxy = yes)? 1 yes, 0 no, -1 with ERR. */
int tproxy_routes_present(int family, char *err, size_t errlen);

#endif
