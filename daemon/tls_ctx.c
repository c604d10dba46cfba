/* SPDX-License-Identifier: MIT */
/*
 * tls_ctx.c - what the SSL_CTX of a service is made of, from the stunnel
 * options: the verification policy and its callback, the certificate and
 * key, the trust anchors and revocation lists, the protocol versions,
 * ciphers, groups and options. svc_init() (tls.c) runs each step; each
 * reports its own errors.
 */
#include "tls_int.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509v3.h>

/* stunnel 5.75 defaults, applied when the option is not given. */
static const char default_ciphers[] = "HIGH:!aNULL:!SSLv2:!DH:!kDHEPSK";
static const char default_ciphersuites[] =
	"TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256:"
	"TLS_CHACHA20_POLY1305_SHA256";

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
void setup_verify(struct service *svc, SSL_CTX *ctx)
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
int load_identity(struct init_ctx *ic, struct service *svc, SSL_CTX *ctx)
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
int load_trust(struct init_ctx *ic, struct service *svc, SSL_CTX *ctx)
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
int setup_protocol(struct init_ctx *ic, struct service *svc,
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
