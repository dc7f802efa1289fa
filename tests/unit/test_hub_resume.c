/*
 * test_hub_resume — subscribing with a last id: replay after it, then live
 * messages with no duplicate and no gap, from every id of a history; the
 * gap signal for each reason (evicted, restarted, unknown, and "0" only
 * after an eviction) with its exact control JSON and header note; merged
 * replay across channels in id order; malformed ids; the stream's cursor.
 * The world is hub_env.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "hub_env.h"

/* A gap as an SSE control event. */
#define SSE_GAP(json) "event: sg.gap\ndata: " json "\n\n"
#define MAX_ID "18446744073709551615-18446744073709551615"

/* A stream whose headers are not out yet, subscribed to names from last. */
static size_t resume_many(env *e, const sg_transport *t, const char *const *names, size_t n,
                          const char *last)
{
	size_t i = stream_add_new(e, t, 1 << 20, SG_SLOW_DROP_OLDEST);
	assert_int_equal(sg_hub_subscribe_many(e->hub, e->subs[i], names, n, last), 0);
	return i;
}

static size_t resume(env *e, const sg_transport *t, const char *channel, const char *last)
{
	return resume_many(e, t, &channel, 1, last);
}

static const char *notes(env *e, size_t sub)
{
	const char *n = sg__stream_notes(e->subs[sub]);
	return n ? n : "(none)";
}

/* ---- replay ------------------------------------------------------------ */

static void test_replay_after_last_id(void **state)
{
	env *e = *state;
	publish_n(e, "c", 1, 5);
	size_t a = sub_add(e, &sg_transport_sse, "c", ID(2));
	size_t b = sub_add(e, &sg_transport_sse, "c", ID(5));
	size_t all = sub_add(e, &sg_transport_sse, "c", "0");
	size_t none = sub_add(e, &sg_transport_sse, "c", NULL);
	size_t future = sub_add(e, &sg_transport_sse, "c", ID(99));
	assert_int_equal(sg__stream_queued(e->subs[a]), 3);
	assert_frame(e, a, 0, "id: " ID(3) "\ndata: m3\n\n");
	assert_frame(e, a, 1, "id: " ID(4) "\ndata: m4\n\n");
	assert_frame(e, a, 2, "id: " ID(5) "\ndata: m5\n\n");
	assert_int_equal(sg__stream_queued(e->subs[b]), 0);
	assert_int_equal(sg__stream_queued(e->subs[all]), 5);
	assert_frame(e, all, 0, "id: " ID(1) "\ndata: m1\n\n");
	assert_frame(e, all, 4, "id: " ID(5) "\ndata: m5\n\n");
	assert_int_equal(sg__stream_queued(e->subs[none]), 0);
	/* an id after the hub's last: a gap, then the whole history */
	assert_int_equal(sg__stream_queued(e->subs[future]), 6);
	assert_frame(e, future, 0, SSE_GAP(GAP_JSON("c", ID(99), Q(ID(1)), "unknown")));
	assert_frame(e, future, 1, "id: " ID(1) "\ndata: m1\n\n");
	/* replayed frames are the history's cached ones, not copies */
	assert_ptr_equal(sg__stream_peek(e->subs[a], 0), sg__stream_peek(e->subs[all], 2));
	assert_ptr_equal(sg__stream_peek(e->subs[future], 1), sg__stream_peek(e->subs[all], 0));
	assert_int_equal(e->conns[a].want_write, 1);
	assert_int_equal(e->conns[b].want_write, 0);
	/* and then live messages follow, once each */
	assert_int_equal(publish(e, "c", NULL, NULL, "m6", NULL), 0);
	assert_int_equal(sg__stream_queued(e->subs[a]), 4);
	assert_frame(e, a, 3, "id: " ID(6) "\ndata: m6\n\n");
	assert_int_equal(sg__stream_queued(e->subs[b]), 1);
	assert_int_equal(sg__stream_queued(e->subs[all]), 6);
	assert_int_equal(sg__stream_queued(e->subs[none]), 1);
	assert_int_equal(sg__stream_queued(e->subs[future]), 7);
	assert_int_equal(info(e, "c").subscribers, 5);
}

