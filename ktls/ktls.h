/* SPDX-License-Identifier: MIT */
/*
 * ktls.h - the kernel TLS mechanism layer.
 *
 * User space finishes the handshake with OpenSSL; this module turns what
 * OpenSSL knows (cipher, traffic secrets or master secret and randoms,
 * record sequence numbers) into the kernel's tls12_crypto_info_* structs,
 * plants them with setsockopt(SOL_TLS, TLS_TX/TLS_RX), reads and writes
 * control records on a kTLS socket, and probes what the running kernel
 * offers.
 *
 * Mechanism only: nothing here logs or includes daemon/ headers. Functions
 * return 0 (or a length) on success and -errno on failure. Every buffer
 * that held key material is wiped with OPENSSL_cleanse() before it goes
 * out of scope, and ktls_install() wipes the crypto_info it is given.
 *
 * Versions are the wire numbers: TLS1_2_VERSION (0x0303) and
 * TLS1_3_VERSION (0x0304), which are also the kernel's TLS_1_x_VERSION.
 * Directions are the kernel's TLS_TX and TLS_RX.
 *
 * Files: ktls_cipher.c (table, lookup, refusals), ktls_kdf.c (TLS 1.3
 * HKDF-Expand-Label and TLS 1.2 PRF key block), ktls_info.c (filling
 * crypto_info), ktls_keylog.c (parsing keylog lines), ktls_sock.c
 * (ULP, install, getsockopt), ktls_record.c (control records),
 * ktls_txq.c (records the kernel holds back from TCP), ktls_probe.c
 * (capability probe and its summary).
 */
#ifndef KTLSD_KTLS_H
#define KTLSD_KTLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "ktls_uapi.h"

/* TLS record content types. */
#define KTLS_RT_CHANGE_CIPHER_SPEC	20
#define KTLS_RT_ALERT			21
#define KTLS_RT_HANDSHAKE		22
#define KTLS_RT_APPLICATION_DATA	23

/* Alert levels and the descriptions the daemon sends. */
#define KTLS_ALERT_WARNING		1
#define KTLS_ALERT_FATAL		2
#define KTLS_ALERT_CLOSE_NOTIFY		0

/* Largest plaintext of one record (2^14) and a buffer that always fits one
 * record's plaintext plus the TLS 1.3 inner type byte and slack. */
#define KTLS_MAX_PLAINTEXT		16384
#define KTLS_RECORD_BUF			(KTLS_MAX_PLAINTEXT + 256)

#define KTLS_MAX_KEY		32	/* AES-256, ChaCha20 */
#define KTLS_MAX_IV		12	/* full AEAD nonce */
#define KTLS_MAX_SECRET		EVP_MAX_MD_SIZE
#define KTLS_RANDOM_LEN		32	/* client_random, server_random */

/* ---- cipher table (ktls_cipher.c) ------------------------------------ */

/* The ciphers ktlsd offloads, in table order. */
enum ktls_cipher_id {
	KTLS_AES_128_GCM,
	KTLS_AES_256_GCM,
	KTLS_CHACHA20_POLY1305,
	KTLS_AES_128_CCM,
	KTLS_NCIPHERS
};

#define KTLS_V12	0x1	/* bits of ktls_cipher.versions */
#define KTLS_V13	0x2

/*
 * One kernel cipher. Sizes are the kernel's: salt_len is the implicit
 * part of the nonce (4 for GCM/CCM, 0 for ChaCha20), iv_len the part in
 * crypto_info.iv (8 for GCM/CCM, 12 for ChaCha20); salt_len + iv_len is
 * the 12-byte AEAD nonce. tls12_iv_len is the length of the
 * client/server_write_IV in the TLS 1.2 key block (4, or 12 for ChaCha20).
 */
struct ktls_cipher {
	enum ktls_cipher_id id;
	const char *name;	/* short, for summaries: "aes128gcm" */
	const char *display;	/* for people: "AES-128-GCM" */
	const char *evp_name;	/* OpenSSL EVP_CIPHER name */
	int nid;		/* SSL_CIPHER_get_cipher_nid() value */
	uint16_t kernel_type;	/* TLS_CIPHER_* */
	uint16_t tls13_id;	/* IANA TLS 1.3 suite id, 0 when none */
	unsigned versions;	/* KTLS_V12 | KTLS_V13 that ktlsd offloads */
	uint8_t key_len;
	uint8_t salt_len;
	uint8_t iv_len;
	uint8_t rec_seq_len;
	uint8_t tag_len;
	uint8_t tls12_iv_len;
	size_t info_size;	/* sizeof(struct tls12_crypto_info_*) */
};

