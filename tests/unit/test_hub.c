/*
 * test_hub — channels without a server: hub-wide ids from the injected
 * clock, fan-out to streams of every transport with one shared frame per
 * transport, explicit ids, channel names, subscribing, unsubscribing and
 * deleting, unsubscription when a stream detaches, and the
 * memory broker in front of the hub. History and age are in
 * test_hub_history.c, resuming and gaps in test_hub_resume.c, max_channels
 * and eviction in test_hub_evict.c; the world is
 * hub_env.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "broker_sync.h"
#include "hub_env.h"

/* ---- ids and fan-out -------------------------------------------------- */

static void test_ids_hub_wide(void **state)
{
	env *e = *state;
	sg_publish_result res;
	/* one counter for the whole hub, whatever the channel */
	const char *want[] = {ID(1), ID(2), ID(3)};
	for (int i = 0; i < 3; i++) {
		memset(&res, 0xab, sizeof(res));
		assert_int_equal(publish(e, "a", NULL, NULL, "x", &res), 0);
		assert_string_equal(res.id, want[i]);
		assert_int_equal(res.subscribers, 0);
	}
	assert_int_equal(publish(e, "b", NULL, NULL, "y", &res), 0);
	assert_string_equal(res.id, ID(4));
	assert_int_equal(publish(e, "a", NULL, NULL, "z", &res), 0);
	assert_string_equal(res.id, ID(5));
	assert_int_equal(publish(e, "b", NULL, NULL, "w", &res), 0);
	assert_string_equal(res.id, ID(6));
	/* res is optional */
	assert_int_equal(publish(e, "c", NULL, NULL, "v", NULL), 0);
	assert_int_equal(sg_hub_channel_count(e->hub), 3);
	sg_channel_info a = info(e, "a"), b = info(e, "b");
	assert_id(a.last_id, ID(5));
	assert_id(a.first_id, ID(1));
	assert_int_equal(a.history_count, 4);
	assert_int_equal(a.history_bytes, 4);
	assert_int_equal(a.subscribers, 0);
	assert_id(b.first_id, ID(4));
	assert_id(b.last_id, ID(6));
	assert_int_equal(b.history_count, 2);
	assert_id(info(e, "c").last_id, ID(7));
	/* a later millisecond starts its own counter */
	fake_clock_set(T0 + 5);
	assert_int_equal(publish(e, "a", NULL, NULL, "x", &res), 0);
	assert_string_equal(res.id, "1005-0");
	assert_int_equal(publish(e, "b", NULL, NULL, "x", &res), 0);
	assert_string_equal(res.id, "1005-1");
	/* a clock that went backwards never makes an id go backwards */
	fake_clock_set(T0 - 10);
	assert_int_equal(publish(e, "c", NULL, NULL, "x", &res), 0);
	assert_string_equal(res.id, "1005-2");
	fake_clock_set(T0 + 6);
	assert_int_equal(publish(e, "c", NULL, NULL, "x", &res), 0);
	assert_string_equal(res.id, "1006-0");
	sg_channel_info none;
	assert_int_equal(sg_hub_channel_info(e->hub, "missing", &none), SG_ENOTFOUND);
}

static void test_fanout_to_transports(void **state)
{
	env *e = *state;
	size_t c = sub_add(e, &sg_transport_chunked, "news", NULL);
	size_t s = sub_add(e, &sg_transport_sse, "news", NULL);
	size_t w = sub_add(e, &sg_transport_ws, "news", NULL);
	size_t n = sub_add(e, &sg_transport_ndjson, "news", NULL);
	size_t other = sub_add(e, &sg_transport_sse, "sports", NULL);
	assert_int_equal(info(e, "news").subscribers, 4);
	sg_publish_result res;
	assert_int_equal(publish(e, "news", "ev", NULL, "hello", &res), 0);
	assert_string_equal(res.id, ID(1));
	assert_int_equal(res.subscribers, 4);
	assert_frame(e, c, 0, "hello\n");
	assert_frame(e, s, 0, "id: " ID(1) "\nevent: ev\ndata: hello\n\n");
	assert_frame(e, w, 0, "hello");
	assert_frame(
	    e, n, 0,
	    "{\"channel\":\"news\",\"id\":\"" ID(1) "\",\"event\":\"ev\",\"data\":\"hello\"}\n");
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(sg__stream_queued(e->subs[i]), 1);
		assert_int_equal(e->conns[i].want_write, 1);
	}
	assert_int_equal(sg__stream_queued(e->subs[other]), 0);
	assert_int_equal(e->conns[other].want_write, 0);
	assert_int_equal(e->loop.posted, 0);
}

