/* SPDX-License-Identifier: MIT */
/*
 * options.c - the option table, the value parsers behind it and the
 * handlers of the simple options (numbers, keywords, strings, logging,
 * identity, transparent proxying). The endpoint options have their
 * handlers in options_net.c, the TLS options with tables of their own
 * in options_tls.c.
 *
 * Every stunnel option has an entry, so that an option ktlsd does not
 * implement yet fails the configuration with its name instead of being
 * taken for a typo, and so that -help and doc/options.md can never drift
 * from what the parser accepts. The built-in defaults are the .def texts
 * of the table, parsed by the same handlers as the file.
 */
#include "options.h"
#include "addr.h"
#include "util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <syslog.h>

/* Timeouts are turned into milliseconds by the event loop: keep them
 * small enough for an int of milliseconds. */
#define MAX_TIMEOUT (INT_MAX / 1000)

/* ---- small helpers ------------------------------------------------------ */

void opt_sval_set(struct sval *s, const char *v, struct loc at)
{
	free(s->v);
	s->v = v ? xstrdup(v) : NULL;
	s->at = at;
}

void opt_slist_add(struct slist *l, const char *v, struct loc at)
{
	l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
	l->v[l->n].v = xstrdup(v);
	l->v[l->n].at = at;
	l->n++;
}

void opt_slist_free(struct slist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i].v);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* Where option O is stored: in the config for globals, else in the
 * service being parsed (the defaults before the first section). */
static void *target(struct opt_ctx *p, const struct opt *o)
{
	char *base = o->flags & OPT_GLOBAL ? (char *)p->cfg : (char *)p->cur;

	return base + o->off;
}

int opt_parse_yesno(const char *v, int *out)
{
	if (!strcasecmp(v, "yes"))
		*out = 1;
	else if (!strcasecmp(v, "no"))
		*out = 0;
	else
		return -1;
	return 0;
}

/* A whole decimal number within [MIN, MAX]. */
int opt_parse_num(const char *v, long min, long max, long *out)
{
	char *end;
	long n;

	if (!isdigit((unsigned char)v[0]) &&
	    !(v[0] == '-' && isdigit((unsigned char)v[1])))
		return -1;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || *end || n < min || n > max)
		return -1;
	*out = n;
	return 0;
}

static const char *range_why(struct opt_ctx *p, long min, long max)
{
	snprintf(p->why, sizeof(p->why), "Expected a number from %ld to %ld",
		 min, max);
	return p->why;
}

int opt_kw_lookup(const struct keyword *kw, const char *v, int *out)
{
	for (; kw->name; kw++)
		if (!strcasecmp(kw->name, v)) {
			*out = kw->value;
			return 0;
		}
	return -1;
}

const char *opt_kw_name(const struct keyword *kw, int value)
{
	for (; kw->name; kw++)
		if (kw->value == value)
			return kw->name;
	return "?";
}

/* "Expected a, b or c" */
const char *opt_kw_why(struct opt_ctx *p, const struct keyword *kw)
{
	size_t n = 0;
	int len;

	len = snprintf(p->why, sizeof(p->why), "Expected ");
	for (; kw->name; kw++, n++) {
		const char *sep = !n ? "" : kw[1].name ? ", " : " or ";

		len += snprintf(p->why + len, sizeof(p->why) - len, "%s%s",
				sep, kw->name);
		if ((size_t)len >= sizeof(p->why))
			break;
	}
	return p->why;
}

/* ---- keyword tables ----------------------------------------------------- */

static const struct keyword kw_foreground[] = {
	{ "yes", FG_YES }, { "quiet", FG_QUIET }, { "no", FG_NO }, { 0, 0 } };
static const struct keyword kw_log[] = {
	{ "append", 1 }, { "overwrite", 0 }, { 0, 0 } };
static const struct keyword kw_failover[] = {
	{ "prio", FAILOVER_PRIO }, { "rr", FAILOVER_RR }, { 0, 0 } };
static const struct keyword kw_ktls[] = {
	{ "auto", KTLS_AUTO }, { "required", KTLS_REQUIRED },
	{ "off", KTLS_OFF }, { 0, 0 } };
static const struct keyword kw_io_engine[] = {
	{ "auto", IO_ENGINE_AUTO }, { "uring", IO_ENGINE_URING },
	{ "epoll", IO_ENGINE_EPOLL }, { 0, 0 } };
