/* SPDX-License-Identifier: MIT */
/*
 * log.h - stunnel-compatible logging.
 *
 * Before a configuration is in force (command line, --check, startup
 * errors) lines go to stderr as "[c] text" where c is '*' (emerg..crit),
 * '!' (err), ':' (warning), '.' (notice) or ' ' (info, debug).
 * Afterwards they go, as "YYYY.MM.DD HH:MM:SS LOG<level>[<id>]: <text>",
 * to stderr (foreground = yes), to the output file, and to syslog (unless
 * syslog = no) with the service name as ident.
 *
 * Thread-safe: each line is formatted in a local buffer and written with
 * one write(2); the file descriptor is replaced with dup2() on reopen.
 * A failed write drops the line and counts it; logging never blocks on
 * anything but the write itself.
 */
#ifndef KTLSD_LOG_H
#define KTLSD_LOG_H

#include <stdint.h>
#include <syslog.h>

#include "util.h"

struct config;
struct service;

/* Global threshold: lines above it are not formatted at all. */
extern int log_level;

/* Start in "[c] text" mode on stderr. */
void log_init(void);

/* Switch to CFG's format, stderr, syslog and levels; the output file
 * stays as it was (stunnel opens it only after dropping privileges). */
void log_configure(const struct config *cfg);

/*
 * Open the configured destinations of CFG, the output file included. Returns 0, or -1 after logging
 * why (the output file could not be opened). Until this succeeds the
 * previous destinations stay in use.
 */
int log_open(const struct config *cfg);

/* SIGUSR1: close and reopen the output file; logs "Log file reopened". */
void log_reopen(void);

/* Stop logging to the terminal (after daemonizing). */
void log_detach_stderr(void);

void log_close(void);

/* Lines written, lines dropped (write errors). */
uint64_t log_dropped(void);

/* A line with the "ui" id (or the given ID) at LEVEL. */
void logm(int level, const char *fmt, ...) __printf(2, 3);

/* A line about connection CONN_ID of SVC, filtered by the service's own
 * debug level; CONN_ID 0 means the service itself ("ui"). */
void logc(const struct service *svc, uint64_t conn_id, int level,
	  const char *fmt, ...) __printf(4, 5);

/* Drain OpenSSL's error queue into the log, one line per entry, as
 * "WHAT: error:...:reason" with the library's own reason strings. */
void log_ssl_errors(const struct service *svc, uint64_t conn_id, int level,
		    const char *what);

/* logm(LOG_ERR) then exit(1). */
void fatal(const char *fmt, ...) __printf(1, 2) __noreturn;

#endif
