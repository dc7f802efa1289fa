/*
 * test_hub — channels without a server: id assignment, fan-out to streams of
 * every transport with one shared frame per transport, bounded history and
 * replay after a last id, explicit ids, channel names, unsubscription when a
 * stream detaches, and the memory broker in front of the hub. Streams talk
 * to the fake loop and sink from fake_loop.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/broker.h"
#include "core/hub.h"
#include "core/message.h"
#include "core/stream.h"
#include "fake_loop.h"

#define MAX_SUBS 8

/* Per-test world: a hub, the fakes and up to MAX_SUBS subscriber streams. */
typedef struct env {
	fake_loop loop;
	sg_hub *hub;
	sg_stream *subs[MAX_SUBS];
	int attached[MAX_SUBS];
	fake_conn conns[MAX_SUBS];
	size_t nsubs;
	sg_stream_counters ctr;
	long streams, msgs, frames;
} env;

static env *env_new(size_t history_count, size_t history_bytes)
{
	env *e = calloc(1, sizeof(*e));
	assert_non_null(e);
	fake_loop_init(&e->loop);
	e->streams = sg_stream_live();
	e->msgs = sg_msg_live();
	e->frames = sg_frame_live();
	sg_hub_limits lim = {.history_count = history_count, .history_bytes = history_bytes};
	e->hub = sg_hub_new(&lim);
	assert_non_null(e->hub);
	return e;
}

static int env_setup(void **state)
{
	*state = env_new(16, 1 << 20);
	return 0;
}

static void sub_detach(env *e, size_t i, int errored)
{
	assert_true(e->attached[i]);
	e->attached[i] = 0;
	sg__stream_detach(e->subs[i], errored);
}

/* Detaches what is left, frees the hub and checks nothing is alive. */
static void env_free(env *e)
{
	for (size_t i = 0; i < e->nsubs; i++)
		if (e->attached[i])
			sub_detach(e, i, 0);
	sg_hub_free(e->hub);
	assert_int_equal(fake_loop_pending(&e->loop), 0);
	assert_int_equal(sg_stream_live(), e->streams);
	assert_int_equal(sg_msg_live(), e->msgs);
	assert_int_equal(sg_frame_live(), e->frames);
	fake_loop_destroy(&e->loop);
	free(e);
}

static int env_teardown(void **state)
{
	env_free(*state);
	return 0;
}

/* A new open stream (slot i in e) with the given queue policy. */
static size_t stream_add(env *e, const sg_transport *t, size_t queue_bytes, sg_slow_policy p)
{
	assert_true(e->nsubs < MAX_SUBS);
	size_t i = e->nsubs++;
	sg_stream_limits lim = {.queue_bytes = queue_bytes, .policy = p};
	e->subs[i] = sg__stream_new(t, &e->loop.base, fake_sink(), &e->conns[i], &lim, &e->ctr);
	assert_non_null(e->subs[i]);
	e->attached[i] = 1;
	sg__stream_opened(e->subs[i]);
	return i;
}

/* A new stream subscribed to channel; returns its slot. */
static size_t sub_add(env *e, const sg_transport *t, const char *channel, const char *last_id)
{
	size_t i = stream_add(e, t, 1 << 20, SG_SLOW_DROP_OLDEST);
	assert_int_equal(sg_hub_subscribe(e->hub, e->subs[i], channel, last_id), 0);
	return i;
}

static int publish(env *e, const char *channel, const char *event, const char *id, const char *data,
                   sg_publish_result *res)
{
	sg_publish_req req = {
	    .channel = channel, .event = event, .id = id, .data = data, .len = strlen(data)};
	return sg_hub_publish(e->hub, &req, res);
}

static void assert_queued(env *e, size_t sub, size_t i, const char *want)
{
	char text[256];
	sg_frame *f = sg__stream_peek(e->subs[sub], i);
	assert_non_null(f);
	assert_int_equal(f->len, strlen(want));
	assert_string_equal(frame_text(f, text, sizeof(text)), want);
}

