/* SPDX-License-Identifier: MIT */
/*
 * tls.c - one SSL_CTX per service, built from the stunnel options, and the
 * per-connection glue that OpenSSL callbacks need (connection id for the
 * log, SNI choice, last verification failure, backend target).
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
#include "offload.h"
#include "tls_keys.h"
#include "log.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#define TLS_SVC_MAGIC	0x544c5356u	/* "TLSV" */
#define TLS_CONN_MAGIC	0x544c5343u	/* "TLSC" */
#define SESSION_SLOTS	64		/* client sessions kept per service */
#define TICKET_NAME_LEN	16
#define TLS_READ_AHEAD	(64 * 1024)	/* read-ahead buffer: 4 records */

/* stunnel 5.75 defaults, applied when the option is not given. */
static const char default_ciphers[] = "HIGH:!aNULL:!SSLv2:!DH:!kDHEPSK";
static const char default_ciphersuites[] =
	"TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256:"
	"TLS_CHACHA20_POLY1305_SHA256";

struct session_slot {
	struct addr target;
	SSL_SESSION *sess;	/* one reference, owned by the slot */
};

/* svc->tls */
struct tls_svc {
	uint32_t magic;
	struct service *svc;
	SSL_CTX *ctx;

	/* session tickets with fixed keys (server mode) */
	int has_ticket_keys;
	int ticket_key_len, ticket_mac_len;
	unsigned char ticket_name[TICKET_NAME_LEN];
	unsigned char ticket_key[32], ticket_mac[32];

	/* client mode: the last session per backend target */
	pthread_mutex_t lock;
	struct session_slot slots[SESSION_SLOTS];
	size_t n_slots, next_evict;
};

/* ex_data of every SSL made by tls_conn_new() */
struct tls_conn {
	uint32_t magic;
	struct service *svc;	/* the service the SSL was created for */
	struct service *sni;	/* the secondary chosen by SNI, or NULL */
	int sni_done;		/* the ClientHello was looked at */
	uint64_t id;
	int has_target;
	struct addr target;
	char verify_err[128];	/* last verification failure, "" if none */
};

struct init_ctx {
	config_report_fn report;
	void *arg;
	int errors;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static int conn_idx = -1;	/* SSL ex_data: struct tls_conn */
static int ctx_idx = -1;	/* SSL_CTX ex_data: struct tls_svc */

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

static struct tls_conn *conn_get(const SSL *ssl)
{
	struct tls_conn *c;

	if (!ssl || conn_idx < 0)
		return NULL;
	c = SSL_get_ex_data(ssl, conn_idx);
	return c && c->magic == TLS_CONN_MAGIC ? c : NULL;
}

static struct tls_svc *svc_tls(const struct service *svc)
{
	struct tls_svc *t = svc ? svc->tls : NULL;

