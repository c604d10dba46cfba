/* SPDX-License-Identifier: MIT */
/*
 * tls.c - the TLS options of the tools (--tls, --cert, --key, --ca,
 * --servername, --tls-version, --ciphers, --ciphersuites, --groups) and
 * the SSL_CTX they describe.
 */
#include "tool.h"

#include <string.h>

#include <openssl/ssl.h>

int tls_opts_take(struct tls_opts *t, int c, const char *arg)
{
	switch (c) {
	case OPT_TLS: t->on = 1; break;
	case OPT_CERT: t->cert = arg; break;
	case OPT_KEY: t->key = arg; break;
	case OPT_CA: t->ca = arg; break;
	case OPT_SERVERNAME: t->servername = arg; break;
	case OPT_TLS_VERSION:
		if (!strcmp(arg, "1.2"))
			t->version = 12;
		else if (!strcmp(arg, "1.3"))
			t->version = 13;
		else
			usage("--tls-version: 1.2 or 1.3");
		break;
	case OPT_CIPHERS: t->ciphers = arg; break;
	case OPT_CIPHERSUITES: t->ciphersuites = arg; break;
	case OPT_GROUPS: t->groups = arg; break;
	default:
		return 0;
	}
	return 1;
}

static void load_ca(SSL_CTX *x, const char *ca, int server)
{
	if (SSL_CTX_load_verify_locations(x, ca, NULL) != 1)
		die("%s: cannot load the CA file", ca);
	if (server) {
		STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(ca);

		if (names)
			SSL_CTX_set_client_CA_list(x, names);
		SSL_CTX_set_verify(x, SSL_VERIFY_PEER |
				   SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	} else {
		SSL_CTX_set_verify(x, SSL_VERIFY_PEER, NULL);
	}
}

SSL_CTX *tls_opts_ctx(const struct tls_opts *t, int server)
{
	SSL_CTX *x = SSL_CTX_new(server ? TLS_server_method()
					: TLS_client_method());

	if (!x)
		die("SSL_CTX_new failed");
	SSL_CTX_set_mode(x, SSL_MODE_ENABLE_PARTIAL_WRITE |
			    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (t->version) {
		int v = t->version == 12 ? TLS1_2_VERSION : TLS1_3_VERSION;

		if (!SSL_CTX_set_min_proto_version(x, v) ||
		    !SSL_CTX_set_max_proto_version(x, v))
			die("cannot pin the TLS version");
	}
	if (t->ciphers && !SSL_CTX_set_cipher_list(x, t->ciphers))
		die("--ciphers %s: no usable cipher", t->ciphers);
	if (t->ciphersuites && !SSL_CTX_set_ciphersuites(x, t->ciphersuites))
		die("--ciphersuites %s: no usable suite", t->ciphersuites);
	if (t->groups && !SSL_CTX_set1_groups_list(x, t->groups))
		die("--groups %s: no usable group", t->groups);
	if (t->cert) {
		if (SSL_CTX_use_certificate_chain_file(x, t->cert) != 1)
			die("%s: cannot load the certificate", t->cert);
		if (SSL_CTX_use_PrivateKey_file(x, t->key,
						SSL_FILETYPE_PEM) != 1)
			die("%s: cannot load the key", t->key);
		if (SSL_CTX_check_private_key(x) != 1)
			die("%s does not match %s", t->key, t->cert);
	}
	if (t->ca)
		load_ca(x, t->ca, server);
	else
		SSL_CTX_set_verify(x, SSL_VERIFY_NONE, NULL);
	return x;
}
