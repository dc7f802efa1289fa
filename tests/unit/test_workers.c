/*
 * test_workers — the workers broker without threads or sockets, on the
 * world of workers_env.h: ids in one order across workers and delivery to
 * every hub in that order, explicit ids, max_channels and eviction (a
 * channel subscribed on another worker is kept), and freeing with
 * work still in an inbox. Channels seen across workers (resume, info,
 * delete, the subscriber directory, the sweep) are test_workers_channels.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "workers_env.h"

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
	assert_int_equal(broker_publish_now(ba, &two_lines, &res), SG_EINVAL);
	assert_int_equal(broker_publish_now(bb, &two_lines, &res), SG_EINVAL);
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

/* ---- limits ----------------------------------------------------------------- */

static int held(env *e, const char *channel)
{
	sg_channel_info ci;
	return sg_hub_channel_info(e->hub, channel, &ci) == 0;
}

/* A channel with no subscriber on a hub but some on another is not evicted
 * there: with every channel subscribed somewhere, a new one is refused;
 * and a publisher's hub counts what its inbox holds before it decides. */
static void test_max_channels_counts_inbox(void **state)
{
	world *ws = *state;
	env *a = ws->w[0], *b = ws->w[1];
	sg_broker *ba = ws->b[0], *bb = ws->b[1];
	char id[SG_ID_TEXT_MAX];
	sg_publish_result res;
	sub_add(a, &sg_transport_ws, "a", NULL);
	size_t sb = sub_add(b, &sg_transport_ws, "b", NULL);
	publish_on_n(ba, "a", 1, 1);
	assert_int_equal(fake_loop_drain(&b->loop), 1);
	/* B publishes to b; A's loop has not turned, but A answers for its hub
	 * with b in it: a and b have subscribers (b on B), so c is refused */
	assert_int_equal(publish_on(bb, "b", NULL, "x", &res), 0);
	assert_string_equal(res.id, id_text(ws->base, 2, id));
	assert_int_equal(publish_on(ba, "c", NULL, "x", &res), SG_ETOOBIG);
	assert_int_equal(publish_on(ba, "c", id_text(ws->base, 9, id), "x", &res), SG_ETOOBIG);
	assert_int_equal(publish_on(bb, "c", NULL, "x", &res), SG_ETOOBIG);
	fake_loop_drain(&a->loop);
	assert_int_equal(sg_hub_channel_count(a->hub), 2);
	assert_int_equal(sg_hub_channel_count(b->hub), 2);
	assert_int_equal(sg_hub_channels_evicted(a->hub), 0);
	assert_int_equal(sg_hub_channels_evicted(b->hub), 0);
	/* the refused ones used no id; known channels take publishes anywhere */
	assert_int_equal(publish_on(ba, "b", NULL, "x", &res), 0);
	assert_string_equal(res.id, id_text(ws->base, 3, id));
	assert_int_equal(res.subscribers, 1);
	/* b's subscriber on B goes: A's hub looks at b again at its sweep, and
	 * then c evicts b on A */
	sub_detach(b, sb, 0);
	assert_int_equal(sg_hub_sweep(a->hub, (int64_t)ws->base), 0);
	assert_int_equal(publish_on(ba, "c", NULL, "x", &res), 0);
	assert_string_equal(res.id, id_text(ws->base, 4, id));
	assert_false(held(a, "b"));
	assert_int_equal(sg_hub_channels_evicted(a->hub), 1);
	/* B evicts its own b too, not a (subscribed on A) */
	assert_int_equal(fake_loop_drain(&b->loop), 1);
	assert_false(held(b, "b"));
	assert_true(held(b, "a") && held(b, "c"));
	assert_int_equal(sg_hub_channels_evicted(b->hub), 1);
	assert_int_equal(info(b, "c").history_count, 1);
	drain_all(ws);
}

/* Each hub holds max_channels: one that cannot hold a channel (all its
 * channels subscribed) has seen its id go by; another evicts for it. */
static void test_max_channels_per_worker(void **state)
{
	world *ws = *state;
	env *a = ws->w[0], *b = ws->w[1];
	sg_broker *ba = ws->b[0], *bb = ws->b[1];
	char id[SG_ID_TEXT_MAX];
	sg_publish_result res;
	size_t sa = sub_add(a, &sg_transport_ws, "a", NULL);
	publish_on_n(ba, "a", 1, 1);
	/* B's own subscriber and A's on a fill B's hub: B refuses, A not */
	size_t s = sub_add(b, &sg_transport_ws, "mine", NULL);
	assert_int_equal(sg_hub_channel_count(b->hub), 2);
	assert_int_equal(publish_on(bb, "c", NULL, "x", &res), SG_ETOOBIG);
	assert_int_equal(publish_on(ba, "c", NULL, "x", &res), 0);
	assert_string_equal(res.id, id_text(ws->base, 2, id));
	fake_loop_drain(&b->loop);
	/* B could not hold it, but its hub has seen the id go by */
	sg_channel_info ci;
	assert_int_equal(sg_hub_channel_info(b->hub, "c", &ci), SG_ENOTFOUND);
	assert_int_equal(broker_info_now(bb, "c", &ci), SG_ENOTFOUND);
	assert_int_equal(info(a, "c").history_count, 1);
	assert_id(sg_hub_last(b->hub), id_text(ws->base, 2, id));
	assert_int_equal(sg_hub_channels_evicted(b->hub), 0);
	/* a channel of B's own, published on A: A evicts c (subscribed
	 * nowhere) for it, and B's subscriber gets it */
	assert_int_equal(publish_on(ba, "mine", NULL, "for-b", &res), 0);
	assert_string_equal(res.id, id_text(ws->base, 3, id));
	assert_int_equal(res.subscribers, 1);
	assert_false(held(a, "c"));
	assert_int_equal(sg_hub_channels_evicted(a->hub), 1);
	fake_loop_drain(&b->loop);
	assert_all_frames(b, s, "for-b");
	/* with mine subscribed on B and a on A, A refuses a third channel */
	assert_int_equal(publish_on(ba, "d", NULL, "x", &res), SG_ETOOBIG);
	sub_detach(a, sa, 0);
	assert_int_equal(publish_on(ba, "d", NULL, "x", &res), 0);
	assert_false(held(a, "a"));
	assert_int_equal(sg_hub_channels_evicted(a->hub), 2);
	drain_all(ws);
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
	assert_int_equal(broker_remove_now(ws->b[0], "d", &n), 0);
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
