/* SPDX-License-Identifier: MIT */
/*
 * Unit tests: daemon/tls_keys.c, what the kernel switch is given: the
 * record sequence numbers counted from OpenSSL's record headers must
 * match DESIGN.md 3.3 (TLS 1.2: 1 everywhere; TLS 1.3: 0, except the
 * server's TX, which has sent its NewSessionTickets), and the keys must
 * come from the right side.
 */
#include "../harness.h"
#include "tls_keys.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sys/socket.h>

static void make_identity(SSL_CTX *ctx)
{
	EVP_PKEY *pk = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *n;

	ASSERT_TRUE(pk && x);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, pk);
	n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
				   (const unsigned char *)"localhost", -1, -1, 0);
	X509_set_issuer_name(x, n);
	ASSERT_TRUE(X509_sign(x, pk, EVP_sha256()) > 0);
	ASSERT_EQ(SSL_CTX_use_certificate(ctx, x), 1);
	ASSERT_EQ(SSL_CTX_use_PrivateKey(ctx, pk), 1);
	X509_free(x);
	EVP_PKEY_free(pk);
}

/* A handshake over a socketpair; returns both ends. */
static void handshake(int version, const char *cipher, SSL **cs, SSL **ss)
{
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX *sctx = SSL_CTX_new(TLS_server_method());
	int fds[2], cdone = 0, sdone = 0, i;

	ASSERT_TRUE(cctx && sctx);
	make_identity(sctx);
	tls_keys_setup_ctx(cctx);
	tls_keys_setup_ctx(sctx);
	SSL_CTX_set_min_proto_version(cctx, version);
	SSL_CTX_set_max_proto_version(cctx, version);
	SSL_CTX_set_read_ahead(sctx, 0);
	SSL_CTX_set_read_ahead(cctx, 0);
	if (version == TLS1_3_VERSION)
		SSL_CTX_set_ciphersuites(cctx, cipher);
	else
		SSL_CTX_set_cipher_list(cctx, cipher);
	ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
	*cs = SSL_new(cctx);
	*ss = SSL_new(sctx);
	SSL_set_fd(*cs, fds[0]);
	SSL_set_fd(*ss, fds[1]);
	SSL_set_connect_state(*cs);
	SSL_set_accept_state(*ss);
	for (i = 0; i < 100 && !(cdone && sdone); i++) {
		if (!cdone)
			cdone = SSL_do_handshake(*cs) == 1;
		if (!sdone)
			sdone = SSL_do_handshake(*ss) == 1;
	}
	ASSERT_TRUE(cdone && sdone);
	ASSERT_EQ(SSL_version(*ss), version);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
}

static uint64_t seq_of(SSL *ssl, int tx)
{
	union ktls_crypto_info ci;
	struct ktls_info_view v;
	const char *why;
	uint64_t seq = 0;
	size_t i;

	ASSERT_EQ(tls_keys_crypto_info(ssl, tx, &ci, &why), 0);
	ASSERT_EQ(ktls_crypto_info_view(&ci, &v), 0);
	for (i = 0; i < v.rec_seq_len; i++)
		seq = seq << 8 | v.rec_seq[i];
	ktls_crypto_info_wipe(&ci);
	return seq;
}

/* One side's TX key must be the other side's RX key. */
static void same_key(SSL *a, int atx, SSL *b, int btx)
{
	union ktls_crypto_info x, y;
	struct ktls_info_view vx, vy;
	const char *why;

	ASSERT_EQ(tls_keys_crypto_info(a, atx, &x, &why), 0);
	ASSERT_EQ(tls_keys_crypto_info(b, btx, &y, &why), 0);
	ktls_crypto_info_view(&x, &vx);
	ktls_crypto_info_view(&y, &vy);
	ASSERT_EQ(vx.key_len, vy.key_len);
	EXPECT_EQ(memcmp(vx.key, vy.key, vx.key_len), 0);
	EXPECT_EQ(memcmp(vx.salt, vy.salt, vx.salt_len), 0);
}

TEST(tls12_sequence_numbers_are_one)
{
	SSL *c, *s;

	handshake(TLS1_2_VERSION, "ECDHE-ECDSA-AES128-GCM-SHA256", &c, &s);
	EXPECT_EQ(seq_of(s, 1), 1);
	EXPECT_EQ(seq_of(s, 0), 1);
	EXPECT_EQ(seq_of(c, 1), 1);
	EXPECT_EQ(seq_of(c, 0), 1);
	same_key(c, 1, s, 0);
	same_key(s, 1, c, 0);
}

TEST(tls13_sequence_numbers)
{
	SSL *c, *s;

	handshake(TLS1_3_VERSION, "TLS_AES_256_GCM_SHA384", &c, &s);
	EXPECT_EQ(seq_of(s, 1), 2);	/* two NewSessionTickets sent */
	EXPECT_EQ(seq_of(s, 0), 0);
	EXPECT_EQ(seq_of(c, 1), 0);
	EXPECT_EQ(seq_of(c, 0), 0);
	same_key(c, 1, s, 0);
	same_key(s, 1, c, 0);
}

TEST(tls12_cbc_is_refused_with_a_reason)
{
	union ktls_crypto_info ci;
	const char *why = NULL;
	SSL *c, *s;

	handshake(TLS1_2_VERSION, "ECDHE-ECDSA-AES128-SHA", &c, &s);
	EXPECT_EQ(tls_keys_crypto_info(s, 1, &ci, &why), -EOPNOTSUPP);
	EXPECT_CONTAINS(why, "CBC");
}

TEST_MAIN()
