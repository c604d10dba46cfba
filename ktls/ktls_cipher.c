/* SPDX-License-Identifier: MIT */
/*
 * ktls_cipher.c - the ciphers ktlsd hands to the kernel, and the words for
 * the ones it does not.
 *
 * A negotiated suite maps to a kernel cipher through its bulk cipher NID
 * (SSL_CIPHER_get_cipher_nid), not a list of IANA ids: the key exchange
 * and authentication parts do not matter to the record layer. Two traps:
 * OpenSSL reports AES-128-CCM-8 with the same NID as AES-128-CCM (the
 * kernel only does the 16-byte tag), and ktlsd keeps CCM on TLS 1.3 in
 * user space (DESIGN.md section 4).
 */
#include <errno.h>
#include <string.h>

#include <openssl/obj_mac.h>

#include "ktls.h"

static const struct ktls_cipher ktls_ciphers[KTLS_NCIPHERS] = {
	[KTLS_AES_128_GCM] = {
		.id = KTLS_AES_128_GCM,
		.name = "aes128gcm",
		.display = "AES-128-GCM",
		.evp_name = "AES-128-GCM",
		.nid = NID_aes_128_gcm,
		.kernel_type = TLS_CIPHER_AES_GCM_128,
		.tls13_id = 0x1301,
		.versions = KTLS_V12 | KTLS_V13,
		.key_len = TLS_CIPHER_AES_GCM_128_KEY_SIZE,
		.salt_len = TLS_CIPHER_AES_GCM_128_SALT_SIZE,
		.iv_len = TLS_CIPHER_AES_GCM_128_IV_SIZE,
		.rec_seq_len = TLS_CIPHER_AES_GCM_128_REC_SEQ_SIZE,
		.tag_len = TLS_CIPHER_AES_GCM_128_TAG_SIZE,
		.tls12_iv_len = 4,
		.info_size = sizeof(struct tls12_crypto_info_aes_gcm_128),
	},
	[KTLS_AES_256_GCM] = {
		.id = KTLS_AES_256_GCM,
		.name = "aes256gcm",
		.display = "AES-256-GCM",
		.evp_name = "AES-256-GCM",
		.nid = NID_aes_256_gcm,
		.kernel_type = TLS_CIPHER_AES_GCM_256,
		.tls13_id = 0x1302,
		.versions = KTLS_V12 | KTLS_V13,
		.key_len = TLS_CIPHER_AES_GCM_256_KEY_SIZE,
		.salt_len = TLS_CIPHER_AES_GCM_256_SALT_SIZE,
		.iv_len = TLS_CIPHER_AES_GCM_256_IV_SIZE,
		.rec_seq_len = TLS_CIPHER_AES_GCM_256_REC_SEQ_SIZE,
		.tag_len = TLS_CIPHER_AES_GCM_256_TAG_SIZE,
		.tls12_iv_len = 4,
		.info_size = sizeof(struct tls12_crypto_info_aes_gcm_256),
	},
	[KTLS_CHACHA20_POLY1305] = {
		.id = KTLS_CHACHA20_POLY1305,
		.name = "chacha20",
		.display = "CHACHA20-POLY1305",
		.evp_name = "ChaCha20-Poly1305",
		.nid = NID_chacha20_poly1305,
		.kernel_type = TLS_CIPHER_CHACHA20_POLY1305,
		.tls13_id = 0x1303,
		.versions = KTLS_V12 | KTLS_V13,
		.key_len = TLS_CIPHER_CHACHA20_POLY1305_KEY_SIZE,
		.salt_len = TLS_CIPHER_CHACHA20_POLY1305_SALT_SIZE,
		.iv_len = TLS_CIPHER_CHACHA20_POLY1305_IV_SIZE,
		.rec_seq_len = TLS_CIPHER_CHACHA20_POLY1305_REC_SEQ_SIZE,
		.tag_len = TLS_CIPHER_CHACHA20_POLY1305_TAG_SIZE,
		.tls12_iv_len = 12,	/* RFC 7905: 12-byte fixed IV */
		.info_size = sizeof(struct tls12_crypto_info_chacha20_poly1305),
	},
	[KTLS_AES_128_CCM] = {
		.id = KTLS_AES_128_CCM,
		.name = "aes128ccm",
		.display = "AES-128-CCM",
		.evp_name = "AES-128-CCM",
		.nid = NID_aes_128_ccm,
		.kernel_type = TLS_CIPHER_AES_CCM_128,
		.tls13_id = 0x1304,
		.versions = KTLS_V12,
		.key_len = TLS_CIPHER_AES_CCM_128_KEY_SIZE,
		.salt_len = TLS_CIPHER_AES_CCM_128_SALT_SIZE,
		.iv_len = TLS_CIPHER_AES_CCM_128_IV_SIZE,
		.rec_seq_len = TLS_CIPHER_AES_CCM_128_REC_SEQ_SIZE,
		.tag_len = TLS_CIPHER_AES_CCM_128_TAG_SIZE,
		.tls12_iv_len = 4,
		.info_size = sizeof(struct tls12_crypto_info_aes_ccm_128),
	},
};

