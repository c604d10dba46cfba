/* SPDX-License-Identifier: MIT */
/*
 * config.c - the stunnel.conf grammar (files, lines, [sections], inline
 * includes) and the checks that need a finished section (endpoints, SNI
 * links, certificates, address resolution). The -help and markdown
 * printers of the option table in options.c are in config_print.c.
 *
 * Parsing never stops at the first problem: every error is reported, as
 * "FILE:LINE: message", and config_load() returns NULL if there was any,
 * so a reload with a broken file keeps the old configuration in force.
 */
#include "config.h"
#include "addr.h"
#include "options.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* stunnel refuses deep include chains the same way: a directory that
 * includes itself would otherwise recurse until the stack runs out. */
#define MAX_INCLUDE_DEPTH 16

/* ---- reporting ---------------------------------------------------------- */

/* Every message of the parser is made here: "FILE:LINE: " (none when AT
 * is NULL), then PREFIX (NULL: none), then FMT. The caller frees it. */
static char *__printf(3, 0) vformat(const struct loc *at, const char *prefix,
				    const char *fmt, va_list ap)
{
	char *msg, *line;

	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	if (!prefix)
		prefix = "";
	if (at)
		line = xasprintf("%s:%d: %s%s", at->file, at->line, prefix,
				 msg);
	else
		line = xasprintf("%s%s", prefix, msg);
	free(msg);
	return line;
}

/* The one error reporter behind the others: counts the error and hands
 * the message (see vformat()) to the caller of config_load(). */
static void __printf(4, 0) verror(struct opt_ctx *p, const struct loc *at,
				  const char *prefix, const char *fmt,
				  va_list ap)
{
	char *line = vformat(at, prefix, fmt, ap);

	p->errors++;
	if (p->report)
		p->report(p->arg, line);
	free(line);
}

void config_error(struct opt_ctx *p, struct loc at, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verror(p, &at, NULL, fmt, ap);
	va_end(ap);
}

void config_notice(struct opt_ctx *p, struct loc at, const char *fmt, ...)
{
	va_list ap;
	char *line;

	va_start(ap, fmt);
	line = vformat(&at, NULL, fmt, ap);
	va_end(ap);
	opt_slist_add(&p->cfg->notices, line, at);
	free(line);
}

/* A problem of a whole section, reported at its [name] line. In inetd
 * mode the "section" is the global part, checked at the end of the file,
 * as stunnel does. */
static void __printf(3, 4) svc_error(struct opt_ctx *p,
				     const struct service *s,
				     const char *fmt, ...)
{
	struct config *cfg = p->cfg;
	struct loc at = s->at;
	char *prefix = NULL;
	va_list ap;

	if (s == &cfg->defaults)
		at = (struct loc){ cfg->files[0], p->last_line };
	else
		prefix = xasprintf("[%s]: ", s->name);
	va_start(ap, fmt);
	verror(p, &at, prefix, fmt, ap);
	va_end(ap);
	free(prefix);
}

/* ---- services: copy and free -------------------------------------------- */

/* Every heap-owning field of struct service is listed here or handled in
 * svc_copy()/svc_clear(): a field added to config.h must be added too. */
#define SVC_SVALS(s) { &(s)->local, &(s)->cert, &(s)->key, &(s)->cafile, \
	&(s)->capath, &(s)->crlfile, &(s)->crlpath, &(s)->ciphers,         \
	&(s)->ciphersuites, &(s)->curves, &(s)->sni, &(s)->setuid,         \
	&(s)->setgid, &(s)->tproxy_port }
#define SVC_SLISTS(s) { &(s)->accept, &(s)->connect, &(s)->check_host,  \
	&(s)->check_email, &(s)->check_ip, &(s)->sni_map }
#define SVC_ADDRS(s) { &(s)->accept_addrs, &(s)->connect_addrs,         \
	&(s)->local_addrs }

static char *strdup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

/* A new [section] starts as a deep copy of the global part (stunnel's
 * CMD_SET_COPY); the name, SNI links and TLS state are its own. */
