/* SPDX-License-Identifier: MIT */
/*
 * ktls_probe.c - what the running kernel's TLS layer accepts, asked once
 * at start-up.
 *
 * Everything is tried for real on loopback TCP connections to a listener
 * on 127.0.0.1:0, because only an established TCP socket takes the ULP
 * and a direction takes one key: each cipher and version gets a fresh
 * connection, TX and RX installed on it with dummy keys. Nothing is ever
 * sent, so the keys do not matter. A second TLS_TX/TLS_RX on one socket
 * tells whether the kernel rekeys (Linux >= 6.14, TLS 1.3). The probe
 * loads no module: an ENOENT from TCP_ULP is reported as such and the
 * daemon decides what to do about it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <openssl/crypto.h>

#include "ktls.h"

#define PROBE_CONNECT_MS 1000

/* A listener on 127.0.0.1, port chosen by the kernel. fd or -errno. */
static int probe_listener(struct sockaddr_in *sin)
{
	socklen_t len = sizeof(*sin);
	int fd, rc;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)sin, sizeof(*sin)) < 0 ||
	    listen(fd, 64) < 0 ||
	    getsockname(fd, (struct sockaddr *)sin, &len) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

/*
 * An established client socket connected to the listener @lfd at @sin;
 * fd or -errno. The accepted end goes to *@peer (-1 when not queued yet)
 * and must stay open until the attempt is over: closing it sends a FIN,
 * the client leaves ESTABLISHED and the ULP would fail with ENOTCONN.
 */
static int probe_connect(int lfd, const struct sockaddr_in *sin, int *peer)
{
	struct pollfd pfd;
	socklen_t elen = sizeof(int);
	int fd, err = 0;

	*peer = -1;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)sin, sizeof(*sin)) < 0) {
		if (errno != EINPROGRESS) {
			err = errno;
			goto fail;
		}
		pfd.fd = fd;
		pfd.events = POLLOUT;
		pfd.revents = 0;
		if (poll(&pfd, 1, PROBE_CONNECT_MS) <= 0) {
			err = ETIMEDOUT;
			goto fail;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
			err = errno;
		if (err)
			goto fail;
	}
	*peer = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	return fd;
fail:
	close(fd);
	return -err;
}

static void probe_close(int fd, int peer)
{
	if (fd >= 0)
		close(fd);
	if (peer >= 0)
		close(peer);
}

/* Dummy keys of the right sizes for (@c, @version). */
static int probe_info(union ktls_crypto_info *ci, const struct ktls_cipher *c,
		      int version)
{
	struct ktls_suite s = { .cipher = c, .version = (uint16_t)version };
	struct ktls_keys k;
	int rc;

	memset(&k, 0x5a, sizeof(k));
	k.key_len = c->key_len;
	k.iv_len = version == TLS1_2_VERSION && c->salt_len ?
		   c->salt_len : (size_t)c->salt_len + c->iv_len;
	rc = ktls_crypto_info_fill(ci, &s, &k, 0);
	OPENSSL_cleanse(&k, sizeof(k));
	return rc < 0 ? rc : 0;
}

/* Install dummy keys for @dir. 0 or a positive errno. */
static int probe_install(int fd, int dir, const struct ktls_cipher *c,
			 int version)
{
	union ktls_crypto_info ci;
	int rc;

	rc = probe_info(&ci, c, version);
	if (!rc)
		rc = ktls_install(fd, dir, &ci);
	return -rc;
}

static void probe_ciphers(int lfd, const struct sockaddr_in *sin,
			  struct ktls_caps *caps)
{
	for (int i = 0; i < KTLS_NCIPHERS; i++) {
		const struct ktls_cipher *c = ktls_cipher_get(i);

		for (int vi = 0; vi < KTLS_NVERSIONS; vi++) {
			int version = vi ? TLS1_3_VERSION : TLS1_2_VERSION;
			int fd, peer, rc;

			if (!ktls_cipher_has_version(c, version))
				continue;
			fd = probe_connect(lfd, sin, &peer);
			if (fd < 0) {
				caps->tx_err[i][vi] = caps->rx_err[i][vi] = -fd;
				continue;
			}
			rc = ktls_ulp(fd);
			if (rc) {
				caps->tx_err[i][vi] = caps->rx_err[i][vi] = -rc;
			} else {
				caps->tx_err[i][vi] =
					probe_install(fd, TLS_TX, c, version);
				caps->rx_err[i][vi] =
					probe_install(fd, TLS_RX, c, version);
			}
			probe_close(fd, peer);
		}
	}
}

/* Rekey and TLS_RX_EXPECT_NO_PAD, on TLS 1.3 AES-128-GCM. */
static void probe_rekey(int lfd, const struct sockaddr_in *sin,
			struct ktls_caps *caps)
{
	const struct ktls_cipher *c = ktls_cipher_get(KTLS_AES_128_GCM);
	int fd, peer, one = 1;

