/* SPDX-License-Identifier: MIT */
/*
 * options_tls.c - the handlers of the TLS options that need more than a
 * keyword or a string: sslVersion*, options = [-]NAME with its table of
 * OpenSSL SSL_OP_* names (and the ktlsd -options printer), and the
 * session ticket secrets.
 */
#include "options.h"
#include "util.h"

#include <ctype.h>
#include <openssl/ssl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ---- sslVersion, sslVersionMin, sslVersionMax --------------------------- */

static const struct keyword kw_version[] = {
	{ "all", 0 }, { "SSLv3", SSL3_VERSION }, { "TLSv1", TLS1_VERSION },
	{ "TLSv1.1", TLS1_1_VERSION }, { "TLSv1.2", TLS1_2_VERSION },
	{ "TLSv1.3", TLS1_3_VERSION }, { 0, 0 } };

/* sslVersion (o->min 0) sets both ends, sslVersionMin (1) and
 * sslVersionMax (2) one; "all" is 0, OpenSSL's "no limit". */
const char *opt_set_version(struct opt_ctx *p, const struct opt *o,
			    const char *v)
{
	int ver;

	if (opt_kw_lookup(kw_version, v, &ver))
		return opt_kw_why(p, kw_version);
#ifdef OPENSSL_NO_SSL3
	if (ver == SSL3_VERSION)
		return "SSLv3 is not supported by this OpenSSL build";
#endif
	if (o->min != 2)
		p->cur->version_min = ver;
	if (o->min != 1)
		p->cur->version_max = ver;
	p->cur->version_at = p->at;
	return NULL;
}

/* ---- options = [-]NAME: OpenSSL options --------------------------------- */

struct ssl_opt {
	const char *name;
	uint64_t value;
};

#define SSLOPT(n) { #n, SSL_OP_##n }
/* Every SSL_OP_* of OpenSSL 3.0; newer ones when the headers have them.
 * Names OpenSSL 3 keeps as 0 (NO_SSLv2, ...) are still accepted, since
 * old configuration files carry them. */
static const struct ssl_opt ssl_opts[] = {
	SSLOPT(ALL),
	SSLOPT(ALLOW_CLIENT_RENEGOTIATION),
	SSLOPT(ALLOW_NO_DHE_KEX),
	SSLOPT(ALLOW_UNSAFE_LEGACY_RENEGOTIATION),
	SSLOPT(CIPHER_SERVER_PREFERENCE),
#ifdef SSL_OP_CISCO_ANYCONNECT
	SSLOPT(CISCO_ANYCONNECT),
#endif
	SSLOPT(CLEANSE_PLAINTEXT),
	SSLOPT(COOKIE_EXCHANGE),
	SSLOPT(CRYPTOPRO_TLSEXT_BUG),
	SSLOPT(DISABLE_TLSEXT_CA_NAMES),
	SSLOPT(DONT_INSERT_EMPTY_FRAGMENTS),
	SSLOPT(ENABLE_KTLS),
#ifdef SSL_OP_ENABLE_KTLS_TX_ZEROCOPY_SENDFILE
	SSLOPT(ENABLE_KTLS_TX_ZEROCOPY_SENDFILE),
#endif
	SSLOPT(ENABLE_MIDDLEBOX_COMPAT),
	SSLOPT(EPHEMERAL_RSA),
	SSLOPT(IGNORE_UNEXPECTED_EOF),
	SSLOPT(LEGACY_SERVER_CONNECT),
#ifdef SSL_OP_LEGACY_EC_POINT_FORMATS
	SSLOPT(LEGACY_EC_POINT_FORMATS),
#endif
	SSLOPT(MICROSOFT_BIG_SSLV3_BUFFER),
	SSLOPT(MICROSOFT_SESS_ID_BUG),
	SSLOPT(MSIE_SSLV2_RSA_PADDING),
	SSLOPT(NETSCAPE_CA_DN_BUG),
	SSLOPT(NETSCAPE_CHALLENGE_BUG),
	SSLOPT(NETSCAPE_DEMO_CIPHER_CHANGE_BUG),
	SSLOPT(NETSCAPE_REUSE_CIPHER_CHANGE_BUG),
	SSLOPT(NO_ANTI_REPLAY),
	SSLOPT(NO_COMPRESSION),
	SSLOPT(NO_DTLSv1),
	SSLOPT(NO_DTLSv1_2),
	SSLOPT(NO_ENCRYPT_THEN_MAC),
	SSLOPT(NO_EXTENDED_MASTER_SECRET),
	SSLOPT(NO_QUERY_MTU),
	SSLOPT(NO_RENEGOTIATION),
#ifdef SSL_OP_NO_RX_CERTIFICATE_COMPRESSION
	SSLOPT(NO_RX_CERTIFICATE_COMPRESSION),
#endif
	SSLOPT(NO_SESSION_RESUMPTION_ON_RENEGOTIATION),
	SSLOPT(NO_SSLv2),
	SSLOPT(NO_SSLv3),
	SSLOPT(NO_TICKET),
	SSLOPT(NO_TLSv1),
	SSLOPT(NO_TLSv1_1),
	SSLOPT(NO_TLSv1_2),
	SSLOPT(NO_TLSv1_3),
#ifdef SSL_OP_NO_TX_CERTIFICATE_COMPRESSION
	SSLOPT(NO_TX_CERTIFICATE_COMPRESSION),
#endif
	SSLOPT(PKCS1_CHECK_1),
	SSLOPT(PKCS1_CHECK_2),
#ifdef SSL_OP_PREFER_NO_DHE_KEX
	SSLOPT(PREFER_NO_DHE_KEX),
#endif
	SSLOPT(PRIORITIZE_CHACHA),
	SSLOPT(SAFARI_ECDHE_ECDSA_BUG),
	SSLOPT(SINGLE_DH_USE),
	SSLOPT(SINGLE_ECDH_USE),
	SSLOPT(SSLEAY_080_CLIENT_DH_BUG),
	SSLOPT(SSLREF2_REUSE_CERT_TYPE_BUG),
	SSLOPT(TLSEXT_PADDING),
	SSLOPT(TLS_BLOCK_PADDING_BUG),
	SSLOPT(TLS_D5_BUG),
	SSLOPT(TLS_ROLLBACK_BUG),
};