/* A negotiated suite that can be offloaded. */
struct ktls_suite {
	const struct ktls_cipher *cipher;	/* static, never freed */
	uint16_t version;	/* TLS1_2_VERSION or TLS1_3_VERSION */
	const EVP_MD *md;	/* KDF/PRF digest, from OpenSSL, not owned */
};

/* The table entry for @id, or NULL when out of range. */
const struct ktls_cipher *ktls_cipher_get(enum ktls_cipher_id id);

/* The table entry for a kernel TLS_CIPHER_* number, or NULL. */
const struct ktls_cipher *ktls_cipher_by_kernel_type(unsigned type);

/* The table entry with short name @name ("aes128gcm"), or NULL. */
const struct ktls_cipher *ktls_cipher_by_name(const char *name);

/* True when ktlsd offloads @c with @version. */
bool ktls_cipher_has_version(const struct ktls_cipher *c, int version);

/*
 * Find the kernel cipher for the suite @sc negotiated with @version
 * (SSL_version() value). Fills @out (cipher, version, digest) and returns
 * 0; -EOPNOTSUPP when the suite cannot be offloaded (see
 * ktls_cipher_why_not() for the words), -EINVAL for NULL arguments.
 */
int ktls_suite_find(int version, const SSL_CIPHER *sc, struct ktls_suite *out);

/*
 * Why the suite @sc with @version cannot be offloaded, as a short phrase
 * for an operator ("CBC cipher suites are not offloaded"), or NULL when it
 * can. Static string.
 */
const char *ktls_cipher_why_not(int version, const SSL_CIPHER *sc);

/* "TLSv1.2", "TLSv1.3" or "unknown". Static string. */
const char *ktls_version_str(int version);

/* ---- key derivation (ktls_kdf.c) ------------------------------------- */

/* The key and the full write IV of one direction. */
struct ktls_keys {
	unsigned char key[KTLS_MAX_KEY];
	unsigned char iv[KTLS_MAX_IV];	/* TLS 1.3: 12; TLS 1.2: tls12_iv_len */
	size_t key_len;
	size_t iv_len;
};

/*
 * HKDF-Expand-Label(@secret, @label, @context, @out_len) of RFC 8446
 * section 7.1, through OpenSSL's TLS13-KDF ("tls13 " prefix added here).
 * Returns 0, -EINVAL on bad sizes, -EIO when OpenSSL fails.
 */
int ktls_hkdf_expand_label(const EVP_MD *md, const unsigned char *secret,
			   size_t secret_len, const char *label,
			   const unsigned char *context, size_t context_len,
			   unsigned char *out, size_t out_len);

/*
 * TLS 1.3 traffic key and iv of one direction from its traffic secret
 * (CLIENT_TRAFFIC_SECRET_0 or SERVER_TRAFFIC_SECRET_0 as the keylog
 * callback gives it, or a later generation). The secret length must be
 * the digest size. Fills @out; returns 0 or -errno (@out wiped on error).
 * @out holds key material: the caller wipes it (OPENSSL_cleanse) after use.
 */
int ktls_tls13_keys(const struct ktls_suite *s, const unsigned char *secret,
		    size_t secret_len, struct ktls_keys *out);

/*
 * The next-generation traffic secret after a KeyUpdate:
 * HKDF-Expand-Label(@secret, "traffic upd", "", Hash.length), written to
 * @out (@secret_len bytes; @out may equal @secret). Returns 0 or -errno.
 */
int ktls_tls13_next_secret(const struct ktls_suite *s,
			   const unsigned char *secret, size_t secret_len,
			   unsigned char *out);

/*
 * The TLS 1.2 PRF (RFC 5246 section 5) with digest @md:
 * PRF(@secret, @label, @seed) truncated to @out_len bytes.
 */
int ktls_tls12_prf(const EVP_MD *md, const unsigned char *secret,
		   size_t secret_len, const char *label,
		   const unsigned char *seed, size_t seed_len,
		   unsigned char *out, size_t out_len);

/*
 * TLS 1.2 key block from the master secret (SSL_SESSION_get_master_key)
 * and the randoms (SSL_get_client_random, SSL_get_server_random), split
 * into the client_write and server_write key and IV (AEAD suites carry no
 * MAC key). Either output may be NULL. Returns 0 or -errno. The caller
 * wipes the outputs (OPENSSL_cleanse) after use.
 */