static void test_replay_after_eviction(void **state)
{
	env *e = env_new(3, 1 << 20);
	publish_n(e, "c", 1, 5);
	/* 1 and 2 were evicted: after 1, 2 is lost; a plain chunked body has
	 * no room for the gap signal, the whole history follows */
	size_t s = sub_add(e, &sg_transport_chunked, "c", ID(1));
	assert_all_frames(e, s, "m3\nm4\nm5\n");
	/* after 2, the last evicted, nothing is lost */
	size_t t = sub_add(e, &sg_transport_chunked, "c", ID(2));
	assert_all_frames(e, t, "m3\nm4\nm5\n");
	/* subscribing to an empty new channel with the hub's last id is fine */
	size_t u = sub_add(e, &sg_transport_chunked, "fresh", ID(5));
	assert_int_equal(sg__stream_queued(e->subs[u]), 0);
	assert_id(info(e, "fresh").last_id, "0");
	env_free(e);
	(void)state;
}

static void test_bad_last_id(void **state)
{
	env *e = *state;
	publish_n(e, "c", 1, 3);
	size_t s = stream_add(e, &sg_transport_sse, 1 << 20, SG_SLOW_DROP_OLDEST);
	const char *bad[] = {"abc",   "-1",    "99999999999999999999999",
	                     "",      "1.0",   " 1",
	                     "1 ",    "+1",    "0x10",
	                     "1a",    "1000",  "1000-",
	                     "-1000", "1-2-3", "1000--1",
	                     "1-+1",  "1 -1",  "18446744073709551616-0",
	                     "00",    "0-"};
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
	/* the largest id is well formed, and after everything: unknown */
	assert_int_equal(sg_hub_subscribe(e->hub, e->subs[s], "c", MAX_ID), 0);
	assert_int_equal(sg__stream_queued(e->subs[s]), 4);
	assert_frame(e, s, 0, SSE_GAP(GAP_JSON("c", MAX_ID, Q(ID(1)), "unknown")));
	assert_int_equal(info(e, "c").subscribers, 1);
}

static void test_stream_subscribe_replays(void **state)
{
	env *e = *state;
	publish_n(e, "c", 1, 4);
	size_t s = stream_add(e, &sg_transport_sse, 1 << 20, SG_SLOW_DROP_OLDEST);
	sg_hub_attach(e->hub, e->subs[s]);
	assert_int_equal(sg_stream_subscribe(e->subs[s], "c", ID(2)), 0);
	assert_int_equal(sg__stream_queued(e->subs[s]), 2);
	assert_frame(e, s, 0, "id: " ID(3) "\ndata: m3\n\n");
	assert_frame(e, s, 1, "id: " ID(4) "\ndata: m4\n\n");
	/* then live messages, with no gap and no repeat */
	publish_n(e, "c", 5, 5);
	assert_int_equal(sg__stream_queued(e->subs[s]), 3);
	assert_frame(e, s, 2, "id: " ID(5) "\ndata: m5\n\n");
}

/* ---- gaps --------------------------------------------------------------- */

