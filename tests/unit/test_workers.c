/*
 * test_workers — the workers broker without threads or sockets: two or
 * three workers, each a hub_env world (hub, fake loop, streams) with its
 * broker, on one bus, all on the test thread; a worker's loop runs the
 * drain it was posted only when the test drains it. Ids in one order
 * across workers and delivery to every hub in that order, explicit ids,
 * resuming on one worker from an id given on another, info and delete
 * across workers, the subscriber directory, max_channels, and freeing
 * with work still in an inbox.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "core/broker.h"
#include "hub_env.h"

#define MAX_WORKERS 3
/* How far the hubs' clock stands ahead of the real one. The bus takes the
 * hubs' start as its last id and mints from the real clock, so while the
 * test runs shorter than this its ids are "<base>-1", "<base>-2", ... */
#define AHEAD_MS 30000

/* Workers sharing one bus: w[i] is worker i's hub, loop and streams, b[i]
 * its broker. Owns all of them. */
typedef struct world {
	env *w[MAX_WORKERS];
	sg_broker *b[MAX_WORKERS];
	size_t n;
	sg_bus *bus;
	uint64_t base; /* the hubs' clock: the ms of every id the bus mints */
} world;

static int64_t real_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* n workers whose hubs have lim. Caller frees with world_free. */
static world *world_new(size_t n, sg_hub_limits lim)
{
	world *ws = calloc(1, sizeof(*ws));
	assert_non_null(ws);
	ws->n = n;
	ws->base = (uint64_t)(real_ms() + AHEAD_MS);
	for (size_t i = 0; i < n; i++)
		ws->w[i] = env_at(lim, (int64_t)ws->base);
	ws->bus = sg_bus_new();
	assert_non_null(ws->bus);
	for (size_t i = 0; i < n; i++) {
		ws->b[i] = sg_broker_workers_new(ws->bus, ws->w[i]->hub, &ws->w[i]->loop.base);
		assert_non_null(ws->b[i]);
	}
	return ws;
}

/* Frees the brokers, then the bus, then every hub, and checks nothing is
 * alive. No drain may be left queued: it would outlive its broker. */
static void world_free(world *ws)
{
	for (size_t i = 0; i < ws->n; i++)
		assert_int_equal(fake_loop_pending(&ws->w[i]->loop), 0);
	for (size_t i = 0; i < ws->n; i++)
		ws->b[i]->ops->free(ws->b[i]);
	sg_bus_free(ws->bus);
	for (size_t i = 0; i < ws->n; i++)
		env_release(ws->w[i]);
	for (size_t i = 0; i < ws->n; i++)
		env_finish(ws->w[i]);
	free(ws);
}

static const sg_hub_limits default_limits = {.history_count = 16, .history_bytes = 1 << 20};

static int two_setup(void **state)
{
	*state = world_new(2, default_limits);
	return 0;
}

static int three_setup(void **state)
{
	*state = world_new(3, default_limits);
	return 0;
}

/* Two workers whose hubs hold two channels at most. */
static int two_small_setup(void **state)
{
	sg_hub_limits lim = default_limits;
	lim.max_channels = 2;
	*state = world_new(2, lim);
	return 0;
}

static int world_teardown(void **state)
{
	world_free(*state);
	return 0;
}

/* Every worker's loop runs what was posted to it. */
static void drain_all(world *ws)
{
	for (size_t i = 0; i < ws->n; i++)
		fake_loop_drain(&ws->w[i]->loop);
}

/* Publishes data (borrowed) through b; id NULL: the bus gives one. */
static int publish_on(sg_broker *b, const char *channel, const char *id, const char *data,
                      sg_publish_result *res)
{
	sg_publish_req req = {.channel = channel, .id = id, .data = data, .len = strlen(data)};
	return sg_broker_publish(b, &req, res);
}

/* Publishes "m<from>" .. "m<to>" to channel through b. */
static void publish_on_n(sg_broker *b, const char *channel, int from, int to)
{
	char d[16];
	for (int i = from; i <= to; i++) {
		snprintf(d, sizeof(d), "m%d", i);
		assert_int_equal(publish_on(b, channel, NULL, d, NULL), 0);
	}
}

/* "<ms>-<seq>" into out (SG_ID_TEXT_MAX bytes). */
static const char *id_text(uint64_t ms, uint64_t seq, char *out)
{
	sg_id_format((sg_id){ms, seq}, out);
	return out;
}

/* The SSE frames of "m<from>" .. "m<to>", each with the id the bus gave
 * it ("<base>-<k>" for "m<k>"), concatenated into out (cap bytes). */
