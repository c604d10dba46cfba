/* SPDX-License-Identifier: MIT */
#include "tproxy.h"
#include "tproxy_uapi.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int tproxy_set_transparent(int fd, int family, int on)
{
	if (family == AF_INET6)
		return setsockopt(fd, SOL_IPV6, IPV6_TRANSPARENT, &on,
				  sizeof(on));
	if (family == AF_INET)
		return setsockopt(fd, SOL_IP, IP_TRANSPARENT, &on, sizeof(on));
	errno = EAFNOSUPPORT;
	return -1;
}

int tproxy_check_allowed(int family)
{
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0), r, err;

	if (fd < 0)
		return -1;
	r = tproxy_set_transparent(fd, family, 1);
	err = errno;
	close(fd);
	errno = err;
	return r;
}

static int is_mapped(const struct sockaddr_storage *ss)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

	return ss->ss_family == AF_INET6 &&
	       IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr);
}

void tproxy_unmap(struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in6 s6;
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

	if (!is_mapped(ss))
		return;
	memcpy(&s6, ss, sizeof(s6));
	memset(ss, 0, sizeof(*ss));
	s4->sin_family = AF_INET;
	s4->sin_port = s6.sin6_port;
	memcpy(&s4->sin_addr, &s6.sin6_addr.s6_addr[12], 4);
	*len = sizeof(*s4);
}

/* An IPv4 address as the v4-mapped IPv6 one, in place. */
static void map(struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in s4;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memcpy(&s4, ss, sizeof(s4));
	memset(ss, 0, sizeof(*ss));
	s6->sin6_family = AF_INET6;
	s6->sin6_port = s4.sin_port;
	s6->sin6_addr.s6_addr[10] = 0xff;
	s6->sin6_addr.s6_addr[11] = 0xff;
	memcpy(&s6->sin6_addr.s6_addr[12], &s4.sin_addr, 4);
	*len = sizeof(*s6);
}

int tproxy_orig_dst(int fd, int intercepted, struct sockaddr_storage *ss,
		    socklen_t *len)
{
	socklen_t l = sizeof(*ss);

	memset(ss, 0, sizeof(*ss));
	if (getsockname(fd, (struct sockaddr *)ss, &l) < 0)
		return -1;
	*len = l;
	if (intercepted)
		return 0;
	if (ss->ss_family == AF_INET6 && !is_mapped(ss)) {
		l = sizeof(struct sockaddr_in6);
		if (getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, ss, &l) < 0)
			return -1;
		*len = l;
		return 0;
	}
	/* IPv4, also on a dual-stack socket: conntrack's IPv4 entry */
	l = sizeof(struct sockaddr_in);
	{
		int family = ss->ss_family;

		if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, ss, &l) < 0)
			return -1;
		*len = l;
		if (family == AF_INET6)
			map(ss, len);
	}
	return 0;
}

int tproxy_bind_source(int fd, const struct sockaddr *src, socklen_t len)
{
	struct sockaddr_storage ss;

	if (len > sizeof(ss)) {
		errno = EINVAL;
		return -1;
	}
	memcpy(&ss, src, len);
	if (ss.ss_family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_port = 0;
	else if (ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&ss)->sin6_port = 0;
	if (tproxy_set_transparent(fd, ss.ss_family, 1) < 0)
		return -1;
	return bind(fd, (struct sockaddr *)&ss, len);
}

int tproxy_is_local(const struct sockaddr *sa, socklen_t len)
{
	struct sockaddr_storage ss;
	int fd, r;

	if (len > sizeof(ss) ||
	    (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
		return 0;
	memcpy(&ss, sa, len);
	if (ss.ss_family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_port = 0;
	else
		((struct sockaddr_in6 *)&ss)->sin6_port = 0;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	r = bind(fd, (struct sockaddr *)&ss, len);
	if (r < 0)
		r = errno == EADDRNOTAVAIL ? 0 : -1;
	else
		r = 1;
	close(fd);
	return r;
}
