/* SPDX-License-Identifier: MIT */
#include "tool.h"
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <openssl/err.h>

const char *tool_usage = "";

void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", program_invocation_short_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	ERR_print_errors_fp(stderr);
	exit(1);
}

void usage(const char *fmt, ...)
{
	va_list ap;

	if (fmt) {
		fprintf(stderr, "%s: ", program_invocation_short_name);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	fputs(tool_usage, stderr);
	exit(EXIT_USAGE);
}

void help(void)
{
	fputs(tool_usage, stdout);
	exit(0);
}

uint64_t opt_size(const char *name, const char *s, uint64_t max)
{
	uint64_t v;

	if (parse_size(s, &v) < 0 || v > max)
		usage("%s: bad size '%s'", name, s);
	return v;
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int64_t clock_ms(void)
{
	return (int64_t)now_ms();
}

double now_s(void)
{
	return (double)now_ns() / 1e9;
}

void sha256_hex(const unsigned char *md, char out[65])
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 0; i < 32; i++) {
		out[2 * i] = digits[md[i] >> 4];
		out[2 * i + 1] = digits[md[i] & 15];
	}
	out[64] = '\0';
}