	return t && t->magic == TLS_SVC_MAGIC ? t : NULL;
}

static struct service *conn_service(const struct tls_conn *c)
{
	return c->sni ? c->sni : c->svc;
}

/*
 * "FILE:LINE: message" at AT, or at the [section] line of SVC when AT was
 * never set (options with a default, hand-built services).
 */
static void __printf(4, 5) report_at(struct init_ctx *ic,
				     const struct service *svc,
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
static const char *ssl_reason(char *buf, size_t len)
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

/* "C=PL, O=Example, CN=host" */
static char *name_text(const X509_NAME *name, char *buf, size_t len)
{
	unsigned long flags = XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB &
			      ~XN_FLAG_SPC_EQ;
	BIO *b;
	int n;

	buf[0] = '\0';
	if (!name || !(b = BIO_new(BIO_s_mem())))
		return buf;
	if (X509_NAME_print_ex(b, name, 0, flags) >= 0) {
		n = BIO_read(b, buf, (int)len - 1);
		buf[n > 0 ? n : 0] = '\0';
	}
	BIO_free(b);
	return buf;
}

static int is_ip_literal(const char *s)
{
	unsigned char tmp[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, s, tmp) == 1 ||
	       inet_pton(AF_INET6, s, tmp) == 1;
}

/* ---- verification --------------------------------------------------- */

/* Errors that only say the chain does not reach a trusted root. */
static int chain_error(int err)
{
	switch (err) {
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_CERT_UNTRUSTED:
		return 1;
	}
	return 0;
}

/*
 * stunnel semantics: with verifyChain every error counts; with verifyPeer
 * alone the chain is not judged (errors above the leaf and trust errors
 * at the leaf are ignored, the leaf must be pinned instead); with neither
 * (requireCert, subject checks) OpenSSL's verdict is ignored altogether.
 */
static int error_ignored(const struct service *svc, int depth, int err)
{
	if (svc->verify_chain)
		return 0;
	if (!svc->verify_peer)
		return 1;
	return depth > 0 || chain_error(err);
}

/* verifyPeer: is LEAF itself one of the certificates of CAfile/CApath? */
static int leaf_pinned(X509_STORE_CTX *xs, X509 *leaf)
{
	STACK_OF(X509) *sk;
	int i, found = 0;

	ERR_set_mark();
	sk = X509_STORE_CTX_get1_certs(xs, X509_get_subject_name(leaf));
	ERR_pop_to_mark();
	for (i = 0; sk && i < sk_X509_num(sk) && !found; i++)
		found = !X509_cmp(sk_X509_value(sk, i), leaf);
	sk_X509_pop_free(sk, X509_free);
	return found;
}

/* checkHost/checkEmail/checkIP: 0 when LEAF matches any listed value
 * (or none is listed), else the X509_V_ERR_* to report. */
static int subject_check(const struct service *svc, X509 *leaf)
{
	size_t i;

	if (!svc->check_host.n && !svc->check_email.n && !svc->check_ip.n)
		return 0;
	for (i = 0; i < svc->check_host.n; i++)
		if (X509_check_host(leaf, svc->check_host.v[i].v, 0, 0,
				    NULL) == 1)
			return 0;
	for (i = 0; i < svc->check_email.n; i++)
		if (X509_check_email(leaf, svc->check_email.v[i].v, 0, 0) == 1)
			return 0;
	for (i = 0; i < svc->check_ip.n; i++)
		if (X509_check_ip_asc(leaf, svc->check_ip.v[i].v, 0) == 1)
			return 0;
	if (svc->check_host.n)
		return X509_V_ERR_HOSTNAME_MISMATCH;
	if (svc->check_email.n)
		return X509_V_ERR_EMAIL_MISMATCH;
	return X509_V_ERR_IP_ADDRESS_MISMATCH;
}

static int verify_fail(struct tls_conn *c, const struct service *svc,
		       int depth, const char *subject, const char *reason)
{
	snprintf(c->verify_err, sizeof(c->verify_err), "%s", reason);
	logc(svc, c->id, LOG_WARNING, "Certificate check failed at depth=%d: %s",
	     depth, subject);
	logc(svc, c->id, LOG_WARNING, "Certificate check failed: %s", reason);
	return 0;
}

static int verify_cb(int ok, X509_STORE_CTX *xs)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(xs,
				SSL_get_ex_data_X509_STORE_CTX_idx());
	struct tls_conn *c = conn_get(ssl);
	X509 *cert = X509_STORE_CTX_get_current_cert(xs);
	int depth = X509_STORE_CTX_get_error_depth(xs);
	int err = X509_STORE_CTX_get_error(xs);
	const struct service *svc;
	char subject[256];

	if (!c)
		return ok;
	svc = conn_service(c);
	name_text(cert ? X509_get_subject_name(cert) : NULL, subject,
		  sizeof(subject));

	if (!ok) {
		if (!error_ignored(svc, depth, err))
			return verify_fail(c, svc, depth, subject,
					   X509_verify_cert_error_string(err));
		logc(svc, c->id, LOG_DEBUG,
		     "Certificate check at depth=%d: error ignored: %s",
		     depth, X509_verify_cert_error_string(err));
	}
	/* The leaf is judged on every call about it, ignored errors
	 * included, so that no path skips the checks. */
	if (depth == 0 && cert) {
		if (svc->verify_peer && !leaf_pinned(xs, cert)) {
			X509_STORE_CTX_set_error(xs, X509_V_ERR_CERT_REJECTED);
			return verify_fail(c, svc, depth, subject,
				"certificate not found in local repository");
		}
		err = subject_check(svc, cert);
		if (err) {
			X509_STORE_CTX_set_error(xs, err);
			return verify_fail(c, svc, depth, subject,
					   X509_verify_cert_error_string(err));
		}
	}
	/* After an ignored error OpenSSL calls again with ok = 1 once the
	 * certificate's signature and dates are checked: log it then. */
	if (ok)
		logc(svc, c->id, LOG_INFO,
		     "Certificate accepted at depth=%d: %s", depth, subject);
	return 1;
}

/*
 * stunnel's policy as OpenSSL verify modes. A subject check needs a
 * certificate to look at, so in server mode it requires one too.
 */
static void setup_verify(struct service *svc, SSL_CTX *ctx)
{
	int require = svc->require_cert || svc->verify_chain ||
		      svc->verify_peer;
	int checks = svc->check_host.n || svc->check_email.n ||
		     svc->check_ip.n;
	int mode = SSL_VERIFY_NONE;

	if (require || checks)
		mode = svc->client ? SSL_VERIFY_PEER :
			SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
	SSL_CTX_set_verify(ctx, mode, mode == SSL_VERIFY_NONE ? NULL :
			   verify_cb);

	if (svc->client && svc->verify_chain && !checks)
		logc(svc, 0, LOG_WARNING,
		     "Service [%s] uses \"verifyChain\" without subject checks",
		     svc->name);
}

/* ---- certificates and trust ----------------------------------------- */

static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf, (void)size, (void)rwflag, (void)u;
	return -1;	/* there is nobody to ask */
}