static const char *sse_run(const world *ws, int from, int to, char *out, size_t cap)
{
	size_t n = 0;
	out[0] = '\0';
	for (int k = from; k <= to; k++) {
		n += (size_t)snprintf(out + n, cap - n, "id: %llu-%d\ndata: m%d\n\n",
		                      (unsigned long long)ws->base, k, k);
		assert_true(n < cap);
	}
	return out;
}

/* What a broker's info says about channel (which must exist). */
static sg_channel_info broker_info(sg_broker *b, const char *channel)
{
	sg_channel_info ci;
	memset(&ci, 0xab, sizeof(ci));
	assert_int_equal(sg_broker_info(b, channel, &ci), 0);
	return ci;
}

/* ---- publishing ---------------------------------------------------------- */

static void test_publish_reaches_every_worker(void **state)
{
	world *ws = *state;
	env *a = ws->w[0], *b = ws->w[1];
	char id[SG_ID_TEXT_MAX], want[1024];
	assert_string_equal(ws->b[0]->ops->name, "workers");
	assert_ptr_equal(ws->b[1]->hub, b->hub);
	size_t as[2], bs[3];
	for (size_t i = 0; i < 2; i++)
		as[i] = sub_add(a, &sg_transport_sse, "news", NULL);
	for (size_t i = 0; i < 3; i++)
		bs[i] = sub_add(b, &sg_transport_sse, "news", NULL);
	size_t other = sub_add(b, &sg_transport_sse, "sports", NULL);
	/* the answer counts the subscribers of every worker */
	sg_publish_result res;
	memset(&res, 0xab, sizeof(res));
	assert_int_equal(publish_on(ws->b[0], "news", NULL, "m1", &res), 0);
	assert_string_equal(res.id, id_text(ws->base, 1, id));
	assert_int_equal(res.subscribers, 5);
	/* A's subscribers have it at once, B's once B's loop turns */
	sse_run(ws, 1, 1, want, sizeof(want));
	for (size_t i = 0; i < 2; i++)
		assert_all_frames(a, as[i], want);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(sg__stream_queued(b->subs[bs[i]]), 0);
	assert_int_equal(info(b, "news").history_count, 0);
	assert_int_equal(fake_loop_drain(&b->loop), 1);
	for (size_t i = 0; i < 3; i++)
		assert_all_frames(b, bs[i], want);
	assert_int_equal(sg__stream_queued(b->subs[other]), 0);
	/* only B's subscribers, or nobody's */
	assert_int_equal(publish_on(ws->b[0], "sports", NULL, "m2", &res), 0);
	assert_string_equal(res.id, id_text(ws->base, 2, id));
	assert_int_equal(res.subscribers, 1);
	assert_int_equal(publish_on(ws->b[0], "nobody", NULL, "m3", &res), 0);
	assert_int_equal(res.subscribers, 0);
	assert_int_equal(fake_loop_drain(&b->loop), 1);
	assert_all_frames(b, other, sse_run(ws, 2, 2, want, sizeof(want)));
	/* both hubs hold the same history, each its own subscribers */
	sg_channel_info ha = info(a, "news"), hb = info(b, "news");
	assert_int_equal(ha.subscribers, 2);
	assert_int_equal(hb.subscribers, 3);
	assert_int_equal(hb.history_count, 1);
	assert_id(hb.last_id, id_text(ws->base, 1, id));
	assert_int_equal(sg_hub_channel_count(a->hub), 3);
	assert_int_equal(sg_hub_channel_count(b->hub), 3);
	/* the broker's info counts every worker's subscribers */
	sg_channel_info ci = broker_info(ws->b[0], "news");
	assert_int_equal(ci.subscribers, 5);
	assert_int_equal(ci.history_count, 1);
	assert_int_equal(ci.history_bytes, 2);
}

static void test_one_drain_per_wake(void **state)
{
	world *ws = *state;
	env *a = ws->w[0], *b = ws->w[1];
	char want[1024];
	size_t s = sub_add(b, &sg_transport_sse, "c", NULL);
	/* several publishes before B's loop turns: one drain on its way, and
	 * none posted to the publisher itself */
	publish_on_n(ws->b[0], "c", 1, 3);
	assert_int_equal(b->loop.posted, 1);
	assert_int_equal(fake_loop_pending(&b->loop), 1);
	assert_int_equal(a->loop.posted, 0);
	assert_int_equal(sg__stream_queued(b->subs[s]), 0);
	assert_int_equal(fake_loop_drain(&b->loop), 1);
	assert_all_frames(b, s, sse_run(ws, 1, 3, want, sizeof(want)));
	/* once it ran, the next publish posts a new one */
	publish_on_n(ws->b[0], "c", 4, 5);
	assert_int_equal(b->loop.posted, 2);
	assert_int_equal(fake_loop_drain(&b->loop), 1);
	assert_all_frames(b, s, sse_run(ws, 1, 5, want, sizeof(want)));
	assert_int_equal(a->loop.posted, 0);
}