static sg_channel_info info(env *e, const char *channel)
{
	sg_channel_info ci;
	memset(&ci, 0xab, sizeof(ci));
	assert_int_equal(sg_hub_channel_info(e->hub, channel, &ci), 0);
	return ci;
}

/* ---- ids and fan-out -------------------------------------------------- */

static void test_ids_per_channel(void **state)
{
	env *e = *state;
	sg_publish_result res;
	const char *want[] = {"1", "2", "3"};
	for (int i = 0; i < 3; i++) {
		memset(&res, 0xab, sizeof(res));
		assert_int_equal(publish(e, "a", NULL, NULL, "x", &res), 0);
		assert_string_equal(res.id, want[i]);
		assert_int_equal(res.subscribers, 0);
	}
	assert_int_equal(publish(e, "b", NULL, NULL, "y", &res), 0);
	assert_string_equal(res.id, "1");
	assert_int_equal(publish(e, "a", NULL, NULL, "z", &res), 0);
	assert_string_equal(res.id, "4");
	assert_int_equal(publish(e, "b", NULL, NULL, "w", &res), 0);
	assert_string_equal(res.id, "2");
	/* res is optional */
	assert_int_equal(publish(e, "c", NULL, NULL, "v", NULL), 0);
	assert_int_equal(sg_hub_channel_count(e->hub), 3);
	sg_channel_info a = info(e, "a"), b = info(e, "b");
	assert_int_equal(a.last_id, 4);
	assert_int_equal(a.first_id, 1);
	assert_int_equal(a.history_count, 4);
	assert_int_equal(a.history_bytes, 4);
	assert_int_equal(a.subscribers, 0);
	assert_int_equal(b.last_id, 2);
	assert_int_equal(b.history_count, 2);
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
	assert_string_equal(res.id, "1");
	assert_int_equal(res.subscribers, 4);
	assert_queued(e, c, 0, "hello\n");
	assert_queued(e, s, 0, "id: 1\nevent: ev\ndata: hello\n\n");
	assert_queued(e, w, 0, "hello");
	assert_queued(e, n, 0,
	              "{\"channel\":\"news\",\"id\":\"1\",\"event\":\"ev\",\"data\":\"hello\"}\n");
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
	assert_queued(e, 0, 0, "id: 1\ndata: payload\n\n");
	assert_queued(e, 1, 0, "payload");
	assert_queued(e, 3, 0, "payload\n");
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
	assert_int_equal(ci.first_id, 0);
	assert_int_equal(ci.last_id, 1);
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
	assert_queued(e, plain, 0, "id: 1\nevent: e\ndata: quiet\n\n");
	assert_queued(e, loud, 0, "id: 1\nevent: e\ndata: QUIET\n\n");
	assert_ptr_equal(sg__stream_peek(e->subs[plain], 0), sg__stream_peek(e->subs[plain2], 0));
	assert_true(sg__stream_peek(e->subs[loud], 0) != sg__stream_peek(e->subs[plain], 0));
	assert_int_equal(sg_msg_live(), e->msgs + 1); /* only the history's copy */
}

/* ---- history ---------------------------------------------------------- */

static void publish_n(env *e, const char *channel, int from, int to)
{
	char d[16];
	for (int i = from; i <= to; i++) {
		snprintf(d, sizeof(d), "m%d", i);
		assert_int_equal(publish(e, channel, NULL, NULL, d, NULL), 0);
	}
}

