/* SPDX-License-Identifier: MIT */
/*
 * tls.c - one SSL_CTX per service, built from the stunnel options, and the
 * per-connection glue that OpenSSL callbacks need (connection id for the
 * log, SNI choice, last verification failure, backend target). What goes
 * into a context is in tls_ctx.c (verification, identity, trust,
 * protocol) and tls_sess.c (sessions and tickets); the SNI callbacks, the
 * contexts' life and the connections are here.
 *
 * Concurrency: tls_config_init() runs before any connection of the
 * configuration exists, and the contexts are read-only afterwards. The
 * only shared mutable state is the client session store of a service
 * (struct tls_svc.slots), under its mutex, because several worker threads
 * serve the same service. Per-connection state (struct tls_conn) hangs
 * off the SSL as ex_data and is freed with the SSL.
 *
 * Lifetime: a configuration outlives every connection that uses it (it is
 * reference counted by the daemon), so the callbacks may dereference the
 * services and their struct tls_svc without references of their own.
 *
 * kTLS (DESIGN.md 3.4): no read-ahead, no 0-RTT, no post-handshake auth;
 * renegotiation as configured, client-initiated never.
 */
#include "tls.h"
#include "tls_int.h"
#include "offload.h"
#include "tls_keys.h"
#include "log.h"
#include "util.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>

#define TLS_READ_AHEAD	(64 * 1024)	/* read-ahead buffer: 4 records */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static int conn_idx = -1;	/* SSL ex_data: struct tls_conn */
int ctx_idx = -1;		/* SSL_CTX ex_data: struct tls_svc */

/* ---- helpers -------------------------------------------------------- */

static void conn_ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad,
			 int idx, long argl, void *argp)
{
	struct tls_conn *c = ptr;

	(void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
	if (!c)
		return;
	c->magic = 0;
	free(c);
}

static void global_init_once(void)
{
	OPENSSL_init_ssl(OPENSSL_INIT_LOAD_SSL_STRINGS |
			 OPENSSL_INIT_LOAD_CRYPTO_STRINGS, NULL);
	conn_idx = SSL_get_ex_new_index(0, "ktlsd conn", NULL, NULL,
					conn_ex_free);
	ctx_idx = SSL_CTX_get_ex_new_index(0, "ktlsd svc", NULL, NULL, NULL);
}

void tls_global_init(void)
{
	pthread_once(&global_once, global_init_once);
}

struct tls_conn *conn_get(const SSL *ssl)
{
	struct tls_conn *c;

	if (!ssl || conn_idx < 0)
		return NULL;
	c = SSL_get_ex_data(ssl, conn_idx);
	return c && c->magic == TLS_CONN_MAGIC ? c : NULL;
}

struct tls_svc *svc_tls(const struct service *svc)
{
	struct tls_svc *t = svc ? svc->tls : NULL;

	return t && t->magic == TLS_SVC_MAGIC ? t : NULL;
}

struct service *conn_service(const struct tls_conn *c)
{
	return c->sni ? c->sni : c->svc;
}

/*
 * "FILE:LINE: message" at AT, or at the [section] line of SVC when AT was
 * never set (options with a default, hand-built services).
 */
void __printf(4, 5) report_at(struct init_ctx *ic, const struct service *svc,
			      const struct loc *at, const char *fmt, ...)
{
	char msg[1024];
	size_t n = 0;
	va_list ap;

	if (!at || !at->file)
		at = &svc->at;
	if (at->file)
		n = snprintf(msg, sizeof(msg), "%s:%d: ", at->file, at->line);
	if (n >= sizeof(msg))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - n, fmt, ap);
	va_end(ap);
	ic->errors++;
	if (ic->report)
		ic->report(ic->arg, msg);
}

/*
 * The root cause from OpenSSL's error queue (its first entry, as
 * ERR_error_string_n() words it) into BUF; the queue is emptied.
 */
const char *ssl_reason(char *buf, size_t len)
{
	unsigned long e = ERR_get_error();

	if (e)
		ERR_error_string_n(e, buf, len);
	else
		snprintf(buf, len, "unknown error");
	ERR_clear_error();
	return buf;
}