static void test_order_across_workers(void **state)
{
	world *ws = *state;
	char id[SG_ID_TEXT_MAX], want[1024], data[16];
	size_t sse[MAX_WORKERS], chunked[MAX_WORKERS];
	for (size_t i = 0; i < 3; i++) {
		sse[i] = sub_add(ws->w[i], &sg_transport_sse, "c", NULL);
		chunked[i] = sub_add(ws->w[i], &sg_transport_chunked, "c", NULL);
	}
	/* alternating publishers, no loop turning in between */
	const size_t from[] = {0, 1, 2, 0, 1, 2, 1, 0, 0, 2};
	sg_id prev = {0, 0};
	for (int k = 1; k <= 10; k++) {
		size_t w = from[k - 1];
		sg_publish_result res;
		snprintf(data, sizeof(data), "m%d", k);
		assert_int_equal(publish_on(ws->b[w], "c", NULL, data, &res), 0);
		assert_string_equal(res.id, id_text(ws->base, (uint64_t)k, id));
		assert_int_equal(res.subscribers, 6);
		sg_id got;
		assert_int_equal(sg_id_parse(res.id, &got), 0);
		assert_true(sg_id_cmp(got, prev) > 0);
		prev = got;
		/* a publisher first takes in what came before: its subscribers
		 * have everything up to this one, in order */
		assert_all_frames(ws->w[w], sse[w], sse_run(ws, 1, k, want, sizeof(want)));
	}
	/* worker 1 last published m7: it has seen nothing after it yet */
	assert_all_frames(ws->w[1], sse[1], sse_run(ws, 1, 7, want, sizeof(want)));
	drain_all(ws);
	for (size_t i = 0; i < 3; i++) {
		env *e = ws->w[i];
		assert_int_equal(sg__stream_queued(e->subs[sse[i]]), 10);
		assert_all_frames(e, sse[i], sse_run(ws, 1, 10, want, sizeof(want)));
		assert_all_frames(e, chunked[i], "m1\nm2\nm3\nm4\nm5\nm6\nm7\nm8\nm9\nm10\n");
		sg_channel_info ci = info(e, "c");
		assert_int_equal(ci.history_count, 10);
		assert_id(ci.first_id, id_text(ws->base, 1, id));
		assert_id(ci.last_id, id_text(ws->base, 10, id));
		assert_id(sg_hub_last(e->hub), id_text(ws->base, 10, id));
	}
}

