/* SPDX-License-Identifier: MIT */
/*
 * harness.h - a small kselftest-shaped test harness with TAP output.
 *
 *	TEST(name) { ASSERT_EQ(1, 1); }
 *	TEST_MAIN()
 *
 * Each test runs in a forked child with a timeout (TEST_TIMEOUT seconds,
 * default 30), so a crash or a hang fails that test only. ASSERT_* end the
 * test on failure, EXPECT_* record the failure and go on. SKIP(reason)
 * ends the test as skipped; the reason is printed after "# SKIP".
 * Exit status: 0 when nothing failed, 1 otherwise.
 */
#ifndef KTLSD_HARNESS_H
#define KTLSD_HARNESS_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef TEST_TIMEOUT
#define TEST_TIMEOUT 30
#endif

struct harness_test {
	const char *name;
	void (*fn)(void);
	struct harness_test *next;
};

extern struct harness_test *harness_head, **harness_tail;
extern int harness_failed;	/* in the child: an EXPECT failed */
extern FILE *harness_skip;	/* in the child: where SKIP writes */

#define TEST(n)                                                          \
	static void test_##n(void);                                      \
	static struct harness_test harness_t_##n = { #n, test_##n, 0 };  \
	__attribute__((constructor)) static void harness_reg_##n(void)   \
	{                                                                \
		*harness_tail = &harness_t_##n;                          \
		harness_tail = &harness_t_##n.next;                      \
	}                                                                \
	static void test_##n(void)

#define HARNESS_FAIL(fatal, fmt, ...)                                    \
	do {                                                             \
		printf("# %s:%d: " fmt "\n", __FILE__, __LINE__,         \
		       ##__VA_ARGS__);                                   \
		fflush(stdout);                                          \
		harness_failed = 1;                                      \
		if (fatal)                                               \
			_exit(1);                                        \
	} while (0)

#define HARNESS_CMP(fatal, a, op, b)                                     \
	do {                                                             \
		long long _a = (long long)(a), _b = (long long)(b);      \
		if (!(_a op _b))                                         \
			HARNESS_FAIL(fatal, "%s %s %s (%lld vs %lld)",   \
				     #a, #op, #b, _a, _b);               \
	} while (0)

#define ASSERT_EQ(a, b) HARNESS_CMP(1, a, ==, b)
#define ASSERT_NE(a, b) HARNESS_CMP(1, a, !=, b)
#define ASSERT_LT(a, b) HARNESS_CMP(1, a, <, b)
#define ASSERT_GE(a, b) HARNESS_CMP(1, a, >=, b)
#define ASSERT_TRUE(a) HARNESS_CMP(1, !!(a), ==, 1)
#define ASSERT_FALSE(a) HARNESS_CMP(1, !!(a), ==, 0)
#define EXPECT_EQ(a, b) HARNESS_CMP(0, a, ==, b)
#define EXPECT_NE(a, b) HARNESS_CMP(0, a, !=, b)
#define EXPECT_TRUE(a) HARNESS_CMP(0, !!(a), ==, 1)
#define EXPECT_FALSE(a) HARNESS_CMP(0, !!(a), ==, 0)

#define HARNESS_STR(fatal, a, b)                                         \
	do {                                                             \
		const char *_a = (a), *_b = (b);                         \
		if (!_a || !_b || strcmp(_a, _b))                        \
			HARNESS_FAIL(fatal, "%s == %s (\"%s\" vs \"%s\")", \
				     #a, #b, _a ? _a : "(null)",         \
				     _b ? _b : "(null)");                \
	} while (0)
#define ASSERT_STREQ(a, b) HARNESS_STR(1, a, b)
#define EXPECT_STREQ(a, b) HARNESS_STR(0, a, b)

/* Haystack contains needle. */
#define HARNESS_HAS(fatal, h, n)                                         \
	do {                                                             \
		const char *_h = (h), *_n = (n);                         \
		if (!_h || !_n || !strstr(_h, _n))                       \
			HARNESS_FAIL(fatal, "\"%s\" in %s (\"%s\")", _n, \
				     #h, _h ? _h : "(null)");            \
	} while (0)
#define ASSERT_CONTAINS(h, n) HARNESS_HAS(1, h, n)
#define EXPECT_CONTAINS(h, n) HARNESS_HAS(0, h, n)

#define SKIP(fmt, ...)                                                   \
	do {                                                             \
		fprintf(harness_skip, fmt, ##__VA_ARGS__);               \
		fflush(harness_skip);                                    \
		_exit(77);                                               \
	} while (0)

#define TEST_MAIN()                                                      \
	struct harness_test *harness_head, **harness_tail = &harness_head; \
	int harness_failed;                                              \
	FILE *harness_skip;                                              \
	int main(void)                                                   \
	{                                                                \
		return harness_run();                                    \
	}

static inline int harness_run_one(struct harness_test *t, char *why,
				  size_t whylen)
{
	int fds[2], st = 0;
	pid_t pid;
	ssize_t n;

	if (pipe(fds) < 0)
		return 1;
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		close(fds[0]);
		harness_skip = fdopen(fds[1], "w");
		alarm(TEST_TIMEOUT);
		t->fn();
		_exit(harness_failed ? 1 : 0);
	}
	close(fds[1]);
	n = read(fds[0], why, whylen - 1);
	why[n > 0 ? n : 0] = '\0';
	close(fds[0]);
	waitpid(pid, &st, 0);
	if (WIFSIGNALED(st)) {
		printf("# %s: killed by signal %d%s\n", t->name,
		       WTERMSIG(st),
		       WTERMSIG(st) == SIGALRM ? " (timeout)" : "");
		return 1;
	}
	return WEXITSTATUS(st);
}

static inline int harness_run(void)
{
	struct harness_test *t;
	int n = 0, i = 0, bad = 0;
	char why[512];

	*harness_tail = NULL;
	for (t = harness_head; t; t = t->next)
		n++;
	printf("TAP version 13\n1..%d\n", n);
	for (t = harness_head; t; t = t->next) {
		int rc = harness_run_one(t, why, sizeof(why));

		i++;
		if (rc == 77)
			printf("ok %d %s # SKIP %s\n", i, t->name, why);
		else if (rc == 0)
			printf("ok %d %s\n", i, t->name);
		else {
			printf("not ok %d %s\n", i, t->name);
			bad = 1;
		}
		fflush(stdout);
	}
	return bad;
}

#endif
