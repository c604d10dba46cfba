/* SPDX-License-Identifier: MIT */
/*
 * test_ktls.c - the ktls/ mechanism layer.
 *
 * Without kernel TLS: the cipher table against OpenSSL's suites, key
 * derivation against published vectors (RFC 8448 section 3 for TLS 1.3,
 * the IETF TLS list's PRF-SHA256 vector for TLS 1.2), crypto_info filling,
 * keylog parsing, the summary line; and, as the strongest check we can run
 * here, real in-process OpenSSL handshakes whose records are opened and
 * sealed by a small software model of what the kernel does with a
 * crypto_info (nonce = salt || iv XOR seq, or salt || explicit nonce),
 * in both directions, for every cipher and version, across a TLS 1.3
 * KeyUpdate too.
 *
 * With kernel TLS (the VM): record send/receive with control records,
 * getsockopt, and the probe; these skip with the reason when setsockopt
 * (TCP_ULP, "tls") fails.
 */
#include "../harness.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "ktls.h"

/* ---- helpers ------------------------------------------------------------ */

/* Hex (spaces allowed) to bytes; returns the byte count. */
static size_t unhex(const char *s, unsigned char *out, size_t max)
{
	size_t n = 0;

	while (*s && n < max) {
		unsigned int b;

		if (*s == ' ' || *s == '\n') {
			s++;
			continue;
		}
		if (sscanf(s, "%2x", &b) != 1)
			break;
		out[n++] = (unsigned char)b;
		s += 2;
	}
	return n;
}

#define EXPECT_HEX(buf, len, hex)                                        \
	do {                                                             \
		unsigned char _e[256];                                   \
		size_t _n = unhex(hex, _e, sizeof(_e));                  \
		EXPECT_EQ(_n, (len));                                    \
		EXPECT_TRUE(!memcmp((buf), _e, _n));                     \
	} while (0)

static uint64_t get_be64(const unsigned char *p)
{
	uint64_t x = 0;

	for (int i = 0; i < 8; i++)
		x = x << 8 | p[i];
	return x;
}

static void put_be64(unsigned char *p, uint64_t x)
{
	for (int i = 7; i >= 0; i--, x >>= 8)
		p[i] = (unsigned char)x;
}

static SSL *any_ssl(void)
{
	static SSL_CTX *ctx;
	static SSL *ssl;

	if (!ssl) {
		ctx = SSL_CTX_new(TLS_method());
		ssl = ctx ? SSL_new(ctx) : NULL;
	}
	return ssl;
}

/* The OpenSSL cipher with IANA id @id, whatever is enabled. */
static const SSL_CIPHER *cipher_by_id(uint16_t id)
{
	const unsigned char b[2] = { (unsigned char)(id >> 8),
				     (unsigned char)id };

	return SSL_CIPHER_find(any_ssl(), b);
}

static int suite_of(int version, uint16_t id, struct ktls_suite *s)
{
	return ktls_suite_find(version, cipher_by_id(id), s);
}

/* ---- cipher table ------------------------------------------------------- */

TEST(cipher_table_is_consistent)
{
	for (int i = 0; i < KTLS_NCIPHERS; i++) {
		const struct ktls_cipher *c = ktls_cipher_get(i);

		ASSERT_TRUE(c);
		EXPECT_EQ(c->id, i);
		EXPECT_EQ(c->salt_len + c->iv_len, 12);
		EXPECT_EQ(c->rec_seq_len, 8);
		EXPECT_EQ(c->tag_len, 16);
		EXPECT_TRUE(c->versions & KTLS_V12);
		EXPECT_EQ(c->info_size, sizeof(struct tls_crypto_info) +
			  c->iv_len + c->key_len + c->salt_len + 8);
		EXPECT_TRUE(ktls_cipher_by_kernel_type(c->kernel_type) == c);
		EXPECT_TRUE(ktls_cipher_by_name(c->name) == c);
	}
	EXPECT_TRUE(ktls_cipher_get(KTLS_NCIPHERS) == NULL);
	EXPECT_TRUE(ktls_cipher_by_kernel_type(0) == NULL);
	EXPECT_TRUE(ktls_cipher_by_name("rc4") == NULL);
	EXPECT_EQ(ktls_cipher_get(KTLS_AES_128_GCM)->kernel_type, 51);
	EXPECT_EQ(ktls_cipher_get(KTLS_AES_256_GCM)->kernel_type, 52);
	EXPECT_EQ(ktls_cipher_get(KTLS_AES_128_CCM)->kernel_type, 53);
	EXPECT_EQ(ktls_cipher_get(KTLS_CHACHA20_POLY1305)->kernel_type, 54);
	EXPECT_FALSE(ktls_cipher_has_version(
		ktls_cipher_get(KTLS_AES_128_CCM), TLS1_3_VERSION));
	EXPECT_EQ(sizeof(union ktls_crypto_info),
		  sizeof(struct tls12_crypto_info_aes_gcm_256));
}

static void expect_suite(int version, uint16_t id, enum ktls_cipher_id want,
			 const char *md)
{
	struct ktls_suite s;

	ASSERT_TRUE(cipher_by_id(id));
	EXPECT_EQ(suite_of(version, id, &s), 0);
	EXPECT_TRUE(ktls_cipher_why_not(version, cipher_by_id(id)) == NULL);
	if (!s.cipher) {
		printf("# suite 0x%04x not found\n", id);
		return;
	}
	EXPECT_EQ(s.cipher->id, want);
	EXPECT_EQ(s.version, version);
	EXPECT_STREQ(EVP_MD_get0_name(s.md), md);
}

static void expect_refused(int version, uint16_t id, const char *why_part)
{
	struct ktls_suite s;
	const SSL_CIPHER *sc = cipher_by_id(id);

	ASSERT_TRUE(sc);
	EXPECT_EQ(ktls_suite_find(version, sc, &s), -EOPNOTSUPP);
	EXPECT_TRUE(s.cipher == NULL);
	EXPECT_CONTAINS(ktls_cipher_why_not(version, sc), why_part);
}

TEST(suites_tls13)
{
	expect_suite(TLS1_3_VERSION, 0x1301, KTLS_AES_128_GCM, "SHA256");
	expect_suite(TLS1_3_VERSION, 0x1302, KTLS_AES_256_GCM, "SHA384");
	expect_suite(TLS1_3_VERSION, 0x1303, KTLS_CHACHA20_POLY1305, "SHA256");
	expect_refused(TLS1_3_VERSION, 0x1304, "TLS 1.2 only");	/* CCM */
	expect_refused(TLS1_3_VERSION, 0x1305, "CCM-8");
	/* a 1.3 suite with another version, and the reverse */
	expect_refused(TLS1_2_VERSION, 0x1301, "version");
	expect_refused(TLS1_3_VERSION, 0xC02B, "version");
}

TEST(suites_tls12)
{
	/* ECDHE-ECDSA-AES128-GCM-SHA256, ECDHE-RSA-AES256-GCM-SHA384 */
	expect_suite(TLS1_2_VERSION, 0xC02B, KTLS_AES_128_GCM, "SHA256");
	expect_suite(TLS1_2_VERSION, 0xC030, KTLS_AES_256_GCM, "SHA384");
	/* AES128-GCM-SHA256 (RSA key exchange), DHE-RSA-AES256-GCM-SHA384 */
	expect_suite(TLS1_2_VERSION, 0x009C, KTLS_AES_128_GCM, "SHA256");
	expect_suite(TLS1_2_VERSION, 0x009F, KTLS_AES_256_GCM, "SHA384");
	/* ECDHE-RSA-CHACHA20-POLY1305, ECDHE-ECDSA-AES128-CCM */
	expect_suite(TLS1_2_VERSION, 0xCCA8, KTLS_CHACHA20_POLY1305, "SHA256");
	expect_suite(TLS1_2_VERSION, 0xC0AC, KTLS_AES_128_CCM, "SHA256");
	/* ECDHE-ECDSA-AES128-CCM8 */
	expect_refused(TLS1_2_VERSION, 0xC0AE, "CCM-8");
	/* ECDHE-RSA-AES128-SHA256, AES128-SHA: CBC */
	expect_refused(TLS1_2_VERSION, 0xC027, "CBC");
	expect_refused(TLS1_2_VERSION, 0x002F, "CBC");
	/* ECDHE-ECDSA-ARIA128-GCM-SHA256: AEAD, but no kernel offload here */
	if (cipher_by_id(0xC05C))
		expect_refused(TLS1_2_VERSION, 0xC05C, "only AES-GCM");
	/* TLS 1.1 */
	expect_refused(TLS1_1_VERSION, 0xC02B, "only TLS 1.2 and TLS 1.3");
	EXPECT_CONTAINS(ktls_cipher_why_not(TLS1_2_VERSION, NULL),
			"no cipher");
	EXPECT_EQ(ktls_suite_find(TLS1_2_VERSION, NULL, &(struct ktls_suite){0}),
		  -EINVAL);
}