static void test_explicit_ids(void **state)
{
	world *ws = *state;
	env *a = ws->w[0], *b = ws->w[1];
	sg_broker *ba = ws->b[0], *bb = ws->b[1];
	char id[SG_ID_TEXT_MAX], later[SG_ID_TEXT_MAX], want[1024];
	size_t sa = sub_add(a, &sg_transport_sse, "c", NULL);
	size_t sb = sub_add(b, &sg_transport_sse, "c", NULL);
	sg_publish_result res;
	/* an id above the last one given anywhere is taken as it is */
	assert_int_equal(publish_on(ba, "c", id_text(ws->base, 5, id), "five", &res), 0);
	assert_string_equal(res.id, id_text(ws->base, 5, id));
	assert_int_equal(res.subscribers, 2);
	/* not above the last one given by either worker: stale, wherever */
	memset(&res, 0, sizeof(res));
	assert_int_equal(publish_on(bb, "c", id_text(ws->base, 5, id), "x", &res), SG_EID_STALE);
	assert_int_equal(publish_on(bb, "c", id_text(ws->base, 4, id), "x", &res), SG_EID_STALE);
	assert_int_equal(publish_on(ba, "c", id_text(ws->base, 5, id), "x", &res), SG_EID_STALE);
	assert_int_equal(publish_on(bb, "c", id_text(ws->base - 1, 99, id), "x", &res),
	                 SG_EID_STALE);
	assert_int_equal(publish_on(ba, "c", "0", "x", &res), SG_EID_STALE);
	assert_string_equal(res.id, "");
	/* the bus goes on from it, on every worker */
	assert_int_equal(publish_on(bb, "c", NULL, "six", &res), 0);
	assert_string_equal(res.id, id_text(ws->base, 6, id));
	/* a later millisecond given on B; then A goes on from it */
	id_text(ws->base + 1000, 0, later);
	assert_int_equal(publish_on(bb, "c", later, "later", &res), 0);
	assert_string_equal(res.id, later);
	assert_int_equal(publish_on(ba, "c", NULL, "after", &res), 0);
	assert_string_equal(res.id, id_text(ws->base + 1000, 1, id));
	assert_int_equal(publish_on(bb, "c", id, "x", &res), SG_EID_STALE);
	assert_int_equal(publish_on(ba, "c", later, "x", &res), SG_EID_STALE);
	/* malformed, or over a minute ahead of the clock: SG_EINVAL */
	const char *bad[] = {"abc",   "-12",   "",     "12",
	                     "1000-", "1-2-3", " 5-1", "18446744073709551616-0"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(publish_on(ba, "c", bad[i], "x", &res), SG_EINVAL);
		assert_int_equal(publish_on(bb, "c", bad[i], "x", &res), SG_EINVAL);
	}
	assert_int_equal(publish_on(ba, "c", id_text(ws->base + 100000, 0, id), "x", &res),
	                 SG_EINVAL);
	/* bad channel or event names: SG_EINVAL */
	const char *names[] = {"", "a b", "a/b", "a,b"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		assert_int_equal(publish_on(ba, names[i], NULL, "x", &res), SG_EINVAL);
		assert_int_equal(publish_on(bb, names[i], NULL, "x", &res), SG_EINVAL);
	}
	sg_publish_req two_lines = {.channel = "c", .event = "a\nb", .data = "x", .len = 1};
	assert_int_equal(sg_broker_publish(ba, &two_lines, &res), SG_EINVAL);
	assert_int_equal(sg_broker_publish(bb, &two_lines, &res), SG_EINVAL);
	/* refused publishes used no id and reached nobody */
	assert_int_equal(publish_on(bb, "c", NULL, "last", &res), 0);
	assert_string_equal(res.id, id_text(ws->base + 1000, 2, id));
	drain_all(ws);
	unsigned long long base = (unsigned long long)ws->base;
	snprintf(want, sizeof(want),
	         "id: %llu-5\ndata: five\n\n"
	         "id: %llu-6\ndata: six\n\n"
	         "id: %llu-0\ndata: later\n\n"
	         "id: %llu-1\ndata: after\n\n"
	         "id: %llu-2\ndata: last\n\n",
	         base, base, base + 1000, base + 1000, base + 1000);
	assert_all_frames(a, sa, want);
	assert_all_frames(b, sb, want);
	assert_int_equal(info(a, "c").history_count, 5);
	assert_id(info(b, "c").last_id, id_text(ws->base + 1000, 2, id));
	assert_int_equal(sg_hub_channel_count(a->hub), 1);
	assert_int_equal(sg_hub_channel_count(b->hub), 1);
}

/* ---- subscribing, info and delete ----------------------------------------- */

static void test_resume_from_another_worker(void **state)
{
	world *ws = *state;
	env *b = ws->w[1];
	char id[SG_ID_TEXT_MAX], want[1024];
	publish_on_n(ws->b[0], "c", 1, 4);
	/* B's loop has not turned: its hub has not seen any of it */
	assert_int_equal(sg_hub_channel_count(b->hub), 0);
	assert_int_equal(fake_loop_pending(&b->loop), 1);
	/* resuming on B from an id A gave: B takes in its inbox first, so the
	 * replay is exactly what came after it, with no gap */
	size_t r = stream_add_new(b, &sg_transport_sse, 1 << 20, SG_SLOW_DROP_OLDEST);
	assert_int_equal(sg_hub_subscribe(b->hub, b->subs[r], "c", id_text(ws->base, 2, id)), 0);
	assert_all_frames(b, r, sse_run(ws, 3, 4, want, sizeof(want)));
	assert_null(sg__stream_notes(b->subs[r]));
	assert_id(sg__stream_last(b->subs[r]), id_text(ws->base, 4, id));
	/* from "0": all of it; from the newest: nothing; neither has a gap */
	size_t all = stream_add_new(b, &sg_transport_sse, 1 << 20, SG_SLOW_DROP_OLDEST);
	assert_int_equal(sg_hub_subscribe(b->hub, b->subs[all], "c", "0"), 0);
	assert_all_frames(b, all, sse_run(ws, 1, 4, want, sizeof(want)));
	assert_null(sg__stream_notes(b->subs[all]));
	size_t at = stream_add_new(b, &sg_transport_sse, 1 << 20, SG_SLOW_DROP_OLDEST);
	assert_int_equal(sg_hub_subscribe(b->hub, b->subs[at], "c", id_text(ws->base, 4, id)), 0);
	assert_int_equal(sg__stream_queued(b->subs[at]), 0);
	assert_null(sg__stream_notes(b->subs[at]));
	/* a plain subscribe on B starts after what A published before it */
	size_t live = sub_add(b, &sg_transport_sse, "c", NULL);
	assert_id(sg__stream_last(b->subs[live]), id_text(ws->base, 4, id));
	assert_int_equal(info(b, "c").history_count, 4);
	/* live messages follow once each: from A, then from B itself */
	publish_on_n(ws->b[0], "c", 5, 5);
	publish_on_n(ws->b[1], "c", 6, 6);
	drain_all(ws);
	assert_all_frames(b, r, sse_run(ws, 3, 6, want, sizeof(want)));
	assert_all_frames(b, all, sse_run(ws, 1, 6, want, sizeof(want)));
	assert_all_frames(b, at, sse_run(ws, 5, 6, want, sizeof(want)));
	assert_all_frames(b, live, sse_run(ws, 5, 6, want, sizeof(want)));
	assert_int_equal(info(ws->w[0], "c").history_count, 6);
	assert_int_equal(info(b, "c").history_count, 6);
}