static void svc_copy(struct service *dst, const struct service *src)
{
	struct sval *sv[] = SVC_SVALS(dst);
	struct slist *sl[] = SVC_SLISTS(dst);
	struct addrlist *al[] = SVC_ADDRS(dst);
	size_t i, j;

	*dst = *src;
	for (i = 0; i < ARRAY_SIZE(sv); i++)
		sv[i]->v = strdup_or_null(sv[i]->v);
	for (i = 0; i < ARRAY_SIZE(sl); i++) {
		struct slist l = *sl[i];

		*sl[i] = (struct slist){ 0 };
		for (j = 0; j < l.n; j++)
			opt_slist_add(sl[i], l.v[j].v, l.v[j].at);
	}
	for (i = 0; i < ARRAY_SIZE(al); i++) {
		struct addrlist l = *al[i];

		addrlist_copy(al[i], &l);
	}
	dst->name = NULL;
	dst->sni_name = strdup_or_null(src->sni_name);
	dst->sni_pattern = strdup_or_null(src->sni_pattern);
	dst->sni_primary = NULL;
	dst->sni_children = NULL;
	dst->n_sni_children = 0;
	dst->sockopts = NULL;
	if (src->n_sockopts) {
		dst->sockopts = xmalloc(src->n_sockopts * sizeof(*src->sockopts));
		memcpy(dst->sockopts, src->sockopts,
		       src->n_sockopts * sizeof(*src->sockopts));
	}
	dst->service_name = strdup_or_null(src->service_name);
	dst->tls = NULL;
}

/* Frees what svc_copy() allocates; svc->tls belongs to tls.c. */
static void svc_clear(struct service *s)
{
	struct sval *sv[] = SVC_SVALS(s);
	struct slist *sl[] = SVC_SLISTS(s);
	struct addrlist *al[] = SVC_ADDRS(s);
	size_t i;

	for (i = 0; i < ARRAY_SIZE(sv); i++)
		free(sv[i]->v);
	for (i = 0; i < ARRAY_SIZE(sl); i++)
		opt_slist_free(sl[i]);
	for (i = 0; i < ARRAY_SIZE(al); i++)
		addrlist_free(al[i]);
	free(s->name);
	free(s->sni_name);
	free(s->sni_pattern);
	free(s->sni_children);
	free(s->sockopts);
	free(s->service_name);
}

void config_free(struct config *cfg)
{
	size_t i;

	if (!cfg)
		return;
	for (i = 0; i < cfg->n_services; i++) {
		svc_clear(cfg->services[i]);
		free(cfg->services[i]);
	}
	free(cfg->services);
	svc_clear(&cfg->defaults);
	free(cfg->output.v);
	free(cfg->pid.v);
	free(cfg->chroot.v);
	free(cfg->status.v);
	opt_slist_free(&cfg->notices);
	for (i = 0; i < cfg->n_files; i++)
		free(cfg->files[i]);
	free(cfg->files);
	free(cfg->path);
	free(cfg);
}

/* ---- the grammar -------------------------------------------------------- */

static void start_section(struct opt_ctx *p, const char *name)
{
	struct config *cfg = p->cfg;
	struct service *s = xcalloc(1, sizeof(*s));
	size_t i;

	for (i = 0; i < cfg->n_services; i++)
		if (!strcmp(cfg->services[i]->name, name))
			config_notice(p, p->at,
				      "[%s]: section name also used at %s:%d; "
				      "logs will not tell them apart", name,
				      cfg->services[i]->at.file,
				      cfg->services[i]->at.line);
	svc_copy(s, &cfg->defaults);
	s->name = xstrdup(name);
	s->at = p->at;
	cfg->services = xrealloc(cfg->services,
				 (cfg->n_services + 1) * sizeof(s));
	cfg->services[cfg->n_services++] = s;
	p->section_errors = xrealloc(p->section_errors,
				     cfg->n_services * sizeof(int));
	p->section_errors[cfg->n_services - 1] = 0;
	p->cur = s;
	p->in_section = 1;
}

/* The line being parsed is wrong: the section it belongs to (or, for
 * the global part, every section) will not be checked as a whole. */
static void blame(struct opt_ctx *p)
{
	if (p->in_section)
		p->section_errors[p->cfg->n_services - 1]++;
	else
		p->global_errors++;
}

