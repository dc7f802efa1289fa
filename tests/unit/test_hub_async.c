/*
 * test_hub_async — a resume whose replay comes later, as from a networked
 * broker's history hook: live messages wait meanwhile, the replay goes
 * first, what it already held is dropped by id, other channels' messages
 * are kept; a gap from the broker is signalled; a failed read cuts the
 * stream; a client gone before the answer costs nothing. World: hub_env.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "hub_env.h"

/* The broker's side: the resume it was asked for, still open. */
typedef struct pending {
	sg_resume *r;
	size_t calls, n;
	sg_id after;
	char names[SG_SUBSCRIBE_MAX][SG_CHANNEL_NAME_MAX + 1];
} pending;

static void history_later(void *ud, sg_resume *r, const char *const *names, size_t n, sg_id after)
{
	pending *p = ud;
	p->r = r;
	p->calls++;
	p->n = n;
	p->after = after;
	for (size_t i = 0; i < n; i++)
		strcpy(p->names[i], names[i]);
}

static pending *hook_later(env *e)
{
	static pending p;
	memset(&p, 0, sizeof(p));
	sg_hub_set_hooks(e->hub, &(sg_hub_hooks){.history = history_later, .ud = &p});
	return &p;
}

/* A message as the broker read it: id "1000-<seq>" on channel. */
static sg_msg *stored(const char *channel, uint64_t seq, const char *data)
{
	char id[SG_ID_TEXT_MAX];
	sg_id pos = {T0, seq};
	sg_id_format(pos, id);
	sg_msg *m = sg_msg_new(channel, pos, id, NULL, data, strlen(data), T0);
	assert_non_null(m);
	return m;
}

static void complete(pending *p, const char *gap, sg_msg **msgs, size_t n, uint64_t upto)
{
	sg_replay v = {.gap = gap, .msgs = msgs, .n = n};
	sg_hub_resume_done(p->r, 0, &v, (sg_id){T0, upto});
	for (size_t i = 0; i < n; i++)
		sg_msg_unref(msgs[i]);
	p->r = NULL;
}

static void test_live_waits_for_the_replay(void **state)
{
	env *e = *state;
	pending *p = hook_later(e);
	publish_n(e, "c", 1, 2); /* 1000-1, 1000-2 */
	size_t s = sub_add(e, &sg_transport_sse, "c", ID(1));
	assert_int_equal(p->calls, 1);
	assert_int_equal(p->n, 1);
	assert_string_equal(p->names[0], "c");
	assert_id(p->after, ID(1));
	publish_n(e, "c", 3, 4); /* live while the read is out: held */
	assert_int_equal(sg__stream_queued(e->subs[s]), 0);
	/* the broker read up to 1000-3: it had m2 and m3 */
	sg_msg *v[] = {stored("c", 2, "m2"), stored("c", 3, "m3")};
	complete(p, NULL, v, 2, 3);
	assert_all_frames(e, s,
	                  "id: " ID(2) "\ndata: m2\n\n"
	                               "id: " ID(3) "\ndata: m3\n\n"
	                                            "id: " ID(4) "\ndata: m4\n\n");
	publish_n(e, "c", 5, 5); /* and live again */
	assert_frame(e, s, 3, "id: " ID(5) "\ndata: m5\n\n");
	assert_id(sg__stream_last(e->subs[s]), ID(5));
}

static void test_other_channels_are_not_dropped(void **state)
{
	env *e = *state;
	pending *p = hook_later(e);
	size_t s = sub_add(e, &sg_transport_sse, "a", NULL);
	complete(p, NULL, NULL, 0, 0); /* the broker had "a" subscribed already */
	sg__stream_set_tagged(e->subs[s]);
	const char *b = "b";
	assert_int_equal(sg_hub_subscribe_many(e->hub, e->subs[s], &b, 1, "0"), 0);
	publish_n(e, "a", 1, 1); /* 1000-1 on a: held, not in b's replay */
	sg_msg *v[] = {stored("b", 2, "x")};
	complete(p, NULL, v, 1, 2);
	assert_all_frames(
	    e, s,
	    "id: " ID(2) "\ndata: " ENVELOPE("b", ID(2), "x") "\n\n"
	                                                      "id: " ID(1) "\ndata: " ENVELOPE(
	                                                          "a", ID(1), "m1") "\n\n");
}

static void test_live_subscribe_until_the_broker_subscribed(void **state)
{
	env *e = *state;
	pending *p = hook_later(e);
	publish_n(e, "c", 1, 1); /* before the subscribe: not the client's */
	size_t s = sub_add(e, &sg_transport_sse, "c", NULL);
	sg_resume *first = p->r;
	size_t t = sub_add(e, &sg_transport_sse, "c", NULL);
	assert_int_equal(p->calls, 2);
	assert_id(p->after, ID(1)); /* from the hub's last id */
	publish_n(e, "c", 3, 3);    /* live, held by both */
	/* the broker read what came after the subscribe: 1000-2 (published
	 * through another node before its SUBSCRIBE took) and 1000-3 */
	sg_msg *v[] = {stored("c", 2, "m2"), stored("c", 3, "m3")};
	complete(p, NULL, v, 2, 3); /* the second stream's resume */
	assert_all_frames(e, t,
	                  "id: " ID(2) "\ndata: m2\n\n"
	                               "id: " ID(3) "\ndata: m3\n\n");
	assert_int_equal(sg__stream_queued(e->subs[s]), 0); /* still held */
	p->r = first;
	sg_msg *w[] = {stored("c", 3, "m3")};
	complete(p, NULL, w, 1, 3); /* m3 once: the held copy was in the read */
	assert_all_frames(e, s, "id: " ID(3) "\ndata: m3\n\n");
}

