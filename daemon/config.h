/* SPDX-License-Identifier: MIT */
/*
 * config.h - a parsed stunnel.conf: globals, the default section and the
 * [services], as produced by config_load(). The object is immutable once
 * loaded and shared by reference count: the running daemon holds the
 * current one, each connection holds the one it started with, so a reload
 * never changes the configuration under a live connection.
 *
 * Parsing does not touch OpenSSL contexts or sockets: tls_config_init()
 * (tls.c) and the listeners (listener.c) do that afterwards, reporting
 * their errors at the file:line recorded here.
 */
#ifndef KTLSD_CONFIG_H
#define KTLSD_CONFIG_H

#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "addr.h"

/* Where an option was given. FILE points into config->files. */
struct loc {
	const char *file;
	int line;
};

/* A string option: NULL when never set. */
struct sval {
	char *v;
	struct loc at;
};

/* A repeatable string option, in order of appearance. */
struct slist {
	struct sval *v;
	size_t n;
};

enum failover { FAILOVER_PRIO, FAILOVER_RR };
enum ktls_mode { KTLS_AUTO, KTLS_REQUIRED, KTLS_OFF };
enum io_engine { IO_ENGINE_AUTO, IO_ENGINE_URING, IO_ENGINE_EPOLL };
enum foreground { FG_NO, FG_YES, FG_QUIET };
/* transparent = ...: a bit mask */
#define TRANSPARENT_SOURCE 1u	/* connect from the client's address */
#define TRANSPARENT_DEST 2u	/* connect to the original destination */
/* tproxy = no|yes|auto: interception by a netfilter TPROXY rule */
enum tproxy_mode { TPROXY_NO, TPROXY_YES, TPROXY_AUTO };
/* protocol = proxy|proxy-v2: a PROXY protocol header to the backend */
enum proxy_proto { PROXY_NONE, PROXY_V1, PROXY_V2 };

/* socket = a|l|r:OPTION=VALUE[:VALUE] */
enum sockopt_side { SOCKSIDE_ACCEPT = 'a', SOCKSIDE_LOCAL = 'l',
		    SOCKSIDE_REMOTE = 'r' };
enum sockopt_type { SOV_INT, SOV_FLAG, SOV_LINGER, SOV_TIMEVAL, SOV_STRING };
struct sockopt_val {
	char side;		/* enum sockopt_side */
	int level, name;	/* setsockopt() arguments */
	enum sockopt_type type;
	const char *optname;	/* "TCP_NODELAY", for messages */
	union {
		int i;
		struct linger linger;
		struct timeval tv;
		char str[64];
	} u;
	struct loc at;
};

struct service {
	char *name;		/* section name; "default" for the global part */
	struct loc at;		/* the [section] line */

	/* endpoints */
	struct slist accept;	/* raw texts, each resolved into accept_addrs */
	struct addrlist accept_addrs;
	struct slist connect;	/* raw texts (kept for delay = yes) */
	struct addrlist connect_addrs; /* empty when delay is on */
	int client;		/* client = yes */
	int delay;		/* delay = yes (set automatically when connect
				 * cannot be resolved at load time) */
	enum failover failover;
	struct sval local;	/* local = HOST */
	struct addrlist local_addrs;

	/* transparent proxying (netfilter/, daemon/transparent.c) */
	unsigned transparent;	/* TRANSPARENT_* */
	enum tproxy_mode tproxy;
	struct sval tproxy_port; /* intercepted ports "80,443"; NULL: the
				  * accept port */
	struct slist sni_map;	/* client: "IP NAME", the SNI per server */
	enum proxy_proto proxy_proto;

	/* TLS */
	struct sval cert, key, cafile, capath, crlfile, crlpath;
	int verify_chain, verify_peer, require_cert;
	struct slist check_host, check_email, check_ip;
	struct sval ciphers, ciphersuites, curves;
	int version_min, version_max;	/* TLS1_2_VERSION etc.; 0 = any */
	struct loc version_at;		/* last sslVersion* line */
	uint64_t options_set, options_clear; /* SSL_OP_* */
	int security_level;		/* -1 = OpenSSL default */
	int renegotiation;
	int session_resume;
	long session_cache_size, session_cache_timeout;
	unsigned char ticket_key[32], ticket_mac[32];
	int ticket_key_len, ticket_mac_len;	/* 0 = random */

	/* sni: in client mode the name to send (sni_name, NULL = none); in
	 * server mode "PRIMARY:PATTERN" makes this a secondary section of
	 * sni_primary. A primary lists its secondaries in sni_children. */
	struct sval sni;
	char *sni_name;
	struct service *sni_primary;
	char *sni_pattern;
	struct service **sni_children;
	size_t n_sni_children;

	/* behaviour */
	int debug_level;	/* 0..7 */
	int reset;
	int timeout_busy, timeout_close, timeout_connect, timeout_idle;
	struct sockopt_val *sockopts;
	size_t n_sockopts;
	enum ktls_mode ktls;

	/* service-level options with a global meaning in the global part */
	struct sval setuid, setgid;	/* in a section: Unix accept owner */
	char *service_name;		/* "stunnel" by default */

	/* runtime */
	void *tls;		/* owned by tls.c */
	unsigned rr_next;	/* failover = rr: next start index (atomic) */
};

struct config {
	char *path;		/* realpath of the file; NULL with -fd */
	char **files;		/* every file read, for struct loc */
	size_t n_files;

	/* globals */
	enum foreground foreground;
	struct sval output;
	int log_append;		/* log = append (1) | overwrite (0) */
	struct sval pid;	/* "" = none */
	int syslog;
	int facility;		/* LOG_DAEMON etc. */
	struct sval chroot;
	enum io_engine io_engine;
	int workers;		/* 0 = one per core */
	struct sval status;	/* ktlsd: built-in status page address */
	long tproxy_mark;	/* fwmark of intercepted packets */
	long tproxy_table;	/* routing table that delivers them locally */

	/* the global part's service-level options */
	struct service defaults;

	struct service **services;	/* in file order, secondaries included */
	size_t n_services;
	int inetd;		/* no [section] at all */

	/* "file:line: ..." remarks the daemon logs at NOTICE once the
	 * configuration is in force (options accepted with no effect,
	 * delay switched on automatically, ...). */
	struct slist notices;

	int refs;		/* owned by the daemon (atomics) */
};

/* Called once per error, with "file:line: message" (no newline). */
typedef void (*config_report_fn)(void *arg, const char *msg);

/*
 * Parse PATH (or, when PATH is NULL, file descriptor FD) into a new
 * configuration with refs = 1, validate it and resolve its addresses.
 * Every error is reported through REPORT; returns NULL if there was any.
 */
struct config *config_load(const char *path, int fd, config_report_fn report,
			   void *arg);
void config_free(struct config *cfg);

/* -help, -options, -sockets output and the options reference (markdown).
 * -options and -sockets are printed next to their tables, in
 * options_tls.c and options_net.c; the others in config_print.c. */
void config_print_help(FILE *out);
void config_print_ssl_options(FILE *out);
void config_print_sockets(FILE *out);
void config_print_markdown(FILE *out);

/* The OpenSSL SSL_OP_* value for NAME (without the prefix), 0 if none
 * (options_tls.c). */
uint64_t config_ssl_option(const char *name);

#endif
