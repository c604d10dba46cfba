/* SPDX-License-Identifier: MIT */
/* Unit tests: the epoll engine (uring/ev_epoll.c). */
#include "../harness.h"
#include "ev.h"

static int calls[2];
static struct ev_watch w[2];
static struct ev_loop *loop;

static void cb_del_other(struct ev_watch *me, uint32_t events)
{
	int i = me == &w[0] ? 0 : 1;

	calls[i]++;
	/* the first one called deletes the other, in the same batch */
	ev_watch_del(loop, &w[!i]);
}

TEST(watch_deleted_in_batch_is_not_called)
{
	int a[2], b[2];

	ASSERT_EQ(ev_loop_new(&loop), 0);
	ASSERT_EQ(pipe(a), 0);
	ASSERT_EQ(pipe(b), 0);
	ASSERT_EQ(write(a[1], "x", 1), 1);
	ASSERT_EQ(write(b[1], "x", 1), 1);
	ev_watch_init(&w[0], a[0], cb_del_other, NULL);
	ev_watch_init(&w[1], b[0], cb_del_other, NULL);
	ASSERT_EQ(ev_watch_set(loop, &w[0], EV_READ), 0);
	ASSERT_EQ(ev_watch_set(loop, &w[1], EV_READ), 0);
	ASSERT_EQ(ev_run_once(loop, 1000), 2);
	EXPECT_EQ(calls[0] + calls[1], 1);
	ev_loop_free(loop);
}

static void cb_count(struct ev_watch *me, uint32_t events)
{
	calls[0]++;
}

TEST(level_triggered_and_silent_watch)
{
	int a[2];

	ASSERT_EQ(ev_loop_new(&loop), 0);
	ASSERT_EQ(pipe(a), 0);
	ASSERT_EQ(write(a[1], "x", 1), 1);
	ev_watch_init(&w[0], a[0], cb_count, NULL);
	ASSERT_EQ(ev_watch_set(loop, &w[0], EV_READ), 0);
	ASSERT_EQ(ev_run_once(loop, 1000), 1);
	ASSERT_EQ(ev_run_once(loop, 1000), 1); /* still readable */
	ASSERT_EQ(ev_watch_set(loop, &w[0], 0), 0);
	ASSERT_EQ(ev_run_once(loop, 50), 0);
	EXPECT_EQ(calls[0], 2);
	ev_watch_del(loop, &w[0]);
	ev_watch_del(loop, &w[0]); /* idempotent */
	ev_loop_free(loop);
}

TEST_MAIN()
