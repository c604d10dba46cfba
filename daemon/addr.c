/* SPDX-License-Identifier: MIT */
#include "addr.h"
#include "util.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

void addrlist_add(struct addrlist *l, const struct sockaddr *sa, socklen_t len)
{
	size_t i;

	for (i = 0; i < l->n; i++) /* several lines may name the same one */
		if (l->a[i].len == len && !memcmp(&l->a[i].ss, sa, len))
			return;
	l->a = xrealloc(l->a, (l->n + 1) * sizeof(*l->a));
	memset(&l->a[l->n], 0, sizeof(l->a[l->n]));
	memcpy(&l->a[l->n].ss, sa, len);
	l->a[l->n].len = len;
	l->n++;
}

void addrlist_free(struct addrlist *l)
{
	free(l->a);
	l->a = NULL;
	l->n = 0;
}

void addrlist_copy(struct addrlist *dst, const struct addrlist *src)
{
	dst->n = src->n;
	dst->a = NULL;
	if (src->n) {
		dst->a = xmalloc(src->n * sizeof(*src->a));
		memcpy(dst->a, src->a, src->n * sizeof(*src->a));
	}
}

static int split(const char *text, char **host, char **port)
{
	const char *colon = strrchr(text, ':');

	if (!colon) {
		*host = NULL;
		*port = xstrdup(text);
	} else {
		*host = colon == text ? NULL : strndup(text, colon - text);
		if (colon != text && !*host)
			return -1;
		*port = xstrdup(colon + 1);
	}
	return 0;
}

int addr_resolve(const char *text, int passive, struct addrlist *out,
		 char *err, size_t errlen)
{
	struct addrinfo hints, *res, *ai;
	char *host, *port;
	int rc;

	if (text[0] == '/') {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };

		if (strlen(text) >= sizeof(sun.sun_path)) {
			snprintf(err, errlen, "Unix socket path too long");
			return -1;
		}
		strcpy(sun.sun_path, text);
		addrlist_add(out, (struct sockaddr *)&sun,
			     offsetof(struct sockaddr_un, sun_path) +
				     strlen(text) + 1);
		return 0;
	}
	if (split(text, &host, &port) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (!*port) {
		snprintf(err, errlen, "no port given");
		free(host);
		free(port);
		return -1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	if (passive && !host)
		hints.ai_flags = AI_PASSIVE;
	rc = getaddrinfo(host && *host ? host : NULL, port, &hints, &res);
	if (rc) {
		snprintf(err, errlen, "Error resolving \"%s\": %s",
			 host ? host : "", gai_strerror(rc));
		free(host);
		free(port);
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next)
		addrlist_add(out, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(res);
	free(host);
	free(port);
	return 0;
}

char *addr_format(const struct sockaddr *sa, socklen_t len, char *buf,
		  size_t buflen)
{
	char host[INET6_ADDRSTRLEN];

	switch (sa->sa_family) {
	case AF_INET: {
		const struct sockaddr_in *in = (const void *)sa;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(buf, buflen, "%s:%u", host, ntohs(in->sin_port));
		break;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(buf, buflen, "%s:%u", host, ntohs(in6->sin6_port));
		break;
	}
	case AF_UNIX: {
		const struct sockaddr_un *un = (const void *)sa;

		if (len <= offsetof(struct sockaddr_un, sun_path) ||
		    !un->sun_path[0])
			snprintf(buf, buflen, "unnamed socket");
		else
			snprintf(buf, buflen, "%.*s",
				 (int)(len - offsetof(struct sockaddr_un,
						      sun_path)),
				 un->sun_path);
		break;
	}
	default:
		snprintf(buf, buflen, "unknown address family %d",
			 sa->sa_family);
	}
	return buf;
}

char *addr_host(const char *text)
{
	const char *colon;

	if (text[0] == '/')
		return NULL;
	colon = strrchr(text, ':');
	if (!colon || colon == text)
		return xstrdup("localhost");
	return strndup(text, colon - text);
}

int addr_equal(const struct addr *a, const struct addr *b)
{
	return a->len == b->len && !memcmp(&a->ss, &b->ss, a->len);
}

int addr_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return 0;
}
