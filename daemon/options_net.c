/* SPDX-License-Identifier: MIT */
/*
 * options_net.c - the handlers of the endpoint options: the addresses of
 * accept, connect, local and status, and socket = a|l|r:OPTION=VALUE
 * with its table of socket options and the ktlsd -sockets printer.
 *
 * sockopt.c applies the parsed socket options to the sockets at run time.
 */
#include "options.h"
#include "addr.h"
#include "util.h"

#include <ctype.h>
#include <limits.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* ---- addresses ---------------------------------------------------------- */

/* The syntax of "[HOST:]PORT" or "/path", checked without resolving so
 * that a connect target that cannot be resolved yet is still known to
 * be well-formed. */
static const char *addr_syntax(struct opt_ctx *p, const char *v, int port0)
{
	const char *colon, *port;
	struct servent se, *res = NULL;
	char buf[1024];
	long n;

	if (!*v)
		return "Empty address";
	if (v[0] == '/')
		return strlen(v) < sizeof(((struct sockaddr_un *)0)->sun_path) ?
			       NULL : "Unix socket path too long";
	colon = strrchr(v, ':');
	port = colon ? colon + 1 : v;
	if (!*port)
		return "No port given";
	if (isdigit((unsigned char)*port)) {
		if (!opt_parse_num(port, port0 ? 0 : 1, 65535, &n))
			return NULL;
		snprintf(p->why, sizeof(p->why), "Invalid port \"%s\"", port);
		return p->why;
	}
	if (getservbyname_r(port, "tcp", &se, buf, sizeof(buf), &res) || !res) {
		snprintf(p->why, sizeof(p->why), "Unknown service name \"%s\"",
			 port);
		return p->why;
	}
	return NULL;
}

const char *opt_set_accept(struct opt_ctx *p, const struct opt *o,
			   const char *v)
{
	const char *why;

	/* Inherited by every section, a global accept would bind the same
	 * address once per section; in inetd mode stdin is the client. */
	if (!p->in_section)
		return "'accept' option is only allowed in a [section]";
	why = addr_syntax(p, v, 1);
	if (why)
		return why;
	if (addr_resolve(v, 1, &p->cur->accept_addrs, p->why,
			 sizeof(p->why)) < 0)
		return p->why;
	opt_slist_add(&p->cur->accept, v, p->at);
	return NULL;
}

/* Resolved when the section is complete: delay = yes may follow. */
const char *opt_set_connect(struct opt_ctx *p, const struct opt *o,
			    const char *v)
{
	const char *why = addr_syntax(p, v, 0);

	if (why)
		return why;
	opt_slist_add(&p->cur->connect, v, p->at);
	return NULL;
}

const char *opt_set_local(struct opt_ctx *p, const struct opt *o,
			  const char *v)
{
	struct service *s = p->cur;
	char *text;
	int rc;

	addrlist_free(&s->local_addrs);
	opt_sval_set(&s->local, NULL, p->at);
	if (!*v)
		return NULL;
	if (v[0] == '/')
		return "Expected a host name or an IP address";
	/* a source address: the kernel picks the port */
	text = xasprintf("%s:0", v);
	rc = addr_resolve(text, 0, &s->local_addrs, p->why, sizeof(p->why));
	free(text);
	if (rc < 0)
		return p->why;
	opt_sval_set(&s->local, v, p->at);
	return NULL;
}

const char *opt_set_status(struct opt_ctx *p, const struct opt *o,
			   const char *v)
{
	struct addrlist tmp = { 0 };
	const char *why;

	if (!*v) {
		opt_sval_set(&p->cfg->status, NULL, p->at);
		return NULL;
	}
	why = addr_syntax(p, v, 1);
	if (why)
		return why;
	if (addr_resolve(v, 1, &tmp, p->why, sizeof(p->why)) < 0)
		return p->why;
	addrlist_free(&tmp);
	opt_sval_set(&p->cfg->status, v, p->at);
	return NULL;
}

/* ---- socket options ----------------------------------------------------- */

struct sockopt_def {
	const char *name;
	int level, optname;
	enum sockopt_type type;
	const char *bsd_only;	/* rejected on Linux, with this advice */
};

