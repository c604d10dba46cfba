/* SPDX-License-Identifier: MIT */
/*
 * privs.h - chroot and the privilege drop (setgid, setgroups, setuid), in
 * stunnel's order, failing closed: any error aborts startup.
 */
#ifndef KTLSD_PRIVS_H
#define KTLSD_PRIVS_H

#include "config.h"

/* Returns 0, or -1 after logging what failed. */
int privs_drop(const struct config *cfg);

#endif
