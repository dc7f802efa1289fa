/*
 * test_hub_evict — max_channels: a new channel evicts the least recently
 * active channel without subscribers (activity: a publish, a subscriber
 * coming or going), counted in sg_hub_channels_evicted; it is refused only
 * when every channel has subscribers; a resume on an evicted channel from
 * before the eviction gets an "evicted" gap. The world is hub_env.h; the
 * case of subscribers on another worker is in test_workers.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "hub_env.h"

static env *env_max(size_t max_channels)
{
	return env_with((sg_hub_limits){
	    .history_count = 4, .history_bytes = 1 << 20, .max_channels = max_channels});
}

static int exists(env *e, const char *channel)
{
	sg_channel_info ci;
	return sg_hub_channel_info(e->hub, channel, &ci) == 0;
}

/* A stream whose headers are not out yet, subscribed to channel from last. */
static size_t resume(env *e, const char *channel, const char *last)
{
	size_t i = stream_add_new(e, &sg_transport_ws, 1 << 20, SG_SLOW_DROP_OLDEST);
	assert_int_equal(sg_hub_subscribe(e->hub, e->subs[i], channel, last), 0);
	return i;
}

static const char *notes(env *e, size_t sub)
{
	const char *n = sg__stream_notes(e->subs[sub]);
	return n ? n : "(none)";
}

static void test_eviction_order(void **state)
{
	env *e = env_max(3);
	sg_publish_result res;
	publish_n(e, "a", 1, 1);
	publish_n(e, "b", 2, 2);
	publish_n(e, "c", 3, 3);
	publish_n(e, "a", 4, 4); /* a: the most recently active */
	size_t s = sub_add(e, &sg_transport_ws, "b", NULL);
	assert_int_equal(sg_hub_unsubscribe(e->hub, e->subs[s], "b"), 0); /* now b */
	assert_int_equal(sg_hub_channels_evicted(e->hub), 0);
	/* idle order c, a, b: each new channel evicts the oldest */
	assert_int_equal(publish(e, "d", NULL, NULL, "x", &res), 0);
	assert_string_equal(res.id, ID(5));
	assert_false(exists(e, "c"));
	assert_true(exists(e, "a") && exists(e, "b"));
	assert_int_equal(sg_hub_channels_evicted(e->hub), 1);
	assert_int_equal(publish(e, "e", NULL, NULL, "x", NULL), 0);
	assert_false(exists(e, "a"));
	assert_true(exists(e, "b"));
	assert_int_equal(publish(e, "f", NULL, NULL, "x", NULL), 0);
	assert_false(exists(e, "b"));
	assert_int_equal(sg_hub_channels_evicted(e->hub), 3);
	assert_int_equal(sg_hub_channel_count(e->hub), 3);
	/* subscribing to a new channel makes room the same way: d goes */
	assert_int_equal(sg_hub_subscribe(e->hub, e->subs[s], "g", NULL), 0);
	assert_false(exists(e, "d"));
	assert_int_equal(sg_hub_channels_evicted(e->hub), 4);
	/* g has a subscriber: e, then f go before it */
	assert_int_equal(publish(e, "h", NULL, NULL, "x", NULL), 0);
	assert_false(exists(e, "e"));
	assert_int_equal(publish(e, "i", NULL, NULL, "x", NULL), 0);
	assert_false(exists(e, "f"));
	assert_true(exists(e, "g") && exists(e, "h") && exists(e, "i"));
	assert_int_equal(sg_hub_channels_evicted(e->hub), 6);
	/* a publish to a known channel never evicts */
	assert_int_equal(sg_hub_make_room(e->hub, "h"), 0);
	assert_int_equal(publish(e, "h", NULL, NULL, "y", NULL), 0);
	assert_int_equal(sg_hub_channels_evicted(e->hub), 6);
	env_free(e);
	(void)state;
}