#define SOCKOPT(lvl, n, t) { #n, lvl, n, t, NULL }
static const struct sockopt_def sockopt_defs[] = {
	SOCKOPT(SOL_SOCKET, SO_DEBUG, SOV_FLAG),
	SOCKOPT(SOL_SOCKET, SO_DONTROUTE, SOV_FLAG),
	SOCKOPT(SOL_SOCKET, SO_KEEPALIVE, SOV_FLAG),
	SOCKOPT(SOL_SOCKET, SO_LINGER, SOV_LINGER),
	SOCKOPT(SOL_SOCKET, SO_OOBINLINE, SOV_FLAG),
	SOCKOPT(SOL_SOCKET, SO_RCVBUF, SOV_INT),
	SOCKOPT(SOL_SOCKET, SO_SNDBUF, SOV_INT),
	SOCKOPT(SOL_SOCKET, SO_RCVLOWAT, SOV_INT),
	SOCKOPT(SOL_SOCKET, SO_SNDLOWAT, SOV_INT),
	SOCKOPT(SOL_SOCKET, SO_RCVTIMEO, SOV_TIMEVAL),
	SOCKOPT(SOL_SOCKET, SO_SNDTIMEO, SOV_TIMEVAL),
	SOCKOPT(SOL_SOCKET, SO_REUSEADDR, SOV_FLAG),
	SOCKOPT(SOL_SOCKET, SO_BINDTODEVICE, SOV_STRING),
	SOCKOPT(IPPROTO_TCP, TCP_KEEPCNT, SOV_INT),
	SOCKOPT(IPPROTO_TCP, TCP_KEEPIDLE, SOV_INT),
	SOCKOPT(IPPROTO_TCP, TCP_KEEPINTVL, SOV_INT),
	SOCKOPT(IPPROTO_IP, IP_TOS, SOV_INT),
	SOCKOPT(IPPROTO_IP, IP_TTL, SOV_INT),
	SOCKOPT(IPPROTO_TCP, TCP_MAXSEG, SOV_INT),
	SOCKOPT(IPPROTO_TCP, TCP_NODELAY, SOV_FLAG),
	SOCKOPT(IPPROTO_IP, IP_FREEBIND, SOV_FLAG),
	{ "IP_BINDANY", 0, 0, SOV_FLAG,
	  "is BSD-only; on Linux use IP_FREEBIND (binding to an address not "
	  "yet configured) or transparent = source (#5)" },
	{ "IPV6_BINDANY", 0, 0, SOV_FLAG,
	  "is BSD-only; on Linux use IP_FREEBIND (binding to an address not "
	  "yet configured) or transparent = source (#5)" },
	SOCKOPT(IPPROTO_IPV6, IPV6_V6ONLY, SOV_FLAG),
};

/* "yes", "no" or a number, for flags and the on/off half of SO_LINGER */
static int parse_flag(const char *v, int *out)
{
	long n;

	if (!opt_parse_yesno(v, out))
		return 0;
	if (opt_parse_num(v, 0, INT_MAX, &n))
		return -1;
	*out = n;
	return 0;
}

/* "A[:B]" into two numbers; the first may be a flag. */
static int parse_pair(const char *v, int first_flag, long bmax, long *a,
		      long *b)
{
	char buf[32];
	const char *colon = strchr(v, ':');
	int f;

	*b = 0;
	if (snprintf(buf, sizeof(buf), "%.*s",
		     (int)(colon ? colon - v : (long)strlen(v)), v) >=
	    (int)sizeof(buf))
		return -1;
	if (colon && opt_parse_num(colon + 1, 0, bmax, b))
		return -1;
	if (first_flag) {
		if (parse_flag(buf, &f))
			return -1;
		*a = f;
		return 0;
	}
	return opt_parse_num(buf, 0, INT_MAX, a);
}

static const char *sockopt_value(const struct sockopt_def *d, const char *v,
				 struct sockopt_val *out)
{
	long a, b;

	switch (d->type) {
	case SOV_FLAG:
		if (parse_flag(v, &out->u.i))
			return OPT_YESNO " (or a number)";
		return NULL;
	case SOV_INT:
		if (opt_parse_num(v, 0, INT_MAX, &a))
			return "Expected a number";
		out->u.i = a;
		return NULL;
	case SOV_LINGER:
		if (parse_pair(v, 1, INT_MAX, &a, &b))
			return "Expected ONOFF:SECONDS, e.g. yes:10";
		out->u.linger.l_onoff = a;
		out->u.linger.l_linger = b;
		return NULL;
	case SOV_TIMEVAL:
		if (parse_pair(v, 0, 999999, &a, &b))
			return "Expected SECONDS[:MICROSECONDS]";
		out->u.tv.tv_sec = a;
		out->u.tv.tv_usec = b;
		return NULL;
	case SOV_STRING:
		if (!*v || strlen(v) >= IFNAMSIZ)
			return "Expected an interface name";
		snprintf(out->u.str, sizeof(out->u.str), "%s", v);
		return NULL;
	}
	return "Unknown option type";
}

/* "a|l|r:OPTION=VALUE[:VALUE]" into OUT; NULL or why (in WHY). */
static const char *sockopt_parse(const char *v, struct sockopt_val *out,
				 char *why, size_t whylen)
{
	const struct sockopt_def *d = NULL;
	const char *eq;
	size_t i;

	memset(out, 0, sizeof(*out));
	eq = strchr(v, '=');
	if (!v[0] || !strchr("alr", tolower((unsigned char)v[0])) ||
	    v[1] != ':' || !eq)
		return "Expected a|l|r:OPTION=VALUE (a: the listening socket, "
		       "l: the accepted one, r: the one to the server)";
	out->side = tolower((unsigned char)v[0]);
	for (i = 0; i < ARRAY_SIZE(sockopt_defs); i++)
		if (strlen(sockopt_defs[i].name) == (size_t)(eq - v - 2) &&
		    !strncasecmp(sockopt_defs[i].name, v + 2, eq - v - 2))
			d = &sockopt_defs[i];
	if (!d) {
		snprintf(why, whylen,
			 "Unknown socket option \"%.*s\" (ktlsd -sockets lists "
			 "them)", (int)(eq - v - 2), v + 2);
		return why;
	}
	if (d->bsd_only) {
		snprintf(why, whylen, "%s %s", d->name, d->bsd_only);
		return why;
	}
	out->level = d->level;
	out->name = d->optname;
	out->type = d->type;
	out->optname = d->name;
	return sockopt_value(d, eq + 1, out);
}

