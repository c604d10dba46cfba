/* SPDX-License-Identifier: MIT */
/*
 * ktls_info.c - the kernel's struct tls12_crypto_info_* for one direction.
 *
 * The kernel builds each record's 12-byte AEAD nonce from salt + iv:
 *  - TLS 1.3, any cipher, and TLS 1.2 ChaCha20-Poly1305: the nonce is
 *    (salt || iv) XOR the 64-bit record sequence number (RFC 8446 5.3,
 *    RFC 7905), so salt || iv must be the whole write IV;
 *  - TLS 1.2 AES-GCM/CCM: the nonce is salt || explicit part, and the
 *    explicit part travels in each record. On TX the kernel starts from
 *    crypto_info.iv and increments it per record; we start it at the
 *    record sequence number, the usual choice (RFC 5288 section 3), as
 *    GnuTLS and tlshd do. On RX the kernel reads it from the record.
 * rec_seq is the sequence number of the next record, big-endian.
 */
#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>

#include "ktls.h"

#define VIEW(ci, member)                                                 \
	do {                                                             \
		v->iv = (ci)->member.iv;                                 \
		v->key = (ci)->member.key;                               \
		v->salt = (ci)->member.salt;                             \
		v->rec_seq = (ci)->member.rec_seq;                       \
		v->iv_len = sizeof((ci)->member.iv);                     \
		v->key_len = sizeof((ci)->member.key);                   \
		v->salt_len = sizeof((ci)->member.salt);                 \
		v->rec_seq_len = sizeof((ci)->member.rec_seq);           \
		v->size = sizeof((ci)->member);                          \
	} while (0)

int ktls_crypto_info_view(union ktls_crypto_info *ci,
			  struct ktls_info_view *v)
{
	if (!ci || !v)
		return -EINVAL;
	memset(v, 0, sizeof(*v));
	switch (ci->info.cipher_type) {
	case TLS_CIPHER_AES_GCM_128:
		VIEW(ci, aes_gcm_128);
		return 0;
	case TLS_CIPHER_AES_GCM_256:
		VIEW(ci, aes_gcm_256);
		return 0;
	case TLS_CIPHER_AES_CCM_128:
		VIEW(ci, aes_ccm_128);
		return 0;
	case TLS_CIPHER_CHACHA20_POLY1305:
		VIEW(ci, chacha20_poly1305);
		return 0;
	default:
		return -EINVAL;
	}
}

void ktls_crypto_info_wipe(union ktls_crypto_info *ci)
{
	if (ci)
		OPENSSL_cleanse(ci, sizeof(*ci));
}

static void put_be64(unsigned char *p, uint64_t x)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (unsigned char)x;
		x >>= 8;
	}
}

int ktls_crypto_info_fill(union ktls_crypto_info *ci,
			  const struct ktls_suite *s,
			  const struct ktls_keys *keys, uint64_t rec_seq)
{
	const struct ktls_cipher *c;
	struct ktls_info_view v;
	size_t want_iv;
	bool explicit_nonce;

	if (!ci)
		return -EINVAL;
	ktls_crypto_info_wipe(ci);
	if (!s || !s->cipher || !keys ||
	    !ktls_cipher_has_version(s->cipher, s->version))
		return -EINVAL;
	c = s->cipher;
	/* TLS 1.2 GCM/CCM: only the implicit part comes from the key block */
	explicit_nonce = s->version == TLS1_2_VERSION && c->salt_len;
	want_iv = explicit_nonce ? c->salt_len :
		  (size_t)c->salt_len + c->iv_len;
	if (keys->key_len != c->key_len || keys->iv_len != want_iv)
		return -EINVAL;

	ci->info.version = s->version;
	ci->info.cipher_type = c->kernel_type;
	if (ktls_crypto_info_view(ci, &v) || v.size != c->info_size ||
	    v.key_len != c->key_len || v.salt_len != c->salt_len ||
	    v.iv_len != c->iv_len || v.rec_seq_len != 8) {
		ktls_crypto_info_wipe(ci);
		return -EINVAL;
	}
	memcpy(v.key, keys->key, v.key_len);
	if (v.salt_len)
		memcpy(v.salt, keys->iv, v.salt_len);
	if (explicit_nonce)
		put_be64(v.iv, rec_seq);
	else
		memcpy(v.iv, keys->iv + v.salt_len, v.iv_len);
	put_be64(v.rec_seq, rec_seq);
	return (int)v.size;
}

int ktls_crypto_info_tls13(union ktls_crypto_info *ci,
			   const struct ktls_suite *s,
			   const unsigned char *secret, size_t secret_len,
			   uint64_t rec_seq)
{
	struct ktls_keys k;
	int rc;

	if (!ci)
		return -EINVAL;
	ktls_crypto_info_wipe(ci);
	rc = ktls_tls13_keys(s, secret, secret_len, &k);
	if (!rc)
		rc = ktls_crypto_info_fill(ci, s, &k, rec_seq);
	OPENSSL_cleanse(&k, sizeof(k));
	return rc;
}

int ktls_crypto_info_tls12(union ktls_crypto_info *ci,
			   const struct ktls_suite *s,
			   const unsigned char *master, size_t master_len,
			   const unsigned char client_random[KTLS_RANDOM_LEN],
			   const unsigned char server_random[KTLS_RANDOM_LEN],
			   bool client_write, uint64_t rec_seq)
{
	struct ktls_keys k;
	int rc;

	if (!ci)
		return -EINVAL;
	ktls_crypto_info_wipe(ci);
	rc = ktls_tls12_keys(s, master, master_len, client_random,
			     server_random, client_write ? &k : NULL,
			     client_write ? NULL : &k);
	if (!rc)
		rc = ktls_crypto_info_fill(ci, s, &k, rec_seq);
	OPENSSL_cleanse(&k, sizeof(k));
	return rc;
}
