/* SPDX-License-Identifier: MIT */
/* Unit tests: stunnel address syntax (daemon/addr.c). */
#include "../harness.h"
#include "addr.h"

#include <netinet/in.h>
#include <sys/un.h>

static char *fmt(const struct addr *a, char *buf)
{
	return addr_format((const struct sockaddr *)&a->ss, a->len, buf,
			   ADDR_STRLEN);
}

TEST(port_only_connect_is_loopback)
{
	struct addrlist l = { 0 };
	char err[128], s[ADDR_STRLEN];
	size_t i;

	ASSERT_EQ(addr_resolve("8443", 0, &l, err, sizeof(err)), 0);
	ASSERT_GE(l.n, 1);
	for (i = 0; i < l.n; i++) {
		fmt(&l.a[i], s);
		EXPECT_TRUE(!strcmp(s, "127.0.0.1:8443") ||
			    !strcmp(s, "::1:8443"));
	}
	addrlist_free(&l);
}

TEST(port_only_accept_is_any)
{
	struct addrlist l = { 0 };
	char err[128], s[ADDR_STRLEN];
	size_t i;
	int any4 = 0;

	ASSERT_EQ(addr_resolve("8443", 1, &l, err, sizeof(err)), 0);
	for (i = 0; i < l.n; i++)
		any4 |= !strcmp(fmt(&l.a[i], s), "0.0.0.0:8443");
	EXPECT_TRUE(any4);
	addrlist_free(&l);
}

TEST(split_at_last_colon_ipv6_without_brackets)
{
	struct addrlist l = { 0 };
	char err[128], s[ADDR_STRLEN];

	ASSERT_EQ(addr_resolve("::1:443", 0, &l, err, sizeof(err)), 0);
	ASSERT_EQ(l.n, 1);
	EXPECT_STREQ(fmt(&l.a[0], s), "::1:443");
	EXPECT_EQ(addr_port((struct sockaddr *)&l.a[0].ss), 443);
	addrlist_free(&l);
	ASSERT_EQ(addr_resolve(":::0", 1, &l, err, sizeof(err)), 0);
	EXPECT_STREQ(fmt(&l.a[0], s), ":::0");
	addrlist_free(&l);
}

TEST(service_names_and_duplicates)
{
	struct addrlist l = { 0 };
	char err[128], s[ADDR_STRLEN];

	ASSERT_EQ(addr_resolve("127.0.0.1:https", 0, &l, err, sizeof(err)), 0);
	ASSERT_EQ(addr_resolve("127.0.0.1:443", 0, &l, err, sizeof(err)), 0);
	ASSERT_EQ(l.n, 1); /* the same address is listed once */
	EXPECT_STREQ(fmt(&l.a[0], s), "127.0.0.1:443");
	addrlist_free(&l);
}

TEST(unix_path)
{
	struct addrlist l = { 0 };
	char err[128], s[ADDR_STRLEN];

	ASSERT_EQ(addr_resolve("/run/x.sock", 0, &l, err, sizeof(err)), 0);
	ASSERT_EQ(l.n, 1);
	EXPECT_EQ(l.a[0].ss.ss_family, AF_UNIX);
	EXPECT_STREQ(fmt(&l.a[0], s), "/run/x.sock");
	addrlist_free(&l);
}

TEST(errors_are_reported)
{
	struct addrlist l = { 0 };
	char err[128];

	EXPECT_EQ(addr_resolve("127.0.0.1:", 0, &l, err, sizeof(err)), -1);
	EXPECT_STREQ(err, "no port given");
	EXPECT_EQ(addr_resolve("127.0.0.1:nosuchservice", 0, &l, err,
			       sizeof(err)), -1);
	EXPECT_CONTAINS(err, "Error resolving");
	EXPECT_EQ(addr_resolve("host.invalid:443", 0, &l, err, sizeof(err)),
		  -1);
	EXPECT_EQ(l.n, 0);
}

TEST(host_part)
{
	char *h;

	h = addr_host("8443");
	EXPECT_STREQ(h, "localhost");
	free(h);
	h = addr_host("www.example.com:443");
	EXPECT_STREQ(h, "www.example.com");
	free(h);
	h = addr_host("::1:443");
	EXPECT_STREQ(h, "::1");
	free(h);
	EXPECT_TRUE(addr_host("/run/x.sock") == NULL);
}

TEST_MAIN()