static void test_info_across_workers(void **state)
{
	world *ws = *state;
	env *a = ws->w[0], *b = ws->w[1];
	char id[SG_ID_TEXT_MAX];
	sub_add(a, &sg_transport_ws, "only-a", NULL);
	sub_add(a, &sg_transport_ws, "only-a", NULL);
	/* B knows the channel through the directory alone */
	sg_channel_info ci = broker_info(ws->b[1], "only-a");
	assert_int_equal(ci.subscribers, 2);
	assert_int_equal(ci.history_count, 0);
	assert_int_equal(ci.history_bytes, 0);
	assert_id(ci.first_id, "0");
	assert_id(ci.last_id, "0");
	assert_int_equal(sg_hub_channel_info(b->hub, "only-a", &ci), SG_ENOTFOUND);
	ci = broker_info(ws->b[0], "only-a");
	assert_int_equal(ci.subscribers, 2);
	assert_int_equal(ci.history_count, 0);
	/* nobody anywhere: not found on either */
	assert_int_equal(sg_broker_info(ws->b[0], "nothing", &ci), SG_ENOTFOUND);
	assert_int_equal(sg_broker_info(ws->b[1], "nothing", &ci), SG_ENOTFOUND);
	/* a publish on A shows on B at once: B's info takes its inbox in */
	sg_publish_result res;
	assert_int_equal(publish_on(ws->b[0], "only-a", NULL, "hello", &res), 0);
	assert_int_equal(res.subscribers, 2);
	assert_int_equal(fake_loop_pending(&b->loop), 1);
	ci = broker_info(ws->b[1], "only-a");
	assert_int_equal(ci.subscribers, 2);
	assert_int_equal(ci.history_count, 1);
	assert_int_equal(ci.history_bytes, 5);
	assert_id(ci.first_id, id_text(ws->base, 1, id));
	assert_id(ci.last_id, id_text(ws->base, 1, id));
	assert_int_equal(info(b, "only-a").history_count, 1);
	assert_int_equal(info(b, "only-a").subscribers, 0);
	/* a subscriber on B counts on both */
	sub_add(b, &sg_transport_ws, "only-a", NULL);
	assert_int_equal(broker_info(ws->b[0], "only-a").subscribers, 3);
	assert_int_equal(broker_info(ws->b[1], "only-a").subscribers, 3);
	/* the drain posted to B finds nothing left to do */
	assert_int_equal(fake_loop_drain(&b->loop), 1);
	assert_int_equal(info(b, "only-a").history_count, 1);
}