static EVP_PKEY *read_key(const char *path)
{
	EVP_PKEY *pkey = NULL;
	BIO *b = BIO_new_file(path, "r");

	if (b) {
		pkey = PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL);
		BIO_free(b);
	}
	return pkey;
}

/*
 * cert is not PEM: try it as PKCS#12 with an empty password. Returns 1
 * when loaded (key included if present), 0 when it is no PKCS#12 either
 * (the PEM error stands), -1 after reporting.
 */
static int load_pkcs12(struct init_ctx *ic, struct service *svc,
		       SSL_CTX *ctx, int *have_key)
{
	STACK_OF(X509) *ca = NULL;
	EVP_PKEY *pkey = NULL;
	X509 *x = NULL;
	PKCS12 *p12;
	char why[256];
	int rc = -1;
	BIO *b;

	b = BIO_new_file(svc->cert.v, "rb");
	if (!b)
		return 0;
	p12 = d2i_PKCS12_bio(b, NULL);
	BIO_free(b);
	if (!p12) {
		ERR_clear_error();
		return 0;
	}
	if (!PKCS12_parse(p12, "", &pkey, &x, &ca)) {
		report_at(ic, svc, &svc->cert.at,
			  "cert = %s: cannot read PKCS#12 file (empty password): %s",
			  svc->cert.v, ssl_reason(why, sizeof(why)));
	} else if (!x) {
		report_at(ic, svc, &svc->cert.at,
			  "cert = %s: no certificate in PKCS#12 file",
			  svc->cert.v);
	} else if (!pkey && !svc->key.v) {
		report_at(ic, svc, &svc->cert.at,
			  "cert = %s: no private key in PKCS#12 file",
			  svc->cert.v);
	} else if (pkey ? SSL_CTX_use_cert_and_key(ctx, x, pkey, ca, 1) != 1 :
		   SSL_CTX_use_certificate(ctx, x) != 1 ||
		   (ca && SSL_CTX_set1_chain(ctx, ca) != 1)) {
		report_at(ic, svc, &svc->cert.at,
			  "cert = %s: cannot use PKCS#12 contents: %s",
			  svc->cert.v, ssl_reason(why, sizeof(why)));
	} else {
		*have_key = pkey != NULL;
		rc = 1;
	}
	sk_X509_pop_free(ca, X509_free);
	X509_free(x);
	EVP_PKEY_free(pkey);
	PKCS12_free(p12);
	return rc;
}

/* cert (PEM chain or PKCS#12) and key (default: the cert file). */
static int load_identity(struct init_ctx *ic, struct service *svc,
			 SSL_CTX *ctx)
{
	const struct sval *key = svc->key.v ? &svc->key : &svc->cert;
	const char *key_opt = svc->key.v ? "key" : "cert";
	int have_key = 0, rc;
	EVP_PKEY *pkey;
	char why[256];

	if (!svc->cert.v) {
		if (svc->key.v) {
			report_at(ic, svc, &svc->key.at,
				  "key = %s: \"key\" without \"cert\"",
				  svc->key.v);
			return -1;
		}
		return 0;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, svc->cert.v) != 1) {
		ssl_reason(why, sizeof(why));
		rc = load_pkcs12(ic, svc, ctx, &have_key);
		if (rc < 0)
			return -1;
		if (rc == 0) {
			report_at(ic, svc, &svc->cert.at,
				  "cert = %s: cannot load certificate chain: %s",
				  svc->cert.v, why);
			return -1;
		}
	}
	if (!have_key || svc->key.v) {
		pkey = read_key(key->v);
		if (!pkey) {
			report_at(ic, svc, &key->at,
				  "%s = %s: cannot load private key: %s",
				  key_opt, key->v, ssl_reason(why, sizeof(why)));
			return -1;
		}
		rc = SSL_CTX_use_PrivateKey(ctx, pkey);
		EVP_PKEY_free(pkey);
		if (rc != 1)
			goto mismatch;
	}
	if (SSL_CTX_check_private_key(ctx) != 1)
		goto mismatch;
	return 0;