static void test_gap_evicted(void **state)
{
	env *e = env_new(2, 1 << 20);
	publish_n(e, "c", 1, 4); /* keeps 3 and 4; 2 was the last evicted */
	size_t s = resume(e, &sg_transport_sse, "c", ID(1));
	assert_int_equal(sg__stream_queued(e->subs[s]), 3);
	assert_frame(
	    e, s, 0,
	    "event: sg.gap\ndata: {\"type\":\"gap\",\"channel\":\"c\","
	    "\"last_event_id\":\"1000-1\",\"first_id\":\"1000-3\",\"reason\":\"evicted\"}\n\n");
	assert_frame(e, s, 1, "id: " ID(3) "\ndata: m3\n\n");
	assert_frame(e, s, 2, "id: " ID(4) "\ndata: m4\n\n");
	assert_string_equal(notes(e, s), "c; reason=evicted; first_id=1000-3");
	/* from the hub's start, from "0" too: the channel has lost messages */
	size_t z = resume(e, &sg_transport_ws, "c", "0");
	assert_frame(e, z, 0, GAP_JSON("c", "0", Q(ID(3)), "evicted"));
	assert_int_equal(sg__stream_queued(e->subs[z]), 3);
	size_t t0 = resume(e, &sg_transport_ws, "c", ID(0));
	assert_frame(e, t0, 0, GAP_JSON("c", ID(0), Q(ID(3)), "evicted"));
	/* from the last evicted id on there is no gap */
	size_t ok = resume(e, &sg_transport_sse, "c", ID(2));
	assert_all_frames(e, ok, "id: " ID(3) "\ndata: m3\n\nid: " ID(4) "\ndata: m4\n\n");
	assert_string_equal(notes(e, ok), "(none)");
	/* long-poll: the gap is the array's first element; a tagged chunked
	 * body has a line */
	size_t lp = resume(e, &sg_transport_longpoll, "c", ID(1));
	assert_int_equal(sg__stream_queued(e->subs[lp]), 3);
	assert_frame(e, lp, 0, GAP_JSON("c", ID(1), Q(ID(3)), "evicted"));
	assert_id(sg__stream_last(e->subs[lp]), ID(4));
	assert_string_equal(notes(e, lp), "c; reason=evicted; first_id=" ID(3));
	size_t ch = stream_add_new(e, &sg_transport_chunked, 1 << 20, SG_SLOW_DROP_OLDEST);
	sg__stream_set_tagged(e->subs[ch]);
	assert_int_equal(sg_hub_subscribe(e->hub, e->subs[ch], "c", ID(1)), 0);
	assert_frame(e, ch, 0, GAP_JSON("c", ID(1), Q(ID(3)), "evicted") "\n");
	assert_frame(e, ch, 2,
	             "{\"channel\":\"c\",\"id\":\"" ID(4) "\",\"event\":null,\"data\":\"m4\"}\n");
	/* once the headers are out, the frame still goes, the note cannot */
	size_t open = sub_add(e, &sg_transport_ws, "c", ID(1));
	assert_frame(e, open, 0, GAP_JSON("c", ID(1), Q(ID(3)), "evicted"));
	assert_string_equal(notes(e, open), "(none)");
	env_free(e);
	(void)state;
}

static void test_gap_evicted_to_empty(void **state)
{
	env *e = env_with(
	    (sg_hub_limits){.history_count = 4, .history_bytes = 1 << 20, .history_age_ms = 10});
	sub_add(e, &sg_transport_ws, "c", NULL); /* keeps c from being reclaimed */
	publish_n(e, "c", 1, 1);
	assert_int_equal(sg_hub_sweep(e->hub, T0 + 10), 0);
	assert_int_equal(info(e, "c").history_count, 1);
	assert_int_equal(sg_hub_sweep(e->hub, T0 + 11), 0);
	assert_int_equal(info(e, "c").history_count, 0);
	size_t z = resume(e, &sg_transport_sse, "c", "0");
	assert_all_frames(e, z, SSE_GAP(GAP_JSON("c", "0", "null", "evicted")));
	assert_string_equal(notes(e, z), "c; reason=evicted; first_id=none");
	size_t s = resume(e, &sg_transport_ws, "c", ID(0));
	assert_all_frames(e, s, GAP_JSON("c", ID(0), "null", "evicted"));
	/* after the evicted message itself, nothing was lost */
	size_t t = resume(e, &sg_transport_ws, "c", ID(1));
	assert_int_equal(sg__stream_queued(e->subs[t]), 0);
	assert_string_equal(notes(e, t), "(none)");
	env_free(e);
	(void)state;
}