const struct ktls_cipher *ktls_cipher_get(enum ktls_cipher_id id)
{
	if ((unsigned)id >= KTLS_NCIPHERS)
		return NULL;
	return &ktls_ciphers[id];
}

const struct ktls_cipher *ktls_cipher_by_kernel_type(unsigned type)
{
	for (int i = 0; i < KTLS_NCIPHERS; i++)
		if (ktls_ciphers[i].kernel_type == type)
			return &ktls_ciphers[i];
	return NULL;
}

const struct ktls_cipher *ktls_cipher_by_name(const char *name)
{
	if (!name)
		return NULL;
	for (int i = 0; i < KTLS_NCIPHERS; i++)
		if (!strcmp(ktls_ciphers[i].name, name))
			return &ktls_ciphers[i];
	return NULL;
}

bool ktls_cipher_has_version(const struct ktls_cipher *c, int version)
{
	if (!c)
		return false;
	if (version == TLS1_2_VERSION)
		return c->versions & KTLS_V12;
	if (version == TLS1_3_VERSION)
		return c->versions & KTLS_V13;
	return false;
}

const char *ktls_version_str(int version)
{
	switch (version) {
	case TLS1_2_VERSION:
		return "TLSv1.2";
	case TLS1_3_VERSION:
		return "TLSv1.3";
	default:
		return "unknown";
	}
}

static bool is_ccm8(const SSL_CIPHER *sc)
{
	const char *n = SSL_CIPHER_get_name(sc);
	const char *std = SSL_CIPHER_standard_name(sc);

	return (n && strstr(n, "CCM8")) || (std && strstr(std, "CCM_8"));
}

/*
 * The one decision: the table entry for (@version, @sc), or NULL and the
 * reason in *@why.
 */
static const struct ktls_cipher *classify(int version, const SSL_CIPHER *sc,
					  const char **why)
{
	const struct ktls_cipher *c = NULL;
	const char *v;
	int nid, is13;

	if (!sc) {
		*why = "no cipher suite negotiated";
		return NULL;
	}
	if (version != TLS1_2_VERSION && version != TLS1_3_VERSION) {
		*why = "only TLS 1.2 and TLS 1.3 are offloaded";
		return NULL;
	}
	/* TLS 1.3 suites live in the 0x13xx block; OpenSSL names the
	 * minimum version of a suite "TLSv1.3" for them */
	v = SSL_CIPHER_get_version(sc);
	is13 = (SSL_CIPHER_get_protocol_id(sc) >> 8) == 0x13 ||
	       (v && !strcmp(v, "TLSv1.3"));
	if (is13 != (version == TLS1_3_VERSION)) {
		*why = "cipher suite does not belong to the negotiated version";
		return NULL;
	}
	nid = SSL_CIPHER_get_cipher_nid(sc);
	if (nid == NID_undef) {
		*why = "cipher suites without encryption are not offloaded";
		return NULL;
	}
	if (!SSL_CIPHER_is_aead(sc)) {
		*why = "CBC (MAC-then-encrypt) cipher suites are not offloaded, "
		       "the kernel does AEAD only";
		return NULL;
	}
	if (is_ccm8(sc)) {
		*why = "AES-CCM-8 (8-byte tag) has no kernel offload";
		return NULL;
	}
	for (int i = 0; i < KTLS_NCIPHERS; i++)
		if (ktls_ciphers[i].nid == nid)
			c = &ktls_ciphers[i];
	if (!c) {
		*why = "the kernel offloads only AES-GCM, CHACHA20-POLY1305 "
		       "and AES-128-CCM";
		return NULL;
	}
	if (!ktls_cipher_has_version(c, version)) {
		*why = "AES-128-CCM is offloaded with TLS 1.2 only";
		return NULL;
	}
	if (!SSL_CIPHER_get_handshake_digest(sc)) {
		*why = "cipher suite has no known handshake digest";
		return NULL;
	}
	*why = NULL;
	return c;
}

int ktls_suite_find(int version, const SSL_CIPHER *sc, struct ktls_suite *out)
{
	const struct ktls_cipher *c;
	const char *why;

	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (!sc)
		return -EINVAL;
	c = classify(version, sc, &why);
	if (!c)
		return -EOPNOTSUPP;
	out->cipher = c;
	out->version = (uint16_t)version;
	out->md = SSL_CIPHER_get_handshake_digest(sc);
	return 0;
}

const char *ktls_cipher_why_not(int version, const SSL_CIPHER *sc)
{
	const char *why;

	classify(version, sc, &why);
	return why;
}