static void parse_option(struct opt_ctx *p, const char *name,
			 const char *value)
{
	const struct opt *spelled = NULL, *o = opt_find(name, &spelled);
	const char *why;

	if (!o) {
		config_error(p, p->at, "\"%s\": not a valid option", name);
		blame(p);
		return;
	}
	if (o->flags & OPT_GLOBAL && p->in_section) {
		config_error(p, p->at,
			     "\"%s\": Specified option name is not valid here",
			     name);
		return;
	}
	switch (o->status) {
	case OPT_LATER:
		config_error(p, p->at, "option '%s' is not supported yet",
			     spelled->name);
		break;
	case OPT_WINDOWS:
		config_error(p, p->at,
			     "option '%s' is only available on Windows",
			     spelled->name);
		break;
	default:
		why = o->set(p, o, value);
		if (!why)
			return;
		config_error(p, p->at, "\"%s = %s\": %s", name, value, why);
	}
	/* a global option does not reach into the sections */
	if (!(o->flags & OPT_GLOBAL))
		blame(p);
}

/* One line, already stripped of surrounding whitespace. There are no
 * end-of-line comments: "a = b ; c" sets a to "b ; c". */
static void parse_line(struct opt_ctx *p, char *s)
{
	size_t n = strlen(s);
	char *eq;

	if (!n || s[0] == ';' || s[0] == '#')
		return;
	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		s[n - 1] = '\0';
		start_section(p, s + 1);
		return;
	}
	eq = strchr(s, '=');
	if (!eq) {
		config_error(p, p->at, "\"%s\": No '=' found", s);
		blame(p);
		return;
	}
	*eq = '\0';
	parse_option(p, strtrim(s), strtrim(eq + 1));
}

static const char *add_file(struct config *cfg, const char *name)
{
	cfg->files = xrealloc(cfg->files, (cfg->n_files + 1) * sizeof(char *));
	cfg->files[cfg->n_files] = xstrdup(name);
	return cfg->files[cfg->n_files++];
}

/* Parse F, known as NAME in messages; returns the number of lines. */
static int parse_stream(struct opt_ctx *p, FILE *f, const char *name)
{
	const char *fname = add_file(p->cfg, name);
	char *line = NULL, *s;
	size_t cap = 0;
	int lineno = 0;

	while (getline(&line, &cap, f) >= 0) {
		s = line;
		/* stunnel's own sample file starts with a UTF-8 BOM */
		if (++lineno == 1 && !strncmp(s, "\xef\xbb\xbf", 3))
			s += 3;
		p->at = (struct loc){ fname, lineno };
		parse_line(p, strtrim(s));
	}
	if (ferror(f)) {
		p->at = (struct loc){ fname, lineno };
		config_error(p, p->at, "read error: %s", strerror(errno));
	}
	free(line);
	return lineno;
}

static void include_file(struct opt_ctx *p, const char *path, struct loc at)
{
	struct stat st;
	FILE *f;

	/* like stunnel: only regular files (symlinks to them count) */
	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return;
	f = fopen(path, "r");
	if (!f) {
		config_error(p, at, "\"include\": cannot open \"%s\": %s",
			     path, strerror(errno));
		return;
	}
	parse_stream(p, f, path);
	fclose(f);
}

/* include = DIR: the regular files of DIR in alphasort order, parsed
 * inline as if pasted here; they may start sections, and may hold global
 * options as long as no section has started yet. */
const char *config_include(struct opt_ctx *p, const struct opt *o,
			   const char *dir)
{
	struct loc at = p->at;
	struct dirent **names;
	size_t len = strlen(dir);
	int i, n;

	if (!len)
		return "Empty directory name";
	if (p->depth >= MAX_INCLUDE_DEPTH)
		return "Include stack overflow (recursive includes suspected)";
	n = scandir(dir, &names, NULL, alphasort);
	if (n < 0) {
		snprintf(p->why, sizeof(p->why), "Cannot read directory: %s",
			 strerror(errno));
		return p->why;
	}
	p->depth++;
	for (i = 0; i < n; i++) {
		char *path = xasprintf("%s%s%s", dir,
				       dir[len - 1] == '/' ? "" : "/",
				       names[i]->d_name);

		include_file(p, path, at);
		free(path);
		free(names[i]);
	}
	free(names);
	p->depth--;
	p->at = at;	/* the caller reports at the include line */
	return NULL;
}

/* ---- checks of finished sections ---------------------------------------- */

/* Server-mode sni makes a secondary section (a virtual host). */
static int is_secondary(const struct service *s)
{
	return !s->client && s->sni.v;
}