/* With no history at all, every message is lost to a resume at once. */
static void test_gap_without_history(void **state)
{
	env *e = env_with((sg_hub_limits){.history_count = 0, .history_bytes = 1 << 20});
	publish_n(e, "c", 1, 3);
	size_t s = resume(e, &sg_transport_ws, "c", ID(1));
	assert_all_frames(e, s, GAP_JSON("c", ID(1), "null", "evicted"));
	assert_string_equal(notes(e, s), NOTE("c", "evicted", "none"));
	/* from the last id given, nothing was lost */
	size_t t = resume(e, &sg_transport_ws, "c", ID(3));
	assert_int_equal(sg__stream_queued(e->subs[t]), 0);
	env_free(e);
	(void)state;
}

/* A list that cannot be subscribed whole is not subscribed at all. */
static void test_subscribe_all_or_nothing(void **state)
{
	env *e = env_with(
	    (sg_hub_limits){.history_count = 4, .history_bytes = 1 << 20, .max_channels = 1});
	size_t s = stream_add_new(e, &sg_transport_ws, 1 << 20, SG_SLOW_DROP_OLDEST);
	sg_hub_attach(e->hub, e->subs[s]);
	assert_int_equal(sg_stream_subscribe(e->subs[s], "a,b", NULL), SG_ETOOBIG);
	assert_int_equal(sg__stream_nsubs(e->subs[s]), 0);
	assert_int_equal(info(e, "a").subscribers, 0);
	/* publishing to a reaches nobody, and frees nothing it should not */
	publish_n(e, "a", 1, 1);
	assert_int_equal(sg__stream_queued(e->subs[s]), 0);
	env_free(e);
	(void)state;
}

static void test_gap_restarted(void **state)
{
	env *e = *state;
	publish_n(e, "c", 1, 3);
	/* "a new process": the hub is made again, later, with no history */
	sg_hub_free(e->hub);
	fake_clock_set(5000);
	e->hub = sg_hub_new(&(sg_hub_limits){
	    .history_count = 16, .history_bytes = 1 << 20, .clock_ms = fake_clock_ms});
	publish_n(e, "c", 4, 5); /* 5000-1, 5000-2 */
	size_t s = resume(e, &sg_transport_sse, "c", ID(3));
	assert_int_equal(sg__stream_queued(e->subs[s]), 3);
	assert_frame(e, s, 0, SSE_GAP(GAP_JSON("c", ID(3), Q("5000-1"), "restarted")));
	assert_frame(e, s, 1, "id: 5000-1\ndata: m4\n\n");
	assert_frame(e, s, 2, "id: 5000-2\ndata: m5\n\n");
	assert_string_equal(notes(e, s), "c; reason=restarted; first_id=5000-1");
	size_t tiny = resume(e, &sg_transport_ws, "c", "0-1");
	assert_frame(e, tiny, 0, GAP_JSON("c", "0-1", Q("5000-1"), "restarted"));
	/* a channel with nothing kept: first_id is null */
	size_t n = resume(e, &sg_transport_ws, "quiet", "4999-9");
	assert_all_frames(e, n, GAP_JSON("quiet", "4999-9", "null", "restarted"));
	assert_string_equal(notes(e, n), "quiet; reason=restarted; first_id=none");
	/* the new hub's own start is not before it */
	size_t at = resume(e, &sg_transport_ws, "c", "5000-0");
	assert_all_frames(e, at, "m4m5");
	/* "0" asks for what there is: nothing was evicted here */
	size_t all = resume(e, &sg_transport_ws, "c", "0");
	assert_all_frames(e, all, "m4m5");
	assert_string_equal(notes(e, all), "(none)");
}

