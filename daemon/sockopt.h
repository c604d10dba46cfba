/* SPDX-License-Identifier: MIT */
/*
 * sockopt.h - the "socket = a|l|r:OPTION=VALUE" settings and "local".
 */
#ifndef KTLSD_SOCKOPT_H
#define KTLSD_SOCKOPT_H

#include <stdint.h>

#include "addr.h"
#include "config.h"

/* Apply every option of SVC for SIDE to FD. Options that do not apply to
 * FD's family (TCP options on a Unix socket) are skipped; failures are
 * logged (against CONN_ID, 0 = the service) and are not fatal. */
void sockopt_apply(const struct service *svc, enum sockopt_side side, int fd,
		   uint64_t conn_id);

/* Bind FD to the "local" address of SVC matching TARGET's family.
 * Returns 0, or -1 after logging. */
int sockopt_bind_local(const struct service *svc, int fd,
		       const struct addr *target, uint64_t conn_id);

#endif
