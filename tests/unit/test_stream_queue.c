/*
 * test_stream_queue — one stream's bounded queue of shared frames: when the
 * sink is told to write, wrapping and growing the ring, refs taken by push,
 * and both slow-consumer policies (drop the oldest and count, or cut the
 * client with a reason). The loop, sink and hook recorders are in
 * fake_loop.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/message.h"
#include "core/stream.h"
#include "fake_loop.h"

/* ---- queue bounds and the sink --------------------------------------- */

static void test_want_write_on_empty_to_nonempty(void **state)
{
	stream_env *e = *state;
	sg_stream *s = stream_new(e, &sg_transport_chunked, 1024, SG_SLOW_DROP_OLDEST);
	sg__stream_opened(s);
	assert_int_equal(e->conn.want_write, 0);
	assert_int_equal(sg_stream_chunk(s, "a", 1), 0);
	assert_int_equal(e->conn.want_write, 1);
	assert_int_equal(sg_stream_chunk(s, "b", 1), 0);
	assert_int_equal(sg_stream_chunk(s, "c", 1), 0);
	assert_int_equal(e->conn.want_write, 1);
	sg__stream_pop(s);
	sg__stream_pop(s);
	assert_int_equal(sg_stream_chunk(s, "d", 1), 0); /* queue still had "c" */
	assert_int_equal(e->conn.want_write, 1);
	sg__stream_pop(s);
	sg__stream_pop(s);
	assert_int_equal(sg__stream_queued(s), 0);
	assert_int_equal(e->conn.want_write, 1);
	assert_int_equal(sg_stream_chunk(s, "e", 1), 0);
	assert_int_equal(e->conn.want_write, 2);
	assert_queued(s, 0, "e\n");
	sg__stream_detach(s, 0);
}

static void test_queue_wraps_and_grows(void **state)
{
	stream_env *e = *state;
	sg_stream *s = stream_new(e, &sg_transport_ws, 1 << 20, SG_SLOW_DROP_OLDEST);
	char d[16];
	/* move the head, then grow past the first ring while wrapped */
	for (int i = 0; i < 6; i++) {
		snprintf(d, sizeof(d), "%d", i);
		assert_int_equal(sg_stream_chunk(s, d, strlen(d)), 0);
	}
	for (int i = 0; i < 5; i++)
		sg__stream_pop(s);
	for (int i = 6; i < 40; i++) {
		snprintf(d, sizeof(d), "%d", i);
		assert_int_equal(sg_stream_chunk(s, d, strlen(d)), 0);
	}
	assert_int_equal(sg__stream_queued(s), 35);
	for (size_t i = 0; i < 35; i++) {
		snprintf(d, sizeof(d), "%zu", i + 5);
		assert_queued(s, i, d);
	}
	assert_int_equal(sg__stream_queued_bytes(s), 5 * 1 + 30 * 2);
	sg__stream_detach(s, 0);
}

static void test_push_takes_ref(void **state)
{
	stream_env *e = *state;
	sg_stream *s = sg_stream_ref(stream_new(e, &sg_transport_ws, 1024, SG_SLOW_DROP_OLDEST));
	sg_frame *f = sg_frame_copy("shared", 6);
	assert_int_equal(sg__stream_push(s, f), 0);
	assert_int_equal(sg__stream_push(s, f), 0);
	assert_int_equal(atomic_load(&f->refs), 3);
	assert_ptr_equal(sg__stream_peek(s, 0), f);
	assert_ptr_equal(sg__stream_peek(s, 1), f);
	assert_int_equal(sg__stream_queued_bytes(s), 12);
	sg__stream_pop(s);
	assert_int_equal(atomic_load(&f->refs), 2);
	sg__stream_detach(s, 0);
	assert_int_equal(atomic_load(&f->refs), 1);
	assert_int_equal(sg__stream_push(s, f), SG_ECLOSED);
	assert_int_equal(atomic_load(&f->refs), 1);
	sg_frame_unref(f);
	sg_stream_unref(s);
}

static void test_drop_oldest_counts(void **state)
{
	stream_env *e = *state;
	/* each frame is "msgN\n", 5 bytes: two fit in 12 */
	sg_stream *s = stream_new(e, &sg_transport_chunked, 12, SG_SLOW_DROP_OLDEST);
	sg__stream_opened(s);
	char d[8];
	for (int i = 0; i < 10; i++) {
		snprintf(d, sizeof(d), "msg%d", i);
		assert_int_equal(sg_stream_chunk(s, d, 4), 0);
		assert_true(sg__stream_queued_bytes(s) <= 12);
		assert_int_equal(atomic_load(&e->ctr.frames_dropped), i < 2 ? 0 : (unsigned)i - 1);
	}
	assert_int_equal(sg__stream_queued(s), 2);
	assert_int_equal(sg__stream_queued_bytes(s), 10);
	assert_queued(s, 0, "msg8\n");
	assert_queued(s, 1, "msg9\n");
	assert_int_equal(atomic_load(&e->ctr.frames_dropped), 8);
	assert_int_equal(atomic_load(&e->ctr.slow_disconnects), 0);
	assert_int_equal(e->conn.ends, 0);
	assert_int_equal(sg__stream_state(s), SG_STREAM_OPEN);
	assert_int_equal(sg_frame_live(), e->frames + 2);
	sg__stream_detach(s, 0);
}