static void test_gap_unknown(void **state)
{
	env *e = *state;
	publish_n(e, "c", 1, 3);
	size_t s = resume(e, &sg_transport_ws, "c", ID(4));
	assert_all_frames(e, s, GAP_JSON("c", ID(4), Q(ID(1)), "unknown") "m1m2m3");
	assert_string_equal(notes(e, s), "c; reason=unknown; first_id=" ID(1));
	size_t f = resume(e, &sg_transport_ws, "c", "99999-0");
	assert_frame(e, f, 0, GAP_JSON("c", "99999-0", Q(ID(1)), "unknown"));
	/* the hub's last id is a position in every channel */
	publish_n(e, "other", 4, 4);
	size_t t = resume(e, &sg_transport_ws, "c", ID(4));
	assert_int_equal(sg__stream_queued(e->subs[t]), 0);
	assert_string_equal(notes(e, t), "(none)");
	/* unknown is hub-wide: every channel of the call says so */
	const char *both[] = {"c", "empty"};
	size_t m = resume_many(e, &sg_transport_longpoll, both, 2, ID(5));
	assert_string_equal(notes(e, m),
	                    NOTE("c", "unknown", ID(1)) ", " NOTE("empty", "unknown", "none"));
	assert_int_equal(sg__stream_queued(e->subs[m]), 2 + 3);
	assert_frame(e, m, 1, GAP_JSON("empty", ID(5), "null", "unknown"));
	assert_id(sg__stream_last(e->subs[m]), ID(3));
	/* with nothing to replay the cursor goes back to the hub's last id, so
	 * the next poll does not meet the same gap */
	size_t none = resume(e, &sg_transport_longpoll, "empty", ID(9));
	assert_all_frames(e, none, GAP_JSON("empty", ID(9), "null", "unknown"));
	assert_id(sg__stream_last(e->subs[none]), ID(4));
}

static void test_gap_notes_many_channels(void **state)
{
	env *e = env_new(2, 1 << 20);
	const char *names[] = {"a", "b", "c"};
	size_t w = stream_add(e, &sg_transport_ws, 1 << 20, SG_SLOW_DROP_OLDEST);
	assert_int_equal(sg_hub_subscribe_many(e->hub, e->subs[w], names, 3, NULL), 0);
	publish_n(e, "a", 1, 4); /* a keeps 3, 4 */
	publish_n(e, "b", 5, 5);
	/* only a lost messages after 1 */
	size_t s = resume_many(e, &sg_transport_longpoll, names, 3, ID(1));
	assert_string_equal(notes(e, s), "a; reason=evicted; first_id=" ID(3));
	assert_int_equal(sg__stream_queued(e->subs[s]), 4);
	assert_frame(e, s, 0, GAP_JSON("a", ID(1), Q(ID(3)), "evicted"));
	assert_frame(e, s, 1,
	             "{\"channel\":\"a\",\"id\":\"1000-3\",\"event\":null,\"data\":\"m3\"}");
	assert_frame(e, s, 2, ENVELOPE("a", ID(4), "m4"));
	assert_frame(e, s, 3, ENVELOPE("b", ID(5), "m5"));
	/* from before the hub's start, all three; the notes are joined */
	size_t r = resume_many(e, &sg_transport_ndjson, names, 3, "999-0");
	assert_string_equal(notes(e, r), "a; reason=restarted; first_id=1000-3, "
	                                 "b; reason=restarted; first_id=1000-5, "
	                                 "c; reason=restarted; first_id=none");
	assert_int_equal(sg__stream_queued(e->subs[r]), 3 + 3);
	assert_frame(e, r, 0, GAP_JSON("a", "999-0", Q(ID(3)), "restarted") "\n");
	assert_frame(e, r, 1, GAP_JSON("b", "999-0", Q(ID(5)), "restarted") "\n");
	assert_frame(e, r, 2, GAP_JSON("c", "999-0", "null", "restarted") "\n");
	env_free(e);
	(void)state;
}

/* 16 channels with 24-character names resumed after a restart: the header
 * keeps the first 8 entries whole and says 8 more were left out, within
 * SG_GAP_HEADER_MAX; the body has all 16 gap signals. */
