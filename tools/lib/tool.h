/* SPDX-License-Identifier: MIT */
/*
 * tool.h - what the programs in tools/ share: every .c file of tools/lib
 * is linked into each of them.
 */
#ifndef KTLSD_TOOL_H
#define KTLSD_TOOL_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#define PRINTF(a, b) __attribute__((format(printf, a, b)))
#define NORETURN __attribute__((noreturn))

#define EXIT_USAGE	64

/* ---- tool.c: errors, usage, options, time, hex --------------------------- */

/* "PROGRAM: message", then OpenSSL's error queue, on stderr; exit 1. */
NORETURN PRINTF(1, 2) void die(const char *fmt, ...);

/* The program's usage text, for usage() and help(); set it first. */
extern const char *tool_usage;

/* "PROGRAM: message" (none when FMT is NULL), then the usage text, on
 * stderr; exit 64. */
NORETURN PRINTF(1, 2) void usage(const char *fmt, ...);

/* --help: the usage text on stdout; exit 0. */
NORETURN void help(void);

/* The size S ("64K", see parse_size()) of the option NAME, at most MAX;
 * anything else is a usage error "NAME: bad size 'S'". */
uint64_t opt_size(const char *name, const char *s, uint64_t max);

/* CLOCK_MONOTONIC in nanoseconds, in milliseconds (signed, for deadline
 * arithmetic) and in seconds. */
uint64_t now_ns(void);
int64_t clock_ms(void);
double now_s(void);

/* The 32 bytes of a SHA-256 digest as 64 hex digits and a NUL. */
void sha256_hex(const unsigned char *md, char out[65]);

/* ---- tls.c: the TLS options and the SSL_CTX they describe ---------------- */

struct tls_opts {
	int on;				/* --tls */
	const char *cert, *key;		/* --cert, --key */
	const char *ca;			/* --ca */
	const char *servername;		/* --servername */
	int version;			/* --tls-version: 0, 12 or 13 */
	const char *ciphers;		/* --ciphers (TLS 1.2) */
	const char *ciphersuites;	/* --ciphersuites (TLS 1.3) */
	const char *groups;		/* --groups */
};

/* getopt_long() values of the TLS options, above every short option */
enum {
	OPT_TLS = 0x1000, OPT_CERT, OPT_KEY, OPT_CA, OPT_SERVERNAME,
	OPT_TLS_VERSION, OPT_CIPHERS, OPT_CIPHERSUITES, OPT_GROUPS,
};

/* struct option entries: the ones every TLS-speaking tool takes, and two
 * that only some take */
#define TLS_LONGOPTS \
	{ "tls", no_argument, NULL, OPT_TLS }, \
	{ "cert", required_argument, NULL, OPT_CERT }, \
	{ "key", required_argument, NULL, OPT_KEY }, \
	{ "servername", required_argument, NULL, OPT_SERVERNAME }, \
	{ "tls-version", required_argument, NULL, OPT_TLS_VERSION }, \
	{ "ciphers", required_argument, NULL, OPT_CIPHERS }, \
	{ "ciphersuites", required_argument, NULL, OPT_CIPHERSUITES }
#define TLS_LONGOPT_CA { "ca", required_argument, NULL, OPT_CA }
#define TLS_LONGOPT_GROUPS { "groups", required_argument, NULL, OPT_GROUPS }

/* Takes the option C (a getopt_long() result) with ARG into T when it is
 * a TLS option: 1, or 0 when it is not one. A --tls-version other than
 * 1.2 and 1.3 is a usage error. */
int tls_opts_take(struct tls_opts *t, int c, const char *arg);

/*
 * An SSL_CTX for a server or a client as T says; die() on errors. Partial
 * writes and a moving write buffer are allowed; --tls-version pins the
 * version; the cipher lists and groups, the certificate and key (checked
 * against each other). With --ca the peer is verified against it (a
 * server asks for and requires a client certificate), without nothing is
 * verified.
 */
SSL_CTX *tls_opts_ctx(const struct tls_opts *t, int server);

/* ---- net.c: addresses, listening, connecting ----------------------------- */

/*
 * An address as the tools take it: HOST:PORT split at the last ':' (the
 * host may be in brackets; "*" or none is every local address for a
 * listener, the loopback for a client), or with TOOL_ADDR_UNIX a Unix
 * socket path that starts with '/' or '.'.
 */
struct tool_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	char host[256];		/* empty for a Unix socket or no host */
	int numeric;		/* host is an IP literal */
};

#define TOOL_ADDR_PASSIVE	1	/* to listen on */
#define TOOL_ADDR_UNIX		2	/* a path is a Unix socket */

/* Resolves S into A. 0; -1 when S is malformed, -2 when it does not
 * resolve, with the reason in ERR. */
int tool_addr_parse(const char *s, int flags, struct tool_addr *a,
		    char *err, size_t errlen);

/* A non-blocking socket listening on A (SO_REUSEADDR, a backlog of 4096;
 * a stale Unix socket is removed first); die() on errors, which name A
 * as TEXT. */
int tool_listen(const struct tool_addr *a, const char *text);

/* The outcome of a non-blocking connect() on FD once it polls writable:
 * 0 connected, EINPROGRESS (EALREADY too) not yet, or the error. */
int connect_result(int fd);

#endif
