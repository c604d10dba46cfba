/* SPDX-License-Identifier: MIT */
/*
 * ktls_kdf.c - traffic keys from what OpenSSL gives us.
 *
 * TLS 1.3 (RFC 8446 section 7.3): key = HKDF-Expand-Label(secret, "key",
 * "", key_length), iv = HKDF-Expand-Label(secret, "iv", "", 12), and after
 * a KeyUpdate the next secret is HKDF-Expand-Label(secret, "traffic upd",
 * "", Hash.length) (section 7.2). OpenSSL 3's TLS13-KDF in EXPAND_ONLY
 * mode is exactly HKDF-Expand-Label given the "tls13 " prefix.
 *
 * TLS 1.2 (RFC 5246 section 6.3): key_block = PRF(master_secret,
 * "key expansion", server_random + client_random), read as
 * client_write_MAC_key, server_write_MAC_key (both empty for AEAD),
 * client_write_key, server_write_key, client_write_IV, server_write_IV;
 * the IVs are the implicit nonce parts (RFC 5288: 4 bytes for GCM, RFC
 * 6655 for CCM, RFC 7905: 12 bytes for ChaCha20-Poly1305). The PRF is
 * OpenSSL's TLS1-PRF KDF with the suite's handshake digest.
 */
#include <errno.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "ktls.h"

#define TLS13_PREFIX "tls13 "

/* Run the KDF @name with @params into @out. 0 or -EIO. */
static int kdf_run(const char *name, OSSL_PARAM *params, unsigned char *out,
		   size_t out_len)
{
	EVP_KDF *kdf;
	EVP_KDF_CTX *kctx = NULL;
	int rc = -EIO;

	kdf = EVP_KDF_fetch(NULL, name, NULL);
	if (!kdf)
		return -EIO;
	kctx = EVP_KDF_CTX_new(kdf);
	if (kctx && EVP_KDF_derive(kctx, out, out_len, params) > 0)
		rc = 0;
	EVP_KDF_CTX_free(kctx);	/* cleanses the secrets it copied */
	EVP_KDF_free(kdf);
	if (rc)
		OPENSSL_cleanse(out, out_len);
	return rc;
}

static const char *md_name(const EVP_MD *md)
{
	return md ? EVP_MD_get0_name(md) : NULL;
}

int ktls_hkdf_expand_label(const EVP_MD *md, const unsigned char *secret,
			   size_t secret_len, const char *label,
			   const unsigned char *context, size_t context_len,
			   unsigned char *out, size_t out_len)
{
	OSSL_PARAM params[7], *p = params;
	int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
	const char *mdn = md_name(md);
	size_t label_len;

	if (!mdn || !secret || !label || !out || !out_len || out_len > 255 * 64)
		return -EINVAL;
	label_len = strlen(label);
	/* HkdfLabel: label<7..255> = "tls13 " + Label, context<0..255> */
	if (label_len + strlen(TLS13_PREFIX) > 255 || context_len > 255 ||
	    (context_len && !context))
		return -EINVAL;
	if (secret_len != (size_t)EVP_MD_get_size(md))
		return -EINVAL;

	*p++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
						(char *)mdn, 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
						 (void *)secret, secret_len);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PREFIX,
						 (void *)TLS13_PREFIX,
						 strlen(TLS13_PREFIX));
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_LABEL,
						 (void *)label, label_len);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_DATA,
						 (void *)(context ? context :
						 (const unsigned char *)""),
						 context_len);
	*p = OSSL_PARAM_construct_end();
	return kdf_run("TLS13-KDF", params, out, out_len);
}

int ktls_tls13_keys(const struct ktls_suite *s, const unsigned char *secret,
		    size_t secret_len, struct ktls_keys *out)
{
	int rc;

	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (!s || !s->cipher || s->version != TLS1_3_VERSION)
		return -EINVAL;
	out->key_len = s->cipher->key_len;
	out->iv_len = (size_t)s->cipher->salt_len + s->cipher->iv_len;
	rc = ktls_hkdf_expand_label(s->md, secret, secret_len, "key", NULL, 0,
				    out->key, out->key_len);
	if (!rc)
		rc = ktls_hkdf_expand_label(s->md, secret, secret_len, "iv",
					    NULL, 0, out->iv, out->iv_len);
	if (rc)
		OPENSSL_cleanse(out, sizeof(*out));
	return rc;
}