mismatch:
	report_at(ic, svc, &key->at,
		  "%s = %s: private key does not match the certificate %s: %s",
		  key_opt, key->v, svc->cert.v, ssl_reason(why, sizeof(why)));
	return -1;
}

static int check_dir(struct init_ctx *ic, struct service *svc,
		     const struct sval *opt, const char *name)
{
	struct stat st;

	if (stat(opt->v, &st) < 0) {
		report_at(ic, svc, &opt->at, "%s = %s: %s", name, opt->v,
			  strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		report_at(ic, svc, &opt->at, "%s = %s: not a directory", name,
			  opt->v);
		return -1;
	}
	return 0;
}

/* CAfile, CApath, CRLfile, CRLpath, and the client CA list. */
static int load_trust(struct init_ctx *ic, struct service *svc,
		      SSL_CTX *ctx)
{
	X509_STORE *store = SSL_CTX_get_cert_store(ctx);
	STACK_OF(X509_NAME) *names;
	X509_LOOKUP *lu;
	char why[256];
	int bad = 0;

	if (svc->cafile.v) {
		if (SSL_CTX_load_verify_file(ctx, svc->cafile.v) != 1) {
			report_at(ic, svc, &svc->cafile.at,
				  "CAfile = %s: cannot load CA certificates: %s",
				  svc->cafile.v, ssl_reason(why, sizeof(why)));
			bad = 1;
		} else if (!svc->client) {
			/* the CA names sent in the CertificateRequest */
			names = SSL_load_client_CA_file(svc->cafile.v);
			if (names)
				SSL_CTX_set_client_CA_list(ctx, names);
			ERR_clear_error();
		}
	}
	if (svc->capath.v) {
		if (check_dir(ic, svc, &svc->capath, "CApath") < 0) {
			bad = 1;
		} else if (SSL_CTX_load_verify_dir(ctx, svc->capath.v) != 1) {
			report_at(ic, svc, &svc->capath.at,
				  "CApath = %s: %s", svc->capath.v,
				  ssl_reason(why, sizeof(why)));
			bad = 1;
		}
	}
	if (svc->crlfile.v) {
		lu = X509_STORE_add_lookup(store, X509_LOOKUP_file());
		if (!lu || X509_load_crl_file(lu, svc->crlfile.v,
					      X509_FILETYPE_PEM) <= 0) {
			report_at(ic, svc, &svc->crlfile.at,
				  "CRLfile = %s: cannot load CRLs: %s",
				  svc->crlfile.v, ssl_reason(why, sizeof(why)));
			bad = 1;
		}
	}
	if (svc->crlpath.v) {
		if (check_dir(ic, svc, &svc->crlpath, "CRLpath") < 0) {
			bad = 1;
		} else {
			/* hashed *.r0 files, looked up on demand */
			lu = X509_STORE_add_lookup(store,
						   X509_LOOKUP_hash_dir());
			if (!lu || X509_LOOKUP_add_dir(lu, svc->crlpath.v,
						X509_FILETYPE_PEM) != 1) {
				report_at(ic, svc, &svc->crlpath.at,
					  "CRLpath = %s: %s", svc->crlpath.v,
					  ssl_reason(why, sizeof(why)));
				bad = 1;
			}
		}
	}
	if (svc->crlfile.v || svc->crlpath.v)
		X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK |
				     X509_V_FLAG_CRL_CHECK_ALL);
	return bad ? -1 : 0;
}

/* ---- protocol ------------------------------------------------------- */