static void test_remove_across_workers(void **state)
{
	world *ws = *state;
	env *a = ws->w[0], *b = ws->w[1];
	size_t ac[2], bc[3];
	for (size_t i = 0; i < 2; i++)
		ac[i] = sub_add(a, &sg_transport_sse, "c", NULL);
	for (size_t i = 0; i < 3; i++)
		bc[i] = sub_add(b, &sg_transport_sse, "c", NULL);
	size_t ak = sub_add(a, &sg_transport_sse, "keep", NULL);
	size_t bk = sub_add(b, &sg_transport_sse, "keep", NULL);
	publish_on_n(ws->b[0], "c", 1, 1);
	assert_int_equal(fake_loop_drain(&b->loop), 1);
	/* the answer counts every worker's subscribers */
	size_t n = 99;
	assert_int_equal(sg_broker_remove(ws->b[0], "c", &n), 0);
	assert_int_equal(n, 5);
	/* A's streams are closed cleanly at once, B's once B's loop turns */
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(a->conns[ac[i]].ends, 1);
		assert_int_equal(a->conns[ac[i]].end_abort, 0);
		assert_int_equal(sg__stream_state(a->subs[ac[i]]), SG_STREAM_CLOSING);
		assert_int_equal(sg__stream_nsubs(a->subs[ac[i]]), 0);
		assert_int_equal(sg__stream_queued(a->subs[ac[i]]), 1);
	}
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(b->conns[bc[i]].ends, 0);
		assert_int_equal(sg__stream_state(b->subs[bc[i]]), SG_STREAM_OPEN);
	}
	assert_int_equal(fake_loop_pending(&b->loop), 1);
	assert_int_equal(fake_loop_drain(&b->loop), 1);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(b->conns[bc[i]].ends, 1);
		assert_int_equal(b->conns[bc[i]].end_abort, 0);
		assert_int_equal(sg__stream_state(b->subs[bc[i]]), SG_STREAM_CLOSING);
		assert_int_equal(sg__stream_nsubs(b->subs[bc[i]]), 0);
	}
	assert_int_equal(a->conns[ak].ends, 0);
	assert_int_equal(b->conns[bk].ends, 0);
	/* gone everywhere; the other channel lives on */
	sg_channel_info ci;
	assert_int_equal(sg_broker_info(ws->b[0], "c", &ci), SG_ENOTFOUND);
	assert_int_equal(sg_broker_info(ws->b[1], "c", &ci), SG_ENOTFOUND);
	assert_int_equal(sg_hub_channel_count(a->hub), 1);
	assert_int_equal(sg_hub_channel_count(b->hub), 1);
	assert_int_equal(broker_info(ws->b[1], "keep").subscribers, 2);
}

