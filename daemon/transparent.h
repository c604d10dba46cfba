/* SPDX-License-Identifier: MIT */
/*
 * transparent.h - transparent proxying policy: which services intercept
 * (tproxy), spoof the client's source (transparent = source), connect to
 * the original destination (transparent = destination) or announce the
 * client with a PROXY protocol header; the startup checks that turn a
 * missing privilege or kernel feature into a clear error; and the
 * netfilter and routing state installed for tproxy = auto. The socket
 * and netlink mechanisms are in netfilter/.
 */
#ifndef KTLSD_TRANSPARENT_H
#define KTLSD_TRANSPARENT_H

#include <stddef.h>

#include "addr.h"
#include "config.h"

/* Capabilities CFG needs after dropping root (CAP_* bit numbers), for
 * privs.c: CAP_NET_ADMIN for IP_TRANSPARENT and for the netfilter state,
 * CAP_NET_BIND_SERVICE to bind ports below 1024 again on reload. */
int transparent_needs_net_admin(const struct config *cfg);
int transparent_needs_bind_service(const struct config *cfg);

/* Startup and reload, while privileged: what CFG asks for is possible
 * (IP_TRANSPARENT allowed, policy routing present for tproxy = yes, the
 * netfilter state of tproxy = auto installed). Logs a sentence that says
 * what to do and returns -1 otherwise. */
int transparent_apply(const struct config *cfg);

/* Remove the netfilter and routing state ktlsd installed (at exit). */
void transparent_teardown(void);

/* The nft script and ip commands of CFG's tproxy services (malloc'ed;
 * NULL when no service uses tproxy). */
char *transparent_plan_text(const struct config *cfg);

/* Listener socket FD of SVC: set or clear IP_TRANSPARENT as SVC says.
 * -1 with errno when it cannot be set. */
int transparent_listener(const struct service *svc, int fd, int family);

/*
 * Per connection (client socket CFD of SVC in CFG):
 * the original destination into OUT, refused (-1 with WHY) when it is
 * one of ktlsd's own listening addresses (a loop);
 * the client's address as the source of backend socket FD towards a
 * TARGET_FAMILY server;
 * a PROXY protocol header on backend socket FD.
 */
int transparent_orig_dst(const struct config *cfg, const struct service *svc,
			 int cfd, struct addr *out, char *why, size_t len);
int transparent_source(int cfd, int fd, int target_family, char *why,
		       size_t len);
int transparent_proxy_header(const struct service *svc, int cfd, int fd,
			     char *why, size_t len);

#endif
