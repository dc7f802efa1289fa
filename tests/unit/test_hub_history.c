/*
 * test_hub_history — what a channel keeps: history bounded by count, by
 * bytes and by age (at publish and by sg_hub_sweep on the injected clock),
 * channel info as it changes, and sweeping away channels that have neither
 * subscribers nor history (unless the elsewhere hook says another hub's
 * subscribers listen). The world is hub_env.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "hub_env.h"

/* ---- count and bytes -------------------------------------------------- */

static void test_history_bound_by_count(void **state)
{
	env *e = env_new(3, 1 << 20);
	publish_n(e, "c", 1, 2);
	sg_channel_info ci = info(e, "c");
	assert_int_equal(ci.history_count, 2);
	assert_id(ci.first_id, ID(1));
	publish_n(e, "c", 3, 5);
	ci = info(e, "c");
	assert_int_equal(ci.history_count, 3);
	assert_int_equal(ci.history_bytes, 6);
	assert_id(ci.first_id, ID(3));
	assert_id(ci.last_id, ID(5));
	assert_int_equal(sg_msg_live(), e->msgs + 3);
	/* well past the ring's first capacity, wrapping many times */
	publish_n(e, "c", 6, 100);
	ci = info(e, "c");
	assert_int_equal(ci.history_count, 3);
	assert_int_equal(ci.history_bytes, 3 + 3 + 4); /* m98 m99 m100 */
	assert_id(ci.first_id, ID(98));
	assert_id(ci.last_id, ID(100));
	assert_int_equal(sg_msg_live(), e->msgs + 3);
	/* "everything you have" from an evicted history: a gap, then all of it */
	size_t s = sub_add(e, &sg_transport_ws, "c", "0");
	assert_int_equal(sg__stream_queued(e->subs[s]), 4);
	assert_frame(e, s, 0, GAP_JSON("c", "0", Q(ID(98)), "evicted"));
	assert_frame(e, s, 1, "m98");
	assert_frame(e, s, 2, "m99");
	assert_frame(e, s, 3, "m100");
	env_free(e);
	(void)state;
}

static void test_history_bound_by_bytes(void **state)
{
	env *e = env_new(100, 10);
	assert_int_equal(publish(e, "c", NULL, NULL, "aaaa", NULL), 0);
	assert_int_equal(publish(e, "c", NULL, NULL, "aaaa", NULL), 0);
	sg_channel_info ci = info(e, "c");
	assert_int_equal(ci.history_count, 2);
	assert_int_equal(ci.history_bytes, 8);
	assert_int_equal(publish(e, "c", NULL, NULL, "aaaa", NULL), 0); /* 12 > 10 */
	ci = info(e, "c");
	assert_int_equal(ci.history_count, 2);
	assert_int_equal(ci.history_bytes, 8);
	assert_id(ci.first_id, ID(2));
	assert_int_equal(publish(e, "c", NULL, NULL, "bbbbbbbbbb", NULL), 0); /* 18, 14, 10 */
	ci = info(e, "c");
	assert_int_equal(ci.history_count, 1);
	assert_int_equal(ci.history_bytes, 10);
	assert_id(ci.first_id, ID(4));
	assert_id(ci.last_id, ID(4));
	/* the newest message stays even when it alone is over the bound */
	assert_int_equal(publish(e, "c", NULL, NULL, "ccccccccccc", NULL), 0);
	ci = info(e, "c");
	assert_int_equal(ci.history_count, 1);
	assert_int_equal(ci.history_bytes, 11);
	assert_id(ci.first_id, ID(5));
	assert_int_equal(publish(e, "c", NULL, NULL, "d", NULL), 0);
	ci = info(e, "c");
	assert_int_equal(ci.history_count, 1);
	assert_int_equal(ci.history_bytes, 1);
	assert_id(ci.first_id, ID(6));
	assert_int_equal(publish(e, "c", NULL, NULL, "", NULL), 0);
	ci = info(e, "c");
	assert_int_equal(ci.history_count, 2);
	assert_int_equal(ci.history_bytes, 1);
	assert_id(ci.first_id, ID(6));
	assert_id(ci.last_id, ID(7));
	assert_int_equal(sg_msg_live(), e->msgs + 2);
	env_free(e);
	(void)state;
}

