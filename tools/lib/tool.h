/* SPDX-License-Identifier: MIT */
/*
 * tool.h - what the programs in tools/ share: every .c file of tools/lib
 * is linked into each of them.
 */
#ifndef KTLSD_TOOL_H
#define KTLSD_TOOL_H

#include <stddef.h>
#include <stdint.h>

#define PRINTF(a, b) __attribute__((format(printf, a, b)))
#define NORETURN __attribute__((noreturn))

#define EXIT_USAGE	64

/* ---- tool.c: errors, usage, options, time, hex --------------------------- */

/* "PROGRAM: message", then OpenSSL's error queue, on stderr; exit 1. */
NORETURN PRINTF(1, 2) void die(const char *fmt, ...);

/* The program's usage text, for usage() and help(); set it first. */
extern const char *tool_usage;

/* "PROGRAM: message" (none when FMT is NULL), then the usage text, on
 * stderr; exit 64. */
NORETURN PRINTF(1, 2) void usage(const char *fmt, ...);

/* --help: the usage text on stdout; exit 0. */
NORETURN void help(void);

/* The size S ("64K", see parse_size()) of the option NAME, at most MAX;
 * anything else is a usage error "NAME: bad size 'S'". */
uint64_t opt_size(const char *name, const char *s, uint64_t max);

/* CLOCK_MONOTONIC in nanoseconds, in milliseconds (signed, for deadline
 * arithmetic) and in seconds. */
uint64_t now_ns(void);
int64_t clock_ms(void);
double now_s(void);

/* The 32 bytes of a SHA-256 digest as 64 hex digits and a NUL. */
void sha256_hex(const unsigned char *md, char out[65]);

#endif