static void test_one_frame_per_transport(void **state)
{
	env *e = *state;
	/* three SSE, two WS, one chunked subscriber */
	const sg_transport *ts[] = {&sg_transport_sse,     &sg_transport_ws,  &sg_transport_sse,
	                            &sg_transport_chunked, &sg_transport_sse, &sg_transport_ws};
	for (size_t i = 0; i < 6; i++)
		sub_add(e, ts[i], "c", NULL);
	long before = sg_frame_live();
	assert_int_equal(publish(e, "c", NULL, NULL, "payload", NULL), 0);
	assert_int_equal(sg_frame_live(), before + 3);
	sg_frame *sse = sg__stream_peek(e->subs[0], 0);
	sg_frame *ws = sg__stream_peek(e->subs[1], 0);
	sg_frame *chunked = sg__stream_peek(e->subs[3], 0);
	assert_ptr_equal(sg__stream_peek(e->subs[2], 0), sse);
	assert_ptr_equal(sg__stream_peek(e->subs[4], 0), sse);
	assert_ptr_equal(sg__stream_peek(e->subs[5], 0), ws);
	assert_true(sse != ws && ws != chunked && sse != chunked);
	/* one ref per queue plus the message's cache (the message is in history) */
	assert_int_equal(atomic_load(&sse->refs), 3 + 1);
	assert_int_equal(atomic_load(&ws->refs), 2 + 1);
	assert_int_equal(atomic_load(&chunked->refs), 1 + 1);
	assert_frame(e, 0, 0, "id: " ID(1) "\ndata: payload\n\n");
	assert_frame(e, 1, 0, "payload");
	assert_frame(e, 3, 0, "payload\n");
	/* a second message: again one new frame per transport */
	assert_int_equal(publish(e, "c", NULL, NULL, "again", NULL), 0);
	assert_int_equal(sg_frame_live(), before + 6);
	assert_ptr_equal(sg__stream_peek(e->subs[0], 1), sg__stream_peek(e->subs[4], 1));
	assert_int_equal(sg_msg_live(), e->msgs + 2);
}

static void test_frames_without_history(void **state)
{
	env *e = env_new(0, 0);
	sub_add(e, &sg_transport_sse, "c", NULL);
	sub_add(e, &sg_transport_sse, "c", NULL);
	sub_add(e, &sg_transport_sse, "c", NULL);
	sub_add(e, &sg_transport_ws, "c", NULL);
	assert_int_equal(publish(e, "c", NULL, NULL, "x", NULL), 0);
	/* the message is gone already; only the queues hold the frames */
	assert_int_equal(sg_msg_live(), e->msgs);
	assert_int_equal(sg_frame_live(), e->frames + 2);
	sg_frame *sse = sg__stream_peek(e->subs[0], 0);
	assert_int_equal(atomic_load(&sse->refs), 3);
	assert_int_equal(atomic_load(&sg__stream_peek(e->subs[3], 0)->refs), 1);
	sg_channel_info ci = info(e, "c");
	assert_int_equal(ci.history_count, 0);
	assert_int_equal(ci.history_bytes, 0);
	assert_id(ci.first_id, "0");
	assert_id(ci.last_id, ID(1));
	sg__stream_pop(e->subs[0]);
	sg__stream_pop(e->subs[1]);
	assert_int_equal(atomic_load(&sse->refs), 1);
	assert_int_equal(sg_frame_live(), e->frames + 2);
	sg__stream_pop(e->subs[2]);
	assert_int_equal(sg_frame_live(), e->frames + 1);
	env_free(e);
	(void)state;
}

static int filter_shout(sg_stream *s, sg_chunk *c, void *ud)
{
	(void)s;
	(void)ud;
	size_t len;
	const char *d = sg_chunk_data(c, &len);
	char up[64];
	for (size_t i = 0; i < len && i < sizeof(up); i++)
		up[i] = (d[i] >= 'a' && d[i] <= 'z') ? (char)(d[i] - 'a' + 'A') : d[i];
	return sg_chunk_set_data(c, up, len < sizeof(up) ? len : sizeof(up));
}