static void test_history_bound_by_count(void **state)
{
	env *e = env_new(3, 1 << 20);
	publish_n(e, "c", 1, 2);
	sg_channel_info ci = info(e, "c");
	assert_int_equal(ci.history_count, 2);
	assert_int_equal(ci.first_id, 1);
	publish_n(e, "c", 3, 5);
	ci = info(e, "c");
	assert_int_equal(ci.history_count, 3);
	assert_int_equal(ci.history_bytes, 6);
	assert_int_equal(ci.first_id, 3);
	assert_int_equal(ci.last_id, 5);
	assert_int_equal(sg_msg_live(), e->msgs + 3);
	/* well past the ring's first capacity, wrapping many times */
	publish_n(e, "c", 6, 100);
	ci = info(e, "c");
	assert_int_equal(ci.history_count, 3);
	assert_int_equal(ci.history_bytes, 3 + 3 + 4); /* m98 m99 m100 */
	assert_int_equal(ci.first_id, 98);
	assert_int_equal(ci.last_id, 100);
	assert_int_equal(sg_msg_live(), e->msgs + 3);
	size_t s = sub_add(e, &sg_transport_ws, "c", "0");
	assert_int_equal(sg__stream_queued(e->subs[s]), 3);
	assert_queued(e, s, 0, "m98");
	assert_queued(e, s, 1, "m99");
	assert_queued(e, s, 2, "m100");
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
	assert_int_equal(ci.first_id, 2);
	assert_int_equal(publish(e, "c", NULL, NULL, "bbbbbbbbbb", NULL), 0); /* 18, 14, 10 */
	ci = info(e, "c");
	assert_int_equal(ci.history_count, 1);
	assert_int_equal(ci.history_bytes, 10);
	assert_int_equal(ci.first_id, 4);
	assert_int_equal(ci.last_id, 4);
	/* the newest message stays even when it alone is over the bound */
	assert_int_equal(publish(e, "c", NULL, NULL, "ccccccccccc", NULL), 0);
	ci = info(e, "c");
	assert_int_equal(ci.history_count, 1);
	assert_int_equal(ci.history_bytes, 11);
	assert_int_equal(ci.first_id, 5);
	assert_int_equal(publish(e, "c", NULL, NULL, "d", NULL), 0);
	ci = info(e, "c");
	assert_int_equal(ci.history_count, 1);
	assert_int_equal(ci.history_bytes, 1);
	assert_int_equal(ci.first_id, 6);
	assert_int_equal(publish(e, "c", NULL, NULL, "", NULL), 0);
	ci = info(e, "c");
	assert_int_equal(ci.history_count, 2);
	assert_int_equal(ci.history_bytes, 1);
	assert_int_equal(ci.first_id, 6);
	assert_int_equal(ci.last_id, 7);
	assert_int_equal(sg_msg_live(), e->msgs + 2);
	env_free(e);
	(void)state;
}

static void test_replay_after_last_id(void **state)
{
	env *e = *state;
	publish_n(e, "c", 1, 5);
	size_t a = sub_add(e, &sg_transport_sse, "c", "2");
	size_t b = sub_add(e, &sg_transport_sse, "c", "5");
	size_t all = sub_add(e, &sg_transport_sse, "c", "0");
	size_t none = sub_add(e, &sg_transport_sse, "c", NULL);
	size_t future = sub_add(e, &sg_transport_sse, "c", "99");
	assert_int_equal(sg__stream_queued(e->subs[a]), 3);
	assert_queued(e, a, 0, "id: 3\ndata: m3\n\n");
	assert_queued(e, a, 1, "id: 4\ndata: m4\n\n");
	assert_queued(e, a, 2, "id: 5\ndata: m5\n\n");
	assert_int_equal(sg__stream_queued(e->subs[b]), 0);
	assert_int_equal(sg__stream_queued(e->subs[all]), 5);
	assert_queued(e, all, 0, "id: 1\ndata: m1\n\n");
	assert_queued(e, all, 4, "id: 5\ndata: m5\n\n");
	assert_int_equal(sg__stream_queued(e->subs[none]), 0);
	assert_int_equal(sg__stream_queued(e->subs[future]), 0);
	/* replayed frames are the history's cached ones, not copies */
	assert_ptr_equal(sg__stream_peek(e->subs[a], 0), sg__stream_peek(e->subs[all], 2));
	assert_int_equal(e->conns[a].want_write, 1);
	assert_int_equal(e->conns[b].want_write, 0);
	/* and then live messages follow, once each */
	assert_int_equal(publish(e, "c", NULL, NULL, "m6", NULL), 0);
	assert_int_equal(sg__stream_queued(e->subs[a]), 4);
	assert_queued(e, a, 3, "id: 6\ndata: m6\n\n");
	assert_int_equal(sg__stream_queued(e->subs[b]), 1);
	assert_int_equal(sg__stream_queued(e->subs[all]), 6);
	assert_int_equal(sg__stream_queued(e->subs[none]), 1);
	assert_int_equal(sg__stream_queued(e->subs[future]), 1);
	assert_int_equal(info(e, "c").subscribers, 5);
}