/* Every suite OpenSSL knows: found exactly when there is no reason not. */
TEST(suites_all_openssl_consistent)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_method());
	STACK_OF(SSL_CIPHER) *sk;
	SSL *ssl;
	int found = 0, refused = 0;

	ASSERT_TRUE(ctx);
	SSL_CTX_set_security_level(ctx, 0);
	ASSERT_TRUE(SSL_CTX_set_cipher_list(ctx, "ALL:COMPLEMENTOFALL"));
	ASSERT_TRUE(SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256:"
		"TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:"
		"TLS_AES_128_CCM_SHA256:TLS_AES_128_CCM_8_SHA256"));
	ssl = SSL_new(ctx);
	ASSERT_TRUE(ssl);
	sk = SSL_get_ciphers(ssl);
	for (int i = 0; i < sk_SSL_CIPHER_num(sk); i++) {
		const SSL_CIPHER *sc = sk_SSL_CIPHER_value(sk, i);

		for (int v = TLS1_2_VERSION; v <= TLS1_3_VERSION; v++) {
			struct ktls_suite s;
			int rc = ktls_suite_find(v, sc, &s);
			const char *why = ktls_cipher_why_not(v, sc);

			EXPECT_EQ(rc == 0, why == NULL);
			if (rc) {
				refused++;
				continue;
			}
			found++;
			EXPECT_EQ(s.cipher->nid, SSL_CIPHER_get_cipher_nid(sc));
			EXPECT_TRUE(SSL_CIPHER_is_aead(sc));
			EXPECT_TRUE(s.md != NULL);
			EXPECT_TRUE(strstr(SSL_CIPHER_get_name(sc), "CCM8") ==
				    NULL);
		}
	}
	printf("# %d suite/version pairs offloadable, %d refused\n", found,
	       refused);
	fflush(stdout);
	EXPECT_TRUE(found >= 10);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
}

/* ---- key derivation ----------------------------------------------------- */

/* RFC 8448 section 3, "Simple 1-RTT Handshake", TLS_AES_128_GCM_SHA256 */
#define RFC8448_C_AP "9e 40 64 6c e7 9a 7f 9d c0 5a f8 88 9b ce 65 52" \
		     "87 5a fa 0b 06 df 00 87 f7 92 eb b7 c1 75 04 a5"
#define RFC8448_S_AP "a1 1a f9 f0 55 31 f8 56 ad 47 11 6b 45 a9 50 32" \
		     "82 04 b4 f4 4b fb 6b 3a 4b 4f 1f 3f cb 63 16 43"

TEST(tls13_keys_rfc8448)
{
	unsigned char secret[48];
	struct ktls_suite s;
	struct ktls_keys k;
	size_t n;

	ASSERT_EQ(suite_of(TLS1_3_VERSION, 0x1301, &s), 0);

	n = unhex(RFC8448_S_AP, secret, sizeof(secret));
	ASSERT_EQ(n, 32);
	ASSERT_EQ(ktls_tls13_keys(&s, secret, n, &k), 0);
	EXPECT_HEX(k.key, k.key_len, "9f 02 28 3b 6c 9c 07 ef c2 6b b9 f2 ac 92 e3 56");
	EXPECT_HEX(k.iv, k.iv_len, "cf 78 2b 88 dd 83 54 9a ad f1 e9 84");

	n = unhex(RFC8448_C_AP, secret, sizeof(secret));
	ASSERT_EQ(ktls_tls13_keys(&s, secret, n, &k), 0);
	EXPECT_HEX(k.key, k.key_len, "17 42 2d da 59 6e d5 d9 ac d8 90 e3 c6 3f 50 51");
	EXPECT_HEX(k.iv, k.iv_len, "5b 78 92 3d ee 08 57 90 33 e5 23 d9");

	/* a secret of the wrong length for the digest is refused */
	EXPECT_EQ(ktls_tls13_keys(&s, secret, 31, &k), -EINVAL);
	EXPECT_EQ(k.key_len, 0);
	/* a TLS 1.2 suite is refused */
	ASSERT_EQ(suite_of(TLS1_2_VERSION, 0xC02B, &s), 0);
	EXPECT_EQ(ktls_tls13_keys(&s, secret, n, &k), -EINVAL);
}

TEST(tls13_crypto_info_rfc8448)
{
	union ktls_crypto_info ci;
	struct ktls_info_view v;
	unsigned char secret[32];
	struct ktls_suite s;

	ASSERT_EQ(suite_of(TLS1_3_VERSION, 0x1301, &s), 0);
	unhex(RFC8448_S_AP, secret, sizeof(secret));
	ASSERT_EQ(ktls_crypto_info_tls13(&ci, &s, secret, 32, 2),
		  (int)sizeof(struct tls12_crypto_info_aes_gcm_128));
	EXPECT_EQ(ci.info.version, TLS_1_3_VERSION);
	EXPECT_EQ(ci.info.cipher_type, TLS_CIPHER_AES_GCM_128);
	ASSERT_EQ(ktls_crypto_info_view(&ci, &v), 0);
	EXPECT_HEX(v.key, v.key_len, "9f 02 28 3b 6c 9c 07 ef c2 6b b9 f2 ac 92 e3 56");
	EXPECT_HEX(v.salt, v.salt_len, "cf 78 2b 88");
	EXPECT_HEX(v.iv, v.iv_len, "dd 83 54 9a ad f1 e9 84");
	EXPECT_HEX(v.rec_seq, v.rec_seq_len, "00 00 00 00 00 00 00 02");
	ktls_crypto_info_wipe(&ci);
	for (size_t i = 0; i < sizeof(ci); i++)
		ASSERT_EQ(((unsigned char *)&ci)[i], 0);
}

TEST(tls13_traffic_update)
{
	unsigned char secret[48], a[48], b[48], c[48];
	struct ktls_suite s;
	struct ktls_keys k1, k2;
	size_t n;

	ASSERT_EQ(suite_of(TLS1_3_VERSION, 0x1301, &s), 0);
	n = unhex(RFC8448_S_AP, secret, sizeof(secret));
	ASSERT_EQ(ktls_tls13_next_secret(&s, secret, n, a), 0);
	ASSERT_EQ(ktls_tls13_next_secret(&s, secret, n, b), 0);
	EXPECT_TRUE(!memcmp(a, b, n));		/* deterministic */
	EXPECT_TRUE(memcmp(a, secret, n));	/* and new */
	/* it is HKDF-Expand-Label(secret, "traffic upd", "", 32) */
	ASSERT_EQ(ktls_hkdf_expand_label(s.md, secret, n, "traffic upd", NULL,
					 0, c, n), 0);
	EXPECT_TRUE(!memcmp(a, c, n));
	/* in place */
	memcpy(c, secret, n);
	ASSERT_EQ(ktls_tls13_next_secret(&s, c, n, c), 0);
	EXPECT_TRUE(!memcmp(a, c, n));
	/* and gives other keys */
	ASSERT_EQ(ktls_tls13_keys(&s, secret, n, &k1), 0);
	ASSERT_EQ(ktls_tls13_keys(&s, a, n, &k2), 0);
	EXPECT_TRUE(memcmp(k1.key, k2.key, k1.key_len));
	/* SHA-384 suites: 48-byte secrets */
	ASSERT_EQ(suite_of(TLS1_3_VERSION, 0x1302, &s), 0);
	memset(secret, 7, sizeof(secret));
	EXPECT_EQ(ktls_tls13_next_secret(&s, secret, 48, a), 0);
	EXPECT_EQ(ktls_tls13_next_secret(&s, secret, 32, a), -EINVAL);
	/* The value itself is checked against OpenSSL's own KeyUpdate in
	 * e2e_tls13_key_update. */
}

