/* SPDX-License-Identifier: MIT */
/*
 * ktls_sock.c - switching a TCP socket to kernel TLS.
 *
 * Order on a connected socket: ktls_ulp(), then ktls_install() once per
 * direction (a second install of the same direction is EBUSY before
 * Linux 6.14), then for TLS 1.3 RX optionally ktls_rx_expect_no_pad().
 */
#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>

#include "ktls.h"

int ktls_ulp(int fd)
{
	static const char ulp[] = "tls";

	if (fd < 0)
		return -EBADF;
	if (setsockopt(fd, IPPROTO_TCP, TCP_ULP, ulp, sizeof(ulp)) < 0)
		return -errno;
	return 0;
}

int ktls_install(int fd, int dir, union ktls_crypto_info *ci)
{
	const struct ktls_cipher *c;
	int rc = 0;

	if (!ci)
		return -EINVAL;
	c = ktls_cipher_by_kernel_type(ci->info.cipher_type);
	if (fd < 0)
		rc = -EBADF;
	else if ((dir != TLS_TX && dir != TLS_RX) || !c)
		rc = -EINVAL;
	else if (setsockopt(fd, SOL_TLS, dir, ci, (socklen_t)c->info_size) < 0)
		rc = -errno;
	ktls_crypto_info_wipe(ci);
	return rc;
}

int ktls_tls13_rekey(int fd, int dir, const struct ktls_suite *s,
		     unsigned char *secret, size_t secret_len)
{
	union ktls_crypto_info ci;
	int rc;

	rc = ktls_tls13_next_secret(s, secret, secret_len, secret);
	if (!rc)
		rc = ktls_crypto_info_tls13(&ci, s, secret, secret_len, 0);
	if (rc < 0)
		return rc;
	return ktls_install(fd, dir, &ci);
}

int ktls_rx_expect_no_pad(int fd)
{
	int one = 1;

	if (fd < 0)
		return -EBADF;
	if (setsockopt(fd, SOL_TLS, TLS_RX_EXPECT_NO_PAD, &one,
		       sizeof(one)) < 0)
		return errno == ENOPROTOOPT ? 0 : -errno;
	return 0;
}

int ktls_get_info(int fd, int dir, struct ktls_info *out)
{
	union ktls_crypto_info ci;
	struct ktls_info_view v;
	socklen_t len;
	int rc = 0;

	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (fd < 0)
		return -EBADF;
	if (dir != TLS_TX && dir != TLS_RX)
		return -EINVAL;

	/* The bare header first: the kernel then returns no key material. */
	memset(&ci, 0, sizeof(ci));
	len = sizeof(ci.info);
	if (getsockopt(fd, SOL_TLS, dir, &ci.info, &len) < 0)
		return -errno;
	out->version = ci.info.version;
	out->cipher_type = ci.info.cipher_type;

	/* The sequence number needs the whole struct, keys included. */
	if (ktls_crypto_info_view(&ci, &v))
		return 0;	/* a cipher we do not know: no rec_seq */
	len = (socklen_t)v.size;
	if (getsockopt(fd, SOL_TLS, dir, &ci, &len) < 0) {
		rc = -errno;
	} else if (len == v.size) {
		for (size_t i = 0; i < v.rec_seq_len; i++)
			out->rec_seq = out->rec_seq << 8 | v.rec_seq[i];
	}
	ktls_crypto_info_wipe(&ci);
	return rc;
}

const char *ktls_err_str(int err)
{
	if (err < 0)
		err = -err;
	switch (err) {
	case 0:
		return "ok";
	case ENOENT:
		return "tls module not loaded (modprobe tls, or list it in "
		       "/etc/modules-load.d; autoload needs CAP_NET_ADMIN and "
		       "the module installed)";
	case ENOPROTOOPT:
	case EOPNOTSUPP:
		return "kernel has no kTLS support";
	case ENOTCONN:
		return "socket not connected";
	case EEXIST:
		return "a ULP is already attached to the socket";
	case EBUSY:
		return "a key is already installed for this direction "
		       "(no rekey before Linux 6.14)";
	case EINVAL:
		return "cipher or TLS version not supported by this kernel";
	case ENOMEM:
		return "kernel out of memory";
	case EBADMSG:
		return "record failed to decrypt or authenticate";
	case EPERM:
	case EACCES:
		return "not permitted";
	default:
		return "unexpected error";
	}
}