static void check_endpoints(struct opt_ctx *p, struct service *s)
{
	int n = !!s->accept.n + !!s->connect.n + is_secondary(s) +
		!!(s->transparent & TRANSPARENT_DEST);

	if (s == &p->cfg->defaults) {
		/* accept is refused in the global part as it is read */
		if (n != 1)
			svc_error(p, s, "Inetd mode must define one endpoint");
	} else if (is_secondary(s) && s->accept.n) {
		svc_error(p, s, "An SNI secondary section (sni = "
				"PRIMARY:PATTERN) cannot have 'accept'");
	} else if (n != 2) {
		svc_error(p, s, "Each service must define two endpoints");
	}
}

static void check_tls(struct opt_ctx *p, struct service *s)
{
	if (s->verify_chain || s->verify_peer) {
		s->require_cert = 1;
		if (!s->cafile.v && !s->capath.v)
			svc_error(p, s, "verifyChain and verifyPeer need "
					"CAfile or CApath");
	}
	if (!s->client && !s->cert.v)
		svc_error(p, s, "A TLS server needs a certificate: set 'cert' "
				"(or client = yes)");
	if (s->version_min && s->version_max &&
	    s->version_min > s->version_max)
		config_error(p, s->version_at,
			     "sslVersionMin is above sslVersionMax");
}

static void check_transparent(struct opt_ctx *p, struct service *s)
{
	size_t i;

	if (s->tproxy == TPROXY_NO && s->tproxy_port.v)
		config_error(p, s->tproxy_port.at, "tproxyPort needs "
			     "tproxy = yes or auto");
	for (i = 0; s->tproxy != TPROXY_NO && i < s->accept_addrs.n; i++)
		if (s->accept_addrs.a[i].ss.ss_family == AF_UNIX)
			svc_error(p, s, "tproxy needs an IP accept address, "
					"not a Unix socket");
	if (s->transparent & TRANSPARENT_SOURCE && s->local.v)
		svc_error(p, s, "'local' and transparent = source both set "
				"the source address: choose one");
	if (s->sni_map.n && !s->client)
		config_error(p, s->sni_map.v[0].at, "sniMap is for client mode "
			     "(client = yes)");
	if (s->proxy_proto != PROXY_NONE && s->client)
		svc_error(p, s, "protocol = proxy is for server mode (the "
				"PROXY header goes to the plain server)");
}

/* With delay = yes connect is resolved per connection; otherwise now,
 * and a name that does not resolve yet switches delay on rather than
 * failing the configuration (stunnel does the same). */
static void resolve_connect(struct opt_ctx *p, struct service *s)
{
	char err[256];
	size_t i;

	for (i = 0; i < s->connect.n && !s->delay; i++) {
		const struct sval *c = &s->connect.v[i];

		if (addr_resolve(c->v, 0, &s->connect_addrs, err,
				 sizeof(err)) < 0) {
			config_notice(p, c->at, "cannot resolve \"%s\" now; "
				      "delay = yes switched on", c->v);
			s->delay = 1;
		}
	}
	if (s->delay)
		addrlist_free(&s->connect_addrs);
	if (s->delay && s->failover == FAILOVER_RR) {
		s->failover = FAILOVER_PRIO;
		config_notice(p, s->at, "[%s]: failover = rr has no effect "
			      "with delay = yes", s->name);
	}
}

static struct service *find_section(struct config *cfg, const char *name,
				    size_t len)
{
	size_t i;

	for (i = 0; i < cfg->n_services; i++)
		if (strlen(cfg->services[i]->name) == len &&
		    !strncmp(cfg->services[i]->name, name, len))
			return cfg->services[i];
	return NULL;
}

static void __printf(3, 4) sni_error(struct opt_ctx *p,
				     const struct service *s,
				     const char *fmt, ...)
{
	char *prefix = xasprintf("\"sni = %s\": ", s->sni.v);
	va_list ap;

	va_start(ap, fmt);
	verror(p, &s->sni.at, prefix, fmt, ap);
	va_end(ap);
	free(prefix);
}

/* Client mode: the name to send. Unset means the host of the first
 * connect; empty means none. */
static void client_sni(struct opt_ctx *p, struct service *s)
{
	const char *colon;

	if (!s->sni.v) {
		if (s->connect.n)
			s->sni_name = addr_host(s->connect.v[0].v);
		return;
	}
	colon = strchr(s->sni.v, ':');
	if (!colon)
		s->sni_name = *s->sni.v ? xstrdup(s->sni.v) : NULL;
	else if (find_section(p->cfg, s->sni.v, colon - s->sni.v))
		sni_error(p, s, "An SNI secondary section cannot be a TLS "
				"client (client = yes)");
	else
		sni_error(p, s, "A server name cannot contain ':'");
}

