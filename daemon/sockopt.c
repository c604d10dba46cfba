/* SPDX-License-Identifier: MIT */
#include "sockopt.h"
#include "log.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

static int family_of(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	return ss.ss_family;
}

void sockopt_apply(const struct service *svc, enum sockopt_side side, int fd,
		   uint64_t conn_id)
{
	int family = -1;
	size_t i;

	for (i = 0; i < svc->n_sockopts; i++) {
		const struct sockopt_val *o = &svc->sockopts[i];
		const void *val = &o->u;
		socklen_t len;

		if (o->side != (char)side)
			continue;
		if (family < 0)
			family = family_of(fd);
		if (family == AF_UNIX && o->level != SOL_SOCKET)
			continue;
		if (family == AF_INET6 && o->level == IPPROTO_IP)
			continue;
		if (family == AF_INET && o->level == IPPROTO_IPV6)
			continue;
		switch (o->type) {
		case SOV_LINGER:
			len = sizeof(o->u.linger);
			break;
		case SOV_TIMEVAL:
			len = sizeof(o->u.tv);
			break;
		case SOV_STRING:
			len = strlen(o->u.str) + 1;
			break;
		default:
			len = sizeof(o->u.i);
		}
		if (setsockopt(fd, o->level, o->name, val, len) < 0)
			logc(svc, conn_id, LOG_WARNING,
			     "setsockopt %s on the %s socket: %s (%d)",
			     o->optname ? o->optname : "?",
			     side == SOCKSIDE_ACCEPT ? "accepting" :
			     side == SOCKSIDE_LOCAL ? "local" : "remote",
			     strerror(errno), errno);
	}
}

int sockopt_bind_local(const struct service *svc, int fd,
		       const struct addr *target, uint64_t conn_id)
{
	size_t i;

	for (i = 0; i < svc->local_addrs.n; i++) {
		struct addr a = svc->local_addrs.a[i];
		char s[ADDR_STRLEN];

		if (a.ss.ss_family != target->ss.ss_family)
			continue;
		if (a.ss.ss_family == AF_INET)
			((struct sockaddr_in *)&a.ss)->sin_port = 0;
		else if (a.ss.ss_family == AF_INET6)
			((struct sockaddr_in6 *)&a.ss)->sin6_port = 0;
		if (bind(fd, (struct sockaddr *)&a.ss, a.len) == 0)
			return 0;
		logc(svc, conn_id, LOG_ERR, "local: bind %s: %s (%d)",
		     addr_format((struct sockaddr *)&a.ss, a.len, s, sizeof(s)),
		     strerror(errno), errno);
		return -1;
	}
	return 0;	/* no local address of that family: the OS chooses */
}