/*
 * TLS 1.2 PRF with SHA-256: the vector posted to the IETF TLS list
 * (msg03416) and used by many implementations' test suites.
 */
TEST(tls12_prf_sha256_vector)
{
	unsigned char secret[16], seed[16], out[100];

	unhex("9b be 43 6b a9 40 f0 17 b1 76 52 84 9a 71 db 35", secret, 16);
	unhex("a0 ba 9f 93 6c da 31 18 27 a6 f7 96 ff d5 19 8c", seed, 16);
	ASSERT_EQ(ktls_tls12_prf(EVP_sha256(), secret, 16, "test label", seed,
				 16, out, sizeof(out)), 0);
	EXPECT_HEX(out, sizeof(out),
		"e3 f2 29 ba 72 7b e1 7b 8d 12 26 20 55 7c d4 53"
		"c2 aa b2 1d 07 c3 d4 95 32 9b 52 d4 e6 1e db 5a"
		"6b 30 17 91 e9 0d 35 c9 c9 a4 6b 4e 14 ba f9 af"
		"0f a0 22 f7 07 7d ef 17 ab fd 37 97 c0 56 4b ab"
		"4f bc 91 66 6e 9d ef 9b 97 fc e3 4f 79 67 89 ba"
		"a4 80 82 d1 22 ee 42 c5 a7 2e 5a 51 10 ff f7 01"
		"87 34 7b 66");
	EXPECT_EQ(ktls_tls12_prf(NULL, secret, 16, "x", seed, 16, out, 10),
		  -EINVAL);
}

/* The key block is split as RFC 5246 6.3 says, seed = server + client. */
TEST(tls12_key_block_layout)
{
	static const uint16_t ids[] = { 0xC02B, 0xC030, 0xCCA8, 0xC0AC };
	unsigned char master[48], cr[32], sr[32], seed[64], block[128];

	for (int i = 0; i < 48; i++)
		master[i] = (unsigned char)i;
	memset(cr, 0xc1, sizeof(cr));
	memset(sr, 0x5e, sizeof(sr));
	memcpy(seed, sr, 32);
	memcpy(seed + 32, cr, 32);
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		struct ktls_suite s;
		struct ktls_keys cw, sw;
		size_t kl, il;

		ASSERT_EQ(suite_of(TLS1_2_VERSION, ids[i], &s), 0);
		kl = s.cipher->key_len;
		il = s.cipher->tls12_iv_len;
		ASSERT_EQ(ktls_tls12_prf(s.md, master, 48, "key expansion",
					 seed, 64, block, 2 * (kl + il)), 0);
		ASSERT_EQ(ktls_tls12_keys(&s, master, 48, cr, sr, &cw, &sw), 0);
		EXPECT_EQ(cw.key_len, kl);
		EXPECT_EQ(cw.iv_len, il);
		EXPECT_EQ(sw.iv_len, il);
		EXPECT_TRUE(!memcmp(cw.key, block, kl));
		EXPECT_TRUE(!memcmp(sw.key, block + kl, kl));
		EXPECT_TRUE(!memcmp(cw.iv, block + 2 * kl, il));
		EXPECT_TRUE(!memcmp(sw.iv, block + 2 * kl + il, il));
	}
	/* chacha20: 12-byte IVs; GCM: 4 */
	EXPECT_EQ(ktls_cipher_get(KTLS_CHACHA20_POLY1305)->tls12_iv_len, 12);
	EXPECT_EQ(ktls_cipher_get(KTLS_AES_128_GCM)->tls12_iv_len, 4);
}

/* ---- crypto_info ------------------------------------------------------- */

TEST(crypto_info_fill_every_cipher)
{
	static const struct {
		int version;
		uint16_t id;
		unsigned type;
		size_t size, key, salt, iv;
	} cases[] = {
		{ TLS1_3_VERSION, 0x1301, 51, 40, 16, 4, 8 },
		{ TLS1_3_VERSION, 0x1302, 52, 56, 32, 4, 8 },
		{ TLS1_3_VERSION, 0x1303, 54, 56, 32, 0, 12 },
		{ TLS1_2_VERSION, 0xC02B, 51, 40, 16, 4, 8 },
		{ TLS1_2_VERSION, 0xC030, 52, 56, 32, 4, 8 },
		{ TLS1_2_VERSION, 0xCCA8, 54, 56, 32, 0, 12 },
		{ TLS1_2_VERSION, 0xC0AC, 53, 40, 16, 4, 8 },
	};
	const uint64_t seq = 0x0102030405060708ULL;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		union ktls_crypto_info ci;
		struct ktls_info_view v;
		struct ktls_suite s;
		struct ktls_keys k;
		bool explicit_nonce;

		ASSERT_EQ(suite_of(cases[i].version, cases[i].id, &s), 0);
		memset(&k, 0, sizeof(k));
		for (int j = 0; j < KTLS_MAX_KEY; j++)
			k.key[j] = (unsigned char)(0xa0 + j);
		for (int j = 0; j < KTLS_MAX_IV; j++)
			k.iv[j] = (unsigned char)(0x10 + j);
		k.key_len = s.cipher->key_len;
		explicit_nonce = cases[i].version == TLS1_2_VERSION &&
				 cases[i].salt;
		k.iv_len = explicit_nonce ? 4 : 12;

		EXPECT_EQ(ktls_crypto_info_fill(&ci, &s, &k, seq),
			  (int)cases[i].size);
		EXPECT_EQ(ci.info.version, cases[i].version);
		EXPECT_EQ(ci.info.cipher_type, cases[i].type);
		ASSERT_EQ(ktls_crypto_info_view(&ci, &v), 0);
		EXPECT_EQ(v.size, cases[i].size);
		EXPECT_EQ(v.key_len, cases[i].key);
		EXPECT_EQ(v.salt_len, cases[i].salt);
		EXPECT_EQ(v.iv_len, cases[i].iv);
		EXPECT_TRUE(!memcmp(v.key, k.key, v.key_len));
		EXPECT_HEX(v.rec_seq, 8, "01 02 03 04 05 06 07 08");
		if (v.salt_len)
			EXPECT_TRUE(!memcmp(v.salt, k.iv, v.salt_len));
		if (explicit_nonce)	/* explicit nonce = sequence number */
			EXPECT_HEX(v.iv, 8, "01 02 03 04 05 06 07 08");
		else			/* salt || iv = the 12-byte write IV */
			EXPECT_TRUE(!memcmp(v.iv, k.iv + v.salt_len, v.iv_len));

		/* wrong sizes are refused and leave nothing behind */
		k.key_len--;
		EXPECT_EQ(ktls_crypto_info_fill(&ci, &s, &k, seq), -EINVAL);
		EXPECT_EQ(ci.info.cipher_type, 0);
		k.key_len++;
		k.iv_len = explicit_nonce ? 12 : 4;
		EXPECT_EQ(ktls_crypto_info_fill(&ci, &s, &k, seq), -EINVAL);
	}
}

TEST(crypto_info_refuses_ccm_on_tls13)
{
	struct ktls_suite s = {
		.cipher = ktls_cipher_get(KTLS_AES_128_CCM),
		.version = TLS1_3_VERSION,
		.md = EVP_sha256(),
	};
	struct ktls_keys k = { .key_len = 16, .iv_len = 12 };
	union ktls_crypto_info ci;

	EXPECT_EQ(ktls_crypto_info_fill(&ci, &s, &k, 0), -EINVAL);
	ci.info.cipher_type = 99;
	EXPECT_EQ(ktls_crypto_info_view(&ci, &(struct ktls_info_view){0}),
		  -EINVAL);
}

/* ---- keylog ------------------------------------------------------------- */