static void test_filtered_subscriber_gets_own_frame(void **state)
{
	env *e = *state;
	size_t plain = sub_add(e, &sg_transport_sse, "c", NULL);
	size_t loud = stream_add(e, &sg_transport_sse, 1 << 20, SG_SLOW_DROP_OLDEST);
	assert_int_equal(sg_stream_before_chunk(e->subs[loud], filter_shout, NULL), 0);
	assert_int_equal(sg_hub_subscribe(e->hub, e->subs[loud], "c", NULL), 0);
	size_t plain2 = sub_add(e, &sg_transport_sse, "c", NULL);
	long before = sg_frame_live();
	assert_int_equal(publish(e, "c", "e", NULL, "quiet", NULL), 0);
	assert_int_equal(sg_frame_live(), before + 2);
	assert_frame(e, plain, 0, "id: " ID(1) "\nevent: e\ndata: quiet\n\n");
	assert_frame(e, loud, 0, "id: " ID(1) "\nevent: e\ndata: QUIET\n\n");
	assert_ptr_equal(sg__stream_peek(e->subs[plain], 0), sg__stream_peek(e->subs[plain2], 0));
	assert_true(sg__stream_peek(e->subs[loud], 0) != sg__stream_peek(e->subs[plain], 0));
	assert_int_equal(sg_msg_live(), e->msgs + 1); /* only the history's copy */
}

/* ---- explicit ids and names ------------------------------------------ */

static void test_explicit_ids(void **state)
{
	env *e = *state;
	size_t s = sub_add(e, &sg_transport_sse, "c", NULL);
	sg_publish_result res;
	assert_int_equal(publish(e, "c", NULL, ID(10), "a", &res), 0);
	assert_string_equal(res.id, ID(10));
	assert_int_equal(publish(e, "c", NULL, NULL, "b", &res), 0);
	assert_string_equal(res.id, ID(11));
	memset(&res, 0, sizeof(res));
	/* an id must be after the hub's last one */
	assert_int_equal(publish(e, "c", NULL, ID(11), "equal", &res), SG_EID_STALE);
	assert_int_equal(publish(e, "c", NULL, ID(5), "lower", &res), SG_EID_STALE);
	assert_int_equal(publish(e, "c", NULL, "999-99", "older ms", &res), SG_EID_STALE);
	assert_int_equal(publish(e, "c", NULL, "0", "zero", &res), SG_EID_STALE);
	assert_string_equal(res.id, "");
	/* and well formed */
	const char *bad[] = {"abc", "-12", "", "12", "1000-", "-5", "1000-1-1", " 1000-20"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(publish(e, "c", NULL, bad[i], "bad", &res), SG_EINVAL);
	/* and at most a minute ahead of the clock */
	assert_int_equal(publish(e, "c", NULL, "61001-0", "too far", &res), SG_EINVAL);
	assert_int_equal(publish(e, "c", NULL, "18446744073709551615-0", "far", &res), SG_EINVAL);
	/* refused publishes left no trace */
	sg_channel_info ci = info(e, "c");
	assert_id(ci.last_id, ID(11));
	assert_int_equal(ci.history_count, 2);
	assert_int_equal(sg__stream_queued(e->subs[s]), 2);
	assert_int_equal(publish(e, "c", NULL, "1000-012", "leading zero", &res), 0);
	assert_string_equal(res.id, ID(12));
	assert_int_equal(publish(e, "c", NULL, "2000-0", "jump", &res), 0);
	assert_string_equal(res.id, "2000-0");
	/* the clock (1000) is behind the last id now: ids go on from it */
	assert_int_equal(publish(e, "c", NULL, NULL, "next", &res), 0);
	assert_string_equal(res.id, "2000-1");
	/* exactly a minute ahead is still allowed */
	assert_int_equal(publish(e, "c", NULL, "61000-7", "edge", &res), 0);
	assert_string_equal(res.id, "61000-7");
	assert_frame(e, s, 0, "id: " ID(10) "\ndata: a\n\n");
	assert_frame(e, s, 1, "id: " ID(11) "\ndata: b\n\n");
	assert_frame(e, s, 2, "id: " ID(12) "\ndata: leading zero\n\n");
	assert_frame(e, s, 3, "id: 2000-0\ndata: jump\n\n");
	assert_frame(e, s, 4, "id: 2000-1\ndata: next\n\n");
	assert_frame(e, s, 5, "id: 61000-7\ndata: edge\n\n");
	assert_id(info(e, "c").last_id, "61000-7");
	/* ids are hub-wide: another channel cannot go back below them */
	assert_int_equal(publish(e, "d", NULL, ID(1), "x", &res), SG_EID_STALE);
	assert_int_equal(publish(e, "d", NULL, "61000-8", "x", &res), 0);
	assert_string_equal(res.id, "61000-8");
}

static void test_channel_names(void **state)
{
	env *e = *state;
	char max[SG_CHANNEL_NAME_MAX + 2];
	memset(max, 'a', SG_CHANNEL_NAME_MAX);
	max[SG_CHANNEL_NAME_MAX] = '\0';
	assert_int_equal(strlen(max), 128);
	const char *good[] = {"a", "Z", "0", "news", "A-Z_a.z:0-9", "room:42", "-", "...", max};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(sg_channel_name_valid(good[i]), 1);
	char over[SG_CHANNEL_NAME_MAX + 2];
	memset(over, 'a', SG_CHANNEL_NAME_MAX + 1);
	over[SG_CHANNEL_NAME_MAX + 1] = '\0';
	assert_int_equal(strlen(over), 129);
	const char *bad[] = {"",    "a/b",  "\xc3\xa9", "a b", "a\nb", "a?b",
	                     "a#b", "a%20", "*",        "a,b", over};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(sg_channel_name_valid(bad[i]), 0);

	size_t s = stream_add(e, &sg_transport_sse, 1 << 20, SG_SLOW_DROP_OLDEST);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(publish(e, bad[i], NULL, NULL, "x", NULL), SG_EINVAL);
		assert_int_equal(sg_hub_subscribe(e->hub, e->subs[s], bad[i], NULL), SG_EINVAL);
	}
	assert_int_equal(sg_hub_channel_count(e->hub), 0);
	assert_int_equal(sg__stream_nsubs(e->subs[s]), 0);
	sg_publish_result res;
	assert_int_equal(publish(e, max, NULL, NULL, "x", &res), 0);
	assert_string_equal(res.id, ID(1));
	assert_int_equal(sg_hub_subscribe(e->hub, e->subs[s], max, NULL), 0);
	assert_int_equal(sg_hub_channel_count(e->hub), 1);
}

