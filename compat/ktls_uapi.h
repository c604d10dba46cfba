/* SPDX-License-Identifier: MIT */
/*
 * ktls_uapi.h - the kernel TLS uAPI that ktlsd needs, whatever the age of
 * the installed <linux/tls.h>.
 *
 * The system headers win: every constant is guarded with #ifndef, and each
 * tls12_crypto_info_* struct is declared only when the cipher constant that
 * arrived with it in the same kernel release is missing (GCM-256 and
 * TLS 1.3 in 5.1, CCM-128 in 5.2, ChaCha20-Poly1305 in 5.11,
 * TLS_TX_ZEROCOPY_RO in 5.19, TLS_RX_EXPECT_NO_PAD in 6.0). Values are
 * the kernel's ABI and never change.
 */
#ifndef KTLSD_COMPAT_KTLS_UAPI_H
#define KTLSD_COMPAT_KTLS_UAPI_H

#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>

/* KTLS_COMPAT_NO_LINUX_TLS_H: build as if the header were absent (to
 * check the fallbacks below on a machine that has it) */
#if defined(__has_include) && !defined(KTLS_COMPAT_NO_LINUX_TLS_H)
#if __has_include(<linux/tls.h>)
#include <linux/tls.h>
#define KTLS_HAVE_LINUX_TLS_H 1
#endif
#endif

#ifndef SOL_TLS
#define SOL_TLS 282
#endif
#ifndef TCP_ULP
#define TCP_ULP 31
#endif

/* setsockopt(SOL_TLS, ...) names */
#ifndef TLS_TX
#define TLS_TX 1
#endif
#ifndef TLS_RX
#define TLS_RX 2
#endif
#ifndef TLS_TX_ZEROCOPY_RO
#define TLS_TX_ZEROCOPY_RO 3
#endif
#ifndef TLS_RX_EXPECT_NO_PAD
#define TLS_RX_EXPECT_NO_PAD 4
#endif

/* cmsg types at level SOL_TLS */
#ifndef TLS_SET_RECORD_TYPE
#define TLS_SET_RECORD_TYPE 1
#endif
#ifndef TLS_GET_RECORD_TYPE
#define TLS_GET_RECORD_TYPE 2
#endif

/*
 * glibc's struct tcp_info stops at tcpi_total_retrans; the kernel's
 * tcpi_bytes_acked (Linux 4.1) comes two 64-bit fields later.
 * getsockopt(TCP_INFO) fills as much as it is given.
 */
struct ktls_tcp_info {
	struct tcp_info glibc;
	uint64_t tcpi_pacing_rate;
	uint64_t tcpi_max_pacing_rate;
	uint64_t tcpi_bytes_acked;
};
_Static_assert(__builtin_offsetof(struct ktls_tcp_info, tcpi_bytes_acked) ==
		       120, "struct tcp_info layout");

#ifndef TLS_1_2_VERSION
#define TLS_1_2_VERSION 0x0303
#endif
#ifndef TLS_1_3_VERSION
#define TLS_1_3_VERSION 0x0304
#endif

#ifndef KTLS_HAVE_LINUX_TLS_H
struct tls_crypto_info {
	unsigned short version;
	unsigned short cipher_type;
};
#endif

#ifndef TLS_CIPHER_AES_GCM_128
#define TLS_CIPHER_AES_GCM_128			51
#define TLS_CIPHER_AES_GCM_128_IV_SIZE		8
#define TLS_CIPHER_AES_GCM_128_KEY_SIZE		16
#define TLS_CIPHER_AES_GCM_128_SALT_SIZE	4
#define TLS_CIPHER_AES_GCM_128_TAG_SIZE		16
#define TLS_CIPHER_AES_GCM_128_REC_SEQ_SIZE	8
struct tls12_crypto_info_aes_gcm_128 {
	struct tls_crypto_info info;
	unsigned char iv[TLS_CIPHER_AES_GCM_128_IV_SIZE];
	unsigned char key[TLS_CIPHER_AES_GCM_128_KEY_SIZE];
	unsigned char salt[TLS_CIPHER_AES_GCM_128_SALT_SIZE];
	unsigned char rec_seq[TLS_CIPHER_AES_GCM_128_REC_SEQ_SIZE];
};
#endif

#ifndef TLS_CIPHER_AES_GCM_256
#define TLS_CIPHER_AES_GCM_256			52
#define TLS_CIPHER_AES_GCM_256_IV_SIZE		8
#define TLS_CIPHER_AES_GCM_256_KEY_SIZE		32
#define TLS_CIPHER_AES_GCM_256_SALT_SIZE	4
#define TLS_CIPHER_AES_GCM_256_TAG_SIZE		16
#define TLS_CIPHER_AES_GCM_256_REC_SEQ_SIZE	8
struct tls12_crypto_info_aes_gcm_256 {
	struct tls_crypto_info info;
	unsigned char iv[TLS_CIPHER_AES_GCM_256_IV_SIZE];
	unsigned char key[TLS_CIPHER_AES_GCM_256_KEY_SIZE];
	unsigned char salt[TLS_CIPHER_AES_GCM_256_SALT_SIZE];
	unsigned char rec_seq[TLS_CIPHER_AES_GCM_256_REC_SEQ_SIZE];
};
#endif

#ifndef TLS_CIPHER_AES_CCM_128
#define TLS_CIPHER_AES_CCM_128			53
#define TLS_CIPHER_AES_CCM_128_IV_SIZE		8
#define TLS_CIPHER_AES_CCM_128_KEY_SIZE		16
#define TLS_CIPHER_AES_CCM_128_SALT_SIZE	4
#define TLS_CIPHER_AES_CCM_128_TAG_SIZE		16
#define TLS_CIPHER_AES_CCM_128_REC_SEQ_SIZE	8
struct tls12_crypto_info_aes_ccm_128 {
	struct tls_crypto_info info;
	unsigned char iv[TLS_CIPHER_AES_CCM_128_IV_SIZE];
	unsigned char key[TLS_CIPHER_AES_CCM_128_KEY_SIZE];
	unsigned char salt[TLS_CIPHER_AES_CCM_128_SALT_SIZE];
	unsigned char rec_seq[TLS_CIPHER_AES_CCM_128_REC_SEQ_SIZE];
};
#endif

#ifndef TLS_CIPHER_CHACHA20_POLY1305
#define TLS_CIPHER_CHACHA20_POLY1305			54
#define TLS_CIPHER_CHACHA20_POLY1305_IV_SIZE		12
#define TLS_CIPHER_CHACHA20_POLY1305_KEY_SIZE		32
#define TLS_CIPHER_CHACHA20_POLY1305_SALT_SIZE		0
#define TLS_CIPHER_CHACHA20_POLY1305_TAG_SIZE		16
#define TLS_CIPHER_CHACHA20_POLY1305_REC_SEQ_SIZE	8
struct tls12_crypto_info_chacha20_poly1305 {
	struct tls_crypto_info info;
	unsigned char iv[TLS_CIPHER_CHACHA20_POLY1305_IV_SIZE];
	unsigned char key[TLS_CIPHER_CHACHA20_POLY1305_KEY_SIZE];
	unsigned char salt[TLS_CIPHER_CHACHA20_POLY1305_SALT_SIZE];
	unsigned char rec_seq[TLS_CIPHER_CHACHA20_POLY1305_REC_SEQ_SIZE];
};
#endif

#endif /* KTLSD_COMPAT_KTLS_UAPI_H */