TEST(keylog_parse)
{
	char line[512];
	unsigned char cr[32], secret[KTLS_MAX_SECRET];
	enum ktls_secret_kind kind;
	size_t len;

	snprintf(line, sizeof(line), "SERVER_TRAFFIC_SECRET_0 %s %s\n",
		 "000102030405060708090a0b0c0d0e0f"
		 "101112131415161718191A1B1C1D1E1F",
		 "a11af9f05531f856ad47116b45a9503282"
		 "04b4f44bfb6b3a4b4f1f3fcb631643");
	ASSERT_EQ(ktls_keylog_parse(line, &kind, cr, secret, &len), 0);
	EXPECT_EQ(kind, KTLS_SERVER_TRAFFIC_SECRET_0);
	EXPECT_EQ(len, 32);
	EXPECT_HEX(secret, len, RFC8448_S_AP);
	EXPECT_EQ(cr[0], 0);
	EXPECT_EQ(cr[31], 0x1f);

	line[0] = 'C', line[1] = 'L', line[2] = 'I', line[3] = 'E',
	line[4] = 'N', line[5] = 'T';
	EXPECT_EQ(ktls_keylog_parse(line, &kind, NULL, secret, &len), 0);
	EXPECT_EQ(kind, KTLS_CLIENT_TRAFFIC_SECRET_0);

	EXPECT_EQ(ktls_keylog_parse("CLIENT_HANDSHAKE_TRAFFIC_SECRET 00 11",
				    &kind, cr, secret, &len), -ENOENT);
	EXPECT_EQ(ktls_keylog_parse("EXPORTER_SECRET 00 11", &kind, cr, secret,
				    &len), -ENOENT);
	EXPECT_EQ(ktls_keylog_parse("SERVER_TRAFFIC_SECRET_0 0011 2233",
				    &kind, cr, secret, &len), -EINVAL);
	snprintf(line, sizeof(line), "SERVER_TRAFFIC_SECRET_0 %064d %s", 0,
		 "zz1af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643");
	EXPECT_EQ(ktls_keylog_parse(line, &kind, cr, secret, &len), -EINVAL);
	EXPECT_EQ(len, 0);
	snprintf(line, sizeof(line), "SERVER_TRAFFIC_SECRET_0 %064d %0100d",
		 0, 0);
	EXPECT_EQ(ktls_keylog_parse(line, &kind, cr, secret, &len), -EINVAL);
}

/* ---- a software model of the kernel's record layer ---------------------- */

static int aead(const struct ktls_cipher *c, int enc, const unsigned char *key,
		const unsigned char nonce[12], const unsigned char *aad,
		size_t aad_len, const unsigned char *in, size_t in_len,
		unsigned char *out, unsigned char tag[16])
{
	EVP_CIPHER *ec = EVP_CIPHER_fetch(NULL, c->evp_name, NULL);
	EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
	int ccm = c->id == KTLS_AES_128_CCM, l, ok;

	ok = ec && x && EVP_CipherInit_ex(x, ec, NULL, NULL, NULL, enc) &&
	     EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL) &&
	     (!ccm || EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_SET_TAG, 16,
					  enc ? NULL : tag)) &&
	     EVP_CipherInit_ex(x, NULL, NULL, key, nonce, enc) &&
	     (!ccm || EVP_CipherUpdate(x, NULL, &l, NULL, (int)in_len)) &&
	     EVP_CipherUpdate(x, NULL, &l, aad, (int)aad_len) &&
	     (ccm || enc || EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_SET_TAG, 16,
						tag)) &&
	     EVP_CipherUpdate(x, out, &l, in, (int)in_len) &&
	     (ccm && !enc ? 1 : EVP_CipherFinal_ex(x, out + l, &l)) &&
	     (!enc || EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_GET_TAG, 16, tag));
	EVP_CIPHER_CTX_free(x);
	EVP_CIPHER_free(ec);
	return ok ? 0 : -1;
}

/*
 * The nonce of record number @k after the install of @ci, as the kernel
 * builds it: TLS 1.3 and ChaCha20: (salt || iv) XOR seq; TLS 1.2
 * GCM/CCM: salt || explicit, where on TX the explicit part is ci.iv + k.
 */
static void model_nonce(struct ktls_info_view *v, int version, uint64_t seq,
			const unsigned char *explicit, unsigned char nonce[12])
{
	if (version == TLS1_3_VERSION || !v->salt_len) {
		unsigned char s[8];

		memcpy(nonce, v->salt, v->salt_len);
		memcpy(nonce + v->salt_len, v->iv, v->iv_len);
		put_be64(s, seq);
		for (int i = 0; i < 8; i++)
			nonce[4 + i] ^= s[i];
	} else {
		memcpy(nonce, v->salt, 4);
		memcpy(nonce + 4, explicit, 8);
	}
}

static void tls12_aad(unsigned char aad[13], uint64_t seq, uint8_t type,
		      size_t len)
{
	put_be64(aad, seq);
	aad[8] = type;
	aad[9] = 3;
	aad[10] = 3;
	aad[11] = (unsigned char)(len >> 8);
	aad[12] = (unsigned char)len;
}

/* Seal record number @k after the install of @ci (kernel TX). Length. */
static size_t model_seal(union ktls_crypto_info *ci, uint64_t k, uint8_t type,
			 const void *pt, size_t len, unsigned char *rec)
{
	const struct ktls_cipher *c =
		ktls_cipher_by_kernel_type(ci->info.cipher_type);
	struct ktls_info_view v;
	unsigned char nonce[12], aad[13], in[512], explicit[8];
	uint64_t seq;
	size_t hdr = 5, body;

	ktls_crypto_info_view(ci, &v);
	seq = get_be64(v.rec_seq) + k;
	if (ci->info.version == TLS1_3_VERSION) {
		memcpy(in, pt, len);
		in[len++] = type;	/* TLSInnerPlaintext, no padding */
		body = len + 16;
		rec[0] = KTLS_RT_APPLICATION_DATA;
		rec[1] = 3, rec[2] = 3;
		rec[3] = (unsigned char)(body >> 8), rec[4] = (unsigned char)body;
		model_nonce(&v, TLS1_3_VERSION, seq, NULL, nonce);
		if (aead(c, 1, v.key, nonce, rec, 5, in, len, rec + 5,
			 rec + 5 + len))
			return 0;
		return hdr + body;
	}
	if (v.salt_len) {		/* explicit nonce: ci.iv + k */
		put_be64(explicit, get_be64(v.iv) + k);
		memcpy(rec + 5, explicit, 8);
		hdr += 8;
	}
	body = hdr - 5 + len + 16;
	rec[0] = type;
	rec[1] = 3, rec[2] = 3;
	rec[3] = (unsigned char)(body >> 8), rec[4] = (unsigned char)body;
	tls12_aad(aad, seq, type, len);
	model_nonce(&v, TLS1_2_VERSION, seq, explicit, nonce);
	if (aead(c, 1, v.key, nonce, aad, 13, pt, len, rec + hdr,
		 rec + hdr + len))
		return 0;
	return 5 + body;
}

/*
 * Open record number @k after the install of @ci (kernel RX) from @rec.
 * Plaintext length and *@type, or -1 when it does not authenticate.
 */
static int model_open(union ktls_crypto_info *ci, uint64_t k,
		      const unsigned char *rec, size_t reclen,
		      unsigned char *out, uint8_t *type)
{
	const struct ktls_cipher *c =
		ktls_cipher_by_kernel_type(ci->info.cipher_type);
	struct ktls_info_view v;
	unsigned char nonce[12], aad[13], tag[16];
	size_t body, hdr = 5, len;
	uint64_t seq;

	ktls_crypto_info_view(ci, &v);
	seq = get_be64(v.rec_seq) + k;
	if (reclen < 5)
		return -1;
	body = (size_t)rec[3] << 8 | rec[4];
	if (reclen < 5 + body || body < 16 + 1)
		return -1;
	if (ci->info.version == TLS1_3_VERSION) {
		len = body - 16;
		memcpy(tag, rec + 5 + len, 16);
		model_nonce(&v, TLS1_3_VERSION, seq, NULL, nonce);
		if (aead(c, 0, v.key, nonce, rec, 5, rec + 5, len, out, tag))
			return -1;
		while (len && !out[len - 1])	/* strip padding */
			len--;
		if (!len)
			return -1;
		*type = out[--len];
		return (int)len;
	}
	if (v.salt_len)
		hdr += 8;
	len = body - (hdr - 5) - 16;
	memcpy(tag, rec + hdr + len, 16);
	tls12_aad(aad, seq, rec[0], len);
	model_nonce(&v, TLS1_2_VERSION, seq, rec + 5, nonce);
	if (aead(c, 0, v.key, nonce, aad, 13, rec + hdr, len, out, tag))
		return -1;
	*type = rec[0];
	return (int)len;
}

/* ---- in-process OpenSSL handshakes -------------------------------------- */

static EVP_PKEY *e2e_key;
static X509 *e2e_cert;
static unsigned char keylog_secret[2][KTLS_MAX_SECRET];
static size_t keylog_len[2];

