/* SPDX-License-Identifier: MIT */
/*
 * listener.h - the listening sockets of a configuration. Opening a new
 * set takes over the sockets of the old set whose address is unchanged
 * (port 0 excepted: stunnel gives those a new port on reload), so a
 * reload does not refuse connections to ports that stay.
 */
#ifndef KTLSD_LISTENER_H
#define KTLSD_LISTENER_H

#include "addr.h"
#include "config.h"
#include "ev.h"

struct listener {
	struct config *cfg;	/* not a reference: the set follows cfg */
	struct service *svc;	/* NULL for the status page */
	int fd;
	struct addr addr;	/* as configured */
	struct ev_watch w;
	struct listener *next;
	/* while a new set is being opened: taken over from the old one */
	int taken;
	struct config *prev_cfg;
	struct service *prev_svc;
};

/*
 * Bind every accept address of CFG (and its status page), taking sockets
 * over from OLD where possible (they are then removed from OLD). Logs
 * "bound to" lines. Returns 0 and the new set in OUT, or -1 when a
 * service could not bind any of its addresses (nothing is left open,
 * OLD is untouched).
 */
int listeners_open(struct config *cfg, struct listener **old,
		   struct listener **out);

/* Close and free a set (unlinking Unix socket paths). */
void listeners_close(struct listener *set);

#endif