static void test_gap_header_bounded(void **state)
{
	env *e = env_new(4, 1 << 20);
	char names[16][32], want[1024] = "", entry[1024];
	const char *list[16];
	for (int i = 0; i < 16; i++) {
		snprintf(names[i], sizeof(names[i]), "abcdefghijklmnopqrstu.%02d", i + 1);
		assert_int_equal(strlen(names[i]), 24);
		list[i] = names[i];
		publish_n(e, names[i], i + 1, i + 1); /* names[i] holds 1000-(i+1) */
	}
	size_t s = resume_many(e, &sg_transport_ndjson, list, 16, "999-0");
	for (int i = 0; i < 8; i++) {
		snprintf(entry, sizeof(entry), "%s%s; reason=restarted; first_id=1000-%d",
		         i ? ", " : "", names[i], i + 1);
		strcat(want, entry);
	}
	strcat(want, ", *; truncated=8");
	assert_string_equal(notes(e, s), want);
	assert_int_equal(strlen(notes(e, s)), 502);
	assert_true(strlen(notes(e, s)) <= SG_GAP_HEADER_MAX);
	/* every gap is in the body: 16 signals, then 16 messages */
	assert_int_equal(sg__stream_queued(e->subs[s]), 16 + 16);
	assert_frame(e, s, 15,
	             GAP_JSON("abcdefghijklmnopqrstu.16", "999-0", Q("1000-16"), "restarted") "\n");
	env_free(e);
	(void)state;
}

/* A channel made after the client's id cannot vouch for what came between:
 * it may have existed, and been deleted or swept, in the meantime. */
static void test_gap_channel_made_later(void **state)
{
	env *e = *state;
	publish_n(e, "a", 1, 2);
	/* b was made after 1000-1, but nothing of any channel went away since:
	 * b cannot have lost anything */
	size_t s = resume(e, &sg_transport_ws, "b", ID(1));
	assert_int_equal(sg__stream_queued(e->subs[s]), 0);
	assert_string_equal(notes(e, s), "(none)");
	/* once a channel went away, a channel made later vouches only from then */
	size_t n;
	assert_int_equal(sg_hub_delete(e->hub, "a", &n), 0);
	size_t d = resume(e, &sg_transport_ws, "a", ID(1));
	assert_all_frames(e, d, GAP_JSON("a", ID(1), "null", "evicted"));
	size_t c = resume(e, &sg_transport_ws, "c", ID(2));
	assert_int_equal(sg__stream_queued(e->subs[c]), 0);
	size_t c1 = resume(e, &sg_transport_ws, "c", ID(1));
	assert_all_frames(e, c1, GAP_JSON("c", ID(1), "null", "evicted"));
}

/* ---- several channels --------------------------------------------------- */

/* Publishes "<channel><n>" and checks it got id 1000-n. */
static void pub(env *e, const char *channel, int n)
{
	char data[32], id[SG_ID_TEXT_MAX];
	sg_publish_result res;
	snprintf(data, sizeof(data), "%s%d", channel, n);
	snprintf(id, sizeof(id), "%d-%d", T0, n);
	assert_int_equal(publish(e, channel, NULL, NULL, data, &res), 0);
	assert_string_equal(res.id, id);
}

