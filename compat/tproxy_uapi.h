/* SPDX-License-Identifier: MIT */
/*
 * tproxy_uapi.h - the transparent-proxy socket constants ktlsd needs.
 *
 * <linux/netfilter_ipv4.h> and <linux/netfilter_ipv6/ip6_tables.h> clash
 * with glibc's <netinet/in.h> on some releases, so the two getsockopt
 * names are defined here; IP_TRANSPARENT (2.6.28) and IPV6_TRANSPARENT
 * (2.6.37) come from glibc when it knows them. Values are the kernel's
 * ABI and never change.
 */
#ifndef KTLSD_COMPAT_TPROXY_UAPI_H
#define KTLSD_COMPAT_TPROXY_UAPI_H

#include <netinet/in.h>

#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif
#ifndef IP_TRANSPARENT
#define IP_TRANSPARENT 19
#endif
#ifndef IPV6_TRANSPARENT
#define IPV6_TRANSPARENT 75
#endif

#endif