/* ---- age ---------------------------------------------------------------- */

static env *env_aged(uint64_t age_ms)
{
	return env_with((sg_hub_limits){
	    .history_count = 16, .history_bytes = 1 << 20, .history_age_ms = age_ms});
}

static void test_age_eviction_at_publish(void **state)
{
	env *e = env_aged(100);
	publish_n(e, "c", 1, 1); /* 1000-1 at 1000 */
	publish_n(e, "d", 1, 1); /* 1000-2 at 1000 */
	fake_clock_set(T0 + 50);
	publish_n(e, "c", 2, 2); /* 1050-0 */
	fake_clock_set(T0 + 100);
	publish_n(e, "c", 3, 3); /* 1100-0: m1 is exactly 100 ms old, still kept */
	sg_channel_info ci = info(e, "c");
	assert_int_equal(ci.history_count, 3);
	assert_id(ci.first_id, ID(1));
	fake_clock_set(T0 + 101);
	publish_n(e, "c", 4, 4); /* 1101-0: m1 is 101 ms old */
	ci = info(e, "c");
	assert_int_equal(ci.history_count, 3);
	assert_int_equal(ci.history_bytes, 6);
	assert_id(ci.first_id, "1050-0");
	assert_id(ci.last_id, "1101-0");
	fake_clock_set(T0 + 300);
	publish_n(e, "c", 5, 5); /* 1300-0: all before it are too old */
	ci = info(e, "c");
	assert_int_equal(ci.history_count, 1);
	assert_int_equal(ci.history_bytes, 2);
	assert_id(ci.first_id, "1300-0");
	/* publishing to c ages only c */
	assert_int_equal(info(e, "d").history_count, 1);
	assert_int_equal(sg_msg_live(), e->msgs + 2);
	/* resuming from before the evictions is told so */
	size_t s = sub_add(e, &sg_transport_ndjson, "c", ID(1));
	assert_int_equal(sg__stream_queued(e->subs[s]), 2);
	assert_frame(e, s, 0, GAP_JSON("c", ID(1), Q("1300-0"), "evicted") "\n");
	assert_frame(e, s, 1, ENVELOPE("c", "1300-0", "m5") "\n");
	/* from the last evicted message on, nothing was lost */
	size_t t = sub_add(e, &sg_transport_chunked, "c", "1101-0");
	assert_all_frames(e, t, "m5\n");
	env_free(e);
	(void)state;
}