static const struct keyword kw_transparent[] = {
	{ "none", 0 }, { "no", 0 }, { "source", TRANSPARENT_SOURCE },
	{ "yes", TRANSPARENT_SOURCE }, { "destination", TRANSPARENT_DEST },
	{ "both", TRANSPARENT_SOURCE | TRANSPARENT_DEST }, { 0, 0 } };
static const struct keyword kw_tproxy[] = {
	{ "no", TPROXY_NO }, { "yes", TPROXY_YES }, { "auto", TPROXY_AUTO },
	{ 0, 0 } };
static const struct keyword kw_level[] = {
	{ "emerg", LOG_EMERG }, { "alert", LOG_ALERT }, { "crit", LOG_CRIT },
	{ "err", LOG_ERR }, { "warning", LOG_WARNING },
	{ "notice", LOG_NOTICE }, { "info", LOG_INFO }, { "debug", LOG_DEBUG },
	{ 0, 0 } };
static const struct keyword kw_facility[] = {
	{ "auth", LOG_AUTH }, { "authpriv", LOG_AUTHPRIV },
	{ "cron", LOG_CRON }, { "daemon", LOG_DAEMON }, { "ftp", LOG_FTP },
	{ "kern", LOG_KERN }, { "lpr", LOG_LPR }, { "mail", LOG_MAIL },
	{ "news", LOG_NEWS }, { "syslog", LOG_SYSLOG }, { "user", LOG_USER },
	{ "uucp", LOG_UUCP }, { "local0", LOG_LOCAL0 },
	{ "local1", LOG_LOCAL1 }, { "local2", LOG_LOCAL2 },
	{ "local3", LOG_LOCAL3 }, { "local4", LOG_LOCAL4 },
	{ "local5", LOG_LOCAL5 }, { "local6", LOG_LOCAL6 },
	{ "local7", LOG_LOCAL7 }, { 0, 0 } };

/* ---- generic handlers --------------------------------------------------- */

static const char *set_bool(struct opt_ctx *p, const struct opt *o,
			    const char *v)
{
	return opt_parse_yesno(v, target(p, o)) ? OPT_YESNO : NULL;
}

static const char *set_int(struct opt_ctx *p, const struct opt *o,
			   const char *v)
{
	long n;

	if (opt_parse_num(v, o->min, o->max, &n))
		return range_why(p, o->min, o->max);
	*(int *)target(p, o) = (int)n;
	return NULL;
}

static const char *set_long(struct opt_ctx *p, const struct opt *o,
			    const char *v)
{
	long n;

	if (opt_parse_num(v, o->min, o->max, &n))
		return range_why(p, o->min, o->max);
	*(long *)target(p, o) = n;
	return NULL;
}

/* Keyword options are stored in enums, which gcc lays out as int. */
static const char *set_kw(struct opt_ctx *p, const struct opt *o,
			  const char *v)
{
	if (opt_kw_lookup(o->kw, v, target(p, o)))
		return opt_kw_why(p, o->kw);
	return NULL;
}

/* The last value wins; an empty value unsets the option (so a section
 * can drop a file inherited from the global part), unless OPT_EMPTY says
 * that the empty text itself means something (pid, sni). */
static const char *set_str(struct opt_ctx *p, const struct opt *o,
			   const char *v)
{
	opt_sval_set(target(p, o), *v || o->flags & OPT_EMPTY ? v : NULL,
		     p->at);
	return NULL;
}

static const char *set_list(struct opt_ctx *p, const struct opt *o,
			    const char *v)
{
	if (!*v)
		return "Empty value";
	opt_slist_add(target(p, o), v, p->at);
	return NULL;
}

static const char *set_noeffect(struct opt_ctx *p, const struct opt *o,
				const char *v)
{
	config_notice(p, p->at, "option '%s' has no effect in ktlsd (%s)",
		      o->name, o->note);
	return NULL;
}

/* ---- transparent proxying ----------------------------------------------- */

/* tproxyPort = PORT[,PORT...]: what a TPROXY rule intercepts */
static const char *set_tproxy_port(struct opt_ctx *p, const struct opt *o,
				   const char *v)
{
	char *copy, *tok, *save;
	const char *why = NULL;
	long n;

	if (!*v) {
		opt_sval_set(&p->cur->tproxy_port, NULL, p->at);
		return NULL;
	}
	copy = xstrdup(v);
	for (tok = strtok_r(copy, ",", &save); tok && !why;
	     tok = strtok_r(NULL, ",", &save))
		if (opt_parse_num(tok, 1, 65535, &n)) {
			snprintf(p->why, sizeof(p->why),
				 "Expected ports from 1 to 65535, separated "
				 "by commas: \"%s\"", tok);
			why = p->why;
		}
	free(copy);
	if (!why)
		opt_sval_set(&p->cur->tproxy_port, v, p->at);
	return why;
}

