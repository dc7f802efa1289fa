/*
 * hub_env — the world the hub tests share: a hub whose clock is the fake
 * one from fake_loop.h (set to T0 when the hub is made, so its ids are
 * exact: "1000-1", "1000-2", ...), up to MAX_SUBS subscriber streams on the
 * fake loop and sink, and the live counts every test must return to.
 */
#ifndef SG_TEST_HUB_ENV_H
#define SG_TEST_HUB_ENV_H

#include "core/hub.h"
#include "core/message.h"
#include "core/stream.h"
#include "fake_loop.h"

#define MAX_SUBS 24

/* The clock when a test hub is made: the hub starts at "1000-0" and,
 * while the clock stands still, gives "1000-1", "1000-2", ... */
#define T0 1000
/* The text of the n-th id given at T0, as a literal. */
#define ID(n) "1000-" #n
/* id as a JSON string. */
#define Q(id) "\"" id "\""
/* The JSON envelope of a message without event, as a literal. */
#define ENVELOPE(ch, id, data)                                                                     \
	"{\"channel\":\"" ch "\",\"id\":\"" id "\",\"event\":null,\"data\":\"" data "\"}"
/* The gap control JSON for channel ch resumed from last; first is the
 * first id held as JSON (Q(...) or "null"). */
#define GAP_JSON(ch, last, first, why)                                                             \
	"{\"type\":\"gap\",\"channel\":\"" ch "\",\"last_event_id\":\"" last                       \
	"\",\"first_id\":" first ",\"reason\":\"" why "\"}"
/* The header note of the same gap; first is an id or "none". */
#define NOTE(ch, why, first) ch "; reason=" why "; first_id=" first

/* Per-test world: a hub, the fakes and up to MAX_SUBS streams. */
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

/* A world whose hub has lim, its clock replaced by the fake one, set to
 * t0 when the hub is made: the hub starts at "<t0>-0". */
static inline env *env_at(sg_hub_limits lim, int64_t t0)
{
	env *e = calloc(1, sizeof(*e));
	assert_non_null(e);
	fake_loop_init(&e->loop);
	e->streams = sg_stream_live();
	e->msgs = sg_msg_live();
	e->frames = sg_frame_live();
	fake_clock_set(t0);
	lim.clock_ms = fake_clock_ms;
	e->hub = sg_hub_new(&lim);
	assert_non_null(e->hub);
	return e;
}

/* A world whose hub has lim, starting at T0. */
static inline env *env_with(sg_hub_limits lim)
{
	return env_at(lim, T0);
}

static inline env *env_new(size_t history_count, size_t history_bytes)
{
	return env_with(
	    (sg_hub_limits){.history_count = history_count, .history_bytes = history_bytes});
}

static inline int env_setup(void **state)
{
	*state = env_new(16, 1 << 20);
	return 0;
}

static inline void sub_detach(env *e, size_t i, int errored)
{
	assert_true(e->attached[i]);
	e->attached[i] = 0;
	sg__stream_detach(e->subs[i], errored);
}

/* Detaches what is left and frees the hub. */
static inline void env_release(env *e)
{
	for (size_t i = 0; i < e->nsubs; i++)
		if (e->attached[i])
			sub_detach(e, i, 0);
	sg_hub_free(e->hub);
	e->hub = NULL;
}

/* Checks nothing is alive and frees e (its hub released). Several worlds
 * alive at once release every hub before finishing any. */
static inline void env_finish(env *e)
{
	fake_loop_finish(&e->loop, e->streams, e->msgs, e->frames);
	free(e);
}

/* Detaches what is left, frees the hub and checks nothing is alive. */
static inline void env_free(env *e)
{
	env_release(e);
	env_finish(e);
}

static inline int env_teardown(void **state)
{
	env_free(*state);
	return 0;
}

/* A new stream (slot i in e) in state NEW: its headers are not out, so
 * control notes are kept for them. */
static inline size_t stream_add_new(env *e, const sg_transport *t, size_t queue_bytes,
                                    sg_slow_policy p)
{
	assert_true(e->nsubs < MAX_SUBS);
	size_t i = e->nsubs++;
	sg_stream_limits lim = {.queue_bytes = queue_bytes, .policy = p};
	e->subs[i] = sg__stream_new(t, &e->loop.base, fake_sink(), &e->conns[i], &lim, &e->ctr);
	assert_non_null(e->subs[i]);
	e->attached[i] = 1;
	return i;
}

/* A new open stream (slot i in e) with the given queue policy. */
static inline size_t stream_add(env *e, const sg_transport *t, size_t queue_bytes, sg_slow_policy p)
{
	size_t i = stream_add_new(e, t, queue_bytes, p);
	sg__stream_opened(e->subs[i]);
	return i;
}

/* A new open stream subscribed to channel; returns its slot. */
static inline size_t sub_add(env *e, const sg_transport *t, const char *channel,
                             const char *last_id)
{
	size_t i = stream_add(e, t, 1 << 20, SG_SLOW_DROP_OLDEST);
	assert_int_equal(sg_hub_subscribe(e->hub, e->subs[i], channel, last_id), 0);
	return i;
}

static inline int publish(env *e, const char *channel, const char *event, const char *id,
                          const char *data, sg_publish_result *res)
{
	sg_publish_req req = {
	    .channel = channel, .event = event, .id = id, .data = data, .len = strlen(data)};
	return sg_hub_publish(e->hub, &req, res);
}

/* Publishes "m<from>" .. "m<to>" to channel. */
static inline void publish_n(env *e, const char *channel, int from, int to)
{
	char d[16];
	for (int i = from; i <= to; i++) {
		snprintf(d, sizeof(d), "m%d", i);
		assert_int_equal(publish(e, channel, NULL, NULL, d, NULL), 0);
	}
}

/* The i-th frame queued for subscriber sub is exactly want. */
static inline void assert_frame(env *e, size_t sub, size_t i, const char *want)
{
	assert_queued(e->subs[sub], i, want);
}

/* Everything queued for subscriber sub, concatenated, is exactly want. */
static inline void assert_all_frames(env *e, size_t sub, const char *want)
{
	static char text[8192];
	assert_string_equal(queue_text(e->subs[sub], text, sizeof(text)), want);
}

static inline sg_channel_info info(env *e, const char *channel)
{
	sg_channel_info ci;
	memset(&ci, 0xab, sizeof(ci));
	assert_int_equal(sg_hub_channel_info(e->hub, channel, &ci), 0);
	return ci;
}

/* id's text form is want. */
static inline void assert_id(sg_id id, const char *want)
{
	char text[SG_ID_TEXT_MAX];
	sg_id_format(id, text);
	assert_string_equal(text, want);
}

#endif