int ktls_tls13_next_secret(const struct ktls_suite *s,
			   const unsigned char *secret, size_t secret_len,
			   unsigned char *out)
{
	unsigned char next[KTLS_MAX_SECRET];
	int rc;

	if (!s || s->version != TLS1_3_VERSION || !out ||
	    secret_len > sizeof(next))
		return -EINVAL;
	/* computed aside so that @out may be @secret */
	rc = ktls_hkdf_expand_label(s->md, secret, secret_len, "traffic upd",
				    NULL, 0, next, secret_len);
	if (!rc)
		memcpy(out, next, secret_len);
	OPENSSL_cleanse(next, sizeof(next));
	return rc;
}

int ktls_tls12_prf(const EVP_MD *md, const unsigned char *secret,
		   size_t secret_len, const char *label,
		   const unsigned char *seed, size_t seed_len,
		   unsigned char *out, size_t out_len)
{
	OSSL_PARAM params[4], *p = params;
	unsigned char full_seed[256];
	const char *mdn = md_name(md);
	size_t label_len;
	int rc;

	if (!mdn || !secret || !secret_len || !label || !out || !out_len ||
	    (seed_len && !seed))
		return -EINVAL;
	label_len = strlen(label);
	if (label_len + seed_len > sizeof(full_seed))
		return -EINVAL;
	/* PRF(secret, label, seed) = P_hash(secret, label + seed) */
	memcpy(full_seed, label, label_len);
	if (seed_len)
		memcpy(full_seed + label_len, seed, seed_len);

	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
						(char *)mdn, 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET,
						 (void *)secret, secret_len);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED,
						 full_seed,
						 label_len + seed_len);
	*p = OSSL_PARAM_construct_end();
	rc = kdf_run("TLS1-PRF", params, out, out_len);
	OPENSSL_cleanse(full_seed, sizeof(full_seed));
	return rc;
}

int ktls_tls12_keys(const struct ktls_suite *s, const unsigned char *master,
		    size_t master_len,
		    const unsigned char client_random[KTLS_RANDOM_LEN],
		    const unsigned char server_random[KTLS_RANDOM_LEN],
		    struct ktls_keys *client_write,
		    struct ktls_keys *server_write)
{
	unsigned char seed[2 * KTLS_RANDOM_LEN];
	unsigned char block[2 * (KTLS_MAX_KEY + KTLS_MAX_IV)];
	const struct ktls_cipher *c;
	size_t kl, il, need;
	int rc;

	if (client_write)
		memset(client_write, 0, sizeof(*client_write));
	if (server_write)
		memset(server_write, 0, sizeof(*server_write));
	if (!s || !s->cipher || s->version != TLS1_2_VERSION || !master ||
	    !master_len || !client_random || !server_random)
		return -EINVAL;
	c = s->cipher;
	kl = c->key_len;
	il = c->tls12_iv_len;
	need = 2 * (kl + il);

	memcpy(seed, server_random, KTLS_RANDOM_LEN);
	memcpy(seed + KTLS_RANDOM_LEN, client_random, KTLS_RANDOM_LEN);
	rc = ktls_tls12_prf(s->md, master, master_len, "key expansion",
			    seed, sizeof(seed), block, need);
	if (rc)
		goto out;
	/* MAC keys are empty for AEAD; then keys, then IVs */
	if (client_write) {
		memcpy(client_write->key, block, kl);
		memcpy(client_write->iv, block + 2 * kl, il);
		client_write->key_len = kl;
		client_write->iv_len = il;
	}
	if (server_write) {
		memcpy(server_write->key, block + kl, kl);
		memcpy(server_write->iv, block + 2 * kl + il, il);
		server_write->key_len = kl;
		server_write->iv_len = il;
	}
out:
	OPENSSL_cleanse(block, sizeof(block));
	OPENSSL_cleanse(seed, sizeof(seed));
	return rc;
}
