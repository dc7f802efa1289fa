/*
 * test_workers_channels — channels as the workers broker shows them across
 * workers, on the world of workers_env.h: resuming on one worker from an
 * id given on another, info and delete across workers, the subscriber
 * directory, and the sweep, which keeps a channel with nothing left on its
 * own hub while another worker's subscribers still listen to it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "workers_env.h"

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
	assert_int_equal(broker_info_now(ws->b[0], "nothing", &ci), SG_ENOTFOUND);
	assert_int_equal(broker_info_now(ws->b[1], "nothing", &ci), SG_ENOTFOUND);
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
	assert_int_equal(broker_remove_now(ws->b[0], "c", &n), 0);
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
	assert_int_equal(broker_info_now(ws->b[0], "c", &ci), SG_ENOTFOUND);
	assert_int_equal(broker_info_now(ws->b[1], "c", &ci), SG_ENOTFOUND);
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
	assert_int_equal(broker_remove_now(ws->b[1], "c", &n), 0);
	assert_int_equal(n, 0);
	drain_all(ws);
	/* deleting it again, or what never was, is not found, on either */
	char long_name[200];
	memset(long_name, 'x', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	const char *unknown[] = {"c", "missing", "a b", long_name};
	n = 99;
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		assert_int_equal(broker_remove_now(ws->b[0], unknown[i], &n), SG_ENOTFOUND);
		assert_int_equal(broker_remove_now(ws->b[1], unknown[i], &n), SG_ENOTFOUND);
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
	assert_int_equal(broker_remove_now(ws->b[0], "only-b", &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(b->conns[s].ends, 0);
	drain_all(ws);
	assert_int_equal(b->conns[s].ends, 1);
	sg_channel_info ci;
	assert_int_equal(broker_info_now(ws->b[0], "only-b", &ci), SG_ENOTFOUND);
	assert_int_equal(broker_info_now(ws->b[1], "only-b", &ci), SG_ENOTFOUND);
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
	assert_int_equal(broker_info_now(ws->b[1], "y", &ci), SG_ENOTFOUND);
	assert_int_equal(broker_info(ws->b[1], "c14").subscribers, 1);
	/* a channel known only through its subscribers goes with them */
	sub_detach(a, many, 0);
	assert_int_equal(broker_info_now(ws->b[1], "c14", &ci), SG_ENOTFOUND);
	/* the history stays: found, with nobody */
	ci = broker_info(ws->b[1], "c");
	assert_int_equal(ci.subscribers, 0);
	assert_int_equal(ci.history_count, 6);
	drain_all(ws);
}

/* ---- the sweep ---------------------------------------------------------------- */

/* Two workers whose hubs keep a message 100 ms at most. */
static int two_aged_setup(void **state)
{
	sg_hub_limits lim = default_limits;
	lim.history_age_ms = 100;
	*state = world_new(2, lim);
	return 0;
}

static void test_sweep_keeps_what_others_hear(void **state)
{
	world *ws = *state;
	env *a = ws->w[0], *b = ws->w[1];
	char id[SG_ID_TEXT_MAX], want[1024];
	size_t s = sub_add(a, &sg_transport_sse, "aged", NULL);
	publish_on_n(ws->b[0], "aged", 1, 3);
	drain_all(ws);
	assert_all_frames(a, s, sse_run(ws, 1, 3, want, sizeof(want)));
	assert_int_equal(info(b, "aged").history_count, 3);
	/* the messages were published at base: 101 ms later all are too old.
	 * B's hub has neither subscribers nor history, but A's subscriber
	 * still listens: B keeps the channel, and with it the last id */
	int64_t later = (int64_t)ws->base + 101;
	assert_int_equal(sg_hub_sweep(b->hub, later), 0);
	assert_int_equal(sg_hub_sweep(a->hub, later), 0);
	sg_channel_info ci = info(b, "aged");
	assert_int_equal(ci.subscribers, 0);
	assert_int_equal(ci.history_count, 0);
	ci = broker_info(ws->b[1], "aged");
	assert_int_equal(ci.subscribers, 1);
	assert_int_equal(ci.history_count, 0);
	assert_int_equal(ci.history_bytes, 0);
	assert_id(ci.first_id, "0");
	assert_id(ci.last_id, id_text(ws->base, 3, id));
	assert_int_equal(sg_hub_channel_count(b->hub), 1);
	/* once A's subscriber leaves, nobody listens anywhere: B lets it go */
	sub_detach(a, s, 0);
	assert_int_equal(sg_hub_sweep(b->hub, later), 1);
	assert_int_equal(sg_hub_channel_count(b->hub), 0);
	assert_int_equal(broker_info_now(ws->b[1], "aged", &ci), SG_ENOTFOUND);
	assert_int_equal(sg_hub_sweep(a->hub, later), 1);
	assert_int_equal(broker_info_now(ws->b[0], "aged", &ci), SG_ENOTFOUND);
}

int main(void)
{
#define T2(fn) cmocka_unit_test_setup_teardown(fn, two_setup, world_teardown)
	const struct CMUnitTest tests[] = {
	    T2(test_resume_from_another_worker),
	    T2(test_info_across_workers),
	    T2(test_remove_across_workers),
	    T2(test_remove_unknown),
	    T2(test_directory_follows_subscribers),
	    cmocka_unit_test_setup_teardown(test_sweep_keeps_what_others_hear, two_aged_setup,
	                                    world_teardown),
	};
#undef T2
	return cmocka_run_group_tests(tests, NULL, NULL);
}