static void test_replay_after_eviction(void **state)
{
	env *e = env_new(3, 1 << 20);
	publish_n(e, "c", 1, 5);
	/* ids 2 was evicted: what is left after 1 is 3, 4, 5 */
	size_t s = sub_add(e, &sg_transport_chunked, "c", "1");
	assert_int_equal(sg__stream_queued(e->subs[s]), 3);
	assert_queued(e, s, 0, "m3\n");
	assert_queued(e, s, 2, "m5\n");
	/* subscribing to an empty new channel with a last id is fine */
	size_t t = sub_add(e, &sg_transport_chunked, "fresh", "7");
	assert_int_equal(sg__stream_queued(e->subs[t]), 0);
	assert_int_equal(info(e, "fresh").last_id, 0);
	env_free(e);
	(void)state;
}

static void test_bad_last_id(void **state)
{
	env *e = *state;
	publish_n(e, "c", 1, 3);
	size_t s = stream_add(e, &sg_transport_sse, 1 << 20, SG_SLOW_DROP_OLDEST);
	const char *bad[] = {"abc", "-1",   "99999999999999999999999", "",  "1.0", " 1", "1 ",
	                     "+1",  "0x10", "18446744073709551616",    "1a"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(sg_hub_subscribe(e->hub, e->subs[s], "c", bad[i]), SG_EBADID);
		assert_int_equal(sg_hub_subscribe(e->hub, e->subs[s], "new", bad[i]), SG_EBADID);
		/* a bad name is reported before a bad id */
		assert_int_equal(sg_hub_subscribe(e->hub, e->subs[s], "a/b", bad[i]), SG_EINVAL);
	}
	assert_int_equal(sg__stream_nsubs(e->subs[s]), 0);
	assert_int_equal(sg__stream_queued(e->subs[s]), 0);
	assert_int_equal(info(e, "c").subscribers, 0);
	/* a refused subscribe creates no channel */
	assert_int_equal(sg_hub_channel_count(e->hub), 1);
	assert_int_equal(sg_hub_subscribe(e->hub, e->subs[s], "c", "18446744073709551615"), 0);
	assert_int_equal(sg__stream_queued(e->subs[s]), 0);
	assert_int_equal(info(e, "c").subscribers, 1);
}