/* sniMap = IP NAME: the server name to send to that server */
static const char *set_sni_map(struct opt_ctx *p, const struct opt *o,
			       const char *v)
{
	unsigned char buf[sizeof(struct in6_addr)];
	const char *sp = strchr(v, ' ');
	char ip[INET6_ADDRSTRLEN];

	if (!sp || (size_t)(sp - v) >= sizeof(ip))
		return "Expected an IP address, a space and a server name";
	snprintf(ip, sizeof(ip), "%.*s", (int)(sp - v), v);
	while (*sp == ' ')
		sp++;
	if ((inet_pton(AF_INET, ip, buf) != 1 &&
	     inet_pton(AF_INET6, ip, buf) != 1) || !*sp || strchr(sp, ' '))
		return "Expected an IP address, a space and a server name";
	opt_slist_add(&p->cur->sni_map, v, p->at);
	return NULL;
}

/* tproxyMark, tproxyTable: decimal or 0x-hexadecimal, 1..2^31-1 */
static const char *set_id32(struct opt_ctx *p, const struct opt *o,
			    const char *v)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(v, &end, 0);
	if (!isdigit((unsigned char)*v) || errno || *end || n < 1 ||
	    n > 0x7fffffff)
		return "Expected a number from 1 to 2147483647 (or 0x1 to "
		       "0x7fffffff)";
	*(long *)target(p, o) = (long)n;
	return NULL;
}

/* protocol = proxy (stunnel: PROXY v1 to the backend) or proxy-v2; the
 * other protocols are not built yet. */
static const char *set_protocol(struct opt_ctx *p, const struct opt *o,
				const char *v)
{
	if (!strcasecmp(v, "proxy"))
		p->cur->proxy_proto = PROXY_V1;
	else if (!strcasecmp(v, "proxy-v2"))
		p->cur->proxy_proto = PROXY_V2;
	else if (!*v)
		p->cur->proxy_proto = PROXY_NONE;
	else {
		snprintf(p->why, sizeof(p->why),
			 "protocol '%s' is not supported yet (built: proxy, "
			 "proxy-v2)", v);
		return p->why;
	}
	return NULL;
}

/* ---- logging, identity -------------------------------------------------- */

/* debug = [FACILITY.]LEVEL */
static const char *set_debug(struct opt_ctx *p, const struct opt *o,
			     const char *v)
{
	const char *dot = strchr(v, '.'), *level = dot ? dot + 1 : v;
	int fac = 0, lvl;

	if (dot) {
		char name[16];

		if (p->in_section)
			return "A syslog facility can only be set in the "
			       "global part";
		snprintf(name, sizeof(name), "%.*s", (int)(dot - v), v);
		if ((size_t)(dot - v) >= sizeof(name) ||
		    opt_kw_lookup(kw_facility, name, &fac))
			return "Unknown syslog facility";
	}
	if (level[0] >= '0' && level[0] <= '7' && !level[1])
		lvl = level[0] - '0';
	else if (opt_kw_lookup(kw_level, level, &lvl))
		return "Unknown debug level; expected emerg, alert, crit, "
		       "err, warning, notice, info, debug or 0-7";
	if (dot)
		p->cfg->facility = fac;
	p->cur->debug_level = lvl;
	return NULL;
}

static const char *set_service(struct opt_ctx *p, const struct opt *o,
			       const char *v)
{
	if (!*v)
		return "Empty service name";
	free(p->cur->service_name);
	p->cur->service_name = xstrdup(v);
	return NULL;
}

/* A user or group name, or a number. Checked now so that a typo fails
 * the configuration rather than the privilege drop after binding. */
static int known_id(const char *v, int group)
{
	char buf[16384];
	long n;

	if (!opt_parse_num(v, 0, INT_MAX, &n))
		return 1;
	if (group) {
		struct group gr, *res = NULL;

		return !getgrnam_r(v, &gr, buf, sizeof(buf), &res) && res;
	} else {
		struct passwd pw, *res = NULL;

		return !getpwnam_r(v, &pw, buf, sizeof(buf), &res) && res;
	}
}

static const char *set_id(struct opt_ctx *p, const struct opt *o,
			  const char *v)
{
	int group = o->min;

	if (*v && !known_id(v, group))
		return group ? "No such group" : "No such user";
	return set_str(p, o, v);
}

