/* SPDX-License-Identifier: MIT */
#include "tls_keys.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

struct tls_keys {
	unsigned char secret[2][KTLS_MAX_SECRET];	/* client, server */
	size_t secret_len[2];
	uint64_t seq[2];	/* read, write: records under the new keys */
};

static int keys_idx = -1;
static pthread_once_t keys_once = PTHREAD_ONCE_INIT;

static void keys_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
		      long argl, void *argp)
{
	if (ptr) {
		OPENSSL_cleanse(ptr, sizeof(struct tls_keys));
		free(ptr);
	}
}

static void keys_init_once(void)
{
	keys_idx = SSL_get_ex_new_index(0, "ktlsd keys", NULL, NULL,
					keys_free);
}

static struct tls_keys *keys_get(const SSL *ssl, int create)
{
	struct tls_keys *k = SSL_get_ex_data(ssl, keys_idx);

	if (!k && create) {
		k = calloc(1, sizeof(*k));
		if (k && !SSL_set_ex_data((SSL *)ssl, keys_idx, k)) {
			free(k);
			k = NULL;
		}
	}
	return k;
}

static void keylog_cb(const SSL *ssl, const char *line)
{
	unsigned char secret[KTLS_MAX_SECRET];
	enum ktls_secret_kind kind;
	struct tls_keys *k;
	size_t len;
	int i;

	if (ktls_keylog_parse(line, &kind, NULL, secret, &len) < 0)
		return;
	k = keys_get(ssl, 1);
	if (k) {
		i = kind == KTLS_CLIENT_TRAFFIC_SECRET_0 ? 0 : 1;
		memcpy(k->secret[i], secret, len);
		k->secret_len[i] = len;
	}
	OPENSSL_cleanse(secret, sizeof(secret));
}

static void msg_cb(int write_p, int version, int type, const void *buf,
		   size_t len, SSL *ssl, void *arg)
{
	struct tls_keys *k = keys_get(ssl, 1);

	if (!k)
		return;
	write_p = !!write_p;
	if (SSL_version(ssl) < TLS1_3_VERSION) {
		/* TLS 1.2: the keys change after the ChangeCipherSpec record,
		 * whose header OpenSSL reports both ways (the message itself
		 * only when written): the Finished that follows is record 0. */
		if (type == SSL3_RT_HEADER)
			k->seq[write_p] = len && ((const unsigned char *)buf)[0] ==
						  SSL3_RT_CHANGE_CIPHER_SPEC ?
					  0 : k->seq[write_p] + 1;
		return;
	}
	/* TLS 1.3: OpenSSL reports a record's header before the message it
	 * carries; the record after the Finished is the first under the
	 * application keys. */
	if (type == SSL3_RT_HEADER)
		k->seq[write_p]++;
	else if (type == SSL3_RT_HANDSHAKE && len &&
		 ((const unsigned char *)buf)[0] == SSL3_MT_FINISHED)
		k->seq[write_p] = 0;
}

void tls_keys_setup_ctx(SSL_CTX *ctx)
{
	pthread_once(&keys_once, keys_init_once);
	SSL_CTX_set_keylog_callback(ctx, keylog_cb);
	SSL_CTX_set_msg_callback(ctx, msg_cb);
}

int tls_keys_crypto_info(SSL *ssl, int tx, union ktls_crypto_info *ci,
			 const char **why)
{
	const SSL_CIPHER *sc = SSL_get_current_cipher(ssl);
	struct tls_keys *k = keys_get(ssl, 0);
	int version = SSL_version(ssl), server = SSL_is_server(ssl), rc;
	uint64_t seq;
	struct ktls_suite s;

	*why = NULL;
	if (SSL_get_current_compression(ssl)) {
		*why = "TLS compression is in use";
		return -EOPNOTSUPP;
	}
	if (SSL_SESSION_get_max_fragment_length(SSL_get_session(ssl))) {
		*why = "a maximum fragment length was negotiated";
		return -EOPNOTSUPP;
	}
	if (ktls_suite_find(version, sc, &s) < 0) {
		*why = ktls_cipher_why_not(version, sc);
		if (!*why)
			*why = "cipher suite not offloadable";
		return -EOPNOTSUPP;
	}
	if (!k) {
		*why = "no key material was captured";
		return -ENOKEY;
	}
	seq = k->seq[tx ? 1 : 0];
	if (version >= TLS1_3_VERSION) {
		/* our TX is the server's secret when we are the server */
		int i = server == tx ? 1 : 0;

		if (!k->secret_len[i]) {
			*why = "no traffic secret was captured";
			return -ENOKEY;
		}
		rc = ktls_crypto_info_tls13(ci, &s, k->secret[i],
					    k->secret_len[i], seq);
	} else {
		unsigned char master[SSL_MAX_MASTER_KEY_LENGTH];
		unsigned char cr[KTLS_RANDOM_LEN], sr[KTLS_RANDOM_LEN];
		size_t mlen;

		mlen = SSL_SESSION_get_master_key(SSL_get_session(ssl), master,
						  sizeof(master));
		SSL_get_client_random(ssl, cr, sizeof(cr));
		SSL_get_server_random(ssl, sr, sizeof(sr));
		rc = ktls_crypto_info_tls12(ci, &s, master, mlen, cr, sr,
					    server != tx, seq);
		OPENSSL_cleanse(master, sizeof(master));
	}
	if (rc < 0) {
		*why = "key derivation failed";
		return rc;
	}
	return 0;
}

int tls_keys_tls13_secrets(SSL *ssl, struct ktls_suite *suite,
			   unsigned char *tx, unsigned char *rx, size_t *len)
{
	struct tls_keys *k = keys_get(ssl, 0);
	int server = SSL_is_server(ssl);

	if (SSL_version(ssl) < TLS1_3_VERSION ||
	    ktls_suite_find(SSL_version(ssl), SSL_get_current_cipher(ssl),
			    suite) < 0)
		return -EOPNOTSUPP;
	if (!k || !k->secret_len[0] || k->secret_len[0] != k->secret_len[1])
		return -ENOKEY;
	/* the server's secret is a server's TX and a client's RX */
	memcpy(tx, k->secret[server ? 1 : 0], k->secret_len[0]);
	memcpy(rx, k->secret[server ? 0 : 1], k->secret_len[0]);
	*len = k->secret_len[0];
	return 0;
}

void tls_keys_forget(SSL *ssl)
{
	struct tls_keys *k = keys_get(ssl, 0);

	SSL_set_msg_callback(ssl, NULL);
	if (k)
		OPENSSL_cleanse(k->secret, sizeof(k->secret));
}