/* ---- subscribing and detaching --------------------------------------- */

/* The indexes the hub keeps for a channel's subscribers are 0..n-1. */
static void assert_indexes(env *e, size_t n)
{
	int seen[MAX_SUBS] = {0};
	size_t count = 0;
	for (size_t i = 0; i < e->nsubs; i++) {
		if (!e->attached[i])
			continue;
		assert_int_equal(sg__stream_nsubs(e->subs[i]), 1);
		sg_subscription *sub = sg__stream_sub_at(e->subs[i], 0);
		assert_non_null(sub);
		assert_true(sub->index < n);
		assert_int_equal(seen[sub->index], 0);
		seen[sub->index] = 1;
		count++;
	}
	assert_int_equal(count, n);
}

static void test_detach_middle_of_five(void **state)
{
	env *e = *state;
	for (int i = 0; i < 5; i++)
		sub_add(e, &sg_transport_chunked, "c", NULL);
	assert_indexes(e, 5);
	assert_int_equal(publish(e, "c", NULL, NULL, "first", NULL), 0);
	sg_stream *gone = sg_stream_ref(e->subs[2]);
	sub_detach(e, 2, 0);
	assert_int_equal(sg__stream_nsubs(gone), 0);
	assert_int_equal(info(e, "c").subscribers, 4);
	assert_indexes(e, 4);
	sg_publish_result res;
	assert_int_equal(publish(e, "c", NULL, NULL, "second", &res), 0);
	assert_int_equal(res.subscribers, 4);
	for (size_t i = 0; i < 5; i++) {
		if (i == 2)
			continue;
		assert_int_equal(sg__stream_queued(e->subs[i]), 2);
		assert_frame(e, i, 0, "first\n");
		assert_frame(e, i, 1, "second\n");
	}
	assert_int_equal(sg__stream_queued(gone), 0);
	sg_stream_unref(gone);

	/* then the first and the last of the array */
	sub_detach(e, 0, 1);
	sub_detach(e, 4, 0);
	assert_int_equal(info(e, "c").subscribers, 2);
	assert_indexes(e, 2);
	assert_int_equal(publish(e, "c", NULL, NULL, "third", &res), 0);
	assert_int_equal(res.subscribers, 2);
	assert_int_equal(sg__stream_queued(e->subs[1]), 3);
	assert_int_equal(sg__stream_queued(e->subs[3]), 3);
	assert_frame(e, 1, 2, "third\n");
	assert_frame(e, 3, 2, "third\n");
	sub_detach(e, 3, 0);
	sub_detach(e, 1, 0);
	assert_int_equal(info(e, "c").subscribers, 0);
	assert_int_equal(publish(e, "c", NULL, NULL, "nobody", &res), 0);
	assert_int_equal(res.subscribers, 0);
}