static void test_merged_replay_order(void **state)
{
	env *e = *state;
	const char *abc[] = {"a", "b", "c"}, *cab[] = {"c", "a", "b"}, *bc[] = {"b", "c"};
	size_t w = stream_add(e, &sg_transport_ws, 1 << 20, SG_SLOW_DROP_OLDEST);
	assert_int_equal(sg_hub_subscribe_many(e->hub, e->subs[w], abc, 3, NULL), 0);
	pub(e, "a", 1);
	pub(e, "b", 2);
	pub(e, "a", 3);
	pub(e, "c", 4);
	pub(e, "b", 5);
	pub(e, "c", 6);
	pub(e, "a", 7);
	pub(e, "b", 8);
	assert_all_frames(e, w, "a1b2a3c4b5c6a7b8");
	/* the order of the names does not matter, the ids do */
	size_t s = resume_many(e, &sg_transport_ws, cab, 3, ID(2));
	assert_all_frames(e, s, "a3c4b5c6a7b8");
	size_t z = resume_many(e, &sg_transport_ws, cab, 3, "0");
	assert_all_frames(e, z, "a1b2a3c4b5c6a7b8");
	size_t t = resume_many(e, &sg_transport_ws, bc, 2, ID(3));
	assert_all_frames(e, t, "c4b5c6b8");
	/* tagged, each frame names its channel */
	size_t g = stream_add(e, &sg_transport_sse, 1 << 20, SG_SLOW_DROP_OLDEST);
	sg__stream_set_tagged(e->subs[g]);
	sg_hub_attach(e->hub, e->subs[g]);
	assert_int_equal(sg_stream_subscribe(e->subs[g], "c,b", ID(5)), 0);
	assert_int_equal(sg__stream_queued(e->subs[g]), 2);
	assert_frame(e, g, 0, "id: " ID(6) "\ndata: " ENVELOPE("c", ID(6), "c6") "\n\n");
	assert_frame(e, g, 1, "id: " ID(8) "\ndata: " ENVELOPE("b", ID(8), "b8") "\n\n");
	/* live messages then follow on every channel, once */
	pub(e, "c", 9);
	assert_frame(e, s, 6, "c9");
	assert_frame(e, t, 4, "c9");
	assert_int_equal(sg__stream_queued(e->subs[g]), 3);
}

static void test_merged_replay_with_gap(void **state)
{
	env *e = env_new(2, 1 << 20);
	const char *ab[] = {"a", "b"};
	size_t w = stream_add(e, &sg_transport_ws, 1 << 20, SG_SLOW_DROP_OLDEST);
	assert_int_equal(sg_hub_subscribe_many(e->hub, e->subs[w], ab, 2, NULL), 0);
	for (int n = 1; n <= 6; n++)
		pub(e, n % 2 ? "a" : "b", n);
	/* a keeps 3, 5 (lost 1); b keeps 4, 6 (lost 2): after 1 only b has a
	 * gap; the gap comes first, then both histories merged */
	size_t s = resume_many(e, &sg_transport_ws, ab, 2, ID(1));
	assert_all_frames(e, s, GAP_JSON("b", ID(1), Q(ID(4)), "evicted") "a3b4a5b6");
	assert_string_equal(notes(e, s), "b; reason=evicted; first_id=" ID(4));
	env_free(e);
	(void)state;
}

static void test_resume_from_every_id(void **state)
{
	env *e = *state;
	const char *abc[] = {"a", "b", "c"};
	const char *chan[] = {"a", "b", "c", "a", "a", "b", "c", "b", "a"};
	const int64_t at[] = {T0, T0, T0 + 3, T0 + 3, T0 + 3, T0 + 9, T0 + 9, T0 + 12, T0 + 12};
	enum { N = 9 };
	char ids[N][SG_ID_TEXT_MAX], want[256];
	size_t w = stream_add(e, &sg_transport_ws, 1 << 20, SG_SLOW_DROP_OLDEST);
	assert_int_equal(sg_hub_subscribe_many(e->hub, e->subs[w], abc, 3, NULL), 0);
	for (int i = 0; i < N; i++) {
		sg_publish_result res;
		char d[8];
		snprintf(d, sizeof(d), "%s%d", chan[i], i + 1);
		fake_clock_set(at[i]);
		assert_int_equal(publish(e, chan[i], NULL, NULL, d, &res), 0);
		memcpy(ids[i], res.id, sizeof(res.id));
	}
	assert_string_equal(ids[0], ID(1));
	assert_string_equal(ids[2], "1003-0");
	assert_string_equal(ids[8], "1012-1");
	assert_all_frames(e, w, "a1b2c3a4a5b6c7b8a9");
	/* from each id: exactly what came after it, no gap, no repeat */
	size_t from[N + 1];
	for (int k = 0; k <= N; k++) {
		from[k] = resume_many(e, &sg_transport_ws, abc, 3, k ? ids[k - 1] : "0");
		want[0] = '\0';
		for (int i = k; i < N; i++)
			snprintf(want + strlen(want), sizeof(want) - strlen(want), "%s%d", chan[i],
			         i + 1);
		assert_all_frames(e, from[k], want);
		assert_string_equal(notes(e, from[k]), "(none)");
		/* one channel alone, from the same id */
		size_t one = resume(e, &sg_transport_ws, "a", k ? ids[k - 1] : "0");
		want[0] = '\0';
		for (int i = k; i < N; i++)
			if (strcmp(chan[i], "a") == 0)
				snprintf(want + strlen(want), sizeof(want) - strlen(want), "a%d",
				         i + 1);
		assert_all_frames(e, one, want);
		sub_detach(e, one, 0);
	}
	/* the next message reaches each of them once, at the end */
	publish_n(e, "b", 10, 10);
	for (int k = 0; k <= N; k++) {
		assert_int_equal(sg__stream_queued(e->subs[from[k]]), (size_t)(N - k + 1));
		assert_frame(e, from[k], (size_t)(N - k), "m10");
	}
}