static void test_id_parse(void **state)
{
	(void)state;
	uint64_t v = 7;
	assert_int_equal(sg_id_parse("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(sg_id_parse("42", &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(sg_id_parse("007", &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(sg_id_parse("18446744073709551615", &v), 0);
	assert_true(v == UINT64_MAX);
	v = 5;
	const char *bad[] = {
	    "abc", "-1",  "99999999999999999999999", "", "18446744073709551616", " 1", "1 ",
	    "+1",  "1e3", "00000000000000000000001"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(sg_id_parse(bad[i], &v), SG_EINVAL);
		assert_int_equal(v, 5);
	}
	assert_int_equal(sg_id_parse(NULL, &v), SG_EINVAL);
}

/* ---- explicit ids and names ------------------------------------------ */

static void test_explicit_ids(void **state)
{
	env *e = *state;
	size_t s = sub_add(e, &sg_transport_sse, "c", NULL);
	sg_publish_result res;
	assert_int_equal(publish(e, "c", NULL, "10", "a", &res), 0);
	assert_string_equal(res.id, "10");
	assert_int_equal(publish(e, "c", NULL, NULL, "b", &res), 0);
	assert_string_equal(res.id, "11");
	memset(&res, 0, sizeof(res));
	assert_int_equal(publish(e, "c", NULL, "11", "equal", &res), SG_EID_STALE);
	assert_int_equal(publish(e, "c", NULL, "5", "lower", &res), SG_EID_STALE);
	assert_int_equal(publish(e, "c", NULL, "0", "zero", &res), SG_EID_STALE);
	assert_string_equal(res.id, "");
	assert_int_equal(publish(e, "c", NULL, "abc", "bad", &res), SG_EINVAL);
	assert_int_equal(publish(e, "c", NULL, "-12", "bad", &res), SG_EINVAL);
	assert_int_equal(publish(e, "c", NULL, "", "bad", &res), SG_EINVAL);
	/* refused publishes left no trace */
	sg_channel_info ci = info(e, "c");
	assert_int_equal(ci.last_id, 11);
	assert_int_equal(ci.history_count, 2);
	assert_int_equal(sg__stream_queued(e->subs[s]), 2);
	assert_int_equal(publish(e, "c", NULL, "012", "leading zero", &res), 0);
	assert_string_equal(res.id, "12");
	assert_int_equal(publish(e, "c", NULL, "1000", "jump", &res), 0);
	assert_string_equal(res.id, "1000");
	assert_queued(e, s, 0, "id: 10\ndata: a\n\n");
	assert_queued(e, s, 1, "id: 11\ndata: b\n\n");
	assert_queued(e, s, 2, "id: 12\ndata: leading zero\n\n");
	assert_queued(e, s, 3, "id: 1000\ndata: jump\n\n");
	assert_int_equal(info(e, "c").last_id, 1000);
	/* another channel has its own counter */
	assert_int_equal(publish(e, "d", NULL, "1", "x", &res), 0);
	assert_string_equal(res.id, "1");
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
	assert_string_equal(res.id, "1");
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
		assert_queued(e, i, 0, "first\n");
		assert_queued(e, i, 1, "second\n");
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
	assert_queued(e, 1, 2, "third\n");
	assert_queued(e, 3, 2, "third\n");
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
	assert_queued(e, t, 0, "to-a");
	assert_queued(e, t, 1, "to-c");
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
	assert_queued(e, s, 2, "once");
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
	assert_int_equal(sg_stream_subscribe(e->subs[s], "e", "x1"), SG_EBADID);
	assert_int_equal(info(e, "c").subscribers, 1);
	assert_int_equal(info(e, "d").subscribers, 1);
	assert_int_equal(sg_hub_channel_count(e->hub), 2);
	assert_int_equal(publish(e, "d", NULL, NULL, "via-d", NULL), 0);
	assert_queued(e, s, 0, "via-d");
	sub_detach(e, s, 0);
	assert_int_equal(info(e, "c").subscribers, 0);
	assert_int_equal(info(e, "d").subscribers, 0);
	/* attached but never subscribed: detaching is just as clean */
	size_t t = stream_add(e, &sg_transport_ws, 1 << 20, SG_SLOW_DROP_OLDEST);
	sg_hub_attach(e->hub, e->subs[t]);
	sub_detach(e, t, 0);
}

static void test_stream_subscribe_replays(void **state)
{
	env *e = *state;
	publish_n(e, "c", 1, 4);
	size_t s = stream_add(e, &sg_transport_sse, 1 << 20, SG_SLOW_DROP_OLDEST);
	sg_hub_attach(e->hub, e->subs[s]);
	assert_int_equal(sg_stream_subscribe(e->subs[s], "c", "2"), 0);
	assert_int_equal(sg__stream_queued(e->subs[s]), 2);
	assert_queued(e, s, 0, "id: 3\ndata: m3\n\n");
	assert_queued(e, s, 1, "id: 4\ndata: m4\n\n");
	/* then live messages, with no gap and no repeat */
	publish_n(e, "c", 5, 5);
	assert_int_equal(sg__stream_queued(e->subs[s]), 3);
	assert_queued(e, s, 2, "id: 5\ndata: m5\n\n");
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
	assert_int_equal(sg__stream_queued(e->subs[slow]), 1);
	assert_int_equal(sg__stream_queued(e->subs[a]), 3);
	assert_int_equal(sg__stream_queued(e->subs[b]), 3);
	assert_queued(e, b, 2, "m3\n");
	/* the server detaches the cut client on its next turn */
	sub_detach(e, slow, 1);
	assert_int_equal(info(e, "c").subscribers, 2);
	publish_n(e, "c", 4, 4);
	assert_int_equal(sg__stream_queued(e->subs[a]), 4);
	assert_int_equal(sg__stream_queued(e->subs[b]), 4);
	assert_int_equal(atomic_load(&e->ctr.slow_disconnects), 1);
}

static void test_subscribe_sets_cursor(void **state)
{
	env *e = *state;
	publish_n(e, "c", 1, 3);
	size_t live = sub_add(e, &sg_transport_longpoll, "c", NULL);
	size_t from1 = sub_add(e, &sg_transport_longpoll, "c", "1");
	size_t ahead = sub_add(e, &sg_transport_longpoll, "c", "7");
	size_t fresh = sub_add(e, &sg_transport_longpoll, "empty", NULL);
	/* without a last id the cursor starts at the channel's newest */
	assert_int_equal(sg__stream_last_seq(e->subs[live]), 3);
	assert_int_equal(sg__stream_queued(e->subs[live]), 0);
	/* with one, at the last replayed message */
	assert_int_equal(sg__stream_last_seq(e->subs[from1]), 3);
	assert_int_equal(sg__stream_queued(e->subs[from1]), 2);
	assert_queued(e, from1, 0,
	              "{\"channel\":\"c\",\"id\":\"2\",\"event\":null,\"data\":\"m2\"}");
	/* or where the client said it was, when nothing is replayed */
	assert_int_equal(sg__stream_last_seq(e->subs[ahead]), 7);
	assert_int_equal(sg__stream_last_seq(e->subs[fresh]), 0);
	publish_n(e, "c", 4, 4);
	assert_int_equal(sg__stream_last_seq(e->subs[live]), 4);
	assert_int_equal(sg__stream_last_seq(e->subs[from1]), 4);
	assert_int_equal(sg__stream_last_seq(e->subs[ahead]), 4);
	assert_int_equal(sg__stream_last_seq(e->subs[fresh]), 0);
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
	assert_int_equal(sg_broker_publish(b, &req, &res), 0);
	assert_string_equal(res.id, "1");
	assert_int_equal(res.subscribers, 1);
	assert_queued(e, s, 0, "id: 1\nevent: flash\ndata: hi\n\n");
	sg_channel_info ci = info(e, "news");
	assert_int_equal(ci.history_count, 1);
	assert_int_equal(ci.last_id, 1);
	req.id = "1";
	assert_int_equal(sg_broker_publish(b, &req, &res), SG_EID_STALE);
	req.channel = "bad name";
	req.id = NULL;
	assert_int_equal(sg_broker_publish(b, &req, &res), SG_EINVAL);
	assert_int_equal(sg__stream_queued(e->subs[s]), 1);
	b->ops->free(b);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, env_setup, env_teardown)
	const struct CMUnitTest tests[] = {
	    T(test_ids_per_channel),
	    T(test_fanout_to_transports),
	    T(test_one_frame_per_transport),
	    cmocka_unit_test(test_frames_without_history),
	    T(test_filtered_subscriber_gets_own_frame),
	    cmocka_unit_test(test_history_bound_by_count),
	    cmocka_unit_test(test_history_bound_by_bytes),
	    T(test_replay_after_last_id),
	    cmocka_unit_test(test_replay_after_eviction),
	    T(test_bad_last_id),
	    cmocka_unit_test(test_id_parse),
	    T(test_explicit_ids),
	    T(test_channel_names),
	    T(test_detach_middle_of_five),
	    T(test_detach_leaves_every_channel),
	    T(test_subscribe_twice),
	    T(test_stream_subscribe_needs_hub),
	    T(test_stream_subscribe_replays),
	    T(test_slow_subscriber_cut_during_fanout),
	    T(test_subscribe_sets_cursor),
	    T(test_memory_broker),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
