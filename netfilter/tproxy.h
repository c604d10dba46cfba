/* SPDX-License-Identifier: MIT */
/*
 * tproxy.h - the socket side of transparent proxying (mechanism only:
 * which service uses it is daemon/'s business).
 *
 *  - interception: a listening socket with IP_TRANSPARENT receives the
 *    connections a netfilter TPROXY rule diverts to it, whatever their
 *    destination; the original destination is the accepted socket's own
 *    address (getsockname);
 *  - REDIRECT/DNAT: the original destination is SO_ORIGINAL_DST
 *    (IP6T_SO_ORIGINAL_DST), read from conntrack;
 *  - source spoofing: an outgoing socket with IP_TRANSPARENT may bind to
 *    the client's (non-local) address before connect().
 *
 * Every function returns 0 or -1 with errno set.
 */
#ifndef KTLSD_TPROXY_H
#define KTLSD_TPROXY_H

#include <sys/socket.h>

/* Set (ON = 1) or clear IP_TRANSPARENT / IPV6_TRANSPARENT on FD. */
int tproxy_set_transparent(int fd, int family, int on);

/* Is IP_TRANSPARENT allowed here (CAP_NET_ADMIN in the socket's network
 * namespace)? A throw-away socket is tried; 0 if allowed. */
int tproxy_check_allowed(int family);

/*
 * The address the client of accepted socket FD meant to reach: with
 * INTERCEPTED (a TPROXY listener) the socket's own address, otherwise
 * the conntrack original destination (REDIRECT or DNAT). An IPv4 address
 * reached over an IPv6 socket is returned as a v4-mapped IPv6 address,
 * like getsockname() does.
 */
int tproxy_orig_dst(int fd, int intercepted, struct sockaddr_storage *ss,
		    socklen_t *len);

/* Make outgoing socket FD use SRC (the client's address, port 0) as its
 * source: IP_TRANSPARENT, then bind. SRC must be of FD's family (an
 * IPv4 client reached over a dual-stack listener is v4-mapped: the caller
 * unmaps it first, see tproxy_unmap()). */
int tproxy_bind_source(int fd, const struct sockaddr *src, socklen_t len);

/* Turn a v4-mapped IPv6 address into the IPv4 one, in place. */
void tproxy_unmap(struct sockaddr_storage *ss, socklen_t *len);

/* Is SA an address of this host (bind() without transparency accepts
 * it)? 1 yes, 0 no, -1 on error. */
int tproxy_is_local(const struct sockaddr *sa, socklen_t len);

#endif