static void test_live_subscribe_ignores_gaps_and_failures(void **state)
{
	env *e = *state;
	pending *p = hook_later(e);
	size_t s = sub_add(e, &sg_transport_sse, "c", NULL);
	publish_n(e, "c", 1, 1);
	sg_msg *v[] = {stored("c", 1, "m1")};
	complete(p, "evicted", v, 1, 0); /* no gap told, nothing old replayed */
	assert_all_frames(e, s, "id: " ID(1) "\ndata: m1\n\n");
	size_t t = sub_add(e, &sg_transport_sse, "d", NULL);
	publish_n(e, "d", 2, 2);
	sg_hub_resume_done(p->r, SG_EIO, NULL, (sg_id){0, 0});
	assert_int_equal(e->conns[t].ends, 0); /* Redis away: the live stream stays */
	assert_all_frames(e, t, "id: " ID(2) "\ndata: m2\n\n");
}

static void test_gap_from_the_broker(void **state)
{
	env *e = *state;
	pending *p = hook_later(e);
	size_t s = sub_add(e, &sg_transport_sse, "c", ID(7));
	sg_msg *v[] = {stored("c", 9, "new")};
	complete(p, "restarted", v, 1, 9);
	assert_all_frames(e, s,
	                  "event: sg.gap\ndata: " GAP_JSON(
	                      "c", ID(7), Q(ID(9)), "restarted") "\n\n"
	                                                         "id: " ID(9) "\ndata: new\n\n");
	assert_id(sg__stream_last(e->subs[s]), ID(9));
}

static void test_failed_read_cuts_the_stream(void **state)
{
	env *e = *state;
	pending *p = hook_later(e);
	size_t s = sub_add(e, &sg_transport_sse, "c", ID(1));
	publish_n(e, "c", 1, 1);
	sg_hub_resume_done(p->r, SG_EIO, NULL, (sg_id){0, 0});
	assert_int_equal(e->conns[s].ends, 1);
	assert_int_equal(e->conns[s].end_abort, 1);
	assert_string_equal(e->conns[s].end_reason, "history unavailable");
	assert_int_equal(sg__stream_queued(e->subs[s]), 0);
}

static void test_client_gone_before_the_answer(void **state)
{
	env *e = *state;
	pending *p = hook_later(e);
	size_t s = sub_add(e, &sg_transport_sse, "c", ID(1));
	publish_n(e, "c", 1, 3);
	sub_detach(e, s, 1); /* held messages go with it */
	assert_int_equal(info(e, "c").subscribers, 0);
	sg_msg *v[] = {stored("c", 2, "m2")};
	complete(p, NULL, v, 1, 2); /* the resume's own ref kept the stream */
}

static void test_held_backlog_is_bounded(void **state)
{
	env *e = *state;
	pending *p = hook_later(e);
	size_t s = stream_add(e, &sg_transport_sse, 64, SG_SLOW_DROP_OLDEST);
	assert_int_equal(sg_hub_subscribe(e->hub, e->subs[s], "c", "0"), 0);
	char big[40];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(publish(e, "c", NULL, NULL, big, NULL), 0);
	assert_int_equal(e->conns[s].ends, 0);
	assert_int_equal(publish(e, "c", NULL, NULL, big, NULL), 0); /* past 64 bytes */
	assert_int_equal(e->conns[s].ends, 1);
	assert_string_equal(e->conns[s].end_reason, "slow consumer");
	complete(p, NULL, NULL, 0, 2);
	assert_int_equal(sg__stream_queued(e->subs[s]), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_live_waits_for_the_replay, env_setup,
	                                    env_teardown),
	    cmocka_unit_test_setup_teardown(test_other_channels_are_not_dropped, env_setup,
	                                    env_teardown),
	    cmocka_unit_test_setup_teardown(test_live_subscribe_until_the_broker_subscribed,
	                                    env_setup, env_teardown),
	    cmocka_unit_test_setup_teardown(test_live_subscribe_ignores_gaps_and_failures,
	                                    env_setup, env_teardown),
	    cmocka_unit_test_setup_teardown(test_gap_from_the_broker, env_setup, env_teardown),
	    cmocka_unit_test_setup_teardown(test_failed_read_cuts_the_stream, env_setup,
	                                    env_teardown),
	    cmocka_unit_test_setup_teardown(test_client_gone_before_the_answer, env_setup,
	                                    env_teardown),
	    cmocka_unit_test_setup_teardown(test_held_backlog_is_bounded, env_setup, env_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
