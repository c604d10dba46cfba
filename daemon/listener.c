/* SPDX-License-Identifier: MIT */
#include "listener.h"
#include "log.h"
#include "sockopt.h"
#include "transparent.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static struct listener *take_over(struct listener **old, const struct addr *a)
{
	struct listener **pp, *l;

	if (addr_port((const struct sockaddr *)&a->ss) == 0 &&
	    a->ss.ss_family != AF_UNIX)
		return NULL;
	for (pp = old; (l = *pp); pp = &l->next) {
		if (addr_equal(&l->addr, a)) {
			*pp = l->next;
			l->next = NULL;
			return l;
		}
	}
	return NULL;
}

/* Unix accept sockets get the section's setuid/setgid as owner. */
static void chown_unix(const struct service *svc, const char *path)
{
	uid_t uid = -1;
	gid_t gid = -1;

	if (svc->setuid.v) {
		struct passwd *pw = getpwnam(svc->setuid.v);

		if (pw)
			uid = pw->pw_uid;
	}
	if (svc->setgid.v) {
		struct group *gr = getgrnam(svc->setgid.v);

		if (gr)
			gid = gr->gr_gid;
	}
	if ((uid != (uid_t)-1 || gid != (gid_t)-1) && chown(path, uid, gid) < 0)
		logc(svc, 0, LOG_WARNING, "chown %s: %s", path,
		     strerror(errno));
}

static int bind_one(const struct service *svc, const char *name,
		    const struct addr *a)
{
	char s[ADDR_STRLEN];
	int fd, one = 1;

	addr_format((const struct sockaddr *)&a->ss, a->len, s, sizeof(s));
	fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0)
		goto fail;
	if (svc)
		sockopt_apply(svc, SOCKSIDE_ACCEPT, fd, 0);
	else
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (svc && svc->tproxy != TPROXY_NO &&
	    transparent_listener(svc, fd, a->ss.ss_family) < 0) {
		logm(LOG_ERR, "Binding service [%s] to %s: tproxy needs "
		     "IP_TRANSPARENT: %s (CAP_NET_ADMIN)", name, s,
		     strerror(errno));
		close(fd);
		return -1;
	}
	if (a->ss.ss_family == AF_UNIX)
		unlink(((const struct sockaddr_un *)&a->ss)->sun_path);
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0 ||
	    listen(fd, SOMAXCONN) < 0)
		goto fail;
	if (a->ss.ss_family == AF_UNIX && svc)
		chown_unix(svc, ((const struct sockaddr_un *)&a->ss)->sun_path);
	return fd;
fail:
	logm(LOG_NOTICE, "Binding service [%s] to %s: %s (%d)", name, s,
	     strerror(errno), errno);
	if (fd >= 0)
		close(fd);
	return -1;
}

static void log_bound(const char *name, struct listener *l)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char s[ADDR_STRLEN];

	if (getsockname(l->fd, (struct sockaddr *)&ss, &len) < 0) {
		ss = l->addr.ss;
		len = l->addr.len;
	}
	if (ss.ss_family == AF_UNIX)
		len = l->addr.len;
	logm(LOG_INFO, "Service [%s] (FD=%d) bound to %s", name, l->fd,
	     addr_format((struct sockaddr *)&ss, len, s, sizeof(s)));
}

static struct listener *add(struct listener **set, struct config *cfg,
			    struct service *svc, int fd, const struct addr *a)
{
	struct listener *l = calloc(1, sizeof(*l));

	if (!l) {
		close(fd);
		return NULL;
	}
	l->cfg = cfg;
	l->svc = svc;
	l->fd = fd;
	l->addr = *a;
	l->next = *set;
	*set = l;
	return l;
}

/* Bind all addresses of one accept text; 0 if at least one bound. */
static int open_addrs(struct config *cfg, struct service *svc,
		      const char *name, const struct addrlist *al,
		      struct listener **old, struct listener **set)
{
	size_t i;
	int bound = 0;

	for (i = 0; i < al->n; i++) {
		struct listener *l = take_over(old, &al->a[i]);

		if (l && svc &&
		    transparent_listener(svc, l->fd, l->addr.ss.ss_family) < 0) {
			logm(LOG_ERR, "Service [%s]: tproxy needs "
			     "IP_TRANSPARENT: %s (CAP_NET_ADMIN)", name,
			     strerror(errno));
			l->next = *old;	/* back where it was */
			*old = l;
			continue;
		}
		if (l) {
			l->prev_cfg = l->cfg;
			l->prev_svc = l->svc;
			l->taken = 1;
			l->cfg = cfg;
			l->svc = svc;
			l->next = *set;
			*set = l;
		} else {
			int fd = bind_one(svc, name, &al->a[i]);

			if (fd < 0)
				continue;
			l = add(set, cfg, svc, fd, &al->a[i]);
			if (!l)
				continue;
		}
		log_bound(name, l);
		bound++;
	}
	return bound ? 0 : -1;
}

/* Abandon a new set: sockets taken over return to OLD as they were,
 * the others are closed. */
static void abandon(struct listener *set, struct listener **old)
{
	struct listener *l, *next;

	for (l = set; l; l = next) {
		next = l->next;
		l->next = NULL;
		if (l->taken) {
			l->taken = 0;
			l->cfg = l->prev_cfg;
			l->svc = l->prev_svc;
			l->next = *old;
			*old = l;
		} else {
			listeners_close(l);
		}
	}
}

int listeners_open(struct config *cfg, struct listener **old,
		   struct listener **out)
{
	struct listener *set = NULL, *l;
	int bad = 0;
	size_t i;

	for (i = 0; i < cfg->n_services; i++) {
		struct service *svc = cfg->services[i];

		if (svc->accept_addrs.n &&
		    open_addrs(cfg, svc, svc->name, &svc->accept_addrs, old,
			       &set) < 0) {
			logm(LOG_ERR, "Binding service [%s] failed", svc->name);
			bad = 1;
		}
	}
	if (cfg->status.v) {
		struct addrlist al = { 0 };
		char err[160];

		if (addr_resolve(cfg->status.v, 1, &al, err, sizeof(err)) < 0 ||
		    open_addrs(cfg, NULL, "status", &al, old, &set) < 0) {
			logm(LOG_ERR, "Binding the status page to %s failed",
			     cfg->status.v);
			bad = 1;
		}
		addrlist_free(&al);
	}
	if (bad) {
		abandon(set, old);
		return -1;
	}
	for (l = set; l; l = l->next)
		l->taken = 0;
	*out = set;
	return 0;
}

void listeners_close(struct listener *set)
{
	struct listener *l, *next;

	for (l = set; l; l = next) {
		next = l->next;
		if (l->addr.ss.ss_family == AF_UNIX)
			unlink(((struct sockaddr_un *)&l->addr.ss)->sun_path);
		close(l->fd);
		free(l);
	}
}