/* OpenSSL ignores unknown TLS 1.3 suite names: refuse them here. */
static int check_ciphersuites(struct init_ctx *ic, struct service *svc,
			      SSL_CTX *ctx, const char *list)
{
	STACK_OF(SSL_CIPHER) *sk = SSL_CTX_get_ciphers(ctx);
	char *copy = strdup(list), *tok, *save = NULL;
	const SSL_CIPHER *c;
	int i, found, bad = 0;

	if (!copy)
		return -1;
	for (tok = strtok_r(copy, ":", &save); tok && !bad;
	     tok = strtok_r(NULL, ":", &save)) {
		found = 0;
		for (i = 0; sk && i < sk_SSL_CIPHER_num(sk) && !found; i++) {
			c = sk_SSL_CIPHER_value(sk, i);
			found = SSL_CIPHER_get_protocol_id(c) >> 8 == 0x13 &&
				!strcmp(SSL_CIPHER_get_name(c), tok);
		}
		if (!found) {
			report_at(ic, svc, &svc->ciphersuites.at,
				  "ciphersuites = %s: unknown TLS 1.3 ciphersuite \"%s\"",
				  list, tok);
			bad = 1;
		}
	}
	free(copy);
	return bad ? -1 : 0;
}

static int set_version(struct init_ctx *ic, struct service *svc,
		       SSL_CTX *ctx)
{
	char why[256];

	if (svc->version_min == SSL3_VERSION ||
	    svc->version_max == SSL3_VERSION) {
		report_at(ic, svc, &svc->version_at,
			  "SSLv3 is not supported: use TLSv1 or later");
		return -1;
	}
	if (svc->version_min && svc->version_max &&
	    svc->version_min > svc->version_max) {
		report_at(ic, svc, &svc->version_at,
			  "sslVersionMin is above sslVersionMax");
		return -1;
	}
	if (svc->version_min &&
	    !SSL_CTX_set_min_proto_version(ctx, svc->version_min)) {
		report_at(ic, svc, &svc->version_at,
			  "cannot set the lowest protocol version: %s",
			  ssl_reason(why, sizeof(why)));
		return -1;
	}
	if (svc->version_max &&
	    !SSL_CTX_set_max_proto_version(ctx, svc->version_max)) {
		report_at(ic, svc, &svc->version_at,
			  "cannot set the highest protocol version: %s",
			  ssl_reason(why, sizeof(why)));
		return -1;
	}
	return 0;
}

/* Versions, ciphers, groups, options, and what kTLS needs. */
static int setup_protocol(struct init_ctx *ic, struct service *svc,
			  SSL_CTX *ctx)
{
	const char *ciphers = svc->ciphers.v ? svc->ciphers.v : default_ciphers;
	const char *suites = svc->ciphersuites.v ? svc->ciphersuites.v :
			     default_ciphersuites;
	char why[256];
	int bad = 0;

	if (set_version(ic, svc, ctx) < 0)
		bad = 1;
	if (SSL_CTX_set_cipher_list(ctx, ciphers) != 1) {
		report_at(ic, svc, &svc->ciphers.at, "ciphers = %s: %s",
			  ciphers, ssl_reason(why, sizeof(why)));
		bad = 1;
	}
	if (SSL_CTX_set_ciphersuites(ctx, suites) != 1) {
		report_at(ic, svc, &svc->ciphersuites.at,
			  "ciphersuites = %s: %s", suites,
			  ssl_reason(why, sizeof(why)));
		bad = 1;
	} else if (check_ciphersuites(ic, svc, ctx, suites) < 0) {
		bad = 1;
	}
	if (svc->curves.v && SSL_CTX_set1_groups_list(ctx, svc->curves.v) != 1) {
		ERR_clear_error();
		report_at(ic, svc, &svc->curves.at,
			  "curves = %s: Invalid groups list in 'curves'",
			  svc->curves.v);
		bad = 1;
	}
	if (svc->security_level >= 0)
		SSL_CTX_set_security_level(ctx, svc->security_level);

	/* DESIGN.md 3.4: OpenSSL must never read past a record, until
	 * tls_conn_read_ahead() says that RX stays in userspace. */
	SSL_CTX_set_read_ahead(ctx, 0);
	SSL_CTX_set_max_early_data(ctx, 0);
	SSL_CTX_set_recv_max_early_data(ctx, 0);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
			 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
			 SSL_MODE_RELEASE_BUFFERS);
	if (!svc->client)
		SSL_CTX_set_dh_auto(ctx, 1);
	/* Client-initiated renegotiation stays refused (OpenSSL 3 default:
	 * no SSL_OP_ALLOW_CLIENT_RENEGOTIATION). */
	if (!svc->renegotiation)
		SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
	if (!svc->session_resume)
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_options(ctx, svc->options_set);
	SSL_CTX_clear_options(ctx, svc->options_clear);
	return bad ? -1 : 0;
}

