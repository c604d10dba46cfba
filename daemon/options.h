/* SPDX-License-Identifier: MIT */
/*
 * options.h - internal to the configuration parser: the one option table
 * that drives parsing, -help and doc/options.md, and the parser state the
 * option handlers work on.
 *
 * options.c owns the table, the value parsers and the handlers of the
 * simple options; options_net.c the handlers of the endpoint options and
 * the socket option table; options_tls.c the handlers of the TLS options
 * and the OpenSSL option table. config.c owns the grammar (files, lines,
 * sections, includes) and the validation of finished sections;
 * config_print.c the help and markdown printers.
 */
#ifndef KTLSD_OPTIONS_H
#define KTLSD_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "util.h"

/* The state of one config_load(). */
struct opt_ctx {
	struct config *cfg;
	config_report_fn report;
	void *arg;
	int errors;
	struct service *cur;	/* &cfg->defaults until the first [section] */
	int in_section;		/* a [section] has started: globals refused */
	struct loc at;		/* the line being parsed */
	int depth;		/* include nesting */
	int last_line;		/* last line of the main file (inetd checks) */
	/* Lines in error, in the global part and per section: the checks
	 * of a whole section are skipped after them, since "Each service
	 * must define two endpoints" after a mistyped connect line would
	 * only be noise. */
	int global_errors;
	int *section_errors;	/* by index in cfg->services */
	char why[256];		/* room for a formatted handler reason */
};

struct opt;

/*
 * Parse VAL for option O into P->cfg (global options) or P->cur.
 * Returns NULL on success, else the reason (a constant or P->why) which
 * the caller reports as `FILE:LINE: "name = value": reason`.
 */
typedef const char *(*opt_set_fn)(struct opt_ctx *p, const struct opt *o,
				  const char *val);

enum opt_flags {
	OPT_GLOBAL = 1 << 0,	/* global: only before the first [section] */
	OPT_REPEAT = 1 << 1,	/* repeatable: values accumulate */
	OPT_NORELOAD = 1 << 2,	/* a SIGHUP does not change it */
	OPT_EMPTY = 1 << 3,	/* an empty value is kept, not "unset" */
};

enum opt_status {
	OPT_BUILT,		/* parsed into struct config/service */
	OPT_LATER,		/* rejected: "not supported yet" */
	OPT_WINDOWS,		/* rejected: "only available on Windows" */
	OPT_NOEFFECT,		/* accepted with a notice, ignored */
	OPT_ALIAS,		/* another name for .alias */
};

struct keyword {
	const char *name;
	int value;
};

struct opt {
	const char *name;	/* canonical spelling */
	unsigned flags;		/* enum opt_flags */
	enum opt_status status;
	const char *owner;	/* "foundation", "#3", "#4", "#5", "later" */
	opt_set_fn set;
	size_t off;		/* offsetof() in struct config or service */
	long min, max;		/* numeric range; for sslVersion*: which */
	const struct keyword *kw; /* keyword values (NULL-terminated) */
	const char *alias;	/* OPT_ALIAS: the real option */
	const char *values;	/* the value syntax, for -help and docs */
	const char *def;	/* the default, parsed by .set at startup (for
				 * OPT_REPEAT: several, space-separated);
				 * NULL: unset */
	const char *def_text;	/* shown instead of .def when set */
	const char *help;	/* one line */
	const char *note;	/* why it is not built / has no effect, ... */
};

extern const struct opt opt_table[];
extern const size_t opt_count;

/* The entry named NAME (case-insensitive), aliases resolved; NULL if
 * unknown. *SPELLED gets the table entry NAME matched (the alias itself
 * for an alias), for messages. */
const struct opt *opt_find(const char *name, const struct opt **spelled);

/* Apply the .def of every built option to P->cfg and P->cfg->defaults
 * (P->cur must be the defaults). */
void opt_set_defaults(struct opt_ctx *p);

/* String option helpers: V is copied; NULL unsets. */
void opt_sval_set(struct sval *s, const char *v, struct loc at);
void opt_slist_add(struct slist *l, const char *v, struct loc at);
void opt_slist_free(struct slist *l);

/* Text of a keyword value, for printing defaults and messages. */
const char *opt_kw_name(const struct keyword *kw, int value);

/* options.c: value parsers for the handlers in the other files. Each
 * returns 0 and sets *OUT, or -1. */
#define OPT_YESNO "The argument needs to be either 'yes' or 'no'"
int opt_parse_yesno(const char *v, int *out);	/* yes or no */
/* a whole decimal number within [MIN, MAX] */
int opt_parse_num(const char *v, long min, long max, long *out);
/* V among the names of KW (case-insensitive) */
int opt_kw_lookup(const struct keyword *kw, const char *v, int *out);
/* The reason for a value not in KW: "Expected a, b or c" in P->why. */
const char *opt_kw_why(struct opt_ctx *p, const struct keyword *kw);

/* options_net.c: handlers of accept, connect, local, status and socket. */
const char *opt_set_accept(struct opt_ctx *p, const struct opt *o,
			   const char *v);
const char *opt_set_connect(struct opt_ctx *p, const struct opt *o,
			    const char *v);
const char *opt_set_local(struct opt_ctx *p, const struct opt *o,
			  const char *v);
const char *opt_set_status(struct opt_ctx *p, const struct opt *o,
			   const char *v);
const char *opt_set_socket(struct opt_ctx *p, const struct opt *o,
			   const char *v);

/* options_tls.c: handlers of sslVersion*, options and the ticket
 * secrets. */
const char *opt_set_version(struct opt_ctx *p, const struct opt *o,
			    const char *v);
const char *opt_set_options(struct opt_ctx *p, const struct opt *o,
			    const char *v);
const char *opt_set_ticket_key(struct opt_ctx *p, const struct opt *o,
			       const char *v);
const char *opt_set_ticket_mac(struct opt_ctx *p, const struct opt *o,
			       const char *v);

/* config.c: report "FILE:LINE: message" at AT (counts as an error), or
 * queue a notice for the daemon to log once the configuration is used. */
void config_error(struct opt_ctx *p, struct loc at, const char *fmt, ...)
	__printf(3, 4);
void config_notice(struct opt_ctx *p, struct loc at, const char *fmt, ...)
	__printf(3, 4);

/* config.c: the include handler (parses a directory inline). */
const char *config_include(struct opt_ctx *p, const struct opt *o,
			   const char *dir);

#endif