static const char *set_io_engine(struct opt_ctx *p, const struct opt *o,
				 const char *v)
{
	int e;

	if (opt_kw_lookup(kw_io_engine, v, &e))
		return opt_kw_why(p, kw_io_engine);
	p->cfg->io_engine = e;
	return NULL;
}

/* ---- the table ---------------------------------------------------------- */

#define SVC(f) .off = offsetof(struct service, f)
#define CFG(f) .off = offsetof(struct config, f)
#define BUILT .status = OPT_BUILT, .owner = "foundation"
#define LATER(who) .status = OPT_LATER, .owner = who
#define WINDOWS .status = OPT_WINDOWS, .owner = "windows"
#define NOEFFECT .status = OPT_NOEFFECT, .owner = "no effect", \
		 .set = set_noeffect
#define ALIAS(a) .status = OPT_ALIAS, .alias = a
#define G (OPT_GLOBAL)
#define NOSEED "OpenSSL 3 seeds itself from the kernel"

const struct opt opt_table[] = {
	/* global options (before the first [section]) */
	{ "chroot", G | OPT_NORELOAD, BUILT, .set = set_str, CFG(chroot),
	  .values = "DIR",
	  .help = "directory to chroot into after binding the listeners" },
	{ "compression", G, LATER("later"), .values = "deflate|zlib",
	  .help = "TLS-level compression (obsolete: CRIME)" },
	{ "EGD", G, NOEFFECT, .values = "PATH",
	  .help = "Entropy Gathering Daemon socket", .note = NOSEED },
	{ "engine", G, LATER("later"), .values = "auto|ENGINE_ID",
	  .help = "load an OpenSSL ENGINE" },
	{ "engineCtrl", G | OPT_REPEAT, LATER("later"), .values = "CMD[:ARG]",
	  .help = "control command for the last engine named" },
	{ "engineDefault", G, LATER("later"), .values = "TASK,...",
	  .help = "tasks delegated to the engine" },
	{ "fips", G, LATER("later"), .values = "yes|no",
	  .help = "enter FIPS mode" },
	{ "foreground", G | OPT_NORELOAD, BUILT, .set = set_kw,
	  CFG(foreground), .kw = kw_foreground, .values = "yes|quiet|no",
	  .def = "no",
	  .help = "do not daemonize; with yes also log to stderr" },
	{ "iconActive", G, WINDOWS, .values = "ICO_FILE",
	  .help = "tray icon with active connections" },
	{ "iconError", G, WINDOWS, .values = "ICO_FILE",
	  .help = "tray icon for an invalid configuration" },
	{ "iconIdle", G, WINDOWS, .values = "ICO_FILE",
	  .help = "tray icon without connections" },
	{ "ioEngine", G | OPT_NORELOAD, BUILT, .set = set_io_engine,
	  CFG(io_engine), .kw = kw_io_engine, .values = "auto|uring|epoll",
	  .def = "auto", .help = "ktlsd: event engine of the workers",
	  .note = "auto: io_uring when the kernel allows it, else epoll" },
	{ "log", G, BUILT, .set = set_kw, CFG(log_append), .kw = kw_log,
	  .values = "append|overwrite", .def = "append",
	  .help = "how the output file is opened" },
	{ "output", G, BUILT, .set = set_str, CFG(output), .values = "FILE",
	  .help = "log file (an absolute path when daemonizing)" },
	{ "pid", G | OPT_NORELOAD | OPT_EMPTY, BUILT, .set = set_str, CFG(pid),
	  .values = "FILE", .def_text = "none",
	  .help = "pid file, created after dropping privileges; empty: none" },
	{ "provider", G, LATER("later"), .values = "ID",
	  .help = "load an OpenSSL 3 provider" },
	{ "providerParameter", G | OPT_REPEAT, LATER("later"),
	  .values = "ID:PARAM=VALUE", .help = "OpenSSL provider parameter" },
	{ "RNDbytes", G, NOEFFECT, .values = "N",
	  .help = "bytes to read from the seed file", .note = NOSEED },
	{ "RNDfile", G, NOEFFECT, .values = "FILE",
	  .help = "PRNG seed file", .note = NOSEED },
	{ "RNDoverwrite", G, NOEFFECT, .values = "yes|no",
	  .help = "rewrite the seed file", .note = NOSEED },
	{ "setEnv", G | OPT_REPEAT, LATER("later"), .values = "NAME=VALUE",
	  .help = "environment variable for exec children" },
	{ "status", G | OPT_NORELOAD, BUILT, .set = opt_set_status, CFG(status),
	  .values = "[HOST:]PORT", .def_text = "none",
	  .help = "ktlsd: address of the built-in plain-HTTP status page" },
	{ "syslog", G, BUILT, .set = set_bool, CFG(syslog), .values = "yes|no",
	  .def = "yes", .help = "log to syslog, with the service name as ident" },
	{ "taskbar", G, WINDOWS, .values = "yes|no",
	  .help = "tray icon" },
	{ "tproxyMark", G, BUILT, .set = set_id32, CFG(tproxy_mark),
	  .values = "N", .def = "0x6b74",
	  .help = "ktlsd: fwmark of packets diverted to a tproxy service",
	  .note = "used by tproxy = auto and by --print-netfilter" },
	{ "tproxyTable", G, BUILT, .set = set_id32, CFG(tproxy_table),
	  .values = "N", .def = "27508",
	  .help = "ktlsd: routing table that delivers marked packets locally",
	  .note = "used by tproxy = auto and by --print-netfilter" },
	{ "workers", G | OPT_NORELOAD, BUILT, .set = set_int, CFG(workers),
	  .min = 0, .max = 256, .values = "0-256", .def = "0",
	  .def_text = "0 (one per core)",
	  .help = "ktlsd: number of worker threads" },

	/* service-level options */
	{ "accept", OPT_REPEAT, BUILT, .set = opt_set_accept,
	  .values = "[HOST:]PORT|/PATH",
	  .help = "listen on this address (only in a [section])" },
	{ "CAengine", OPT_REPEAT, LATER("later"), .values = "ID",
	  .help = "trusted CA certificates from an engine" },
	{ "CAfile", 0, BUILT, .set = set_str, SVC(cafile), .values = "FILE",
	  .help = "PEM bundle of trusted CAs (or pinned peers for verifyPeer)" },
	{ "CApath", 0, BUILT, .set = set_str, SVC(capath), .values = "DIR",
	  .help = "hashed directory of trusted CAs" },
	{ "CAstore", 0, LATER("later"), .values = "URI",
	  .help = "OSSL_STORE URI of trusted CAs" },
	{ "cert", 0, BUILT, .set = set_str, SVC(cert), .values = "FILE",
	  .help = "own certificate chain, leaf first (required in server mode)" },
	{ "checkEmail", OPT_REPEAT, BUILT, .set = set_list, SVC(check_email),
	  .values = "EMAIL", .help = "accept a peer with this email address" },
	{ "checkHost", OPT_REPEAT, BUILT, .set = set_list, SVC(check_host),
	  .values = "HOST", .help = "accept a peer with this host name" },
	{ "checkIP", OPT_REPEAT, BUILT, .set = set_list, SVC(check_ip),
	  .values = "IP", .help = "accept a peer with this IP address" },
	{ "ciphers", 0, BUILT, .set = set_str, SVC(ciphers),
	  .values = "LIST", .def = "HIGH:!aNULL:!SSLv2:!DH:!kDHEPSK",
	  .help = "OpenSSL cipher list for TLS 1.2 and older" },
	{ "ciphersuites", 0, BUILT, .set = set_str, SVC(ciphersuites),
	  .values = "LIST",
	  .def = "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256:"
		 "TLS_CHACHA20_POLY1305_SHA256",
	  .help = "TLS 1.3 cipher suites" },
	{ "client", 0, BUILT, .set = set_bool, SVC(client), .values = "yes|no",
	  .def = "no", .help = "yes: ktlsd is the TLS client of the server" },
	{ "config", OPT_REPEAT, LATER("later"), .values = "CMD[:PARAM]",
	  .help = "raw SSL_CONF_cmd" },
	{ "connect", OPT_REPEAT, BUILT, .set = opt_set_connect,
	  .values = "[HOST:]PORT|/PATH",
	  .help = "server address (no host: localhost)" },
	{ "CRLfile", 0, BUILT, .set = set_str, SVC(crlfile), .values = "FILE",
	  .help = "PEM bundle of CRLs" },
	{ "CRLpath", 0, BUILT, .set = set_str, SVC(crlpath), .values = "DIR",
	  .help = "hashed directory of CRLs" },
	{ "curve", 0, ALIAS("curves") },
	{ "curves", 0, BUILT, .set = set_str, SVC(curves), .values = "a:b:c",
	  .def = "X25519:P-256:X448:P-521:P-384",
	  .help = "key exchange groups" },
	{ "debug", 0, BUILT, .set = set_debug, .values = "[FACILITY.]LEVEL",
	  .def = "daemon.notice",
	  .help = "log level (0-7 or emerg..debug); the syslog facility only "
		  "in the global part" },
	{ "delay", 0, BUILT, .set = set_bool, SVC(delay), .values = "yes|no",
	  .def = "no", .help = "resolve connect for every connection" },
	{ "engineId", 0, LATER("later"), .values = "ID",
	  .help = "engine of this service's key" },
	{ "engineNum", 0, LATER("later"), .values = "N",
	  .help = "engine by number" },
	{ "exec", 0, LATER("later"), .values = "PATH",
	  .help = "run a local inetd-style program" },
	{ "execArgs", 0, LATER("later"), .values = "$0 $1 ...",
	  .help = "arguments of exec, argv[0] included" },
	{ "failover", 0, BUILT, .set = set_kw, SVC(failover),
	  .kw = kw_failover, .values = "prio|rr", .def = "prio",
	  .help = "choice among several connect targets" },
	{ "ident", 0, LATER("later"), .values = "USER",
	  .help = "require this IDENT (RFC 1413) user" },
	{ "include", OPT_REPEAT, BUILT, .set = config_include, .values = "DIR",
	  .help = "read the files of DIR here, in alphabetical order" },
	{ "key", 0, BUILT, .set = set_str, SVC(key), .values = "FILE",
	  .def_text = "the cert file", .help = "private key" },
	{ "ktls", 0, BUILT, .set = set_kw, SVC(ktls), .kw = kw_ktls,
	  .values = "auto|required|off", .def = "auto",
	  .help = "ktlsd: kernel TLS offload (required: refuse connections "
		  "that cannot use it)",
	  .note = "auto: offload each direction that can be, say why not" },
	{ "libwrap", 0, LATER("later"), .values = "yes|no",
	  .help = "TCP Wrappers check" },
	{ "local", 0, BUILT, .set = opt_set_local, .values = "HOST",
	  .help = "source address of connections to the server" },
	{ "logId", 0, LATER("later"),
	  .values = "sequential|unique|thread|process",
	  .help = "connection id in log lines" },
	{ "OCSP", 0, LATER("later"), .values = "URL",
	  .help = "OCSP responder" },
	{ "OCSPaia", 0, LATER("later"), .values = "yes|no",
	  .help = "ask the responders named in the certificates" },
	{ "OCSPflag", OPT_REPEAT, LATER("later"), .values = "FLAG",
	  .help = "OCSP verification flag" },
	{ "OCSPnonce", 0, LATER("later"), .values = "yes|no",
	  .help = "send and check an OCSP nonce" },
	{ "OCSPrequire", 0, LATER("later"), .values = "yes|no",
	  .help = "fail without a conclusive OCSP answer" },
	{ "options", OPT_REPEAT, BUILT, .set = opt_set_options,
	  .values = "NAME|-NAME", .def = "NO_SSLv2 NO_SSLv3",
	  .help = "set (or clear) an OpenSSL SSL_OP_NAME option" },
	{ "protocol", 0, BUILT, .set = set_protocol, .values = "proxy|proxy-v2",
	  .help = "application protocol: proxy sends a PROXY protocol v1 "
		  "header to the server (proxy-v2: version 2, ktlsd)",
	  .note = "smtp, imap, pop3, connect, socks, ... are not supported "
		  "yet" },
	{ "protocolAuthentication", 0, LATER("later"), .values = "basic|ntlm|plain|login",
	  .help = "proxy or SMTP authentication" },
	{ "protocolDomain", 0, LATER("later"), .values = "DOMAIN",
	  .help = "NTLM domain" },
	{ "protocolHeader", OPT_REPEAT, LATER("later"), .values = "NAME: VALUE",
	  .help = "extra header of the CONNECT request" },
	{ "protocolHost", 0, LATER("later"), .values = "HOST[:PORT]",
	  .help = "CONNECT target, EHLO name" },
	{ "protocolPassword", 0, LATER("later"), .values = "PASSWORD",
	  .help = "protocol password" },
	{ "protocolUsername", 0, LATER("later"), .values = "USER",
	  .help = "protocol user name" },
	{ "PSKidentity", 0, LATER("later"), .values = "ID",
	  .help = "PSK identity of the client" },
	{ "PSKsecrets", 0, LATER("later"), .values = "FILE",
	  .help = "PSK IDENTITY:KEY file" },
	{ "pty", 0, LATER("later"), .values = "yes|no",
	  .help = "a pseudo-terminal for exec" },
	{ "redirect", OPT_REPEAT, LATER("later"), .values = "[HOST:]PORT",
	  .help = "where to send clients that fail authentication" },
	{ "renegotiation", 0, BUILT, .set = set_bool, SVC(renegotiation),
	  .values = "yes|no", .def = "yes",
	  .help = "allow TLS 1.2 renegotiation" },
	{ "requireCert", 0, BUILT, .set = set_bool, SVC(require_cert),
	  .values = "yes|no", .def = "no",
	  .help = "require a client certificate (implied by verifyChain "
		  "and verifyPeer)" },
	{ "reset", 0, BUILT, .set = set_bool, SVC(reset), .values = "yes|no",
	  .def = "yes", .help = "close with TCP RST on errors" },
	{ "retry", 0, LATER("later"), .values = "yes|no|MILLISECONDS",
	  .help = "restart an exec+connect service" },
	{ "securityLevel", 0, BUILT, .set = set_int, SVC(security_level),
	  .min = 0, .max = 5, .values = "0-5", .def_text = "2 (OpenSSL's)",
	  .help = "OpenSSL security level" },
	{ "service", 0, BUILT, .set = set_service, .values = "NAME",
	  .def = "stunnel",
	  .help = "syslog ident and inetd-mode service name" },
	{ "session", 0, ALIAS("sessionCacheTimeout") },
	{ "sessionCacheSize", 0, BUILT, .set = set_long,
	  SVC(session_cache_size), .min = 0, .max = INT_MAX, .values = "N",
	  .def = "1000", .help = "server session cache entries (0: no limit)" },
	{ "sessionCacheTimeout", 0, BUILT, .set = set_long,
	  SVC(session_cache_timeout), .min = 0, .max = INT_MAX,
	  .values = "SECONDS", .def = "300", .help = "session lifetime" },
	{ "sessiond", 0, LATER("later"), .values = "HOST:PORT",
	  .help = "external session cache" },
	{ "sessionResume", 0, BUILT, .set = set_bool, SVC(session_resume),
	  .values = "yes|no", .def = "yes", .help = "allow session resumption" },
	{ "setgid", OPT_NORELOAD, BUILT, .set = set_id, SVC(setgid), .min = 1,
	  .values = "GROUP",
	  .help = "global part: group to run as; section: Unix socket group" },
	{ "setuid", OPT_NORELOAD, BUILT, .set = set_id, SVC(setuid), .min = 0,
	  .values = "USER",
	  .help = "global part: user to run as; section: Unix socket owner" },
	{ "sni", OPT_EMPTY, BUILT, .set = set_str, SVC(sni),
	  .values = "PRIMARY:PATTERN|NAME",
	  .def_text = "client: the connect host",
	  .help = "server: virtual host of section PRIMARY; client: the name "
		  "to send (empty: none)" },
	{ "sniMap", OPT_REPEAT, BUILT, .set = set_sni_map,
	  .values = "IP NAME",
	  .help = "ktlsd, client: the server name to send when connecting to "
		  "IP (transparent = destination)",
	  .note = "with verifyChain and no checkHost, the certificate must "
		  "also match NAME" },
	{ "socket", OPT_REPEAT, BUILT, .set = opt_set_socket,
	  .values = "a|l|r:OPTION=VALUE[:VALUE]",
	  .def = "a:SO_REUSEADDR=yes l:TCP_NODELAY=yes r:TCP_NODELAY=yes",
	  .help = "socket option of the accepting, local or remote socket" },
	{ "sslVersion", 0, BUILT, .set = opt_set_version, .min = 0,
	  .values = "all|TLSv1|TLSv1.1|TLSv1.2|TLSv1.3",
	  .help = "set sslVersionMin and sslVersionMax" },
	{ "sslVersionMax", 0, BUILT, .set = opt_set_version, .min = 2,
	  .values = "all|TLSv1|TLSv1.1|TLSv1.2|TLSv1.3", .def_text = "all",
	  .help = "highest TLS version" },
	{ "sslVersionMin", 0, BUILT, .set = opt_set_version, .min = 1,
	  .values = "all|TLSv1|TLSv1.1|TLSv1.2|TLSv1.3", .def_text = "all",
	  .help = "lowest TLS version" },
	{ "stack", 0, NOEFFECT, .values = "BYTES",
	  .help = "thread stack size",
	  .note = "connections do not run on threads of their own" },
	{ "ticketKeySecret", 0, BUILT, .set = opt_set_ticket_key,
	  .values = "HEX", .def_text = "random",
	  .help = "session ticket key, 16 or 32 bytes in hex" },
	{ "ticketMacSecret", 0, BUILT, .set = opt_set_ticket_mac,
	  .values = "HEX", .def_text = "random",
	  .help = "session ticket HMAC key, 16 or 32 bytes in hex" },
	{ "TIMEOUTbusy", 0, BUILT, .set = set_int, SVC(timeout_busy),
	  .max = MAX_TIMEOUT, .values = "SECONDS", .def = "300",
	  .help = "wait for expected data" },
	{ "TIMEOUTclose", 0, BUILT, .set = set_int, SVC(timeout_close),
	  .max = MAX_TIMEOUT, .values = "SECONDS", .def = "60",
	  .help = "wait for close_notify" },
	{ "TIMEOUTconnect", 0, BUILT, .set = set_int, SVC(timeout_connect),
	  .max = MAX_TIMEOUT, .values = "SECONDS", .def = "10",
	  .help = "connect to the server" },
	{ "TIMEOUTidle", 0, BUILT, .set = set_int, SVC(timeout_idle),
	  .max = MAX_TIMEOUT, .values = "SECONDS", .def = "43200",
	  .help = "idle connection lifetime" },
	{ "TIMEOUTocsp", 0, LATER("later"), .values = "SECONDS",
	  .help = "connect to the OCSP responder" },
	{ "tproxy", 0, BUILT, .set = set_kw, SVC(tproxy), .kw = kw_tproxy,
	  .values = "no|yes|auto", .def = "no",
	  .help = "ktlsd: intercept connections to any address diverted by a "
		  "netfilter TPROXY rule (IP_TRANSPARENT listener)",
	  .note = "auto: also install that rule and its policy routing at "
		  "start and remove them at stop" },
	{ "tproxyPort", 0, BUILT, .set = set_tproxy_port,
	  .values = "PORT[,PORT...]", .def_text = "the accept port",
	  .help = "ktlsd: destination ports the TPROXY rule diverts" },
	{ "transparent", 0, BUILT, .set = set_kw, SVC(transparent),
	  .kw = kw_transparent,
	  .values = "none|source|destination|both|yes|no", .def = "none",
	  .help = "source: connect from the client's address; destination: "
		  "connect to the original destination (an endpoint)" },
	{ "verify", 0, LATER("later"), .values = "0-4",
	  .help = "obsolete verification level" },
	{ "verifyChain", 0, BUILT, .set = set_bool, SVC(verify_chain),
	  .values = "yes|no", .def = "no",
	  .help = "verify the peer chain (needs CAfile or CApath)" },
	{ "verifyPeer", 0, BUILT, .set = set_bool, SVC(verify_peer),
	  .values = "yes|no", .def = "no",
	  .help = "the peer leaf must be in CAfile or CApath" },
};