int ktls_tls12_keys(const struct ktls_suite *s, const unsigned char *master,
		    size_t master_len,
		    const unsigned char client_random[KTLS_RANDOM_LEN],
		    const unsigned char server_random[KTLS_RANDOM_LEN],
		    struct ktls_keys *client_write,
		    struct ktls_keys *server_write);

/* ---- kernel crypto_info (ktls_info.c) -------------------------------- */

/* Room for any tls12_crypto_info_* ktlsd installs. */
union ktls_crypto_info {
	struct tls_crypto_info info;
	struct tls12_crypto_info_aes_gcm_128 aes_gcm_128;
	struct tls12_crypto_info_aes_gcm_256 aes_gcm_256;
	struct tls12_crypto_info_aes_ccm_128 aes_ccm_128;
	struct tls12_crypto_info_chacha20_poly1305 chacha20_poly1305;
};

/* The fields of a crypto_info, pointing into it (for tests and probes). */
struct ktls_info_view {
	unsigned char *iv, *key, *salt, *rec_seq;
	size_t iv_len, key_len, salt_len, rec_seq_len;
	size_t size;		/* the struct's size, what setsockopt takes */
};

/*
 * Fill @ci for one direction of suite @s with @keys and the sequence
 * number of the next record in that direction @rec_seq (written
 * big-endian). TLS 1.3 and GCM/CCM: salt = iv[0..3], iv = iv[4..11].
 * TLS 1.2 GCM/CCM: salt = the 4-byte write IV, iv = the explicit nonce
 * of the next record, which is its sequence number (the kernel increments
 * it per record). ChaCha20 (both versions): iv = the 12-byte write IV, no
 * salt. Returns the struct size (> 0) or -EINVAL; @ci wiped on error.
 * On success @ci holds the key: hand it to ktls_install(), which wipes
 * it, or ktls_crypto_info_wipe() it.
 */
int ktls_crypto_info_fill(union ktls_crypto_info *ci,
			  const struct ktls_suite *s,
			  const struct ktls_keys *keys, uint64_t rec_seq);

/*
 * Derive and fill in one step, wiping the intermediate keys.
 * TLS 1.3: from the direction's traffic secret.
 */
int ktls_crypto_info_tls13(union ktls_crypto_info *ci,
			   const struct ktls_suite *s,
			   const unsigned char *secret, size_t secret_len,
			   uint64_t rec_seq);

/*
 * TLS 1.2: from the master secret and randoms; @client_write selects the
 * client_write (true) or server_write (false) half. A server installs
 * TX = server_write and RX = client_write; a client the reverse.
 */
int ktls_crypto_info_tls12(union ktls_crypto_info *ci,
			   const struct ktls_suite *s,
			   const unsigned char *master, size_t master_len,
			   const unsigned char client_random[KTLS_RANDOM_LEN],
			   const unsigned char server_random[KTLS_RANDOM_LEN],
			   bool client_write, uint64_t rec_seq);

/*
 * Point @v at the fields of @ci according to its cipher_type. Returns 0
 * or -EINVAL for an unknown cipher.
 */
int ktls_crypto_info_view(union ktls_crypto_info *ci,
			  struct ktls_info_view *v);

/* Wipe @ci (OPENSSL_cleanse). NULL is a no-op. */
void ktls_crypto_info_wipe(union ktls_crypto_info *ci);

/* ---- keylog lines (ktls_keylog.c) ------------------------------------ */

enum ktls_secret_kind {
	KTLS_CLIENT_TRAFFIC_SECRET_0,
	KTLS_SERVER_TRAFFIC_SECRET_0,
};

/*
 * Parse one line of the SSL_CTX_set_keylog_callback format
 * ("LABEL <client_random hex> <secret hex>"). Only the two application
 * traffic secrets are of interest: for them, fill @kind, @client_random
 * (may be NULL), @secret (KTLS_MAX_SECRET bytes) and @secret_len and
 * return 0. -ENOENT for any other label, -EINVAL for a malformed line.
 * @secret is wiped on error; the caller wipes it after use.
 */
int ktls_keylog_parse(const char *line, enum ktls_secret_kind *kind,
		      unsigned char *client_random, unsigned char *secret,
		      size_t *secret_len);

/* ---- socket operations (ktls_sock.c) --------------------------------- */

/*
 * Attach the "tls" ULP to the connected TCP socket @fd. 0, or -errno:
 * -ENOENT module absent (autoload needs CAP_NET_ADMIN), -ENOTCONN not
 * connected, -EEXIST a ULP is already attached.
 */
int ktls_ulp(int fd);

