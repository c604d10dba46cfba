/* SPDX-License-Identifier: MIT */
/*
 * offload.h - the kernel TLS policy: probe once at startup, then after
 * each handshake move each direction of the TLS side into the kernel
 * when it can go, and say why when it cannot (ktls = auto), or refuse the
 * connection (ktls = required).
 */
#ifndef KTLSD_OFFLOAD_H
#define KTLSD_OFFLOAD_H

#include <stddef.h>

struct conn;
struct offload_rekey;

/* Probe the kernel, quietly (while still privileged: attaching the ULP
 * as root loads the tls module), before the TLS contexts are built. */
void offload_probe(void);

/* Log one line of what the probe found. */
void offload_log(void);

/* False when the probe found no kernel TLS at all: the TLS contexts then
 * capture no traffic secrets (OpenSSL formats none either). True before
 * the probe. */
int offload_possible(void);

/* The probe's one-line summary, for the status page. */
const char *offload_summary(void);

/*
 * C's handshake is about to start: attach the kernel's tls ULP to the TLS
 * side now, while the socket is surely ESTABLISHED (the kernel refuses
 * the ULP on a socket in CLOSE_WAIT: a client that sends its request and
 * half-closes right after its Finished would otherwise miss kernel TLS).
 * Until keys are installed the socket behaves as plain TCP. Quiet: a
 * failure is found again, and said, by offload_conn().
 */
void offload_attach(struct conn *c);

/*
 * C's handshake just finished: install what can be installed, set
 * c->path and c->path_why, and switch OpenSSL off the socket for each
 * offloaded direction. Returns 0, or -1 when ktls = required could not be
 * met (C is then closed).
 */
int offload_conn(struct conn *c);

/*
 * TLS 1.3 KeyUpdate with both directions in the kernel (Linux >= 6.14;
 * offload_conn() keeps the traffic secrets only where the kernel can
 * rekey). A side without them (c->s[i].rekey == NULL) cannot rekey.
 *
 * offload_key_update_rx: a KeyUpdate was read on side S: install the next
 * receive key; with UPDATE_REQUESTED the side owes its own KeyUpdate
 * (s->ku_owed). 0, -EOPNOTSUPP (S cannot rekey), or -errno; the reason
 * in WHY.
 * offload_key_update_tx: send the owed KeyUpdate under the old key, then
 * install the next transmit key. 0, -EAGAIN (not writable yet), or
 * -errno with the reason in WHY.
 */
struct side;
int offload_key_update_rx(struct conn *c, struct side *s, int update_requested,
			  char *why, size_t len);
int offload_key_update_tx(struct conn *c, struct side *s, char *why,
			  size_t len);
/* Wipe and free a side's kept secrets (NULL is a no-op). */
void offload_rekey_free(struct offload_rekey *r);

#endif
