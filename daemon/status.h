/* SPDX-License-Identifier: MIT */
/*
 * status.h - the built-in plain-HTTP status page ("status = ADDR"):
 * version, services, live connections and each one's data path.
 */
#ifndef KTLSD_STATUS_H
#define KTLSD_STATUS_H

/* Serve one request on the accepted socket FD and close it, on a
 * short-lived thread so that a slow client never stalls the caller. */
void status_serve(int fd);

/* What the last reload did, for the page ("ok", or why it failed). */
void status_set_reload(const char *result);

#endif
