/* SPDX-License-Identifier: MIT */
/*
 * util.h - small helpers shared by the daemon and its tools: allocation that aborts on
 * failure at startup-time call sites, string lists, monotonic time.
 */
#ifndef KTLSD_UTIL_H
#define KTLSD_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define __printf(a, b) __attribute__((format(printf, a, b)))
#define __noreturn __attribute__((noreturn))
#define __unused __attribute__((unused))

/* Allocation helpers: abort the process with a message on ENOMEM.
 * Used for configuration-time objects only; the data path checks malloc. */
void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) __printf(1, 2);

/* Milliseconds of CLOCK_MONOTONIC. */
uint64_t now_ms(void);

/* "16", "64K", "64M", "1G", "4KiB": a size with binary multiples, into
 * *OUT. 0, or -1 when S is not one (or overflows). */
int parse_size(const char *s, uint64_t *out);

/* Trim leading and trailing whitespace in place, return the start. */
char *strtrim(char *s);

#endif