/* ---- sessions and tickets ------------------------------------------- */

/* The keys for SSL: those of the section SNI chose, else the primary's. */
static struct tls_svc *ticket_keys_for(SSL *ssl)
{
	struct tls_svc *t = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ctx_idx);
	struct tls_conn *c;

	if (t && t->magic == TLS_SVC_MAGIC && t->has_ticket_keys)
		return t;
	c = conn_get(ssl);
	t = c ? svc_tls(c->svc) : NULL;
	return t && t->has_ticket_keys ? t : NULL;
}

/*
 * Tickets sealed with fixed keys (AES-CBC + HMAC-SHA256), so that they
 * stay valid across restarts and nodes. Returns 1 to use the keys, 0 for
 * an unknown key name (full handshake, new ticket), -1 on error.
 */
static int ticket_cb(SSL *ssl, unsigned char *name, unsigned char *iv,
		     EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
	struct tls_svc *t = ticket_keys_for(ssl);
	const EVP_CIPHER *cipher;
	OSSL_PARAM params[3];

	if (!t)
		return -1;
	cipher = t->ticket_key_len == 32 ? EVP_aes_256_cbc() :
		 EVP_aes_128_cbc();
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY,
				t->ticket_mac, (size_t)t->ticket_mac_len);
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
						     "SHA256", 0);
	params[2] = OSSL_PARAM_construct_end();

	if (enc) {
		memcpy(name, t->ticket_name, TICKET_NAME_LEN);
		if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(cipher)) != 1 ||
		    !EVP_EncryptInit_ex(cctx, cipher, NULL, t->ticket_key, iv) ||
		    !EVP_MAC_CTX_set_params(hctx, params))
			return -1;
		return 1;
	}
	if (memcmp(name, t->ticket_name, TICKET_NAME_LEN))
		return 0;
	if (!EVP_DecryptInit_ex(cctx, cipher, NULL, t->ticket_key, iv) ||
	    !EVP_MAC_CTX_set_params(hctx, params))
		return -1;
	return 1;
}

static int setup_ticket_keys(struct init_ctx *ic, struct service *svc,
			     struct tls_svc *t)
{
	unsigned char md[EVP_MAX_MD_SIZE], buf[64];
	int child_keys = 0, ok;
	char why[256];
	size_t i;

	for (i = 0; i < svc->n_sni_children; i++)
		child_keys |= svc->sni_children[i]->ticket_key_len > 0;
	if (!svc->ticket_key_len && !svc->ticket_mac_len) {
		/* Tickets are decrypted with the primary's callback: give it
		 * random keys when only its secondaries have fixed ones. */
		if (!child_keys)
			return 0;
		t->ticket_key_len = t->ticket_mac_len = 32;
		if (RAND_bytes(t->ticket_key, 32) != 1 ||
		    RAND_bytes(t->ticket_mac, 32) != 1 ||
		    RAND_bytes(t->ticket_name, TICKET_NAME_LEN) != 1)
			goto fail;
		goto install;
	}
	if ((svc->ticket_key_len != 16 && svc->ticket_key_len != 32) ||
	    svc->ticket_mac_len < 16 || svc->ticket_mac_len > 32) {
		report_at(ic, svc, &svc->at,
			  "ticketKeySecret (16 or 32 bytes) and ticketMacSecret (16 to 32 bytes) must be set together");
		return -1;
	}
	t->ticket_key_len = svc->ticket_key_len;
	t->ticket_mac_len = svc->ticket_mac_len;
	memcpy(t->ticket_key, svc->ticket_key, (size_t)t->ticket_key_len);
	memcpy(t->ticket_mac, svc->ticket_mac, (size_t)t->ticket_mac_len);
	/* The key name follows from the keys, so restarts agree on it. */
	memcpy(buf, t->ticket_key, (size_t)t->ticket_key_len);
	memcpy(buf + t->ticket_key_len, t->ticket_mac,
	       (size_t)t->ticket_mac_len);
	ok = EVP_Digest(buf, (size_t)(t->ticket_key_len + t->ticket_mac_len),
			md, NULL, EVP_sha256(), NULL);
	OPENSSL_cleanse(buf, sizeof(buf));
	if (!ok)
		goto fail;
	memcpy(t->ticket_name, md, TICKET_NAME_LEN);
install:
	t->has_ticket_keys = 1;
	if (SSL_CTX_set_tlsext_ticket_key_evp_cb(t->ctx, ticket_cb) != 1)
		goto fail;
	return 0;
fail:
	report_at(ic, svc, &svc->at, "cannot set up the session ticket keys: %s",
		  ssl_reason(why, sizeof(why)));
	return -1;
}