/*
 * Install @ci for @dir (TLS_TX or TLS_RX) on @fd, which has the ULP.
 * @ci is wiped whatever the outcome. 0, or -errno: -EBUSY that direction
 * already has a key (no rekey before Linux 6.14), -EINVAL cipher or
 * version not supported by this kernel.
 * Before TLS_RX the caller must make sure OpenSSL holds no unread bytes
 * (SSL_has_pending() == 0): they would be lost.
 */
int ktls_install(int fd, int dir, union ktls_crypto_info *ci);

/*
 * TLS 1.3 RX only, after TLS_RX is installed: tell the kernel to expect
 * records without padding, so it can decrypt in place (Linux >= 6.0).
 * 0 also when the kernel lacks the option (ENOPROTOOPT): it is an
 * optimisation. Other errors as -errno.
 */
int ktls_rx_expect_no_pad(int fd);

/*
 * TLS 1.3 key update of one direction (@dir TLS_TX or TLS_RX) of a kTLS
 * socket (Linux >= 6.14): @secret, the direction's current traffic
 * secret, is replaced by the next generation (in place), and the keys
 * derived from it are installed with the record sequence restarting at
 * 0. Receive side: only after the KeyUpdate record was read. Transmit
 * side: only after our own KeyUpdate went out under the old key.
 * Returns 0 or -errno (EBUSY: this kernel cannot rekey).
 */
int ktls_tls13_rekey(int fd, int dir, const struct ktls_suite *s,
		     unsigned char *secret, size_t secret_len);

/* What getsockopt(SOL_TLS, dir) reports, without key material. */
struct ktls_info {
	uint16_t version;	/* TLS_1_2_VERSION, TLS_1_3_VERSION */
	uint16_t cipher_type;	/* TLS_CIPHER_* */
	uint64_t rec_seq;	/* sequence number of the next record */
};

/*
 * Read the installed state of @dir on @fd into @out. The key material
 * the kernel returns with it is wiped at once. 0, or -errno: -EBUSY no
 * key installed in that direction, -ENOPROTOOPT no tls ULP on @fd.
 */
int ktls_get_info(int fd, int dir, struct ktls_info *out);

/* An operator's phrase for an errno from ktls_ulp()/ktls_install(),
 * without the errno text itself ("tls module not loaded ..."). Static. */
const char *ktls_err_str(int err);

/* ---- records (ktls_record.c) ----------------------------------------- */

/*
 * Send @len bytes of @buf as one record of content @type on the kTLS
 * socket @fd (TX installed) with a TLS_SET_RECORD_TYPE cmsg. @flags are
 * sendmsg flags (MSG_DONTWAIT ...); MSG_NOSIGNAL is always added, MSG_MORE
 * is refused (-EINVAL: the kernel does not allow it with a control
 * record). Returns the bytes sent or -errno.
 */
ssize_t ktls_send_record(int fd, uint8_t type, const void *buf, size_t len,
			 int flags);

/* Send a close_notify alert (warning, close_notify). 0 or -errno
 * (-EAGAIN when the socket buffer is full). */
int ktls_send_close_notify(int fd, int flags);

/* TLS 1.3 handshake message type of a KeyUpdate (RFC 8446 4.6.3) */
#define KTLS_HS_KEY_UPDATE 24

/*
 * Send a TLS 1.3 KeyUpdate handshake record (@update_requested 0 or 1)
 * under the current transmit key. The record closes any open one first.
 * Returns 0, -EAGAIN (nothing was queued: try again when writable), or
 * -errno.
 */
int ktls_send_key_update(int fd, int update_requested, int flags);

/* Send an alert (@level, @desc). 0 or -errno. */
int ktls_send_alert(int fd, uint8_t level, uint8_t desc, int flags);

/*
 * Receive from the kTLS socket @fd (RX installed) with room for a
 * TLS_GET_RECORD_TYPE cmsg: the kernel never mixes record types in one
 * call. Stores the content type in @type (KTLS_RT_APPLICATION_DATA when
 * no cmsg came) and returns the byte count (0 at EOF) or -errno
 * (-EBADMSG: a record failed to decrypt; -EAGAIN). Give @len >=
 * KTLS_RECORD_BUF to take a whole control record at once.
 */
ssize_t ktls_recv_record(int fd, void *buf, size_t len, uint8_t *type,
			 int flags);

/* ---- what the TLS layer still holds (ktls_txq.c) --------------------- */