static void test_sweep_expires_and_reclaims(void **state)
{
	env *e = env_aged(100);
	publish_n(e, "old", 1, 1);     /* 1000-1 */
	publish_n(e, "watched", 2, 2); /* 1000-2 */
	size_t w = sub_add(e, &sg_transport_ws, "watched", NULL);
	size_t m = sub_add(e, &sg_transport_ws, "empty", NULL);
	size_t g = sub_add(e, &sg_transport_ws, "gone", NULL);
	sub_detach(e, g, 0);
	fake_clock_set(T0 + 150);
	publish_n(e, "fresh", 3, 3); /* 1150-0 */
	assert_int_equal(sg_hub_channel_count(e->hub), 5);
	/* nothing is too old yet; only "gone" has neither subscribers nor history */
	assert_int_equal(sg_hub_sweep(e->hub, T0 + 100), 1);
	assert_int_equal(sg_hub_channel_count(e->hub), 4);
	sg_channel_info ci;
	assert_int_equal(sg_hub_channel_info(e->hub, "gone", &ci), SG_ENOTFOUND);
	assert_int_equal(info(e, "old").history_count, 1);
	/* a millisecond later old and watched lose their messages; old goes */
	assert_int_equal(sg_hub_sweep(e->hub, T0 + 101), 1);
	assert_int_equal(sg_hub_channel_info(e->hub, "old", &ci), SG_ENOTFOUND);
	ci = info(e, "watched");
	assert_int_equal(ci.history_count, 0);
	assert_int_equal(ci.history_bytes, 0);
	assert_id(ci.first_id, "0");
	assert_id(ci.last_id, ID(2));
	assert_int_equal(ci.subscribers, 1);
	assert_int_equal(info(e, "empty").subscribers, 1);
	assert_int_equal(info(e, "fresh").history_count, 1);
	assert_int_equal(sg_msg_live(), e->msgs + 1);
	/* sweeping is idempotent */
	assert_int_equal(sg_hub_sweep(e->hub, T0 + 101), 0);
	/* without their subscribers, watched and empty go too */
	sub_detach(e, w, 0);
	sub_detach(e, m, 1);
	assert_int_equal(sg_hub_sweep(e->hub, T0 + 101), 2);
	assert_int_equal(sg_hub_channel_count(e->hub), 1);
	assert_int_equal(sg_hub_sweep(e->hub, T0 + 250), 0);
	assert_int_equal(sg_hub_sweep(e->hub, T0 + 251), 1);
	assert_int_equal(sg_hub_channel_count(e->hub), 0);
	assert_int_equal(sg_msg_live(), e->msgs);
	/* ids go on across reclaimed channels */
	sg_publish_result res;
	assert_int_equal(publish(e, "old", NULL, NULL, "x", &res), 0);
	assert_string_equal(res.id, "1150-1");
	env_free(e);
	(void)state;
}

/* What the sweep asked the elsewhere hook, and what the hook answers. */
typedef struct elsewhere_log {
	int answer;
	int asked;
	char last[SG_CHANNEL_NAME_MAX + 1];
} elsewhere_log;

static int elsewhere_answer(void *ud, const char *channel)
{
	elsewhere_log *l = ud;
	l->asked++;
	snprintf(l->last, sizeof(l->last), "%s", channel);
	return l->answer;
}

static void test_sweep_asks_elsewhere(void **state)
{
	env *e = env_aged(100);
	elsewhere_log l = {.answer = 1};
	sg_hub_set_hooks(e->hub, &(sg_hub_hooks){.elsewhere = elsewhere_answer, .ud = &l});
	publish_n(e, "heard", 1, 2); /* 1000-1, 1000-2 */
	size_t s = sub_add(e, &sg_transport_ws, "listened", NULL);
	fake_clock_set(T0 + 50);
	publish_n(e, "fresh", 3, 3); /* 1050-0 */
	/* heard has neither subscribers nor history here, but another hub's
	 * subscribers listen: kept, with its last id. Only a channel the sweep
	 * would free is asked about */
	assert_int_equal(sg_hub_sweep(e->hub, T0 + 101), 0);
	assert_int_equal(l.asked, 1);
	assert_string_equal(l.last, "heard");
	sg_channel_info ci = info(e, "heard");
	assert_int_equal(ci.subscribers, 0);
	assert_int_equal(ci.history_count, 0);
	assert_id(ci.last_id, ID(2));
	assert_int_equal(sg_hub_channel_count(e->hub), 3);
	/* nobody listens elsewhere any more: freed */
	l.answer = 0;
	assert_int_equal(sg_hub_sweep(e->hub, T0 + 101), 1);
	assert_int_equal(l.asked, 2);
	assert_int_equal(sg_hub_channel_info(e->hub, "heard", &ci), SG_ENOTFOUND);
	assert_int_equal(sg_hub_channel_count(e->hub), 2);
	assert_int_equal(info(e, "listened").subscribers, 1);
	assert_int_equal(info(e, "fresh").history_count, 1);
	/* without the hook, the same as answering 0 */
	sub_detach(e, s, 0);
	sg_hub_set_hooks(e->hub, NULL);
	assert_int_equal(sg_hub_sweep(e->hub, T0 + 101), 1);
	assert_int_equal(l.asked, 2);
	assert_int_equal(sg_hub_channel_count(e->hub), 1);
	env_free(e);
	(void)state;
}