/* Printable copy of untrusted text (a servername) for the log. */
static char *printable(const char *s, char *buf, size_t len)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < len; i++)
		buf[i] = s[i] > 0x20 && s[i] < 0x7f ? s[i] : '?';
	buf[i] = '\0';
	return buf;
}

static int is_ip_literal(const char *s)
{
	unsigned char tmp[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, s, tmp) == 1 ||
	       inet_pton(AF_INET6, s, tmp) == 1;
}

/* ---- SNI ------------------------------------------------------------ */

/* PATTERN is a name, or "*suffix" matching any prefix; no case. */
static int sni_match(const char *pattern, const char *name)
{
	size_t pl, nl;

	if (pattern[0] != '*')
		return !strcasecmp(pattern, name);
	pl = strlen(pattern + 1);
	nl = strlen(name);
	return nl >= pl && !strcasecmp(name + nl - pl, pattern + 1);
}

/*
 * Make SSL continue as the secondary section whose context is CTX. This
 * runs first thing in ClientHello processing, so the section's versions,
 * ciphers, session id context (a session never resumes in another
 * section) and ticket keys all apply. SSL_set_SSL_CTX() switches the
 * certificate and the session id context; what SSL_new() copied from the
 * primary's context is copied over here.
 */
static int sni_switch(SSL *ssl, SSL_CTX *ctx)
{
	uint64_t opts = SSL_CTX_get_options(ctx);

	if (!SSL_set_SSL_CTX(ssl, ctx))
		return -1;
	SSL_set_verify(ssl, SSL_CTX_get_verify_mode(ctx),
		       SSL_CTX_get_verify_callback(ctx));
	SSL_clear_options(ssl, SSL_get_options(ssl) & ~opts);
	SSL_set_options(ssl, opts);
	if (!SSL_set_min_proto_version(ssl, SSL_CTX_get_min_proto_version(ctx)) ||
	    !SSL_set_max_proto_version(ssl, SSL_CTX_get_max_proto_version(ctx)))
		return -1;
	return 0;
}

/* The host_name of the server_name extension (RFC 6066 3) into BUF:
 * 1 when found, 0 when absent or malformed (OpenSSL rejects it later). */
static int hello_servername(SSL *ssl, char *buf, size_t len)
{
	const unsigned char *p;
	size_t n, nl;
	int type;

	if (!SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p, &n) ||
	    n < 2 || (size_t)(p[0] << 8 | p[1]) != n - 2)
		return 0;
	for (p += 2, n -= 2; n >= 3; p += nl, n -= nl) {
		type = p[0];
		nl = (size_t)(p[1] << 8 | p[2]);
		p += 3;
		n -= 3;
		if (nl > n)
			return 0;
		if (type != TLSEXT_NAMETYPE_host_name)
			continue;
		if (!nl || nl >= len || memchr(p, 0, nl))
			return 0;
		memcpy(buf, p, nl);
		buf[nl] = '\0';
		return 1;
	}
	return 0;
}

/* Primary with secondaries: choose the section by the client's SNI. */
static int client_hello_cb(SSL *ssl, int *al, void *arg)
{
	struct tls_svc *t = arg;
	struct tls_conn *c = conn_get(ssl);
	uint64_t id = c ? c->id : 0;
	struct service *child;
	char name[256], text[256];
	size_t i;

	/* a second ClientHello (after HelloRetryRequest) keeps the choice */
	if (!c || c->sni_done)
		return SSL_CLIENT_HELLO_SUCCESS;
	c->sni_done = 1;
	if (!hello_servername(ssl, name, sizeof(name)))
		return SSL_CLIENT_HELLO_SUCCESS;
	for (i = 0; i < t->svc->n_sni_children; i++) {
		child = t->svc->sni_children[i];
		if (!svc_tls(child) || !child->sni_pattern ||
		    !sni_match(child->sni_pattern, name))
			continue;
		if (sni_switch(ssl, svc_tls(child)->ctx) < 0) {
			log_ssl_errors(child, id, LOG_ERR, "SSL_set_SSL_CTX");
			*al = SSL_AD_INTERNAL_ERROR;
			return SSL_CLIENT_HELLO_ERROR;
		}
		c->sni = child;
		logc(child, id, LOG_INFO, "SNI: matched pattern: %s",
		     child->sni_pattern);
		return SSL_CLIENT_HELLO_SUCCESS;
	}
	logc(t->svc, id, LOG_NOTICE, "SNI: no pattern matched servername: %s",
	     printable(name, text, sizeof(text)));
	return SSL_CLIENT_HELLO_SUCCESS;
}

