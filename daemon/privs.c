/* SPDX-License-Identifier: MIT */
#include "privs.h"
#include "log.h"
#include "transparent.h"

#include <buildconf.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if HAVE_LIBCAPNG
#include <cap-ng.h>
#endif

static int lookup_user(const char *name, uid_t *uid)
{
	struct passwd *pw = getpwnam(name);
	char *end;

	if (pw) {
		*uid = pw->pw_uid;
		return 0;
	}
	*uid = strtoul(name, &end, 10);
	if (*name && !*end)
		return 0;
	logm(LOG_ERR, "setuid: no such user: %s", name);
	return -1;
}

static int lookup_group(const char *name, gid_t *gid)
{
	struct group *gr = getgrnam(name);
	char *end;

	if (gr) {
		*gid = gr->gr_gid;
		return 0;
	}
	*gid = strtoul(name, &end, 10);
	if (*name && !*end)
		return 0;
	logm(LOG_ERR, "setgid: no such group: %s", name);
	return -1;
}

/*
 * Become UID (and GID unless -1), keeping only the capabilities CFG still
 * needs: CAP_NET_ADMIN for transparent proxying (IP_TRANSPARENT on new
 * sockets, the netfilter state removed at exit), CAP_NET_BIND_SERVICE
 * when a reload may have to bind a port below 1024 again. Everything
 * else, the bounding set included, is gone.
 */
static int change_id(const struct config *cfg, const char *user, uid_t uid,
		     gid_t gid)
{
	int net_admin = transparent_needs_net_admin(cfg);
	int bind_svc = transparent_needs_bind_service(cfg);
#if HAVE_LIBCAPNG
	int rc;

	capng_clear(CAPNG_SELECT_BOTH);
	if (net_admin)
		capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED,
			     CAP_NET_ADMIN);
	if (bind_svc)
		capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED,
			     CAP_NET_BIND_SERVICE);
	rc = capng_change_id(uid, gid, CAPNG_DROP_SUPP_GRP |
				       CAPNG_CLEAR_BOUNDING);
	if (rc) {
		logm(LOG_ERR, "setuid %s: changing identity with libcap-ng "
		     "failed (%d): %s", user, rc, strerror(errno));
		return -1;
	}
#else
	if (net_admin) {
		logm(LOG_ERR, "setuid %s: transparent proxying needs "
		     "CAP_NET_ADMIN after dropping root, and ktlsd was built "
		     "without libcap-ng (apt-get install libcap-ng-dev, then "
		     "rebuild), or leave out setuid", user);
		return -1;
	}
	if ((gid != (gid_t)-1 && (setgid(gid) < 0 || setgroups(1, &gid) < 0)) ||
	    setuid(uid) < 0) {
		logm(LOG_ERR, "setuid %s: %s (%d)", user, strerror(errno),
		     errno);
		return -1;
	}
#endif
	/* Fail closed: getting root back must be impossible. */
	if (setuid(0) == 0) {
		logm(LOG_ERR, "setuid %s: root privileges could be regained",
		     user);
		return -1;
	}
	logm(LOG_INFO, "Running as uid %u, gid %u, capabilities kept: %s%s%s",
	     (unsigned)getuid(), (unsigned)getgid(),
	     net_admin ? "cap_net_admin" : "",
	     net_admin && bind_svc ? "," : "",
	     bind_svc ? "cap_net_bind_service" : !net_admin ? "none" : "");
	return 0;
}

int privs_drop(const struct config *cfg)
{
	const char *user = cfg->defaults.setuid.v;
	const char *group = cfg->defaults.setgid.v;
	uid_t uid = 0;
	gid_t gid = 0;

	/* Names are resolved before chroot hides /etc. */
	if ((user && lookup_user(user, &uid) < 0) ||
	    (group && lookup_group(group, &gid) < 0))
		return -1;
	if (cfg->chroot.v) {
		if (chroot(cfg->chroot.v) < 0 || chdir("/") < 0) {
			logm(LOG_ERR, "chroot %s: %s (%d)", cfg->chroot.v,
			     strerror(errno), errno);
			return -1;
		}
	}
	if (user && uid != 0 && uid == geteuid())
		return 0;	/* already that user: nothing to drop */
	if (user && uid != 0)
		return change_id(cfg, user, uid, group ? gid : (gid_t)-1);
	if (group) {
		if (setgid(gid) < 0 || setgroups(1, &gid) < 0) {
			logm(LOG_ERR, "setgid %s: %s (%d)", group,
			     strerror(errno), errno);
			return -1;
		}
	}
	return 0;
}
