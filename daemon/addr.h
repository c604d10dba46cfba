/* SPDX-License-Identifier: MIT */
/*
 * addr.h - stunnel address syntax: "[HOST:]PORT" split at the last colon,
 * IPv6 literals without brackets, "/path" for Unix sockets.
 */
#ifndef KTLSD_ADDR_H
#define KTLSD_ADDR_H

#include <stddef.h>
#include <sys/socket.h>

struct addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

struct addrlist {
	struct addr *a;
	size_t n;
};

/* Longest text addr_format() produces, NUL included. */
#define ADDR_STRLEN 128

/*
 * Resolve TEXT into OUT (appending). PASSIVE selects the accept rules (no
 * host = every local address) over the connect rules (no host =
 * loopback). Returns 0, or -1 with a reason in ERR.
 */
int addr_resolve(const char *text, int passive, struct addrlist *out,
		 char *err, size_t errlen);

/* "127.0.0.1:443", ":::443" (stunnel prints IPv6 without brackets),
 * or the Unix socket path. Returns BUF. */
char *addr_format(const struct sockaddr *sa, socklen_t len, char *buf,
		  size_t buflen);

/* The host part of TEXT ("localhost" when TEXT is only a port, NULL for a
 * Unix path); malloc'ed. */
char *addr_host(const char *text);

int addr_equal(const struct addr *a, const struct addr *b);
/* Port of an inet address, 0 otherwise. */
int addr_port(const struct sockaddr *sa);

void addrlist_add(struct addrlist *l, const struct sockaddr *sa, socklen_t len);
void addrlist_free(struct addrlist *l);
void addrlist_copy(struct addrlist *dst, const struct addrlist *src);

#endif