/* Acknowledge the server_name extension when it chose a section. */
static int servername_cb(SSL *ssl, int *al, void *arg)
{
	struct tls_conn *c = conn_get(ssl);

	(void)al, (void)arg;
	return c && c->sni ? SSL_TLSEXT_ERR_OK : SSL_TLSEXT_ERR_NOACK;
}

/* ---- services ------------------------------------------------------- */

static void svc_free(struct service *svc)
{
	struct tls_svc *t = svc_tls(svc);
	size_t i;

	if (!t)
		return;
	if (t->ctx) {
		SSL_CTX_set_ex_data(t->ctx, ctx_idx, NULL);
		SSL_CTX_free(t->ctx);
	}
	for (i = 0; i < t->n_slots; i++)
		SSL_SESSION_free(t->slots[i].sess);
	pthread_mutex_destroy(&t->lock);
	OPENSSL_cleanse(t, sizeof(*t));	/* ticket keys */
	free(t);
	svc->tls = NULL;
}

static void svc_init(struct init_ctx *ic, struct service *svc)
{
	struct tls_svc *t;
	char why[256];

	svc_free(svc);
	t = calloc(1, sizeof(*t));
	if (!t) {
		report_at(ic, svc, &svc->at, "out of memory");
		return;
	}
	t->magic = TLS_SVC_MAGIC;
	t->svc = svc;
	pthread_mutex_init(&t->lock, NULL);
	svc->tls = t;

	t->ctx = SSL_CTX_new(svc->client ? TLS_client_method() :
			     TLS_server_method());
	if (!t->ctx) {
		report_at(ic, svc, &svc->at, "cannot create a TLS context: %s",
			  ssl_reason(why, sizeof(why)));
		return;
	}
	SSL_CTX_set_ex_data(t->ctx, ctx_idx, t);
	if (svc->ktls != KTLS_OFF && offload_possible())
		tls_keys_setup_ctx(t->ctx);	/* for the kernel switch */

	/* each step reports its own errors; go on to find them all */
	setup_protocol(ic, svc, t->ctx);
	load_identity(ic, svc, t->ctx);
	load_trust(ic, svc, t->ctx);
	setup_sessions(ic, svc, t);
	setup_verify(svc, t->ctx);
	if (!svc->client && svc->n_sni_children) {
		SSL_CTX_set_client_hello_cb(t->ctx, client_hello_cb, t);
		SSL_CTX_set_tlsext_servername_callback(t->ctx, servername_cb);
	}
	ERR_clear_error();
}

int tls_config_init(struct config *cfg, config_report_fn report, void *arg)
{
	struct init_ctx ic = { report, arg, 0 };
	size_t i;

	tls_global_init();
	if (conn_idx < 0 || ctx_idx < 0) {
		if (report)
			report(arg, "cannot initialise OpenSSL");
		return -1;
	}
	for (i = 0; i < cfg->n_services; i++)
		svc_init(&ic, cfg->services[i]);
	if (!cfg->n_services && cfg->inetd)
		svc_init(&ic, &cfg->defaults);
	return ic.errors ? -1 : 0;
}

void tls_config_free(struct config *cfg)
{
	size_t i;

	if (!cfg)
		return;
	for (i = 0; i < cfg->n_services; i++)
		svc_free(cfg->services[i]);
	svc_free(&cfg->defaults);
}

/* ---- connections ---------------------------------------------------- */