static void test_remove_unknown(void **state)
{
	world *ws = *state;
	env *a = ws->w[0], *b = ws->w[1];
	char id[SG_ID_TEXT_MAX];
	publish_on_n(ws->b[0], "c", 1, 1);
	size_t n = 99;
	assert_int_equal(sg_broker_remove(ws->b[1], "c", &n), 0);
	assert_int_equal(n, 0);
	drain_all(ws);
	/* deleting it again, or what never was, is not found, on either */
	char long_name[200];
	memset(long_name, 'x', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	const char *unknown[] = {"c", "missing", "a b", long_name};
	n = 99;
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		assert_int_equal(sg_broker_remove(ws->b[0], unknown[i], &n), SG_ENOTFOUND);
		assert_int_equal(sg_broker_remove(ws->b[1], unknown[i], &n), SG_ENOTFOUND);
	}
	assert_int_equal(n, 99);
	assert_int_equal(fake_loop_pending(&a->loop), 0);
	assert_int_equal(fake_loop_pending(&b->loop), 0);
	/* a publish makes the channel anew, with nobody on it; ids go on */
	sg_publish_result res;
	assert_int_equal(publish_on(ws->b[1], "c", NULL, "again", &res), 0);
	assert_string_equal(res.id, id_text(ws->base, 2, id));
	assert_int_equal(res.subscribers, 0);
	assert_int_equal(broker_info(ws->b[0], "c").history_count, 1);
	/* a channel only B's subscribers know is deleted through A as well */
	size_t s = sub_add(b, &sg_transport_sse, "only-b", NULL);
	assert_int_equal(sg_broker_remove(ws->b[0], "only-b", &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(b->conns[s].ends, 0);
	drain_all(ws);
	assert_int_equal(b->conns[s].ends, 1);
	sg_channel_info ci;
	assert_int_equal(sg_broker_info(ws->b[0], "only-b", &ci), SG_ENOTFOUND);
	assert_int_equal(sg_broker_info(ws->b[1], "only-b", &ci), SG_ENOTFOUND);
}

/* ---- the subscriber directory --------------------------------------------- */

/* How many subscribers a publish to channel through b reaches. */
static size_t subscribers_now(sg_broker *b, const char *channel)
{
	sg_publish_result res;
	assert_int_equal(publish_on(b, channel, NULL, "x", &res), 0);
	return res.subscribers;
}

static void test_directory_follows_subscribers(void **state)
{
	world *ws = *state;
	env *a = ws->w[0], *b = ws->w[1];
	size_t a1 = sub_add(a, &sg_transport_ws, "c", NULL);
	size_t a2 = sub_add(a, &sg_transport_ws, "c", NULL);
	size_t b1 = sub_add(b, &sg_transport_ws, "c", NULL);
	size_t b2 = sub_add(b, &sg_transport_ws, "c", NULL);
	assert_int_equal(sg_hub_subscribe(b->hub, b->subs[b2], "d", NULL), 0);
	assert_int_equal(subscribers_now(ws->b[0], "c"), 4);
	assert_int_equal(subscribers_now(ws->b[1], "d"), 1);
	/* subscribing twice counts once */
	assert_int_equal(sg_hub_subscribe(b->hub, b->subs[b1], "c", NULL), 0);
	assert_int_equal(subscribers_now(ws->b[0], "c"), 4);
	/* unsubscribing counts down; what was not subscribed changes nothing */
	assert_int_equal(sg_hub_unsubscribe(a->hub, a->subs[a1], "c"), 0);
	assert_int_equal(sg_hub_unsubscribe(a->hub, a->subs[a1], "c"), SG_ENOTFOUND);
	assert_int_equal(sg_hub_unsubscribe(a->hub, a->subs[a1], "d"), SG_ENOTFOUND);
	assert_int_equal(subscribers_now(ws->b[1], "c"), 3);
	/* a stream that goes leaves every channel it had */
	sub_detach(b, b2, 0);
	assert_int_equal(subscribers_now(ws->b[0], "c"), 2);
	assert_int_equal(subscribers_now(ws->b[0], "d"), 0);
	sub_detach(a, a2, 1);
	assert_int_equal(subscribers_now(ws->b[1], "c"), 1);
	sub_detach(b, b1, 0);
	assert_int_equal(subscribers_now(ws->b[0], "c"), 0);
	/* a subscribe refused all or nothing leaves no count behind */
	size_t many = stream_add(a, &sg_transport_ws, 1 << 20, SG_SLOW_DROP_OLDEST);
	char name[16];
	for (int i = 0; i < SG_SUBSCRIBE_MAX - 1; i++) {
		snprintf(name, sizeof(name), "c%d", i);
		assert_int_equal(sg_hub_subscribe(a->hub, a->subs[many], name, NULL), 0);
	}
	const char *two[] = {"y", "z"};
	assert_int_equal(sg_hub_subscribe_many(a->hub, a->subs[many], two, 2, NULL), SG_ETOOBIG);
	sg_channel_info ci;
	assert_int_equal(sg_broker_info(ws->b[1], "y", &ci), SG_ENOTFOUND);
	assert_int_equal(broker_info(ws->b[1], "c14").subscribers, 1);
	/* a channel known only through its subscribers goes with them */
	sub_detach(a, many, 0);
	assert_int_equal(sg_broker_info(ws->b[1], "c14", &ci), SG_ENOTFOUND);
	/* the history stays: found, with nobody */
	ci = broker_info(ws->b[1], "c");
	assert_int_equal(ci.subscribers, 0);
	assert_int_equal(ci.history_count, 6);
	drain_all(ws);
}

/* ---- limits ----------------------------------------------------------------- */

static void test_max_channels_counts_inbox(void **state)
{
	world *ws = *state;
	env *a = ws->w[0], *b = ws->w[1];
	sg_broker *ba = ws->b[0], *bb = ws->b[1];
	char id[SG_ID_TEXT_MAX];
	sg_publish_result res;
	publish_on_n(ba, "a", 1, 1);
	assert_int_equal(fake_loop_drain(&b->loop), 1);
	/* B makes a second channel; A's loop has not turned, but A answers for
	 * its hub with it: full, so a third channel is refused there too */
	assert_int_equal(publish_on(bb, "b", NULL, "x", &res), 0);
	assert_string_equal(res.id, id_text(ws->base, 2, id));
	assert_int_equal(sg_hub_channel_count(b->hub), 2);
	assert_int_equal(publish_on(ba, "c", NULL, "x", &res), SG_ETOOBIG);
	assert_int_equal(publish_on(ba, "c", id_text(ws->base, 9, id), "x", &res), SG_ETOOBIG);
	assert_int_equal(publish_on(bb, "c", NULL, "x", &res), SG_ETOOBIG);
	fake_loop_drain(&a->loop);
	assert_int_equal(sg_hub_channel_count(a->hub), 2);
	assert_int_equal(sg_hub_channel_count(b->hub), 2);
	/* the refused ones used no id; known channels take publishes anywhere */
	assert_int_equal(publish_on(bb, "a", NULL, "x", &res), 0);
	assert_string_equal(res.id, id_text(ws->base, 3, id));
	assert_int_equal(publish_on(ba, "b", NULL, "x", &res), 0);
	assert_string_equal(res.id, id_text(ws->base, 4, id));
	/* room again once a channel is deleted everywhere */
	size_t n;
	assert_int_equal(sg_broker_remove(bb, "a", &n), 0);
	assert_int_equal(publish_on(ba, "c", NULL, "x", &res), 0);
	assert_string_equal(res.id, id_text(ws->base, 5, id));
	drain_all(ws);
	assert_int_equal(info(b, "c").history_count, 1);
	assert_int_equal(sg_hub_channel_count(a->hub), 2);
	assert_int_equal(sg_hub_channel_count(b->hub), 2);
}

static void test_max_channels_per_worker(void **state)
{
	world *ws = *state;
	env *a = ws->w[0], *b = ws->w[1];
	sg_broker *ba = ws->b[0], *bb = ws->b[1];
	char id[SG_ID_TEXT_MAX];
	sg_publish_result res;
	publish_on_n(ba, "a", 1, 1);
	/* B's own subscriber fills B's hub: B refuses a new channel, A not */
	size_t s = sub_add(b, &sg_transport_ws, "mine", NULL);
	assert_int_equal(sg_hub_channel_count(b->hub), 2);
	assert_int_equal(publish_on(bb, "c", NULL, "x", &res), SG_ETOOBIG);
	assert_int_equal(publish_on(ba, "c", NULL, "x", &res), 0);
	assert_string_equal(res.id, id_text(ws->base, 2, id));
	fake_loop_drain(&b->loop);
	/* B could not hold it, but its hub has seen the id go by */
	sg_channel_info ci;
	assert_int_equal(sg_hub_channel_info(b->hub, "c", &ci), SG_ENOTFOUND);
	assert_int_equal(sg_broker_info(bb, "c", &ci), SG_ENOTFOUND);
	assert_int_equal(info(a, "c").history_count, 1);
	assert_id(sg_hub_last(b->hub), id_text(ws->base, 2, id));
	/* a channel of B's own is refused on A, full, and served on B */
	assert_int_equal(publish_on(ba, "mine", NULL, "for-b", &res), SG_ETOOBIG);
	assert_int_equal(publish_on(bb, "mine", NULL, "for-b", &res), 0);
	assert_string_equal(res.id, id_text(ws->base, 3, id));
	assert_int_equal(res.subscribers, 1);
	assert_all_frames(b, s, "for-b");
	fake_loop_drain(&a->loop);
	assert_int_equal(sg_hub_channel_count(a->hub), 2);
	assert_int_equal(sg_hub_channel_info(a->hub, "mine", &ci), SG_ENOTFOUND);
}

/* ---- freeing ---------------------------------------------------------------- */

static void test_free_with_work_pending(void **state)
{
	world *ws = world_new(2, default_limits);
	env *a = ws->w[0], *b = ws->w[1];
	char want[1024];
	sub_add(a, &sg_transport_sse, "c", NULL);
	size_t sb = sub_add(b, &sg_transport_sse, "c", NULL);
	/* B's loop has stopped: B is not woken, its inbox waits */
	b->loop.stopped = 1;
	publish_on_n(ws->b[0], "c", 1, 2);
	assert_int_equal(b->loop.posted, 0);
	assert_int_equal(sg__stream_queued(b->subs[sb]), 0);
	/* whatever B answers next takes its inbox in first */
	sg_channel_info ci = broker_info(ws->b[1], "c");
	assert_int_equal(ci.history_count, 2);
	assert_int_equal(ci.subscribers, 2);
	assert_all_frames(b, sb, sse_run(ws, 1, 2, want, sizeof(want)));
	/* a publish and a delete still in B's inbox when everything goes */
	publish_on_n(ws->b[0], "c", 3, 3);
	publish_on_n(ws->b[0], "d", 4, 4);
	size_t n;
	assert_int_equal(sg_broker_remove(ws->b[0], "d", &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(sg__stream_queued(b->subs[sb]), 2);
	/* A holds m1..m3, B m1 and m2: one message each per hub */
	assert_int_equal(sg_msg_live(), a->msgs + 5);
	/* brokers, then bus, then hubs (streams still subscribed): nothing
	 * is left alive */
	world_free(ws);
	(void)state;
}

int main(void)
{
#define T2(fn) cmocka_unit_test_setup_teardown(fn, two_setup, world_teardown)
#define T3(fn) cmocka_unit_test_setup_teardown(fn, three_setup, world_teardown)
	const struct CMUnitTest tests[] = {
	    T2(test_publish_reaches_every_worker),
	    T2(test_one_drain_per_wake),
	    T3(test_order_across_workers),
	    T2(test_explicit_ids),
	    T2(test_resume_from_another_worker),
	    T2(test_info_across_workers),
	    T2(test_remove_across_workers),
	    T2(test_remove_unknown),
	    T2(test_directory_follows_subscribers),
	    cmocka_unit_test_setup_teardown(test_max_channels_counts_inbox, two_small_setup,
	                                    world_teardown),
	    cmocka_unit_test_setup_teardown(test_max_channels_per_worker, two_small_setup,
	                                    world_teardown),
	    cmocka_unit_test(test_free_with_work_pending),
	};
#undef T2
#undef T3
	return cmocka_run_group_tests(tests, NULL, NULL);
}
