/* SPDX-License-Identifier: MIT */
/*
 * offload.h - the kernel TLS policy: probe once at startup, then after
 * each handshake move each direction of the TLS side into the kernel
 * when it can go, and say why when it cannot (ktls = auto), or refuse the
 * connection (ktls = required).
 */
#ifndef KTLSD_OFFLOAD_H
#define KTLSD_OFFLOAD_H

struct conn;

/* Probe the kernel (while still privileged: attaching the ULP as root
 * loads the tls module) and log one line of what it offers. */
void offload_init(void);

/* The probe's one-line summary, for the status page. */
const char *offload_summary(void);

/*
 * C's handshake just finished: install what can be installed, set
 * c->path and c->path_why, and switch OpenSSL off the socket for each
 * offloaded direction. Returns 0, or -1 when ktls = required could not be
 * met (C is then closed).
 */
int offload_conn(struct conn *c);

#endif