static void test_refused_when_all_have_subscribers(void **state)
{
	env *e = env_max(2);
	sg_publish_result res;
	size_t s1 = sub_add(e, &sg_transport_ws, "a", NULL);
	size_t s2 = sub_add(e, &sg_transport_ws, "b", NULL);
	publish_n(e, "a", 1, 1);
	assert_int_equal(sg_hub_channel_count(e->hub), 2);
	/* a third channel is refused, by publish and by subscribe */
	assert_int_equal(publish(e, "c", NULL, NULL, "x", &res), SG_ETOOBIG);
	assert_int_equal(publish(e, "c", NULL, ID(9), "x", &res), SG_ETOOBIG);
	assert_int_equal(sg_hub_make_room(e->hub, "c"), SG_ETOOBIG);
	assert_int_equal(sg_hub_subscribe(e->hub, e->subs[s1], "c", NULL), SG_ETOOBIG);
	assert_int_equal(sg_stream_subscribe(e->subs[s1], "c", NULL), SG_ETOOBIG);
	assert_int_equal(sg__stream_nsubs(e->subs[s1]), 1);
	assert_int_equal(sg_hub_channel_count(e->hub), 2);
	assert_int_equal(sg_hub_channels_evicted(e->hub), 0);
	/* the refused publish used no id; known channels still work */
	assert_int_equal(publish(e, "a", NULL, NULL, "y", &res), 0);
	assert_string_equal(res.id, ID(2));
	/* once b's subscriber goes, b (history and all) makes room */
	sub_detach(e, s2, 0);
	assert_int_equal(publish(e, "c", NULL, NULL, "z", &res), 0);
	assert_string_equal(res.id, ID(3));
	assert_false(exists(e, "b"));
	assert_int_equal(sg_hub_channels_evicted(e->hub), 1);
	/* c has no subscriber: d evicts it; a keeps its subscriber */
	assert_int_equal(publish(e, "d", NULL, NULL, "w", &res), 0);
	assert_false(exists(e, "c"));
	assert_int_equal(info(e, "a").history_count, 2);
	assert_int_equal(sg_hub_channels_evicted(e->hub), 2);
	/* deleting is not evicting */
	size_t n;
	assert_int_equal(sg_hub_delete(e->hub, "d", &n), 0);
	assert_int_equal(sg_hub_channels_evicted(e->hub), 2);
	env_free(e);
	(void)state;
}

static void test_gap_after_eviction(void **state)
{
	env *e = env_max(2);
	publish_n(e, "a", 1, 2); /* 1000-1, 1000-2 */
	publish_n(e, "b", 3, 3);
	publish_n(e, "c", 4, 4); /* evicts a */
	assert_false(exists(e, "a"));
	/* a client of a from 1000-1 missed 1000-2: it is told (a comes back,
	 * evicting b, and has nothing to replay) */
	size_t r = resume(e, "a", ID(1));
	assert_all_frames(e, r, GAP_JSON("a", ID(1), "null", "evicted"));
	assert_string_equal(notes(e, r), NOTE("a", "evicted", "none"));
	assert_false(exists(e, "b"));
	assert_int_equal(sg_hub_channels_evicted(e->hub), 2);
	/* the hub's floor is the newest message it evicted (b's 1000-3): a
	 * channel made since vouches from there, whatever its name */
	size_t ok = resume(e, "a", ID(3));
	assert_int_equal(sg__stream_queued(e->subs[ok]), 0);
	assert_string_equal(notes(e, ok), "(none)");
	size_t old = resume(e, "a", ID(2));
	assert_all_frames(e, old, GAP_JSON("a", ID(2), "null", "evicted"));
	/* "0" asks for whatever a channel holds: one made again has lost
	 * nothing of its own */
	size_t zero = resume(e, "a", "0");
	assert_int_equal(sg__stream_queued(e->subs[zero]), 0);
	/* what is published after the comeback is replayed without a gap */
	publish_n(e, "a", 5, 5);
	size_t later = resume(e, "a", ID(3));
	assert_all_frames(e, later, "m5");
	assert_int_equal(sg_hub_channels_evicted(e->hub), 2);
	env_free(e);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_eviction_order),
	    cmocka_unit_test(test_refused_when_all_have_subscribers),
	    cmocka_unit_test(test_gap_after_eviction),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
