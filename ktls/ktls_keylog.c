/* SPDX-License-Identifier: MIT */
/*
 * ktls_keylog.c - the TLS 1.3 application traffic secrets out of the
 * keylog callback's lines (NSS key log format: "LABEL <client_random>
 * <secret>", both in hex). OpenSSL 3.0 has no other public way to them.
 */
#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>

#include "ktls.h"

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/*
 * Decode the hex word at *@pp (ending at a space, a newline or the end)
 * into @out (at most @max bytes); advance *@pp past it. Bytes decoded, or
 * -EINVAL.
 */
static int unhex_word(const char **pp, unsigned char *out, size_t max)
{
	const char *p = *pp;
	size_t n = 0;

	while (*p && *p != ' ' && *p != '\n' && *p != '\r') {
		int hi = hexval(p[0]), lo = hi < 0 ? -1 : hexval(p[1]);

		if (hi < 0 || lo < 0 || n == max)
			return -EINVAL;
		out[n++] = (unsigned char)(hi << 4 | lo);
		p += 2;
	}
	*pp = p;
	return (int)n;
}

int ktls_keylog_parse(const char *line, enum ktls_secret_kind *kind,
		      unsigned char *client_random, unsigned char *secret,
		      size_t *secret_len)
{
	static const struct {
		const char *label;
		enum ktls_secret_kind kind;
	} labels[] = {
		{ "CLIENT_TRAFFIC_SECRET_0 ", KTLS_CLIENT_TRAFFIC_SECRET_0 },
		{ "SERVER_TRAFFIC_SECRET_0 ", KTLS_SERVER_TRAFFIC_SECRET_0 },
	};
	unsigned char cr[KTLS_RANDOM_LEN];
	const char *p = NULL;
	int n;

	if (!line || !kind || !secret || !secret_len)
		return -EINVAL;
	*secret_len = 0;
	for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++) {
		size_t l = strlen(labels[i].label);

		if (!strncmp(line, labels[i].label, l)) {
			p = line + l;
			*kind = labels[i].kind;
			break;
		}
	}
	if (!p)
		return -ENOENT;
	if (unhex_word(&p, cr, sizeof(cr)) != KTLS_RANDOM_LEN || *p != ' ')
		return -EINVAL;
	p++;
	n = unhex_word(&p, secret, KTLS_MAX_SECRET);
	/* SHA-256 or SHA-384 secrets; nothing but a line end after */
	if ((n != 32 && n != 48) || (*p && *p != '\n' && *p != '\r')) {
		OPENSSL_cleanse(secret, KTLS_MAX_SECRET);
		return -EINVAL;
	}
	if (client_random)
		memcpy(client_random, cr, sizeof(cr));
	*secret_len = (size_t)n;
	return 0;
}