/* sniMap: the name for TARGET's address (malloc'ed), NULL if none */
static char *sni_map_lookup(const struct service *svc,
			    const struct addr *target)
{
	const struct sockaddr *sa = (const struct sockaddr *)&target->ss;
	const void *in = sa->sa_family == AF_INET ?
		(const void *)&((const struct sockaddr_in *)sa)->sin_addr :
		(const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
	size_t i, alen = sa->sa_family == AF_INET ? 4 : 16;

	if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
		return NULL;
	for (i = 0; i < svc->sni_map.n; i++) {
		const char *v = svc->sni_map.v[i].v, *sp = strchr(v, ' ');
		unsigned char buf[16];
		char ip[INET6_ADDRSTRLEN];

		snprintf(ip, sizeof(ip), "%.*s", (int)(sp - v), v);
		if (inet_pton(sa->sa_family, ip, buf) == 1 &&
		    !memcmp(buf, in, alen))
			return xstrdup(sp + strspn(sp, " "));
	}
	return NULL;
}

SSL *tls_conn_new(struct service *svc, uint64_t conn_id,
		  const struct addr *target)
{
	struct tls_svc *t = svc_tls(svc);
	struct tls_conn *c;
	char *mapped;
	const char *name;
	SSL *ssl;

	if (!t || !t->ctx) {
		logc(svc, conn_id, LOG_ERR, "No TLS context for this service");
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		logc(svc, conn_id, LOG_ERR, "Out of memory");
		return NULL;
	}
	c->magic = TLS_CONN_MAGIC;
	c->svc = svc;
	c->id = conn_id;
	ssl = SSL_new(t->ctx);
	if (!ssl || !SSL_set_ex_data(ssl, conn_idx, c)) {
		log_ssl_errors(svc, conn_id, LOG_ERR, "SSL_new");
		SSL_free(ssl);
		free(c);
		return NULL;
	}
	if (svc->ktls == KTLS_OFF)	/* RX will stay in userspace */
		tls_conn_read_ahead(ssl);
	if (!svc->client) {
		SSL_set_accept_state(ssl);
		return ssl;
	}
	SSL_set_connect_state(ssl);
	mapped = target ? sni_map_lookup(svc, target) : NULL;
	name = mapped ? mapped : svc->sni_name;
	/* RFC 6066: no IP literals in server_name */
	if (name && name[0] && !is_ip_literal(name) &&
	    SSL_set_tlsext_host_name(ssl, name) != 1) {
		log_ssl_errors(svc, conn_id, LOG_ERR, "SSL_set_tlsext_host_name");
		free(mapped);
		SSL_free(ssl);	/* frees C too */
		return NULL;
	}
	if (mapped && svc->verify_chain && !svc->check_host.n &&
	    SSL_set1_host(ssl, mapped) != 1) {
		log_ssl_errors(svc, conn_id, LOG_ERR, "SSL_set1_host");
		free(mapped);
		SSL_free(ssl);
		return NULL;
	}
	free(mapped);
	if (target) {
		c->target = *target;
		c->has_target = 1;
		if (svc->session_resume)
			resume_session(t, ssl, target);
	}
	return ssl;
}

void tls_conn_read_ahead(SSL *ssl)
{
	SSL_set_default_read_buffer_len(ssl, TLS_READ_AHEAD);
	SSL_set_read_ahead(ssl, 1);
}

struct service *tls_conn_service(SSL *ssl)
{
	struct tls_conn *c = conn_get(ssl);

	return c ? conn_service(c) : NULL;
}

void tls_conn_free(SSL *ssl, int clean)
{
	if (!ssl)
		return;
	/* Without this OpenSSL drops the session from the server cache
	 * and marks it unresumable, as after a truncation attack. */
	if (clean)
		SSL_set_shutdown(ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
	SSL_free(ssl);
}

char *tls_conn_describe(SSL *ssl, char *buf, size_t len)
{
	const char *cipher = SSL_get_cipher_name(ssl);

	snprintf(buf, len, "%s %s", SSL_get_version(ssl),
		 cipher ? cipher : "(NONE)");
	return buf;
}

const char *tls_conn_verify_error(SSL *ssl)
{
	struct tls_conn *c = conn_get(ssl);

	return c && c->verify_err[0] ? c->verify_err : NULL;
}
