/* SPDX-License-Identifier: MIT */
/*
 * net.c - the addresses of the tools, their listening sockets and the end
 * of their non-blocking connects.
 */
#include "tool.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int tool_addr_parse(const char *s, int flags, struct tool_addr *a,
		    char *err, size_t errlen)
{
	struct addrinfo hints, *res;
	const char *colon;
	unsigned char tmp[sizeof(struct in6_addr)];
	size_t hl;
	int rc;

	memset(a, 0, sizeof(*a));
	if ((flags & TOOL_ADDR_UNIX) && (s[0] == '/' || s[0] == '.')) {
		struct sockaddr_un *un = (struct sockaddr_un *)&a->ss;

		if (strlen(s) >= sizeof(un->sun_path)) {
			snprintf(err, errlen, "%s: Unix socket path too long",
				 s);
			return -1;
		}
		un->sun_family = AF_UNIX;
		strcpy(un->sun_path, s);
		a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
				     strlen(s) + 1);
		return 0;
	}
	colon = strrchr(s, ':');
	if (!colon || !colon[1]) {
		snprintf(err, errlen, "%s: expected HOST:PORT%s", s,
			 flags & TOOL_ADDR_UNIX ? " or /path" : "");
		return -1;
	}
	hl = (size_t)(colon - s);
	if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
		s++;
		hl -= 2;
	}
	if (hl >= sizeof(a->host)) {
		snprintf(err, errlen, "%s: host name too long", s);
		return -1;
	}
	memcpy(a->host, s, hl);
	a->host[hl] = '\0';
	if (!strcmp(a->host, "*"))
		a->host[0] = '\0';

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (flags & TOOL_ADDR_PASSIVE)
		hints.ai_flags |= AI_PASSIVE;
	rc = getaddrinfo(a->host[0] ? a->host : NULL, colon + 1, &hints, &res);
	if (rc) {
		snprintf(err, errlen, "%s: %s", s, gai_strerror(rc));
		return -2;
	}
	memcpy(&a->ss, res->ai_addr, res->ai_addrlen);
	a->len = res->ai_addrlen;
	freeaddrinfo(res);
	a->numeric = inet_pton(AF_INET, a->host, tmp) == 1 ||
		     inet_pton(AF_INET6, a->host, tmp) == 1;
	return 0;
}

int tool_listen(const struct tool_addr *a, const char *text)
{
	int fd = socket(a->ss.ss_family,
			SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;

	if (fd < 0)
		die("socket: %s", strerror(errno));
	if (a->ss.ss_family == AF_UNIX) {
		const struct sockaddr_un *un = (const void *)&a->ss;
		struct stat st;

		if (lstat(un->sun_path, &st) == 0 && S_ISSOCK(st.st_mode))
			unlink(un->sun_path);
	} else {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	}
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0)
		die("bind %s: %s", text, strerror(errno));
	if (listen(fd, 4096) < 0)
		die("listen: %s", strerror(errno));
	return fd;
}

int connect_result(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	return err == EALREADY ? EINPROGRESS : err;
}