static void test_detach_leaves_every_channel(void **state)
{
	env *e = *state;
	size_t s = stream_add(e, &sg_transport_ws, 1 << 20, SG_SLOW_DROP_OLDEST);
	size_t t = stream_add(e, &sg_transport_ws, 1 << 20, SG_SLOW_DROP_OLDEST);
	assert_int_equal(sg_hub_subscribe(e->hub, e->subs[s], "a", NULL), 0);
	assert_int_equal(sg_hub_subscribe(e->hub, e->subs[s], "b", NULL), 0);
	assert_int_equal(sg_hub_subscribe(e->hub, e->subs[s], "c", NULL), 0);
	assert_int_equal(sg_hub_subscribe(e->hub, e->subs[t], "c", NULL), 0);
	assert_int_equal(sg_hub_subscribe(e->hub, e->subs[t], "a", NULL), 0);
	assert_int_equal(sg__stream_nsubs(e->subs[s]), 3);
	assert_int_equal(info(e, "a").subscribers, 2);
	sub_detach(e, s, 1);
	assert_int_equal(info(e, "a").subscribers, 1);
	assert_int_equal(info(e, "b").subscribers, 0);
	assert_int_equal(info(e, "c").subscribers, 1);
	assert_int_equal(publish(e, "a", NULL, NULL, "to-a", NULL), 0);
	assert_int_equal(publish(e, "b", NULL, NULL, "to-b", NULL), 0);
	assert_int_equal(publish(e, "c", NULL, NULL, "to-c", NULL), 0);
	assert_int_equal(sg__stream_queued(e->subs[t]), 2);
	assert_frame(e, t, 0, "to-a");
	assert_frame(e, t, 1, "to-c");
}

static void test_subscribe_twice(void **state)
{
	env *e = *state;
	publish_n(e, "c", 1, 2);
	size_t s = sub_add(e, &sg_transport_ws, "c", "0");
	assert_int_equal(sg__stream_queued(e->subs[s]), 2);
	/* already subscribed: no second entry and no second replay */
	assert_int_equal(sg_hub_subscribe(e->hub, e->subs[s], "c", "0"), 0);
	assert_int_equal(sg__stream_queued(e->subs[s]), 2);
	assert_int_equal(info(e, "c").subscribers, 1);
	assert_int_equal(sg__stream_nsubs(e->subs[s]), 1);
	assert_int_equal(publish(e, "c", NULL, NULL, "once", NULL), 0);
	assert_int_equal(sg__stream_queued(e->subs[s]), 3);
	assert_frame(e, s, 2, "once");
}

static void test_stream_subscribe_needs_hub(void **state)
{
	env *e = *state;
	size_t s = stream_add(e, &sg_transport_ws, 1 << 20, SG_SLOW_DROP_OLDEST);
	assert_int_equal(sg_stream_subscribe(e->subs[s], "c", NULL), SG_EINVAL);
	assert_int_equal(sg_hub_channel_count(e->hub), 0);
	sg_hub_attach(e->hub, e->subs[s]);
	assert_ptr_equal(sg__stream_hub(e->subs[s]), e->hub);
	assert_int_equal(sg_stream_subscribe(e->subs[s], "c", NULL), 0);
	assert_int_equal(sg_stream_subscribe(e->subs[s], "d", NULL), 0);
	assert_int_equal(sg_stream_subscribe(e->subs[s], "not/valid", NULL), SG_EINVAL);
	assert_int_equal(sg_stream_subscribe(e->subs[s], "e", "1"), SG_EBADID);
	assert_int_equal(info(e, "c").subscribers, 1);
	assert_int_equal(info(e, "d").subscribers, 1);
	assert_int_equal(sg_hub_channel_count(e->hub), 2);
	assert_int_equal(publish(e, "d", NULL, NULL, "via-d", NULL), 0);
	assert_frame(e, s, 0, "via-d");
	sub_detach(e, s, 0);
	assert_int_equal(info(e, "c").subscribers, 0);
	assert_int_equal(info(e, "d").subscribers, 0);
	/* attached but never subscribed: detaching is just as clean */
	size_t t = stream_add(e, &sg_transport_ws, 1 << 20, SG_SLOW_DROP_OLDEST);
	sg_hub_attach(e->hub, e->subs[t]);
	sub_detach(e, t, 0);
}

