/* SPDX-License-Identifier: MIT */
#include "privs.h"
#include "log.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
	if (group) {
		if (setgid(gid) < 0 || setgroups(1, &gid) < 0) {
			logm(LOG_ERR, "setgid %s: %s (%d)", group,
			     strerror(errno), errno);
			return -1;
		}
	}
	if (user) {
		if (setuid(uid) < 0) {
			logm(LOG_ERR, "setuid %s: %s (%d)", user,
			     strerror(errno), errno);
			return -1;
		}
		/* Fail closed: getting root back must be impossible. */
		if (uid != 0 && setuid(0) == 0) {
			logm(LOG_ERR, "setuid %s: root privileges could be regained",
			     user);
			return -1;
		}
	}
	return 0;
}