/* ---- the cursor --------------------------------------------------------- */

static void test_subscribe_sets_cursor(void **state)
{
	env *e = *state;
	publish_n(e, "c", 1, 3);
	publish_n(e, "o", 4, 4);
	size_t live = sub_add(e, &sg_transport_longpoll, "c", NULL);
	size_t from1 = sub_add(e, &sg_transport_longpoll, "c", ID(1));
	size_t at4 = sub_add(e, &sg_transport_longpoll, "c", ID(4));
	size_t ahead = sub_add(e, &sg_transport_longpoll, "c", ID(7));
	size_t fresh = sub_add(e, &sg_transport_longpoll, "empty", NULL);
	/* without a last id the cursor starts at the hub's newest */
	assert_id(sg__stream_last(e->subs[live]), ID(4));
	assert_int_equal(sg__stream_queued(e->subs[live]), 0);
	/* with one, at the last replayed message */
	assert_id(sg__stream_last(e->subs[from1]), ID(3));
	assert_int_equal(sg__stream_queued(e->subs[from1]), 2);
	assert_frame(e, from1, 0,
	             "{\"channel\":\"c\",\"id\":\"" ID(2) "\",\"event\":null,\"data\":\"m2\"}");
	/* or where the client said it was, when nothing is replayed */
	assert_id(sg__stream_last(e->subs[at4]), ID(4));
	assert_int_equal(sg__stream_queued(e->subs[at4]), 0);
	/* an unknown id is replaced by the last message of the whole history
	 * (after the gap, the array's first element) */
	assert_int_equal(sg__stream_queued(e->subs[ahead]), 1 + 3);
	assert_id(sg__stream_last(e->subs[ahead]), ID(3));
	assert_id(sg__stream_last(e->subs[fresh]), ID(4));
	publish_n(e, "c", 5, 5);
	assert_id(sg__stream_last(e->subs[live]), ID(5));
	assert_id(sg__stream_last(e->subs[from1]), ID(5));
	assert_id(sg__stream_last(e->subs[at4]), ID(5));
	assert_id(sg__stream_last(e->subs[ahead]), ID(5));
	assert_id(sg__stream_last(e->subs[fresh]), ID(4));
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, env_setup, env_teardown)
	const struct CMUnitTest tests[] = {
	    T(test_replay_after_last_id),
	    cmocka_unit_test(test_replay_after_eviction),
	    T(test_bad_last_id),
	    T(test_stream_subscribe_replays),
	    cmocka_unit_test(test_gap_evicted),
	    cmocka_unit_test(test_gap_evicted_to_empty),
	    cmocka_unit_test(test_gap_without_history),
	    cmocka_unit_test(test_subscribe_all_or_nothing),
	    T(test_gap_restarted),
	    T(test_gap_unknown),
	    cmocka_unit_test(test_gap_notes_many_channels),
	    cmocka_unit_test(test_gap_header_bounded),
	    T(test_gap_channel_made_later),
	    T(test_merged_replay_order),
	    cmocka_unit_test(test_merged_replay_with_gap),
	    T(test_resume_from_every_id),
	    T(test_subscribe_sets_cursor),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