static void test_slow_subscriber_cut_during_fanout(void **state)
{
	env *e = *state;
	size_t a = sub_add(e, &sg_transport_chunked, "c", NULL);
	/* room for one "mN\n" frame only */
	size_t slow = stream_add(e, &sg_transport_chunked, 4, SG_SLOW_DISCONNECT);
	assert_int_equal(sg_hub_subscribe(e->hub, e->subs[slow], "c", NULL), 0);
	size_t b = sub_add(e, &sg_transport_chunked, "c", NULL);
	publish_n(e, "c", 1, 3);
	assert_int_equal(e->conns[slow].ends, 1);
	assert_int_equal(e->conns[slow].end_abort, 1);
	assert_string_equal(e->conns[slow].end_reason, "slow consumer");
	assert_int_equal(atomic_load(&e->ctr.slow_disconnects), 1);
	assert_int_equal(sg__stream_queued(e->subs[slow]), 0); /* freed when cut */
	assert_int_equal(sg__stream_queued(e->subs[a]), 3);
	assert_int_equal(sg__stream_queued(e->subs[b]), 3);
	assert_frame(e, b, 2, "m3\n");
	/* the server detaches the cut client on its next turn */
	sub_detach(e, slow, 1);
	assert_int_equal(info(e, "c").subscribers, 2);
	publish_n(e, "c", 4, 4);
	assert_int_equal(sg__stream_queued(e->subs[a]), 4);
	assert_int_equal(sg__stream_queued(e->subs[b]), 4);
	assert_int_equal(atomic_load(&e->ctr.slow_disconnects), 1);
}

static void test_subscribe_after_detach(void **state)
{
	env *e = *state;
	size_t s = stream_add(e, &sg_transport_ws, 1 << 20, SG_SLOW_DROP_OLDEST);
	sg_stream *kept = sg_stream_ref(e->subs[s]);
	sg_hub_attach(e->hub, kept);
	sub_detach(e, s, 1);
	/* it would never be removed from the channel again */
	assert_int_equal(sg_hub_subscribe(e->hub, kept, "c", NULL), SG_ECLOSED);
	assert_int_equal(sg_hub_subscribe(e->hub, kept, "c", ID(0)), SG_ECLOSED);
	assert_int_equal(sg_stream_subscribe(kept, "c,d", NULL), SG_ECLOSED);
	assert_int_equal(sg_hub_channel_count(e->hub), 0);
	assert_int_equal(sg__stream_nsubs(kept), 0);
	/* argument errors still come first */
	assert_int_equal(sg_hub_subscribe(e->hub, kept, "a b", NULL), SG_EINVAL);
	assert_int_equal(sg_hub_subscribe(e->hub, kept, "c", "x"), SG_EBADID);
	sg_stream_unref(kept);
}

static void test_stream_subscribe_lists(void **state)
{
	env *e = *state;
	size_t s = stream_add(e, &sg_transport_ws, 1 << 20, SG_SLOW_DROP_OLDEST);
	sg_hub_attach(e->hub, e->subs[s]);
	const char *bad[] = {"", ",", ",a", "a,", "a,,b", "a,b/c", "a, b", NULL};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(sg_stream_subscribe(e->subs[s], bad[i], NULL), SG_EINVAL);
	/* 16 channels at most, and a list no longer than 16 of the longest */
	char list[64 * 3] = "", big[SG_SUBSCRIBE_MAX * (SG_CHANNEL_NAME_MAX + 1) + 1];
	for (int i = 0; i < 17; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%sc%d", i ? "," : "",
		         i);
	assert_int_equal(sg_stream_subscribe(e->subs[s], list, NULL), SG_ETOOBIG);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(sg_stream_subscribe(e->subs[s], big, NULL), SG_ETOOBIG);
	assert_int_equal(sg_stream_subscribe(e->subs[s], "a,b", "1000"), SG_EBADID);
	assert_int_equal(sg_hub_channel_count(e->hub), 0);
	*strrchr(list, ',') = '\0'; /* c0..c15 */
	assert_int_equal(sg_stream_subscribe(e->subs[s], list, "0"), 0);
	assert_int_equal(sg__stream_nsubs(e->subs[s]), 16);
	assert_int_equal(sg_hub_channel_count(e->hub), 16);
	/* a stream holds 16 channels at most: a 17th is refused, all or nothing */
	assert_int_equal(sg_stream_subscribe(e->subs[s], "c15,x,c0,x", NULL), SG_ETOOBIG);
	assert_int_equal(sg__stream_nsubs(e->subs[s]), 16);
	assert_int_equal(info(e, "x").subscribers, 0);
	/* channels already subscribed are skipped, new ones added */
	assert_int_equal(sg_hub_unsubscribe(e->hub, e->subs[s], "c1"), 0);
	assert_int_equal(sg_stream_subscribe(e->subs[s], "c15,x,c0,x", NULL), 0);
	assert_int_equal(sg__stream_nsubs(e->subs[s]), 16);
	assert_int_equal(info(e, "x").subscribers, 1);
	publish_n(e, "c7", 1, 1);
	publish_n(e, "x", 2, 2);
	assert_all_frames(e, s, "m1m2");
}