const size_t opt_count = ARRAY_SIZE(opt_table);

const struct opt *opt_find(const char *name, const struct opt **spelled)
{
	size_t i;

	for (i = 0; i < opt_count; i++) {
		if (strcasecmp(opt_table[i].name, name))
			continue;
		*spelled = &opt_table[i];
		if (opt_table[i].status == OPT_ALIAS)
			return opt_find(opt_table[i].alias, &(const struct opt *){ 0 });
		return &opt_table[i];
	}
	return NULL;
}

/* Parse one default text; a failure is a bug in the table, reported like
 * any error so that a test catches it. */
static void apply_default(struct opt_ctx *p, const struct opt *o,
			  const char *v)
{
	const char *why = o->set(p, o, v);

	if (why)
		config_error(p, p->at, "built-in default \"%s = %s\": %s",
			     o->name, v, why);
}

void opt_set_defaults(struct opt_ctx *p)
{
	size_t i;

	p->cur = &p->cfg->defaults;
	p->cur->security_level = -1;
	for (i = 0; i < opt_count; i++) {
		const struct opt *o = &opt_table[i];
		char *copy, *tok, *save;

		if (o->status != OPT_BUILT || !o->def)
			continue;
		if (!(o->flags & OPT_REPEAT)) {
			apply_default(p, o, o->def);
			continue;
		}
		copy = xstrdup(o->def);
		for (tok = strtok_r(copy, " ", &save); tok;
		     tok = strtok_r(NULL, " ", &save))
			apply_default(p, o, tok);
		free(copy);
	}
}