/* The last setting of one option on one side wins, in place, so the
 * list stays one entry per (side, option) for the code that applies it. */
const char *opt_set_socket(struct opt_ctx *p, const struct opt *o,
			   const char *v)
{
	struct service *s = p->cur;
	struct sockopt_val sv;
	const char *why;
	size_t i;

	why = sockopt_parse(v, &sv, p->why, sizeof(p->why));
	if (why)
		return why;
	sv.at = p->at;
	for (i = 0; i < s->n_sockopts; i++)
		if (s->sockopts[i].side == sv.side &&
		    s->sockopts[i].level == sv.level &&
		    s->sockopts[i].name == sv.name) {
			s->sockopts[i] = sv;
			return NULL;
		}
	s->sockopts = xrealloc(s->sockopts,
			       (s->n_sockopts + 1) * sizeof(*s->sockopts));
	s->sockopts[s->n_sockopts++] = sv;
	return NULL;
}

static void sockopt_format(const struct sockopt_val *v, char *buf, size_t n)
{
	switch (v->type) {
	case SOV_FLAG:
		snprintf(buf, n, "%s", v->u.i ? "yes" : "no");
		break;
	case SOV_INT:
		snprintf(buf, n, "%d", v->u.i);
		break;
	case SOV_LINGER:
		snprintf(buf, n, "%s:%d", v->u.linger.l_onoff ? "yes" : "no",
			 v->u.linger.l_linger);
		break;
	case SOV_TIMEVAL:
		snprintf(buf, n, "%ld:%ld", (long)v->u.tv.tv_sec,
			 (long)v->u.tv.tv_usec);
		break;
	case SOV_STRING:
		snprintf(buf, n, "%s", v->u.str[0] ? v->u.str : "--");
		break;
	}
}

/* The kernel's own default, read from a fresh TCP socket. */
static void sockopt_os_default(int fd, int fd6, const struct sockopt_def *d,
			       char *buf, size_t n)
{
	struct sockopt_val v = { .type = d->type };
	socklen_t len = sizeof(v.u);
	int s = d->level == IPPROTO_IPV6 ? fd6 : fd;

	snprintf(buf, n, "--");
	if (s < 0 || getsockopt(s, d->level, d->optname, &v.u, &len) < 0)
		return;
	if (d->type == SOV_STRING)
		v.u.str[len < sizeof(v.u.str) ? len : sizeof(v.u.str) - 1] = 0;
	sockopt_format(&v, buf, n);
}

/* The accept/local/remote defaults of D, from the table's socket default. */
static void sockopt_default(const struct sockopt_def *d, char side,
			    char *buf, size_t n)
{
	const struct opt *o, *spelled;
	char *copy, *tok, *save, why[128];
	struct sockopt_val v;

	snprintf(buf, n, "--");
	o = opt_find("socket", &spelled);
	copy = xstrdup(o->def);
	for (tok = strtok_r(copy, " ", &save); tok;
	     tok = strtok_r(NULL, " ", &save))
		if (!sockopt_parse(tok, &v, why, sizeof(why)) &&
		    v.side == side && !strcmp(v.optname, d->name))
			sockopt_format(&v, buf, n);
	free(copy);
}

void config_print_sockets(FILE *out)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int fd6 = socket(AF_INET6, SOCK_STREAM, 0);
	char a[80], l[80], r[80], os[80];
	size_t i;

	fprintf(out, "Socket option defaults:\n");
	fprintf(out, "    %-16s|%10s|%10s|%10s|%10s\n", "Option Name",
		"Accept", "Local", "Remote", "OS default");
	fprintf(out, "    ----------------+----------+----------+----------"
		     "+----------\n");
	for (i = 0; i < ARRAY_SIZE(sockopt_defs); i++) {
		const struct sockopt_def *d = &sockopt_defs[i];

		if (d->bsd_only)
			continue;
		sockopt_default(d, 'a', a, sizeof(a));
		sockopt_default(d, 'l', l, sizeof(l));
		sockopt_default(d, 'r', r, sizeof(r));
		sockopt_os_default(fd, fd6, d, os, sizeof(os));
		fprintf(out, "    %-16s|%10s|%10s|%10s|%10s\n", d->name, a, l,
			r, os);
	}
	if (fd >= 0)
		close(fd);
	if (fd6 >= 0)
		close(fd6);
}