/* ---- unsubscribing and deleting ---------------------------------------- */

static void test_unsubscribe(void **state)
{
	env *e = *state;
	size_t a = sub_add(e, &sg_transport_chunked, "c", NULL);
	size_t b = sub_add(e, &sg_transport_chunked, "c", NULL);
	size_t c = sub_add(e, &sg_transport_chunked, "c", NULL);
	assert_int_equal(sg_hub_subscribe(e->hub, e->subs[b], "other", NULL), 0);
	assert_int_equal(sg_hub_unsubscribe(e->hub, e->subs[a], "missing"), SG_ENOTFOUND);
	assert_int_equal(sg_hub_unsubscribe(e->hub, e->subs[a], "other"), SG_ENOTFOUND);
	assert_int_equal(sg_hub_channel_count(e->hub), 2); /* no channel made */
	publish_n(e, "c", 1, 1);
	assert_int_equal(sg_hub_unsubscribe(e->hub, e->subs[a], "c"), 0);
	assert_int_equal(sg_hub_unsubscribe(e->hub, e->subs[a], "c"), SG_ENOTFOUND);
	assert_int_equal(sg__stream_nsubs(e->subs[a]), 0);
	/* the others keep their places; b keeps its other channel */
	assert_int_equal(sg_hub_unsubscribe(e->hub, e->subs[b], "c"), 0);
	assert_int_equal(info(e, "c").subscribers, 1);
	assert_int_equal(sg__stream_nsubs(e->subs[b]), 1);
	assert_int_equal(sg__stream_sub_at(e->subs[c], 0)->index, 0);
	sg_publish_result res;
	assert_int_equal(publish(e, "c", NULL, NULL, "m2", &res), 0);
	assert_int_equal(res.subscribers, 1);
	publish_n(e, "other", 3, 3);
	assert_all_frames(e, a, "m1\n");
	assert_all_frames(e, b, "m1\nm3\n");
	assert_all_frames(e, c, "m1\nm2\n");
	/* the stream stays open and may subscribe again */
	assert_int_equal(sg__stream_state(e->subs[a]), SG_STREAM_OPEN);
	assert_int_equal(sg_hub_subscribe(e->hub, e->subs[a], "c", ID(1)), 0);
	assert_all_frames(e, a, "m1\nm2\n");
	assert_int_equal(info(e, "c").subscribers, 2);
}