/* Look up an OpenSSL option name (without SSL_OP_); 0 and *VAL, or -1.
 * Legacy names that OpenSSL 3 keeps as 0 are found with *VAL = 0. */
static int ssl_lookup(const char *name, uint64_t *val)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(ssl_opts); i++)
		if (!strcasecmp(ssl_opts[i].name, name)) {
			*val = ssl_opts[i].value;
			return 0;
		}
	return -1;
}

/* options = NAME sets SSL_OP_NAME, options = -NAME clears it; the later
 * line wins over an earlier (or inherited) one for the same bit. */
const char *opt_set_options(struct opt_ctx *p, const struct opt *o,
			    const char *v)
{
	struct service *s = p->cur;
	int clear = v[0] == '-';
	uint64_t bit;

	if (ssl_lookup(v + clear, &bit))
		return "Unknown TLS option (ktlsd -options lists them)";
	if (clear) {
		s->options_clear |= bit;
		s->options_set &= ~bit;
	} else {
		s->options_set |= bit;
		s->options_clear &= ~bit;
	}
	return NULL;
}

uint64_t config_ssl_option(const char *name)
{
	uint64_t v;

	return ssl_lookup(name, &v) ? 0 : v;
}

void config_print_ssl_options(FILE *out)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(ssl_opts); i++)
		fprintf(out, "%s\n", ssl_opts[i].name);
}

/* ---- ticketKeySecret, ticketMacSecret ----------------------------------- */

static int hexval(char c)
{
	return isdigit((unsigned char)c) ? c - '0' :
					   tolower((unsigned char)c) - 'a' + 10;
}

/* 16 or 32 bytes of hex, colons allowed anywhere ("00:11:..."). */
static const char *parse_secret(struct opt_ctx *p, const char *v,
				unsigned char *out, int *outlen)
{
	char hex[65];
	size_t n = 0, i;

	for (; *v; v++) {
		if (*v == ':')
			continue;
		if (!isxdigit((unsigned char)*v))
			return "Invalid hexadecimal digit";
		if (n < sizeof(hex))
			hex[n] = *v;
		n++;
	}
	if (n != 32 && n != 64) {
		snprintf(p->why, sizeof(p->why),
			 "Expected 16 or 32 bytes in hex, got %zu hex digit%s",
			 n, n == 1 ? "" : "s");
		return p->why;
	}
	for (i = 0; i < n / 2; i++)
		out[i] = hexval(hex[2 * i]) << 4 | hexval(hex[2 * i + 1]);
	*outlen = n / 2;
	return NULL;
}

const char *opt_set_ticket_key(struct opt_ctx *p, const struct opt *o,
			       const char *v)
{
	return parse_secret(p, v, p->cur->ticket_key, &p->cur->ticket_key_len);
}

const char *opt_set_ticket_mac(struct opt_ctx *p, const struct opt *o,
			       const char *v)
{
	return parse_secret(p, v, p->cur->ticket_mac, &p->cur->ticket_mac_len);
}