static void make_cert(void)
{
	X509_NAME *name;

	e2e_key = EVP_EC_gen("P-256");
	e2e_cert = X509_new();
	ASSERT_TRUE(e2e_key && e2e_cert);
	X509_set_version(e2e_cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(e2e_cert), 1);
	X509_gmtime_adj(X509_getm_notBefore(e2e_cert), -60);
	X509_gmtime_adj(X509_getm_notAfter(e2e_cert), 3600);
	name = X509_get_subject_name(e2e_cert);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
				   (const unsigned char *)"ktls.test", -1, -1, 0);
	X509_set_issuer_name(e2e_cert, name);
	X509_set_pubkey(e2e_cert, e2e_key);
	ASSERT_TRUE(X509_sign(e2e_cert, e2e_key, EVP_sha256()) > 0);
}

static void keylog_cb(const SSL *ssl, const char *line)
{
	enum ktls_secret_kind kind;
	unsigned char secret[KTLS_MAX_SECRET];
	size_t len;

	(void)ssl;
	if (ktls_keylog_parse(line, &kind, NULL, secret, &len) == 0) {
		memcpy(keylog_secret[kind], secret, len);
		keylog_len[kind] = len;
	}
}

struct e2e {
	SSL *c, *s;
	BIO *cb, *sb;		/* the two ends of a BIO pair */
	struct ktls_suite suite;
	union ktls_crypto_info c_tx, s_tx;	/* client_write, server_write */
};

static void e2e_setup(struct e2e *e, int version, const char *suite)
{
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX *sctx = SSL_CTX_new(TLS_server_method());
	int cdone = 0, sdone = 0;

	memset(e, 0, sizeof(*e));
	make_cert();
	ASSERT_TRUE(cctx && sctx);
	ASSERT_TRUE(SSL_CTX_use_certificate(sctx, e2e_cert));
	ASSERT_TRUE(SSL_CTX_use_PrivateKey(sctx, e2e_key));
	for (int i = 0; i < 2; i++) {
		SSL_CTX *x = i ? sctx : cctx;

		SSL_CTX_set_min_proto_version(x, version);
		SSL_CTX_set_max_proto_version(x, version);
		SSL_CTX_set_options(x, SSL_OP_NO_TICKET);
		if (version == TLS1_3_VERSION)
			ASSERT_TRUE(SSL_CTX_set_ciphersuites(x, suite));
		else
			ASSERT_TRUE(SSL_CTX_set_cipher_list(x, suite));
	}
	SSL_CTX_set_num_tickets(sctx, 0);	/* server TX starts at 0 */
	SSL_CTX_set_keylog_callback(sctx, keylog_cb);
	e->c = SSL_new(cctx);
	e->s = SSL_new(sctx);
	ASSERT_TRUE(e->c && e->s);
	ASSERT_TRUE(BIO_new_bio_pair(&e->cb, 0, &e->sb, 0));
	SSL_set_bio(e->c, e->cb, e->cb);
	SSL_set_bio(e->s, e->sb, e->sb);
	SSL_set_connect_state(e->c);
	SSL_set_accept_state(e->s);
	for (int i = 0; i < 50 && !(cdone && sdone); i++) {
		if (!cdone)
			cdone = SSL_do_handshake(e->c) == 1;
		if (!sdone)
			sdone = SSL_do_handshake(e->s) == 1;
	}
	if (!cdone || !sdone)
		ERR_print_errors_fp(stdout);
	ASSERT_TRUE(cdone && sdone);
	ASSERT_EQ(SSL_version(e->s), version);
	ASSERT_EQ(ktls_suite_find(version, SSL_get_current_cipher(e->s),
				  &e->suite), 0);

	/* DESIGN.md 3.3: sequence numbers at the switch */
	if (version == TLS1_3_VERSION) {
		ASSERT_TRUE(keylog_len[0] && keylog_len[1]);
		ASSERT_TRUE(ktls_crypto_info_tls13(&e->c_tx, &e->suite,
			keylog_secret[KTLS_CLIENT_TRAFFIC_SECRET_0],
			keylog_len[0], 0) > 0);
		ASSERT_TRUE(ktls_crypto_info_tls13(&e->s_tx, &e->suite,
			keylog_secret[KTLS_SERVER_TRAFFIC_SECRET_0],
			keylog_len[1], 0) > 0);
	} else {
		unsigned char master[48], cr[32], sr[32];
		size_t ml = SSL_SESSION_get_master_key(SSL_get_session(e->s),
						       master, sizeof(master));

		ASSERT_EQ(ml, 48);
		ASSERT_EQ(SSL_get_client_random(e->s, cr, 32), 32);
		ASSERT_EQ(SSL_get_server_random(e->s, sr, 32), 32);
		ASSERT_TRUE(ktls_crypto_info_tls12(&e->c_tx, &e->suite, master,
						   ml, cr, sr, true, 1) > 0);
		ASSERT_TRUE(ktls_crypto_info_tls12(&e->s_tx, &e->suite, master,
						   ml, cr, sr, false, 1) > 0);
		OPENSSL_cleanse(master, sizeof(master));
	}
}

/*
 * One direction: @w writes, @r reads; @wb is @w's BIO end, @rb @r's.
 * The model seals as the kernel TX of @w would (records 0 and 1 after the
 * switch) and OpenSSL @r must read them; then OpenSSL @w writes (its
 * record 0) and the model opens it as the kernel RX of @r would.
 */
static void e2e_direction(union ktls_crypto_info *ci, SSL *w, BIO *wb,
			  SSL *r, BIO *rb)
{
	static const char k0[] = "sealed as the kernel would, record 0";
	static const char k1[] = "and record 1";
	static const char o0[] = "written by OpenSSL";
	unsigned char rec[1024], pt[1024];
	char got[256];
	uint8_t type;
	size_t n;
	int m;

	n = model_seal(ci, 0, KTLS_RT_APPLICATION_DATA, k0, sizeof(k0), rec);
	ASSERT_TRUE(n > 0);
	ASSERT_EQ(BIO_write(wb, rec, (int)n), (int)n);
	n = model_seal(ci, 1, KTLS_RT_APPLICATION_DATA, k1, sizeof(k1), rec);
	ASSERT_EQ(BIO_write(wb, rec, (int)n), (int)n);
	m = SSL_read(r, got, sizeof(got));
	if (m <= 0)
		ERR_print_errors_fp(stdout);
	ASSERT_EQ(m, (int)sizeof(k0));
	EXPECT_STREQ(got, k0);
	m = SSL_read(r, got, sizeof(got));
	ASSERT_EQ(m, (int)sizeof(k1));
	EXPECT_STREQ(got, k1);

	/* the other way: OpenSSL seals, the model opens (kernel RX) */
	ASSERT_EQ(SSL_write(w, o0, sizeof(o0)), (int)sizeof(o0));
	m = BIO_read(rb, rec, sizeof(rec));
	ASSERT_TRUE(m > 5);
	m = model_open(ci, 0, rec, (size_t)m, pt, &type);
	ASSERT_EQ(m, (int)sizeof(o0));
	EXPECT_EQ(type, KTLS_RT_APPLICATION_DATA);
	EXPECT_STREQ((char *)pt, o0);
	/* and a record from another sequence number does not open */
	EXPECT_EQ(model_open(ci, 1, rec, sizeof(rec), pt, &type), -1);
}

static void e2e_run(int version, const char *suite)
{
	struct e2e e;

	e2e_setup(&e, version, suite);
	/* server -> client, then client -> server */
	e2e_direction(&e.s_tx, e.s, e.sb, e.c, e.cb);
	e2e_direction(&e.c_tx, e.c, e.cb, e.s, e.sb);
}