/*
 * Linux's software kTLS seals a record when it is sent, and hands it to
 * TCP only while TCP's send buffer has room: behind a full buffer the
 * records wait in the TLS layer until the socket's write-space callback
 * pushes them. Nothing tells user space they are there, and a
 * shutdown(SHUT_WR) then loses them (the FIN goes first, the late push
 * fails), as does close() (the kernel frees them). So ktlsd counts: TCP's
 * stream (bytes acknowledged plus SIOCOUTQ) must have grown, since the
 * transmit key went in, by every plaintext byte given to the socket plus
 * each record's overhead times the records sealed (the TLS_TX sequence
 * number the kernel reports).
 */
struct ktls_txq {
	uint64_t tcp0;		/* TCP's stream length at the start */
	uint64_t seq0;		/* TLS_TX sequence number then */
	uint64_t records;	/* sealed under earlier transmit keys */
	uint64_t plain;		/* plaintext bytes given since the start */
	unsigned overhead;	/* bytes a record adds to its plaintext */
	bool valid;		/* started: held() can tell */
};

/* The bytes a record of @version (TLS1_2_VERSION, TLS1_3_VERSION) and
 * kernel cipher @cipher_type adds to its plaintext: header, explicit
 * nonce, TLS 1.3 inner type, tag. 0 for what ktlsd does not offload. */
unsigned ktls_record_overhead(int version, unsigned cipher_type);

/* Start counting on @fd right after its TLS_TX key went in, with
 * nothing written since. 0, or -errno (@q then stays invalid and
 * ktls_txq_held() always answers 0). */
int ktls_txq_start(struct ktls_txq *q, int fd);

/* @n plaintext bytes were accepted by a write, splice or control record. */
static inline void ktls_txq_add(struct ktls_txq *q, uint64_t n)
{
	q->plain += n;
}

/* A new transmit key is about to go in (its sequence restarts at 0):
 * count the records sealed under the current one. 0 or -errno. */
int ktls_txq_rekey(struct ktls_txq *q, int fd);

/* Into @held, the bytes the TLS layer of @fd still holds back from TCP
 * (0: everything ktlsd wrote is TCP's; shutdown and close are safe).
 * 0, -EAGAIN (acknowledgements moved under the reading: ask again),
 * -ENOTCONN (reset or already shut down: nothing more will go), or
 * -errno. */
int ktls_txq_held(const struct ktls_txq *q, int fd, uint64_t *held);

/* ---- capability probe (ktls_probe.c) --------------------------------- */

#define KTLS_NVERSIONS		2	/* index 0: TLS 1.2, 1: TLS 1.3 */
#define KTLS_CAP_UNTRIED	(-1)

/*
 * What the kernel offers. Error fields hold 0 for "works", a positive
 * errno for "refused", or KTLS_CAP_UNTRIED.
 */
struct ktls_caps {
	int setup_err;		/* loopback pair could not be built */
	int ulp_err;		/* setsockopt(TCP_ULP, "tls") */
	int tx_err[KTLS_NCIPHERS][KTLS_NVERSIONS];
	int rx_err[KTLS_NCIPHERS][KTLS_NVERSIONS];
	int rekey_tx_err;	/* a second TLS_TX, TLS 1.3 AES-128-GCM */
	int rekey_rx_err;	/* a second TLS_RX, idem */
	int no_pad_err;		/* TLS_RX_EXPECT_NO_PAD after a 1.3 RX */
};

/*
 * Probe the running kernel through loopback TCP connections on 127.0.0.1
 * (a fresh connection per attempt: a key can be set once per direction),
 * with dummy keys. Bounded (about 20 sockets, a 1 s connect timeout) and
 * quiet. Returns 0 with @out filled, even when kTLS is absent (see
 * ulp_err); -errno only for bad arguments. Loads no module.
 */
int ktls_probe(struct ktls_caps *out);

/* Version index for the caps arrays: 0, 1, or -1 for other versions. */
int ktls_version_index(int version);

/* True when @c with @version works in direction @dir (TLS_TX, TLS_RX). */
bool ktls_caps_can(const struct ktls_caps *caps, int version,
		   const struct ktls_cipher *c, int dir);

/*
 * One line for the start-up log, e.g. "kTLS: tls module yes; TX: aes128gcm
 * aes256gcm chacha20 aes128ccm; RX: ...; rekey: no". A cipher working with
 * only one of its versions is suffixed "(1.2)" or "(1.3)". Returns what
 * snprintf would (the length needed, excluding the NUL).
 */
int ktls_caps_summary(const struct ktls_caps *caps, char *buf, size_t len);

#endif /* KTLSD_KTLS_H */