static void test_delete(void **state)
{
	env *e = *state;
	hook_log log = {0};
	size_t a = sub_add(e, &sg_transport_sse, "c", NULL);
	size_t b = stream_add(e, &sg_transport_ws, 1 << 20, SG_SLOW_DROP_OLDEST);
	assert_int_equal(sg_stream_before_close(e->subs[b], on_before_close, &log), 0);
	assert_int_equal(sg_hub_subscribe(e->hub, e->subs[b], "keep", NULL), 0);
	assert_int_equal(sg_hub_subscribe(e->hub, e->subs[b], "c", NULL), 0);
	size_t k = sub_add(e, &sg_transport_ws, "keep", NULL);
	publish_n(e, "c", 1, 3);
	size_t n = 99;
	assert_int_equal(sg_hub_delete(e->hub, "missing", &n), SG_ENOTFOUND);
	assert_int_equal(n, 99);
	assert_int_equal(sg_hub_delete(e->hub, "c", &n), 0);
	assert_int_equal(n, 2);
	/* its subscribers are closed cleanly: before_close ran, the queue drains */
	for (size_t i = a; i <= b; i++) {
		assert_int_equal(e->conns[i].ends, 1);
		assert_int_equal(e->conns[i].end_abort, 0);
		assert_string_equal(e->conns[i].end_reason, "");
		assert_int_equal(sg__stream_state(e->subs[i]), SG_STREAM_CLOSING);
		assert_int_equal(sg__stream_queued(e->subs[i]), 3 + (i == b));
	}
	assert_string_equal(log.text, "bclose");
	assert_int_equal(log.chunk_rc_in_before_close, 0);
	assert_int_equal(sg__stream_nsubs(e->subs[a]), 0);
	assert_int_equal(sg__stream_nsubs(e->subs[b]), 1);
	assert_int_equal(e->conns[k].ends, 0);
	/* the channel and its history are gone */
	sg_channel_info ci;
	assert_int_equal(sg_hub_channel_info(e->hub, "c", &ci), SG_ENOTFOUND);
	assert_int_equal(sg_hub_delete(e->hub, "c", &n), SG_ENOTFOUND);
	assert_int_equal(sg_hub_channel_count(e->hub), 1);
	assert_int_equal(sg_msg_live(), e->msgs); /* only the queues hold frames */
	/* the other channel lives on; the closing stream gets nothing more */
	sg_publish_result res;
	assert_int_equal(publish(e, "keep", NULL, NULL, "k", &res), 0);
	assert_int_equal(res.subscribers, 2);
	assert_int_equal(sg__stream_queued(e->subs[b]), 4);
	assert_all_frames(e, k, "k");
	/* publishing makes the channel anew; ids go on */
	assert_int_equal(publish(e, "c", NULL, NULL, "again", &res), 0);
	assert_string_equal(res.id, ID(5));
	assert_int_equal(res.subscribers, 0);
	assert_int_equal(info(e, "c").history_count, 1);
	/* a channel without subscribers is deleted just as well */
	assert_int_equal(sg_hub_delete(e->hub, "c", &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(sg_hub_channel_count(e->hub), 1);
	sub_detach(e, a, 0);
	sub_detach(e, b, 0);
	assert_int_equal(info(e, "keep").subscribers, 1);
}

/* ---- broker ----------------------------------------------------------- */

static void test_memory_broker(void **state)
{
	env *e = *state;
	sg_broker *b = sg_broker_memory_new(e->hub);
	assert_non_null(b);
	assert_string_equal(b->ops->name, "memory");
	assert_ptr_equal(b->hub, e->hub);
	size_t s = sub_add(e, &sg_transport_sse, "news", NULL);
	sg_publish_req req = {.channel = "news", .event = "flash", .data = "hi", .len = 2};
	sg_publish_result res;
	assert_int_equal(broker_publish_now(b, &req, &res), 0);
	assert_string_equal(res.id, ID(1));
	assert_int_equal(res.subscribers, 1);
	assert_frame(e, s, 0, "id: " ID(1) "\nevent: flash\ndata: hi\n\n");
	sg_channel_info ci = info(e, "news");
	assert_int_equal(ci.history_count, 1);
	assert_id(ci.last_id, ID(1));
	req.id = ID(1);
	assert_int_equal(broker_publish_now(b, &req, &res), SG_EID_STALE);
	req.channel = "bad name";
	req.id = NULL;
	assert_int_equal(broker_publish_now(b, &req, &res), SG_EINVAL);
	assert_int_equal(sg__stream_queued(e->subs[s]), 1);
	b->ops->free(b);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, env_setup, env_teardown)
	const struct CMUnitTest tests[] = {
	    T(test_ids_hub_wide),
	    T(test_fanout_to_transports),
	    T(test_one_frame_per_transport),
	    cmocka_unit_test(test_frames_without_history),
	    T(test_filtered_subscriber_gets_own_frame),
	    T(test_explicit_ids),
	    T(test_channel_names),
	    T(test_detach_middle_of_five),
	    T(test_detach_leaves_every_channel),
	    T(test_subscribe_twice),
	    T(test_stream_subscribe_needs_hub),
	    T(test_slow_subscriber_cut_during_fanout),
	    T(test_subscribe_after_detach),
	    T(test_stream_subscribe_lists),
	    T(test_unsubscribe),
	    T(test_delete),
	    T(test_memory_broker),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