static void test_drop_oldest_mixed_sizes(void **state)
{
	stream_env *e = *state;
	sg_stream *s = stream_new(e, &sg_transport_chunked, 10, SG_SLOW_DROP_OLDEST);
	sg__stream_opened(s);
	assert_int_equal(sg_stream_chunk(s, "a", 1), 0); /* 2 bytes */
	assert_int_equal(sg_stream_chunk(s, "b", 1), 0); /* 4 */
	assert_int_equal(sg_stream_chunk(s, "c", 1), 0); /* 6 */
	/* 7 more bytes: dropping "a" and "b" leaves 2 + 7 = 9 */
	assert_int_equal(sg_stream_chunk(s, "dddddd", 6), 0);
	assert_int_equal(atomic_load(&e->ctr.frames_dropped), 2);
	assert_int_equal(sg__stream_queued(s), 2);
	assert_int_equal(sg__stream_queued_bytes(s), 9);
	assert_queued(s, 0, "c\n");
	assert_queued(s, 1, "dddddd\n");
	/* exactly at the bound is allowed */
	assert_int_equal(sg_stream_chunk(s, "", 0), 0);
	assert_int_equal(sg__stream_queued_bytes(s), 10);
	assert_int_equal(atomic_load(&e->ctr.frames_dropped), 2);
	sg__stream_detach(s, 0);
}

static void test_oversized_frame_goes_alone(void **state)
{
	stream_env *e = *state;
	sg_stream *s = stream_new(e, &sg_transport_chunked, 4, SG_SLOW_DROP_OLDEST);
	sg__stream_opened(s);
	assert_int_equal(sg_stream_chunk(s, "ab", 2), 0);
	/* a frame larger than the whole bound empties the queue, then is
	 * queued by itself rather than lost */
	assert_int_equal(sg_stream_chunk(s, "toolong", 7), 0);
	assert_int_equal(atomic_load(&e->ctr.frames_dropped), 1);
	assert_int_equal(sg__stream_queued(s), 1);
	assert_int_equal(sg__stream_queued_bytes(s), 8);
	assert_queued(s, 0, "toolong\n");
	sg__stream_detach(s, 0);
}

static void test_slow_disconnect(void **state)
{
	stream_env *e = *state;
	hook_log log = {0};
	sg_stream *s = sg_stream_ref(stream_new(e, &sg_transport_chunked, 12, SG_SLOW_DISCONNECT));
	assert_int_equal(sg_stream_before_close(s, on_before_close, &log), 0);
	assert_int_equal(sg_stream_after_close(s, on_after_close, &log), 0);
	sg__stream_opened(s);
	assert_int_equal(sg_stream_chunk(s, "msg0", 4), 0);
	assert_int_equal(sg_stream_chunk(s, "msg1", 4), 0);
	assert_int_equal(e->conn.ends, 0);
	assert_int_equal(sg_stream_chunk(s, "msg2", 4), SG_ECLOSED);
	assert_int_equal(e->conn.ends, 1);
	assert_int_equal(e->conn.end_abort, 1);
	assert_string_equal(e->conn.end_reason, "slow consumer");
	assert_int_equal(atomic_load(&e->ctr.slow_disconnects), 1);
	assert_int_equal(atomic_load(&e->ctr.frames_dropped), 0);
	assert_int_equal(sg__stream_state(s), SG_STREAM_CLOSING);
	assert_int_equal(sg_stream_is_closed(s), 1);
	/* a cut client's queue is freed at once: nothing more will be written */
	assert_int_equal(sg__stream_queued(s), 0);
	assert_int_equal(sg__stream_queued_bytes(s), 0);
	/* once cut, nothing more is queued, counted or ended */
	assert_int_equal(sg_stream_chunk(s, "msg3", 4), SG_ECLOSED);
	assert_int_equal(sg_stream_close(s), 0);
	assert_int_equal(atomic_load(&e->ctr.slow_disconnects), 1);
	assert_int_equal(e->conn.ends, 1);
	assert_int_equal(sg__stream_queued(s), 0);
	sg__stream_detach(s, 1);
	assert_int_equal(sg__stream_state(s), SG_STREAM_ERRORED);
	assert_int_equal(log.after_close, 1);
	assert_string_equal(log.text, "aclose");
	sg_stream_unref(s);
}

static void test_slow_disconnect_at_bound(void **state)
{
	stream_env *e = *state;
	sg_stream *s = stream_new(e, &sg_transport_chunked, 10, SG_SLOW_DISCONNECT);
	sg__stream_opened(s);
	/* filling the queue exactly to the bound is not slow yet */
	assert_int_equal(sg_stream_chunk(s, "msg0", 4), 0);
	assert_int_equal(sg_stream_chunk(s, "msg1", 4), 0);
	assert_int_equal(sg__stream_queued_bytes(s), 10);
	assert_int_equal(e->conn.ends, 0);
	assert_int_equal(atomic_load(&e->ctr.slow_disconnects), 0);
	/* one byte more is */
	assert_int_equal(sg_stream_chunk(s, NULL, 0), SG_ECLOSED);
	assert_int_equal(e->conn.ends, 1);
	assert_int_equal(e->conn.end_abort, 1);
	assert_int_equal(atomic_load(&e->ctr.slow_disconnects), 1);
	assert_int_equal(sg__stream_queued_bytes(s), 0);
	sg__stream_detach(s, 1);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, stream_env_setup, stream_env_teardown)
	const struct CMUnitTest tests[] = {
	    T(test_want_write_on_empty_to_nonempty),
	    T(test_queue_wraps_and_grows),
	    T(test_push_takes_ref),
	    T(test_drop_oldest_counts),
	    T(test_drop_oldest_mixed_sizes),
	    T(test_oversized_frame_goes_alone),
	    T(test_slow_disconnect),
	    T(test_slow_disconnect_at_bound),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