/*
 * Keep a copy of SESS as the session for TARGET. A copy, because OpenSSL
 * marks the SSL's own session object unresumable when that SSL is freed
 * without a TLS shutdown, which is the rule once kTLS owns the socket.
 */
static void store_session(struct tls_svc *t, const struct addr *target,
			  const SSL_SESSION *sess)
{
	SSL_SESSION *copy = SSL_SESSION_dup(sess), *old;
	struct session_slot *s = NULL;
	size_t i;

	if (!copy)
		return;
	pthread_mutex_lock(&t->lock);
	for (i = 0; i < t->n_slots && !s; i++)
		if (addr_equal(&t->slots[i].target, target))
			s = &t->slots[i];
	if (!s && t->n_slots < SESSION_SLOTS) {
		s = &t->slots[t->n_slots++];
	} else if (!s) {
		s = &t->slots[t->next_evict];
		t->next_evict = (t->next_evict + 1) % SESSION_SLOTS;
	}
	old = s->sess;
	s->target = *target;
	s->sess = copy;
	pthread_mutex_unlock(&t->lock);
	SSL_SESSION_free(old);
}

static void resume_session(struct tls_svc *t, SSL *ssl,
			   const struct addr *target)
{
	size_t i;

	pthread_mutex_lock(&t->lock);
	for (i = 0; i < t->n_slots; i++) {
		if (!addr_equal(&t->slots[i].target, target))
			continue;
		if (t->slots[i].sess &&
		    SSL_SESSION_is_resumable(t->slots[i].sess))
			SSL_set_session(ssl, t->slots[i].sess);
		break;
	}
	pthread_mutex_unlock(&t->lock);
}

/* Client mode: TLS 1.3 tickets arrive after the handshake. */
static int new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
	struct tls_conn *c = conn_get(ssl);
	struct tls_svc *t = c ? svc_tls(c->svc) : NULL;

	if (t && c->has_target && c->svc->session_resume)
		store_session(t, &c->target, sess);
	return 0;	/* the reference stays with OpenSSL */
}

static int setup_sessions(struct init_ctx *ic, struct service *svc,
			  struct tls_svc *t)
{
	unsigned char sid[SHA256_DIGEST_LENGTH];
	SSL_CTX *ctx = t->ctx;

	if (svc->client) {
		if (!svc->session_resume) {
			SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
			return 0;
		}
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
					       SSL_SESS_CACHE_NO_INTERNAL_STORE);
		SSL_CTX_sess_set_new_cb(ctx, new_session_cb);
		return 0;
	}

	/* Per service, stable across restarts: a session (or ticket) of
	 * one section never resumes in another, so requireCert holds. */
	if (!EVP_Digest(svc->name, strlen(svc->name), sid, NULL, EVP_sha256(),
			NULL) ||
	    SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid)) != 1) {
		report_at(ic, svc, &svc->at, "cannot set the session id context");
		return -1;
	}
	if (!svc->session_resume) {
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
		return 0;
	}
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	SSL_CTX_sess_set_cache_size(ctx, svc->session_cache_size);
	if (svc->session_cache_timeout > 0)
		SSL_CTX_set_timeout(ctx, svc->session_cache_timeout);
	return setup_ticket_keys(ic, svc, t);
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

void tls_conn_save_session(SSL *ssl, const struct addr *target)
{
	struct tls_conn *c = conn_get(ssl);
	struct tls_svc *t = c ? svc_tls(c->svc) : NULL;
	const SSL_SESSION *sess;

	if (!t || !target || !c->svc->client || !c->svc->session_resume)
		return;
	sess = SSL_get0_session(ssl);
	/* A TLS 1.3 session only becomes resumable with its ticket, which
	 * new_session_cb() stores; do not overwrite a good one. */
	if (sess && SSL_SESSION_is_resumable(sess))
		store_session(t, target, sess);
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