TEST(e2e_tls13_aes128gcm) { e2e_run(TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256"); }
TEST(e2e_tls13_aes256gcm) { e2e_run(TLS1_3_VERSION, "TLS_AES_256_GCM_SHA384"); }
TEST(e2e_tls13_chacha20) { e2e_run(TLS1_3_VERSION, "TLS_CHACHA20_POLY1305_SHA256"); }
TEST(e2e_tls12_aes128gcm) { e2e_run(TLS1_2_VERSION, "ECDHE-ECDSA-AES128-GCM-SHA256"); }
TEST(e2e_tls12_aes256gcm) { e2e_run(TLS1_2_VERSION, "ECDHE-ECDSA-AES256-GCM-SHA384"); }
TEST(e2e_tls12_chacha20) { e2e_run(TLS1_2_VERSION, "ECDHE-ECDSA-CHACHA20-POLY1305"); }
TEST(e2e_tls12_aes128ccm) { e2e_run(TLS1_2_VERSION, "ECDHE-ECDSA-AES128-CCM"); }

/*
 * OpenSSL's server sends KeyUpdate (under the old key) and then data under
 * the key of the next secret: ktls_tls13_next_secret() must open it.
 */
static void e2e_key_update(const char *suite)
{
	unsigned char rec[2048], pt[1024], next[KTLS_MAX_SECRET];
	union ktls_crypto_info old_ci, new_ci;
	size_t slen, first;
	struct e2e e;
	uint8_t type;
	int n, m;

	e2e_setup(&e, TLS1_3_VERSION, suite);
	slen = keylog_len[1];
	old_ci = e.s_tx;
	ASSERT_EQ(SSL_key_update(e.s, SSL_KEY_UPDATE_NOT_REQUESTED), 1);
	ASSERT_EQ(SSL_write(e.s, "after", 5), 5);
	n = BIO_read(e.cb, rec, sizeof(rec));
	ASSERT_TRUE(n > 10);
	first = 5 + ((size_t)rec[3] << 8 | rec[4]);
	ASSERT_TRUE(first < (size_t)n);
	/* record 0 under the old key: a KeyUpdate handshake message */
	m = model_open(&old_ci, 0, rec, first, pt, &type);
	ASSERT_EQ(m, 5);
	EXPECT_EQ(type, KTLS_RT_HANDSHAKE);
	EXPECT_EQ(pt[0], 24);	/* key_update */
	EXPECT_EQ(pt[4], 0);	/* update_not_requested */
	/* then record 0 of the new generation */
	ASSERT_EQ(ktls_tls13_next_secret(&e.suite,
		keylog_secret[KTLS_SERVER_TRAFFIC_SECRET_0], slen, next), 0);
	ASSERT_TRUE(ktls_crypto_info_tls13(&new_ci, &e.suite, next, slen,
					   0) > 0);
	m = model_open(&new_ci, 0, rec + first, (size_t)n - first, pt, &type);
	ASSERT_EQ(m, 5);
	EXPECT_EQ(type, KTLS_RT_APPLICATION_DATA);
	EXPECT_TRUE(!memcmp(pt, "after", 5));
}

TEST(e2e_tls13_key_update_sha256) { e2e_key_update("TLS_AES_128_GCM_SHA256"); }
TEST(e2e_tls13_key_update_sha384) { e2e_key_update("TLS_AES_256_GCM_SHA384"); }

/* ---- summary line ------------------------------------------------------- */

static void caps_all(struct ktls_caps *caps, int err)
{
	memset(caps, 0, sizeof(*caps));
	for (int i = 0; i < KTLS_NCIPHERS; i++)
		for (int v = 0; v < KTLS_NVERSIONS; v++)
			caps->tx_err[i][v] = caps->rx_err[i][v] = err;
	caps->rekey_tx_err = caps->rekey_rx_err = EBUSY;
	caps->no_pad_err = 0;
}

TEST(caps_summary)
{
	struct ktls_caps caps;
	char buf[512];
	int n;

	caps_all(&caps, 0);
	caps.tx_err[KTLS_AES_128_CCM][1] = KTLS_CAP_UNTRIED;
	caps.rx_err[KTLS_AES_128_CCM][1] = KTLS_CAP_UNTRIED;
	n = ktls_caps_summary(&caps, buf, sizeof(buf));
	EXPECT_EQ(n, (int)strlen(buf));
	EXPECT_STREQ(buf, "kTLS: tls module yes; TX: aes128gcm aes256gcm "
		     "chacha20 aes128ccm; RX: aes128gcm aes256gcm chacha20 "
		     "aes128ccm; rekey: no");
	EXPECT_TRUE(ktls_caps_can(&caps, TLS1_2_VERSION,
				  ktls_cipher_get(KTLS_AES_128_CCM), TLS_RX));
	EXPECT_FALSE(ktls_caps_can(&caps, TLS1_3_VERSION,
				   ktls_cipher_get(KTLS_AES_128_CCM), TLS_RX));

	caps.rx_err[KTLS_CHACHA20_POLY1305][1] = EINVAL;
	caps.tx_err[KTLS_AES_256_GCM][0] = EINVAL;
	caps.rekey_tx_err = caps.rekey_rx_err = 0;
	ktls_caps_summary(&caps, buf, sizeof(buf));
	EXPECT_CONTAINS(buf, "TX: aes128gcm aes256gcm(1.3) chacha20 ");
	EXPECT_CONTAINS(buf, "RX: aes128gcm aes256gcm chacha20(1.2) ");
	EXPECT_CONTAINS(buf, "rekey: yes");

	caps_all(&caps, EINVAL);
	ktls_caps_summary(&caps, buf, sizeof(buf));
	EXPECT_CONTAINS(buf, "TX: none; RX: none");

	caps_all(&caps, KTLS_CAP_UNTRIED);
	caps.ulp_err = ENOENT;
	ktls_caps_summary(&caps, buf, sizeof(buf));
	EXPECT_CONTAINS(buf, "kTLS: tls module no (ENOENT: tls module not "
			"loaded");
	EXPECT_FALSE(ktls_caps_can(&caps, TLS1_2_VERSION,
				   ktls_cipher_get(KTLS_AES_128_GCM), TLS_TX));

	/* truncation: the needed length comes back, the buffer ends */
	n = ktls_caps_summary(&caps, buf, 8);
	EXPECT_TRUE(n > 8);
	EXPECT_EQ(strlen(buf), 7);
}

/* ---- sockets without kernel TLS ------------------------------------------ */

TEST(sock_argument_errors)
{
	union ktls_crypto_info ci;
	struct ktls_info info;
	uint8_t type;
	int sv[2];

	memset(&ci, 0x77, sizeof(ci));
	ci.info.cipher_type = TLS_CIPHER_AES_GCM_128;
	EXPECT_EQ(ktls_install(-1, TLS_TX, &ci), -EBADF);
	for (size_t i = 0; i < sizeof(ci); i++)	/* wiped anyway */
		ASSERT_EQ(((unsigned char *)&ci)[i], 0);
	ci.info.cipher_type = TLS_CIPHER_AES_GCM_128;
	EXPECT_EQ(ktls_install(0, 3, &ci), -EINVAL);
	EXPECT_EQ(ktls_install(0, TLS_TX, NULL), -EINVAL);
	EXPECT_EQ(ktls_ulp(-1), -EBADF);
	EXPECT_EQ(ktls_get_info(-1, TLS_TX, &info), -EBADF);
	EXPECT_EQ(ktls_send_record(-1, 21, "", 0, 0), -EBADF);
	EXPECT_EQ(ktls_recv_record(-1, &type, 1, &type, 0), -EBADF);

	ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	/* TCP options on a unix socket */
	EXPECT_TRUE(ktls_ulp(sv[0]) < 0);
	EXPECT_TRUE(ktls_get_info(sv[0], TLS_RX, &info) < 0);
	EXPECT_EQ(ktls_send_record(sv[0], 21, "ab", 2, MSG_MORE), -EINVAL);
	close(sv[0]);
	close(sv[1]);
}

/* Without the ULP, the cmsg plumbing still carries bytes (AF_UNIX ignores
 * SOL_TLS cmsgs), and a receive without a cmsg reads as application data. */
TEST(record_plumbing_without_ulp)
{
	unsigned char buf[64];
	uint8_t type = 0;
	int sv[2];

	ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	EXPECT_EQ(ktls_send_close_notify(sv[0], MSG_DONTWAIT), 0);
	EXPECT_EQ(ktls_recv_record(sv[1], buf, sizeof(buf), &type, 0), 2);
	EXPECT_EQ(type, KTLS_RT_APPLICATION_DATA);
	EXPECT_EQ(buf[0], 1);
	EXPECT_EQ(buf[1], 0);
	close(sv[0]);
	EXPECT_EQ(ktls_recv_record(sv[1], buf, sizeof(buf), &type, 0), 0);
	close(sv[1]);
}

/* A plain TCP socket: the ULP is the one thing this host may lack. */
TEST(ulp_on_plain_tcp)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct ktls_info info;
	int rc;

	ASSERT_TRUE(fd >= 0);
	rc = ktls_ulp(fd);	/* not connected */
	EXPECT_TRUE(rc == -ENOTCONN || rc == -ENOENT);
	printf("# TCP_ULP on an unconnected socket: %s\n", strerror(-rc));
	fflush(stdout);
	EXPECT_TRUE(ktls_get_info(fd, TLS_TX, &info) < 0);
	close(fd);
}

/* ---- with kernel TLS -------------------------------------------------- */

/* A connected loopback pair: *a the client, *b the accepted end; with
 * SNDBUF on *a and RCVBUF on *b (bytes, 0: the default) set before the
 * handshake, when the window is agreed. */
static void tcp_pair_bufs(int *a, int *b, int sndbuf, int rcvbuf)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int l = socket(AF_INET, SOCK_STREAM, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ASSERT_TRUE(l >= 0);
	if (rcvbuf)
		ASSERT_EQ(setsockopt(l, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
				     sizeof(rcvbuf)), 0);
	ASSERT_EQ(bind(l, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ASSERT_EQ(listen(l, 1), 0);
	ASSERT_EQ(getsockname(l, (struct sockaddr *)&sin, &len), 0);
	*a = socket(AF_INET, SOCK_STREAM, 0);
	if (sndbuf)
		ASSERT_EQ(setsockopt(*a, SOL_SOCKET, SO_SNDBUF, &sndbuf,
				     sizeof(sndbuf)), 0);
	ASSERT_EQ(connect(*a, (struct sockaddr *)&sin, sizeof(sin)), 0);
	*b = accept(l, NULL, NULL);
	ASSERT_TRUE(*b >= 0);
	close(l);
}

static void tcp_pair(int *a, int *b)
{
	tcp_pair_bufs(a, b, 0, 0);
}

static void need_ulp(int fd)
{
	int rc = ktls_ulp(fd);

	if (rc)
		SKIP("setsockopt(TCP_ULP, \"tls\") failed: %s (%s); run in "
		     "the kTLS VM", strerror(-rc), ktls_err_str(rc));
}

TEST(ktls_records_and_info)
{
	union ktls_crypto_info ci;
	unsigned char secret[32], buf[KTLS_RECORD_BUF];
	struct ktls_suite s;
	struct ktls_info info;
	uint8_t type;
	int a, b, rc;

	tcp_pair(&a, &b);
	need_ulp(a);
	ASSERT_EQ(ktls_ulp(b), 0);
	EXPECT_EQ(ktls_ulp(a), -EEXIST);
	ASSERT_EQ(suite_of(TLS1_3_VERSION, 0x1301, &s), 0);
	unhex(RFC8448_S_AP, secret, sizeof(secret));
	ASSERT_TRUE(ktls_crypto_info_tls13(&ci, &s, secret, 32, 5) > 0);
	ASSERT_EQ(ktls_install(a, TLS_TX, &ci), 0);
	ASSERT_TRUE(ktls_crypto_info_tls13(&ci, &s, secret, 32, 5) > 0);
	ASSERT_EQ(ktls_install(b, TLS_RX, &ci), 0);
	EXPECT_EQ(ktls_rx_expect_no_pad(b), 0);

	ASSERT_EQ(send(a, "hello", 5, 0), 5);
	ASSERT_EQ(ktls_send_close_notify(a, 0), 0);
	EXPECT_EQ(ktls_recv_record(b, buf, sizeof(buf), &type, 0), 5);
	EXPECT_EQ(type, KTLS_RT_APPLICATION_DATA);
	EXPECT_EQ(ktls_recv_record(b, buf, sizeof(buf), &type, 0), 2);
	EXPECT_EQ(type, KTLS_RT_ALERT);
	EXPECT_EQ(buf[0], KTLS_ALERT_WARNING);
	EXPECT_EQ(buf[1], KTLS_ALERT_CLOSE_NOTIFY);

	ASSERT_EQ(ktls_get_info(a, TLS_TX, &info), 0);
	EXPECT_EQ(info.version, TLS_1_3_VERSION);
	EXPECT_EQ(info.cipher_type, TLS_CIPHER_AES_GCM_128);
	EXPECT_EQ(info.rec_seq, 7);
	ASSERT_EQ(ktls_get_info(b, TLS_RX, &info), 0);
	EXPECT_EQ(info.rec_seq, 7);
	EXPECT_EQ(ktls_get_info(a, TLS_RX, &info), -EBUSY);

	/* a second TX key: EBUSY before 6.14, a rekey after */
	ASSERT_TRUE(ktls_crypto_info_tls13(&ci, &s, secret, 32, 0) > 0);
	rc = ktls_install(a, TLS_TX, &ci);
	EXPECT_TRUE(rc == 0 || rc == -EBUSY);
	printf("# second TLS_TX: %s\n", rc ? strerror(-rc) : "rekeyed");
	fflush(stdout);
	close(a);
	close(b);
}

static uint64_t now_ms_(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Records behind a full send buffer: the kernel seals them and holds them
 * back from TCP (where a FIN would overtake and lose them). ktls_txq must
 * see them held, then see TCP take them all as the reader drains, and the
 * reader must then get exactly what the count expects.
 */
TEST(txq_counts_records_held_back)
{
	union ktls_crypto_info ci;
	unsigned char secret[32], buf[16384];
	struct ktls_suite s;
	struct ktls_info info;
	struct ktls_txq q;
	uint64_t plain = 0, got = 0, held = 0, max_held = 0, deadline;
	int a, b, sent_close = 0;
	struct timeval tv = { .tv_sec = 5 };

	tcp_pair_bufs(&a, &b, 8192, 4096);
	need_ulp(a);
	ASSERT_EQ(setsockopt(b, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	ASSERT_EQ(suite_of(TLS1_3_VERSION, 0x1301, &s), 0);
	unhex(RFC8448_S_AP, secret, sizeof(secret));
	ASSERT_TRUE(ktls_crypto_info_tls13(&ci, &s, secret, 32, 5) > 0);
	ASSERT_EQ(ktls_install(a, TLS_TX, &ci), 0);
	ASSERT_EQ(ktls_txq_start(&q, a), 0);
	EXPECT_EQ(q.overhead, 22);
	ASSERT_EQ(fcntl(a, F_SETFL, O_NONBLOCK), 0);
	memset(buf, 'x', sizeof(buf));

	/* Fill: bounded in count, the reader reads nothing yet. */
	for (int i = 0, again = 0; i < 64 && again < 3; i++) {
		ssize_t n = write(a, buf, sizeof(buf));

		if (n > 0) {
			ktls_txq_add(&q, n);
			plain += n;
		} else {
			ASSERT_EQ(errno, EAGAIN);
			again++;
			usleep(2000);
		}
	}
	ASSERT_TRUE(plain > 0);

	/* Drain a little at a time until TCP has everything: bounded in
	 * time. close_notify goes in as soon as there is room. */
	deadline = now_ms_() + 5000;
	for (;;) {
		ssize_t n;
		int rc;

		if (!sent_close && ktls_send_close_notify(a, MSG_DONTWAIT) == 0) {
			ktls_txq_add(&q, 2);
			sent_close = 1;
		}
		rc = ktls_txq_held(&q, a, &held);
		ASSERT_TRUE(rc == 0 || rc == -EAGAIN);
		if (rc == 0 && held > max_held)
			max_held = held;
		if (rc == 0 && sent_close && !held)
			break;
		ASSERT_TRUE(now_ms_() < deadline);
		n = recv(b, buf, 1024, MSG_DONTWAIT);
		if (n > 0)
			got += n;
		usleep(1000);
	}
	printf("# %llu plaintext bytes; up to %llu bytes of records held back\n",
	       (unsigned long long)plain, (unsigned long long)max_held);
	fflush(stdout);
	EXPECT_TRUE(max_held > 0);	/* the case this is for happened */
	ASSERT_EQ(shutdown(a, SHUT_WR), 0);
	/* once the FIN is out there is nothing left to wait for */
	EXPECT_EQ(ktls_txq_held(&q, a, &held), -ENOTCONN);
	for (;;) {
		ssize_t n = recv(b, buf, sizeof(buf), 0);

		ASSERT_TRUE(n >= 0);
		if (!n)
			break;
		got += n;
	}
	ASSERT_EQ(ktls_get_info(a, TLS_TX, &info), 0);
	EXPECT_EQ(got, plain + 2 + (info.rec_seq - 5) * 22);
	close(a);
	close(b);
}

TEST(record_overhead)
{
	EXPECT_EQ(ktls_record_overhead(TLS1_2_VERSION, 51), 29); /* GCM */
	EXPECT_EQ(ktls_record_overhead(TLS1_2_VERSION, 52), 29);
	EXPECT_EQ(ktls_record_overhead(TLS1_2_VERSION, 53), 29); /* CCM */
	EXPECT_EQ(ktls_record_overhead(TLS1_2_VERSION, 54), 21); /* ChaCha */
	EXPECT_EQ(ktls_record_overhead(TLS1_3_VERSION, 51), 22);
	EXPECT_EQ(ktls_record_overhead(TLS1_3_VERSION, 54), 22);
	EXPECT_EQ(ktls_record_overhead(TLS1_3_VERSION, 0), 0);
	EXPECT_EQ(ktls_record_overhead(0x0302, 51), 0);
}

/* ---- a fake kernel TLS for the probe's logic ------------------------- */

/*
 * When fake_ktls is set, setsockopt() calls of this program (the ktls/
 * objects are linked into it) for TCP_ULP and SOL_TLS are answered by a
 * small model of Linux 6.1's rules: the ULP only on an ESTABLISHED TCP
 * socket (else ENOTCONN), once (EEXIST); one key per direction (EBUSY);
 * the exact struct size for a known cipher and version (EINVAL);
 * TLS_RX_EXPECT_NO_PAD only after a TLS 1.3 RX key. It checks the probe's
 * sequencing, not the kernel. Everything else goes to libc.
 */
static int fake_ktls;
static unsigned fake_refuse_type;	/* a cipher this "kernel" lacks */
static struct fake_sock {
	ino_t ino;
	int ulp, tx, rx, rx_version;
} fake_socks[64];
static int fake_ulp_calls, fake_installs;

static struct fake_sock *fake_find(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return NULL;
	for (size_t i = 0; i < sizeof(fake_socks) / sizeof(fake_socks[0]); i++)
		if (fake_socks[i].ino == st.st_ino)
			return &fake_socks[i];
	for (size_t i = 0; i < sizeof(fake_socks) / sizeof(fake_socks[0]); i++)
		if (!fake_socks[i].ino) {
			fake_socks[i].ino = st.st_ino;
			return &fake_socks[i];
		}
	return NULL;
}

static int fake_setsockopt(int fd, int level, int name, const void *val,
			   socklen_t len)
{
	const struct tls_crypto_info *ci = val;
	const struct ktls_cipher *c;
	struct fake_sock *fs = fake_find(fd);
	struct tcp_info ti;
	socklen_t tl = sizeof(ti);

	if (!fs)
		return errno = EBADF, -1;
	if (level == IPPROTO_TCP) {
		fake_ulp_calls++;
		if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) < 0 ||
		    ti.tcpi_state != TCP_ESTABLISHED)
			return errno = ENOTCONN, -1;
		if (fs->ulp)
			return errno = EEXIST, -1;
		fs->ulp = 1;
		return 0;
	}
	if (!fs->ulp)
		return errno = ENOPROTOOPT, -1;
	if (name == TLS_RX_EXPECT_NO_PAD)
		return fs->rx && fs->rx_version == TLS_1_3_VERSION ? 0 :
		       (errno = EINVAL, -1);
	if (name != TLS_TX && name != TLS_RX)
		return errno = ENOPROTOOPT, -1;
	if (len < sizeof(*ci))
		return errno = EINVAL, -1;
	c = ktls_cipher_by_kernel_type(ci->cipher_type);
	if (!c || len != c->info_size || ci->cipher_type == fake_refuse_type ||
	    (ci->version != TLS_1_2_VERSION && ci->version != TLS_1_3_VERSION))
		return errno = EINVAL, -1;
	if (name == TLS_TX ? fs->tx : fs->rx)
		return errno = EBUSY, -1;
	fake_installs++;
	if (name == TLS_TX) {
		fs->tx = 1;
	} else {
		fs->rx = 1;
		fs->rx_version = ci->version;
	}
	return 0;
}

int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	static int (*real)(int, int, int, const void *, socklen_t);

	if (fake_ktls && ((level == IPPROTO_TCP && name == TCP_ULP) ||
			  level == SOL_TLS))
		return fake_setsockopt(fd, level, name, val, len);
	if (!real)
		real = (int (*)(int, int, int, const void *, socklen_t))
			dlsym(RTLD_NEXT, "setsockopt");
	return real(fd, level, name, val, len);
}

TEST(probe_logic_on_fake_kernel)
{
	struct ktls_caps caps;
	char line[512];

	fake_ktls = 1;
	fake_refuse_type = TLS_CIPHER_AES_CCM_128;
	ASSERT_EQ(ktls_probe(&caps), 0);
	EXPECT_EQ(caps.setup_err, 0);
	EXPECT_EQ(caps.ulp_err, 0);
	for (int i = 0; i < KTLS_NCIPHERS; i++) {
		const struct ktls_cipher *c = ktls_cipher_get(i);
		int want = i == KTLS_AES_128_CCM ? EINVAL : 0;

		EXPECT_EQ(caps.tx_err[i][0], want);
		EXPECT_EQ(caps.rx_err[i][0], want);
		if (c->versions & KTLS_V13) {
			EXPECT_EQ(caps.tx_err[i][1], 0);
			EXPECT_EQ(caps.rx_err[i][1], 0);
		} else {
			EXPECT_EQ(caps.tx_err[i][1], KTLS_CAP_UNTRIED);
		}
	}
	EXPECT_EQ(caps.rekey_tx_err, EBUSY);
	EXPECT_EQ(caps.rekey_rx_err, EBUSY);
	EXPECT_EQ(caps.no_pad_err, 0);
	/* one ULP per fresh connection: 1 + 7 cipher/version + 1 rekey */
	EXPECT_EQ(fake_ulp_calls, 9);
	EXPECT_EQ(fake_installs, 2 * 6 + 2);
	ktls_caps_summary(&caps, line, sizeof(line));
	EXPECT_STREQ(line, "kTLS: tls module yes; TX: aes128gcm aes256gcm "
		     "chacha20; RX: aes128gcm aes256gcm chacha20; rekey: no");
}

TEST(probe_reports_ulp)
{
	struct ktls_caps caps;
	char line[512];

	ASSERT_EQ(ktls_probe(&caps), 0);
	ASSERT_EQ(caps.setup_err, 0);
	ktls_caps_summary(&caps, line, sizeof(line));
	printf("# %s\n", line);
	fflush(stdout);
	if (caps.ulp_err) {
		/* this build host: no tls module and no way to load it */
		EXPECT_EQ(caps.ulp_err, ENOENT);
		EXPECT_CONTAINS(line, "kTLS: tls module no (ENOENT");
		EXPECT_EQ(caps.tx_err[KTLS_AES_128_GCM][0], KTLS_CAP_UNTRIED);
	} else {
		EXPECT_CONTAINS(line, "kTLS: tls module yes");
	}
	EXPECT_EQ(ktls_probe(NULL), -EINVAL);
}

TEST(probe_ciphers)
{
	struct ktls_caps caps;

	ASSERT_EQ(ktls_probe(&caps), 0);
	if (caps.ulp_err)
		SKIP("tls ULP unavailable (%s): per-cipher results need the "
		     "kTLS VM", strerror(caps.ulp_err));
	/* Linux 6.1 offers every cipher ktlsd uses, both ways */
	for (int i = 0; i < KTLS_NCIPHERS; i++) {
		const struct ktls_cipher *c = ktls_cipher_get(i);

		for (int v = TLS1_2_VERSION; v <= TLS1_3_VERSION; v++) {
			if (!ktls_cipher_has_version(c, v))
				continue;
			EXPECT_TRUE(ktls_caps_can(&caps, v, c, TLS_TX));
			EXPECT_TRUE(ktls_caps_can(&caps, v, c, TLS_RX));
		}
	}
	EXPECT_TRUE(caps.rekey_tx_err == 0 || caps.rekey_tx_err == EBUSY);
}

TEST_MAIN()