static void test_sweep_without_age(void **state)
{
	env *e = *state; /* history_age_ms 0: no age bound */
	publish_n(e, "kept", 1, 2);
	size_t s = sub_add(e, &sg_transport_ws, "listened", NULL);
	assert_int_equal(sg_hub_sweep(e->hub, INT64_MAX), 0);
	assert_int_equal(info(e, "kept").history_count, 2);
	assert_int_equal(sg_hub_channel_count(e->hub), 2);
	sub_detach(e, s, 0);
	assert_int_equal(sg_hub_sweep(e->hub, INT64_MAX), 1);
	assert_int_equal(sg_hub_channel_count(e->hub), 1);
}

static void test_sweep_without_history(void **state)
{
	env *e = env_new(0, 0);
	size_t s = sub_add(e, &sg_transport_ws, "a", NULL);
	publish_n(e, "a", 1, 1);
	publish_n(e, "b", 2, 2);
	/* b never kept a message and nobody listens: reclaimed at once */
	assert_int_equal(sg_hub_sweep(e->hub, T0), 1);
	assert_int_equal(sg_hub_channel_count(e->hub), 1);
	assert_int_equal(info(e, "a").subscribers, 1);
	assert_all_frames(e, s, "m1");
	env_free(e);
	(void)state;
}

/* New bounds (a reload) trim every channel at once, keep the hub's clock,
 * and bound what comes next; a lowered max_channels makes a new channel
 * evict the longest-idle one (b: a was published to since). */
static void test_set_limits_trims_at_once(void **state)
{
	env *e = env_new(10, 1 << 20);
	publish_n(e, "a", 1, 6);
	publish_n(e, "b", 7, 8);
	fake_clock_set(T0 + 50);
	sg_hub_set_limits(e->hub, &(sg_hub_limits){.history_count = 3, .history_bytes = 1 << 20,
						   .history_age_ms = 100, .max_channels = 2});
	sg_channel_info ci = info(e, "a");
	assert_int_equal(ci.history_count, 3);
	assert_id(ci.first_id, ID(4));
	assert_int_equal(info(e, "b").history_count, 2);
	assert_int_equal(sg_msg_live(), e->msgs + 5);
	publish_n(e, "a", 9, 10);
	ci = info(e, "a");
	assert_int_equal(ci.history_count, 3);
	assert_id(ci.first_id, ID(6));
	assert_int_equal(publish(e, "c", NULL, NULL, "x", NULL), 0);
	assert_int_equal(sg_hub_channel_count(e->hub), 2);
	assert_int_equal(sg_hub_channels_evicted(e->hub), 1);
	assert_int_equal(info(e, "c").history_count, 1);
	/* the age bound works on the injected clock, not the real one */
	fake_clock_set(T0 + 151);
	sg_hub_set_limits(e->hub, &(sg_hub_limits){.history_count = 0, .history_bytes = 0,
						   .history_age_ms = 100});
	assert_int_equal(info(e, "a").history_count, 0);
	assert_int_equal(info(e, "c").history_count, 0);
	assert_int_equal(sg_msg_live(), e->msgs);
	env_free(e);
	(void)state;
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, env_setup, env_teardown)
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_history_bound_by_count),
	    cmocka_unit_test(test_history_bound_by_bytes),
	    cmocka_unit_test(test_age_eviction_at_publish),
	    cmocka_unit_test(test_sweep_expires_and_reclaims),
	    cmocka_unit_test(test_sweep_asks_elsewhere),
	    T(test_sweep_without_age),
	    cmocka_unit_test(test_sweep_without_history),
	    cmocka_unit_test(test_set_limits_trims_at_once),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