	fd = probe_connect(lfd, sin, &peer);
	if (fd < 0)
		return;
	if (ktls_ulp(fd))
		goto out;
	if (probe_install(fd, TLS_TX, c, TLS1_3_VERSION) == 0)
		caps->rekey_tx_err = probe_install(fd, TLS_TX, c,
						   TLS1_3_VERSION);
	if (probe_install(fd, TLS_RX, c, TLS1_3_VERSION) == 0) {
		caps->no_pad_err = setsockopt(fd, SOL_TLS, TLS_RX_EXPECT_NO_PAD,
					      &one, sizeof(one)) < 0 ? errno : 0;
		caps->rekey_rx_err = probe_install(fd, TLS_RX, c,
						   TLS1_3_VERSION);
	}
out:
	probe_close(fd, peer);
}

int ktls_probe(struct ktls_caps *out)
{
	struct sockaddr_in sin;
	int lfd, fd, peer, rc;

	if (!out)
		return -EINVAL;
	out->setup_err = 0;
	out->ulp_err = KTLS_CAP_UNTRIED;
	for (int i = 0; i < KTLS_NCIPHERS; i++)
		for (int v = 0; v < KTLS_NVERSIONS; v++)
			out->tx_err[i][v] = out->rx_err[i][v] =
				KTLS_CAP_UNTRIED;
	out->rekey_tx_err = out->rekey_rx_err = KTLS_CAP_UNTRIED;
	out->no_pad_err = KTLS_CAP_UNTRIED;

	lfd = probe_listener(&sin);
	if (lfd < 0) {
		out->setup_err = -lfd;
		return 0;
	}
	fd = probe_connect(lfd, &sin, &peer);
	if (fd < 0) {
		out->setup_err = -fd;
		goto out;
	}
	rc = ktls_ulp(fd);
	probe_close(fd, peer);
	out->ulp_err = -rc;
	if (rc)
		goto out;
	probe_ciphers(lfd, &sin, out);
	probe_rekey(lfd, &sin, out);
out:
	close(lfd);
	return 0;
}

int ktls_version_index(int version)
{
	if (version == TLS1_2_VERSION)
		return 0;
	if (version == TLS1_3_VERSION)
		return 1;
	return -1;
}

bool ktls_caps_can(const struct ktls_caps *caps, int version,
		   const struct ktls_cipher *c, int dir)
{
	int vi = ktls_version_index(version);

	if (!caps || !c || vi < 0 || (unsigned)c->id >= KTLS_NCIPHERS ||
	    caps->ulp_err != 0 || !ktls_cipher_has_version(c, version))
		return false;
	if (dir == TLS_TX)
		return caps->tx_err[c->id][vi] == 0;
	if (dir == TLS_RX)
		return caps->rx_err[c->id][vi] == 0;
	return false;
}

/* A bounded appender: keeps counting past the end, like snprintf. */
struct sbuf {
	char *buf;
	size_t len, used;
};

__attribute__((format(printf, 2, 3)))
static void sb_printf(struct sbuf *sb, const char *fmt, ...)
{
	size_t room = sb->used < sb->len ? sb->len - sb->used : 0;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(room ? sb->buf + sb->used : NULL, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		sb->used += (size_t)n;
}

static void summary_dir(struct sbuf *sb, const struct ktls_caps *caps,
			int dir)
{
	bool any = false;

	for (int i = 0; i < KTLS_NCIPHERS; i++) {
		const struct ktls_cipher *c = ktls_cipher_get(i);
		bool v12 = ktls_caps_can(caps, TLS1_2_VERSION, c, dir);
		bool v13 = ktls_caps_can(caps, TLS1_3_VERSION, c, dir);
		bool w12 = c->versions & KTLS_V12, w13 = c->versions & KTLS_V13;

		if (!v12 && !v13)
			continue;
		sb_printf(sb, " %s", c->name);
		if (w12 && w13 && !(v12 && v13))
			sb_printf(sb, "(%s)", v12 ? "1.2" : "1.3");
		any = true;
	}
	if (!any)
		sb_printf(sb, " none");
}

static const char *err_name(int err)
{
	const char *n = err > 0 ? strerrorname_np(err) : NULL;

	return n ? n : "error";
}

int ktls_caps_summary(const struct ktls_caps *caps, char *buf, size_t len)
{
	struct sbuf sb = { .buf = buf, .len = len, .used = 0 };

	if (buf && len)
		buf[0] = '\0';
	if (!caps)
		return -EINVAL;
	if (caps->setup_err) {
		sb_printf(&sb, "kTLS: unknown (loopback test connection "
			  "failed: %s)", strerror(caps->setup_err));
		goto out;
	}
	if (caps->ulp_err) {
		sb_printf(&sb, "kTLS: tls module no (%s: %s)",
			  err_name(caps->ulp_err), ktls_err_str(caps->ulp_err));
		goto out;
	}
	sb_printf(&sb, "kTLS: tls module yes; TX:");
	summary_dir(&sb, caps, TLS_TX);
	sb_printf(&sb, "; RX:");
	summary_dir(&sb, caps, TLS_RX);
	if (caps->rekey_tx_err == 0 && caps->rekey_rx_err == 0)
		sb_printf(&sb, "; rekey: yes");
	else if (caps->rekey_tx_err == 0)
		sb_printf(&sb, "; rekey: tx only");
	else if (caps->rekey_tx_err == KTLS_CAP_UNTRIED)
		sb_printf(&sb, "; rekey: unknown");
	else
		sb_printf(&sb, "; rekey: no");
out:
	return (int)sb.used;
}
