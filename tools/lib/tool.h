/* SPDX-License-Identifier: MIT */
/*
 * tool.h - what the programs in tools/ share: every .c file of tools/lib
 * is linked into each of them.
 */
#ifndef KTLSD_TOOL_H
#define KTLSD_TOOL_H

#define PRINTF(a, b) __attribute__((format(printf, a, b)))
#define NORETURN __attribute__((noreturn))

/* "PROGRAM: message", then OpenSSL's error queue, on stderr; exit 1. */
NORETURN PRINTF(1, 2) void die(const char *fmt, ...);

#endif
