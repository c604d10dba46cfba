/* SPDX-License-Identifier: MIT */
/*
 * runtime.h - process-wide state shared by the main thread and the
 * workers: configuration references, the connection cap and counters.
 */
#ifndef KTLSD_RUNTIME_H
#define KTLSD_RUNTIME_H

#include <stdint.h>

#include "config.h"

/* Reference counting of configurations: the last cfg_put() frees the TLS
 * contexts and the configuration, on whichever thread drops it. */
struct config *cfg_get(struct config *cfg);
void cfg_put(struct config *cfg);

/* The configuration in force: set by the main thread, read (with a
 * reference) by anyone. */
void runtime_set_current(struct config *cfg);
struct config *runtime_get_current(void);	/* cfg_put() it after use */

/* stunnel's formula: nofile*125/256, or (nofile-6)/2 under 256 fds. */
long runtime_max_clients(void);

extern long max_clients;		/* set once at startup */
extern uint64_t conns_active;		/* atomic */
extern uint64_t conns_total;		/* atomic, also the connection id */
extern uint64_t started_at;		/* wall-clock seconds */

#endif