/* Server mode: "PRIMARY:PATTERN" makes S a virtual host of PRIMARY. */
static void link_sni(struct opt_ctx *p, struct service *s)
{
	const char *v = s->sni.v, *colon = strchr(v, ':');
	struct service *primary;

	if (!colon || colon == v || !colon[1]) {
		sni_error(p, s, "Expected PRIMARY:PATTERN in server mode");
		return;
	}
	primary = find_section(p->cfg, v, colon - v);
	if (!primary)
		sni_error(p, s, "No [%.*s] section for this SNI secondary",
			  (int)(colon - v), v);
	else if (primary == s)
		sni_error(p, s, "A section cannot be its own SNI primary");
	else if (primary->client)
		sni_error(p, s, "SNI primary service is a TLS client");
	else if (is_secondary(primary))
		sni_error(p, s, "SNI primary service is itself an SNI "
				"secondary");
	else {
		s->sni_primary = primary;
		s->sni_pattern = xstrdup(colon + 1);
		primary->sni_children = xrealloc(
			primary->sni_children,
			(primary->n_sni_children + 1) * sizeof(s));
		primary->sni_children[primary->n_sni_children++] = s;
	}
}

/* QUIET: lines of S were in error, so whole-section checks are skipped. */
static void check_service(struct opt_ctx *p, struct service *s, int quiet)
{
	if (!quiet) {
		check_endpoints(p, s);
		check_tls(p, s);
		check_transparent(p, s);
	}
	resolve_connect(p, s);
	if (s->client)
		client_sni(p, s);
	else if (s->sni.v)
		link_sni(p, s);
}

static void finish(struct opt_ctx *p)
{
	struct config *cfg = p->cfg;
	size_t i;

	cfg->inetd = !cfg->n_services;
	if (cfg->inetd)
		check_service(p, &cfg->defaults, p->global_errors);
	for (i = 0; i < cfg->n_services; i++)
		check_service(p, cfg->services[i],
			      p->global_errors || p->section_errors[i]);
}

/* ---- loading ------------------------------------------------------------ */

/* An error that has no file:line yet (the file cannot be read at all). */
static void __printf(2, 3) plain_error(struct opt_ctx *p, const char *fmt,
				       ...)
{
	va_list ap;

	va_start(ap, fmt);
	verror(p, NULL, NULL, fmt, ap);
	va_end(ap);
}

/* The main file, or a dup of FD (the caller keeps FD) when PATH is NULL;
 * NAME gets what messages call it. */
static FILE *open_main(struct opt_ctx *p, const char *path, int fd,
		       char *name, size_t namelen)
{
	FILE *f;
	int dfd;

	if (!path) {
		/* with -fd there is no file to re-read on reload */
		snprintf(name, namelen, "fd %d", fd);
		dfd = dup(fd);
		f = dfd < 0 ? NULL : fdopen(dfd, "r");
		if (!f) {
			plain_error(p, "Cannot read configuration from "
				    "descriptor %d: %s", fd, strerror(errno));
			if (dfd >= 0)
				close(dfd);
		}
		return f;
	}
	snprintf(name, namelen, "%s", path);
	/* the real path, so that a reload after chdir/chroot finds it */
	p->cfg->path = realpath(path, NULL);
	if (!p->cfg->path) {
		plain_error(p, "Invalid configuration file name \"%s\"", path);
		return NULL;
	}
	f = fopen(path, "r");
	if (!f)
		plain_error(p, "Cannot open configuration file \"%s\": %s",
			    path, strerror(errno));
	return f;
}

struct config *config_load(const char *path, int fd, config_report_fn report,
			   void *arg)
{
	struct opt_ctx p = { .report = report, .arg = arg };
	char name[PATH_MAX + 16];
	FILE *f;

	p.cfg = xcalloc(1, sizeof(*p.cfg));
	p.cfg->refs = 1;
	p.cfg->defaults.name = xstrdup("default");
	p.at = (struct loc){ "built-in default", 0 };
	opt_set_defaults(&p);
	f = open_main(&p, path, fd, name, sizeof(name));
	if (f) {
		p.cur = &p.cfg->defaults;
		p.last_line = parse_stream(&p, f, name);
		fclose(f);
		finish(&p);
	}
	free(p.section_errors);
	if (p.errors) {
		config_free(p.cfg);
		return NULL;
	}
	return p.cfg;
}
