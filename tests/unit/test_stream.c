/*
 * test_stream — one stream without a server, on the loop thread: its state
 * machine, the order and count of its hooks, chunks and what an event or id
 * may hold, before_chunk filters, sg_stream_fail, the channel cursor, tagged
 * frames and control messages with their header notes. The queue and the
 * sink are in test_stream_queue.c; other threads, timers, client messages
 * and refcounts in test_stream_threads.c. The loop, sink and hook recorders
 * are in fake_loop.h.
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

/* ---- state machine ---------------------------------------------------- */

static void test_new_stream(void **state)
{
	stream_env *e = *state;
	sg_stream *s = stream_new(e, &sg_transport_sse, 1024, SG_SLOW_DROP_OLDEST);
	assert_int_equal(sg_stream_live(), e->streams + 1);
	assert_int_equal(sg__stream_state(s), SG_STREAM_NEW);
	assert_int_equal(sg_stream_is_closed(s), 0);
	assert_string_equal(sg_stream_transport(s), "sse");
	assert_ptr_equal(sg__stream_transport_of(s), &sg_transport_sse);
	assert_ptr_equal(sg__stream_conn(s), &e->conn);
	assert_int_equal(sg__stream_queued(s), 0);
	assert_int_equal(sg__stream_queued_bytes(s), 0);
	assert_null(sg__stream_peek(s, 0));
	assert_null(sg__stream_hub(s));
	assert_int_equal(sg__stream_nsubs(s), 0);
	assert_null(sg_stream_user(s));
	int mine;
	sg_stream_set_user(s, &mine);
	assert_ptr_equal(sg_stream_user(s), &mine);
	sg__stream_pop(s); /* popping an empty queue is harmless */
	sg__stream_detach(s, 0);
	/* detaching releases the server's ref and tells the sink nothing */
	assert_int_equal(sg_stream_live(), e->streams);
	assert_int_equal(e->conn.ends, 0);
	assert_int_equal(e->conn.want_write, 0);
}

static void test_state_machine(void **state)
{
	stream_env *e = *state;
	hook_log log = {0};
	sg_stream *s =
	    sg_stream_ref(stream_new(e, &sg_transport_chunked, 1024, SG_SLOW_DROP_OLDEST));
	assert_int_equal(sg_stream_after_open(s, on_open1, &log), 0);
	assert_int_equal(sg_stream_after_close(s, on_after_close, &log), 0);

	sg__stream_opened(s);
	assert_int_equal(sg__stream_state(s), SG_STREAM_OPEN);
	sg__stream_opened(s); /* a second "headers out" changes nothing */
	assert_string_equal(log.text, "open1");

	assert_int_equal(sg_stream_close(s), 0);
	assert_int_equal(sg__stream_state(s), SG_STREAM_CLOSING);
	assert_int_equal(sg_stream_is_closed(s), 1);
	assert_int_equal(e->conn.ends, 1);
	assert_int_equal(e->conn.end_abort, 0);
	assert_string_equal(e->conn.end_reason, "");
	assert_int_equal(sg_stream_close(s), 0); /* closing twice is a no-op */
	assert_int_equal(e->conn.ends, 1);
	assert_int_equal(sg_stream_chunk(s, "x", 1), SG_ECLOSED);
	assert_int_equal(sg__stream_queued(s), 0);

	sg__stream_detach(s, 0);
	assert_int_equal(sg__stream_state(s), SG_STREAM_CLOSED);
	assert_null(sg__stream_conn(s));
	assert_int_equal(log.after_close, 1);
	sg__stream_detach(s, 1); /* the second detach is ignored */
	assert_int_equal(sg__stream_state(s), SG_STREAM_CLOSED);
	assert_int_equal(log.after_close, 1);
	assert_string_equal(log.text, "open1,aclose");
	assert_int_equal(sg_stream_chunk(s, "x", 1), SG_ECLOSED);
	assert_int_equal(sg_stream_close(s), 0);
	assert_int_equal(e->conn.ends, 1);
	assert_int_equal(sg_stream_live(), e->streams + 1);
	sg_stream_unref(s);
}

static void test_detach_errored(void **state)
{
	stream_env *e = *state;
	hook_log log = {0};
	sg_stream *s = sg_stream_ref(stream_new(e, &sg_transport_ws, 1024, SG_SLOW_DROP_OLDEST));
	assert_int_equal(sg_stream_after_close(s, on_after_close, &log), 0);
	sg__stream_opened(s);
	sg__stream_detach(s, 1);
	assert_int_equal(sg__stream_state(s), SG_STREAM_ERRORED);
	assert_int_equal(sg_stream_is_closed(s), 1);
	assert_int_equal(log.after_close, 1);
	assert_int_equal(log.chunk_rc_in_after_close, SG_ECLOSED);
	assert_int_equal(e->conn.ends, 0);
	sg__stream_detach(s, 0);
	assert_int_equal(sg__stream_state(s), SG_STREAM_ERRORED);
	assert_int_equal(log.after_close, 1);
	sg_stream_unref(s);
}

static void test_close_before_open(void **state)
{
	stream_env *e = *state;
	hook_log log = {0};
	sg_stream *s = stream_new(e, &sg_transport_chunked, 1024, SG_SLOW_DROP_OLDEST);
	assert_int_equal(sg_stream_after_open(s, on_open1, &log), 0);
	assert_int_equal(sg_stream_close(s), 0);
	assert_int_equal(sg__stream_state(s), SG_STREAM_CLOSING);
	/* headers going out after the close neither reopen nor run after_open */
	sg__stream_opened(s);
	assert_int_equal(sg__stream_state(s), SG_STREAM_CLOSING);
	assert_string_equal(log.text, "");
	assert_int_equal(e->conn.ends, 1);
	sg__stream_detach(s, 0);
}

static void test_hook_order(void **state)
{
	stream_env *e = *state;
	hook_log log = {0};
	sg_stream *s =
	    sg_stream_ref(stream_new(e, &sg_transport_chunked, 1024, SG_SLOW_DROP_OLDEST));
	/* registered out of lifecycle order on purpose */
	assert_int_equal(sg_stream_after_close(s, on_after_close, &log), 0);
	assert_int_equal(sg_stream_before_close(s, on_before_close, &log), 0);
	assert_int_equal(sg_stream_after_chunk(s, on_after_chunk, &log), 0);
	assert_int_equal(sg_stream_before_chunk(s, on_before_chunk, &log), 0);
	assert_int_equal(sg_stream_after_open(s, on_open1, &log), 0);
	assert_int_equal(sg_stream_after_open(s, on_open2, &log), 0);

	sg__stream_opened(s);
	assert_int_equal(sg_stream_chunk(s, "one", 3), 0);
	assert_int_equal(sg_stream_close(s), 0);
	sg__stream_detach(s, 0);
	sg__stream_detach(s, 0);
	assert_string_equal(log.text,
	                    "open1,open2,before:one,after,bclose,before:bye,after,aclose");
	assert_int_equal(log.after_close, 1);
	sg_stream_unref(s);
}

static void test_before_close_may_chunk(void **state)
{
	stream_env *e = *state;
	hook_log log = {.chunk_rc_in_before_close = 99, .chunk_rc_in_after_close = 99};
	sg_stream *s = stream_new(e, &sg_transport_chunked, 1024, SG_SLOW_DROP_OLDEST);
	assert_int_equal(sg_stream_before_close(s, on_before_close, &log), 0);
	assert_int_equal(sg_stream_after_close(s, on_after_close, &log), 0);
	sg__stream_opened(s);
	assert_int_equal(sg_stream_close(s), 0);
	assert_int_equal(log.chunk_rc_in_before_close, 0);
	assert_int_equal(sg__stream_queued(s), 1);
	assert_queued(s, 0, "bye\n");
	assert_int_equal(e->conn.want_write, 1);
	assert_int_equal(e->conn.ends, 1);
	/* once the hooks ran, the door is shut again */
	assert_int_equal(sg_stream_chunk(s, "more", 4), SG_ECLOSED);
	assert_int_equal(sg__stream_queued(s), 1);
	sg__stream_detach(s, 0);
	assert_int_equal(log.chunk_rc_in_after_close, SG_ECLOSED);
	assert_int_equal(log.after_close, 1);
}

/* ---- chunks ----------------------------------------------------------- */

static void test_chunk_on_loop(void **state)
{
	stream_env *e = *state;
	sg_stream *s = stream_new(e, &sg_transport_sse, 1024, SG_SLOW_DROP_OLDEST);
	sg__stream_opened(s);
	assert_int_equal(sg_stream_event(s, "ev", "5", "a\nb", 3), 0);
	assert_int_equal(sg_stream_chunk(s, "x", 1), 0);
	assert_int_equal(sg_stream_event(s, "only-event", NULL, "y", 1), 0);
	assert_int_equal(sg__stream_queued(s), 3);
	assert_queued(s, 0, "id: 5\nevent: ev\ndata: a\ndata: b\n\n");
	assert_queued(s, 1, "data: x\n\n");
	assert_queued(s, 2, "event: only-event\ndata: y\n\n");
	assert_null(sg__stream_peek(s, 3));
	assert_int_equal(sg__stream_queued_bytes(s), 33 + 9 + 27);
	assert_int_equal(e->loop.posted, 0); /* on the loop: nothing posted */
	/* the messages are gone; the queue holds the only refs to the frames */
	assert_int_equal(sg_msg_live(), e->msgs);
	assert_int_equal(sg_frame_live(), e->frames + 3);
	assert_int_equal(atomic_load(&sg__stream_peek(s, 0)->refs), 1);
	sg__stream_pop(s);
	assert_int_equal(sg__stream_queued(s), 2);
	assert_int_equal(sg__stream_queued_bytes(s), 9 + 27);
	assert_queued(s, 0, "data: x\n\n");
	assert_int_equal(sg_frame_live(), e->frames + 2);
	sg__stream_detach(s, 0);
	assert_int_equal(sg_frame_live(), e->frames);
}

static void test_chunk_in_new_state(void **state)
{
	stream_env *e = *state;
	sg_stream *s = stream_new(e, &sg_transport_ws, 1024, SG_SLOW_DROP_OLDEST);
	/* the handler may send before the headers are out */
	assert_int_equal(sg_stream_chunk(s, "early", 5), 0);
	assert_queued(s, 0, "early");
	sg__stream_detach(s, 0);
}

static void test_bad_arguments(void **state)
{
	stream_env *e = *state;
	sg_stream *s = stream_new(e, &sg_transport_chunked, 1024, SG_SLOW_DROP_OLDEST);
	assert_int_equal(sg_stream_event(s, NULL, NULL, NULL, 1), SG_EINVAL);
	assert_int_equal(sg_stream_chunk(NULL, "x", 1), SG_EINVAL);
	assert_int_equal(sg_stream_close(NULL), SG_EINVAL);
	assert_int_equal(sg_stream_after_open(s, NULL, NULL), SG_EINVAL);
	assert_int_equal(sg_stream_before_chunk(s, NULL, NULL), SG_EINVAL);
	assert_int_equal(sg_stream_after_chunk(s, NULL, NULL), SG_EINVAL);
	assert_int_equal(sg_stream_before_close(s, NULL, NULL), SG_EINVAL);
	assert_int_equal(sg_stream_after_close(s, NULL, NULL), SG_EINVAL);
	assert_int_equal(sg_stream_after_open(NULL, on_open1, NULL), SG_EINVAL);
	assert_int_equal(sg__stream_queued(s), 0);
	/* no data at all is an empty chunk */
	assert_int_equal(sg_stream_chunk(s, NULL, 0), 0);
	assert_queued(s, 0, "\n");
	sg_stream_unref(NULL);
	sg__stream_detach(s, 0);
}

static void test_event_rejects_line_breaks(void **state)
{
	stream_env *e = *state;
	sg_stream *s = stream_new(e, &sg_transport_sse, 1024, SG_SLOW_DROP_OLDEST);
	sg__stream_opened(s);
	/* an event or id with CR or LF would end the SSE field early */
	const char *bad[] = {"a\nb", "a\rb", "a\r\n", "\n", "\r", ""};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(sg_stream_event(s, bad[i], NULL, "x", 1), SG_EINVAL);
		assert_int_equal(sg_stream_event(s, NULL, bad[i], "x", 1), SG_EINVAL);
		assert_int_equal(sg_stream_event(s, "ok", bad[i], "x", 1), SG_EINVAL);
	}
	assert_int_equal(sg__stream_queued(s), 0);
	assert_int_equal(sg_msg_live(), e->msgs);
	/* the data may hold line breaks: they become data: lines */
	assert_int_equal(sg_stream_event(s, "e v", "1-0", "a\r\nb", 4), 0);
	assert_queued(s, 0, "id: 1-0\nevent: e v\ndata: a\ndata: b\n\n");
	sg__stream_detach(s, 0);
}

/* ---- filters ---------------------------------------------------------- */

static int filter_upper(sg_stream *s, sg_chunk *c, void *ud)
{
	(void)s;
	(void)ud;
	size_t len;
	const char *d = sg_chunk_data(c, &len);
	char up[64];
	assert_true(len < sizeof(up));
	for (size_t i = 0; i < len; i++)
		up[i] = (d[i] >= 'a' && d[i] <= 'z') ? (char)(d[i] - 'a' + 'A') : d[i];
	assert_int_equal(sg_chunk_set_data(c, up, len), 0);
	return 0;
}

static int filter_exclaim(sg_stream *s, sg_chunk *c, void *ud)
{
	(void)s;
	(void)ud;
	size_t len;
	const char *d = sg_chunk_data(c, &len);
	char out[64];
	assert_true(len + 1 < sizeof(out));
	memcpy(out, d, len);
	out[len] = '!';
	assert_int_equal(sg_chunk_set_data(c, out, len + 1), 0);
	return 0;
}

static int filter_drop_secret(sg_stream *s, sg_chunk *c, void *ud)
{
	(void)s;
	int *seen = ud;
	(*seen)++;
	size_t len;
	const char *d = sg_chunk_data(c, &len);
	return len >= 6 && memcmp(d, "secret", 6) == 0;
}

static int filter_record_event(sg_stream *s, sg_chunk *c, void *ud)
{
	(void)s;
	const char *ev = sg_chunk_event(c);
	snprintf(ud, 32, "%s", ev ? ev : "(none)");
	assert_ptr_equal(sg_chunk_data(c, NULL), sg_chunk_data(c, NULL));
	return 0;
}

static void test_filter_uppercases(void **state)
{
	stream_env *e = *state;
	sg_stream *s = stream_new(e, &sg_transport_chunked, 1024, SG_SLOW_DROP_OLDEST);
	assert_int_equal(sg_stream_before_chunk(s, filter_upper, NULL), 0);
	sg__stream_opened(s);
	assert_int_equal(sg_stream_chunk(s, "hello, world", 12), 0);
	assert_queued(s, 0, "HELLO, WORLD\n");
	assert_int_equal(sg_msg_live(), e->msgs);
	sg__stream_detach(s, 0);
}

static void test_filter_chain_and_event(void **state)
{
	stream_env *e = *state;
	char event[32] = "";
	sg_stream *s = stream_new(e, &sg_transport_sse, 1024, SG_SLOW_DROP_OLDEST);
	assert_int_equal(sg_stream_before_chunk(s, filter_upper, NULL), 0);
	assert_int_equal(sg_stream_before_chunk(s, filter_exclaim, NULL), 0);
	assert_int_equal(sg_stream_before_chunk(s, filter_record_event, event), 0);
	sg__stream_opened(s);
	assert_int_equal(sg_stream_event(s, "tick", "8", "hi", 2), 0);
	assert_string_equal(event, "tick");
	/* each filter sees what the one before it left; id and event stay */
	assert_queued(s, 0, "id: 8\nevent: tick\ndata: HI!\n\n");
	assert_int_equal(sg_stream_chunk(s, "yo", 2), 0);
	assert_string_equal(event, "(none)");
	assert_queued(s, 1, "data: YO!\n\n");
	assert_int_equal(sg_msg_live(), e->msgs);
	sg__stream_detach(s, 0);
}

static void test_filter_drops(void **state)
{
	stream_env *e = *state;
	int seen = 0;
	hook_log log = {0};
	sg_stream *s = stream_new(e, &sg_transport_chunked, 1024, SG_SLOW_DROP_OLDEST);
	assert_int_equal(sg_stream_before_chunk(s, filter_drop_secret, &seen), 0);
	assert_int_equal(sg_stream_before_chunk(s, on_before_chunk, &log), 0);
	assert_int_equal(sg_stream_after_chunk(s, on_after_chunk, &log), 0);
	sg__stream_opened(s);
	assert_int_equal(sg_stream_chunk(s, "secret plans", 12), 0);
	assert_int_equal(sg__stream_queued(s), 0);
	assert_int_equal(e->conn.want_write, 0);
	/* a dropping filter stops the chain: later filters never see it, and
	 * nothing was sent, so after_chunk does not run either */
	assert_string_equal(log.text, "");
	assert_int_equal(sg_stream_chunk(s, "public", 6), 0);
	assert_int_equal(seen, 2);
	assert_string_equal(log.text, "before:public,after");
	assert_int_equal(sg__stream_queued(s), 1);
	assert_queued(s, 0, "public\n");
	assert_int_equal(e->conn.want_write, 1);
	assert_int_equal(sg_msg_live(), e->msgs);
	sg__stream_detach(s, 0);
}

/* ---- refusing a request ---------------------------------------------- */

static void test_fail_in_handler(void **state)
{
	stream_env *e = *state;
	hook_log log = {0};
	const char *error = "x", *detail = "x";
	sg_stream *s = stream_new(e, &sg_transport_sse, 1024, SG_SLOW_DROP_OLDEST);
	assert_int_equal(sg_stream_before_close(s, on_before_close, &log), 0);
	assert_int_equal(sg_stream_after_close(s, on_after_close, &log), 0);
	assert_int_equal(sg__stream_failure(s, &error, &detail), 0);
	assert_string_equal(error, "");
	assert_string_equal(detail, "");
	assert_int_equal(sg_stream_fail(s, 400, "bad_channel", "channel names are [A-Za-z0-9_.:-]"),
	                 0);
	assert_int_equal(sg__stream_state(s), SG_STREAM_CLOSING);
	assert_int_equal(sg_stream_is_closed(s), 1);
	assert_int_equal(sg__stream_failure(s, &error, &detail), 400);
	assert_string_equal(error, "bad_channel");
	assert_string_equal(detail, "channel names are [A-Za-z0-9_.:-]");
	/* the server answers it: the sink is not told, no close hooks run */
	assert_int_equal(e->conn.ends, 0);
	assert_string_equal(log.text, "");
	assert_int_equal(sg_stream_chunk(s, "x", 1), SG_ECLOSED);
	assert_int_equal(sg_stream_close(s), 0);
	assert_int_equal(e->conn.ends, 0);
	/* a second refusal changes nothing */
	assert_int_equal(sg_stream_fail(s, 503, "other", NULL), SG_ECLOSED);
	assert_int_equal(sg__stream_failure(s, &error, &detail), 400);
	assert_string_equal(error, "bad_channel");
	sg__stream_detach(s, 0);
	assert_string_equal(log.text, "aclose");
}

static void test_fail_arguments(void **state)
{
	stream_env *e = *state;
	const char *error, *detail;
	sg_stream *s = stream_new(e, &sg_transport_ws, 1024, SG_SLOW_DROP_OLDEST);
	assert_int_equal(sg_stream_fail(NULL, 400, "e", "d"), SG_EINVAL);
	assert_int_equal(sg_stream_fail(s, 399, "e", "d"), SG_EINVAL);
	assert_int_equal(sg_stream_fail(s, 600, "e", "d"), SG_EINVAL);
	assert_int_equal(sg_stream_fail(s, 200, "e", "d"), SG_EINVAL);
	assert_int_equal(sg_stream_fail(s, 400, NULL, "d"), SG_EINVAL);
	assert_int_equal(sg__stream_state(s), SG_STREAM_NEW);
	assert_int_equal(sg__stream_failure(s, &error, &detail), 0);
	/* NULL detail is an empty one; long texts are cut to their buffers */
	char long_error[64], long_detail[256];
	memset(long_error, 'e', sizeof(long_error) - 1);
	long_error[sizeof(long_error) - 1] = '\0';
	memset(long_detail, 'd', sizeof(long_detail) - 1);
	long_detail[sizeof(long_detail) - 1] = '\0';
	assert_int_equal(sg_stream_fail(s, 599, long_error, NULL), 0);
	assert_int_equal(sg__stream_failure(s, &error, &detail), 599);
	assert_int_equal(strlen(error), 31);
	assert_string_equal(detail, "");
	sg__stream_detach(s, 0);

	s = stream_new(e, &sg_transport_ws, 1024, SG_SLOW_DROP_OLDEST);
	assert_int_equal(sg_stream_fail(s, 404, "not_found", long_detail), 0);
	assert_int_equal(sg__stream_failure(s, &error, &detail), 404);
	assert_int_equal(strlen(detail), 159);
	sg__stream_detach(s, 0);

	/* too late once the headers are out, or once closing */
	s = stream_new(e, &sg_transport_ws, 1024, SG_SLOW_DROP_OLDEST);
	sg__stream_opened(s);
	assert_int_equal(sg_stream_fail(s, 400, "e", "d"), SG_ECLOSED);
	assert_int_equal(sg__stream_state(s), SG_STREAM_OPEN);
	assert_int_equal(sg__stream_failure(s, &error, &detail), 0);
	assert_int_equal(sg_stream_close(s), 0);
	assert_int_equal(sg_stream_fail(s, 400, "e", "d"), SG_ECLOSED);
	sg__stream_detach(s, 0);
}

/* ---- the stream's cursor, tagging and control messages ------------------ */

/* The text of the stream's cursor. */
static const char *last_text(const sg_stream *s, char *out)
{
	sg_id_format(sg__stream_last(s), out);
	return out;
}

static void test_last_position(void **state)
{
	stream_env *e = *state;
	char t[SG_ID_TEXT_MAX];
	sg_stream *s = stream_new(e, &sg_transport_sse, 1024, SG_SLOW_DROP_OLDEST);
	sg__stream_opened(s);
	assert_string_equal(last_text(s, t), "0");
	sg__stream_set_last(s, (sg_id){1000, 41});
	assert_string_equal(last_text(s, t), "1000-41");
	/* set_last only moves forward */
	sg__stream_set_last(s, (sg_id){1000, 40});
	sg__stream_set_last(s, (sg_id){999, 99});
	sg__stream_set_last(s, (sg_id){0, 0});
	assert_string_equal(last_text(s, t), "1000-41");
	sg_msg *m = sg_msg_new("c", (sg_id){1000, 42}, "1000-42", NULL, "x", 1, 0);
	assert_int_equal(sg__stream_deliver(s, m), 0);
	sg_msg_unref(m);
	assert_string_equal(last_text(s, t), "1000-42");
	sg__stream_set_last(s, (sg_id){1001, 0});
	assert_string_equal(last_text(s, t), "1001-0");
	/* the stream's own chunks carry no channel position */
	assert_int_equal(sg_stream_chunk(s, "own", 3), 0);
	assert_string_equal(last_text(s, t), "1001-0");
	assert_int_equal(sg__stream_queued(s), 2);
	assert_queued(s, 0, "id: 1000-42\ndata: x\n\n");
	/* a message that is not queued does not move the cursor */
	assert_int_equal(sg_stream_close(s), 0);
	m = sg_msg_new("c", (sg_id){1002, 0}, "1002-0", NULL, "y", 1, 0);
	assert_int_equal(sg__stream_deliver(s, m), SG_ECLOSED);
	sg_msg_unref(m);
	assert_string_equal(last_text(s, t), "1001-0");
	sg__stream_detach(s, 0);
}

static void test_tagged_frames(void **state)
{
	stream_env *e = *state;
	sg_stream *s = stream_new(e, &sg_transport_sse, 1024, SG_SLOW_DROP_OLDEST);
	sg_msg *m = sg_msg_new("news", (sg_id){5, 1}, "5-1", "up", "hi", 2, 0);
	assert_int_equal(sg__stream_tagged(s), 0);
	assert_int_equal(sg__stream_deliver(s, m), 0);
	sg__stream_set_tagged(s);
	assert_int_equal(sg__stream_tagged(s), 1);
	assert_int_equal(sg__stream_deliver(s, m), 0);
	assert_queued(s, 0, "id: 5-1\nevent: up\ndata: hi\n\n");
	assert_queued(s, 1,
	              "id: 5-1\ndata: "
	              "{\"channel\":\"news\",\"id\":\"5-1\",\"event\":\"up\",\"data\":\"hi\"}\n\n");
	/* both are the message's shared frames, one slot each */
	int slot = sg_transport_sse.slot * 2;
	assert_ptr_equal(sg__stream_peek(s, 0), m->frames[slot]);
	assert_ptr_equal(sg__stream_peek(s, 1), m->frames[slot + 1]);
	/* a filtered stream renders its own frame, tagged as well */
	sg_stream *f = stream_new(e, &sg_transport_ws, 1024, SG_SLOW_DROP_OLDEST);
	sg__stream_set_tagged(f);
	assert_int_equal(sg_stream_before_chunk(f, on_before_chunk, &(hook_log){0}), 0);
	assert_int_equal(sg__stream_deliver(f, m), 0);
	assert_queued(f, 0,
	              "{\"channel\":\"news\",\"id\":\"5-1\",\"event\":\"up\",\"data\":\"hi\"}");
	assert_true(sg__stream_peek(f, 0) != m->frames[sg_transport_ws.slot * 2 + 1]);
	/* the stream's own chunks have no channel: "" */
	assert_int_equal(sg_stream_chunk(s, "own", 3), 0);
	assert_queued(s, 2,
	              "data: {\"channel\":\"\",\"id\":null,\"event\":null,\"data\":\"own\"}\n\n");
	sg_msg_unref(m);
	sg__stream_detach(f, 0);
	sg__stream_detach(s, 0);
}

#define GAP "{\"type\":\"gap\"}"

/* Queues one control message on a new stream of t and checks the frame
 * (want NULL: nothing is queued). */
static void assert_control(stream_env *e, const sg_transport *t, int tagged, const char *want)
{
	sg_stream *s = stream_new(e, t, 1024, SG_SLOW_DROP_OLDEST);
	if (tagged)
		sg__stream_set_tagged(s);
	int ww = e->conn.want_write;
	assert_int_equal(sg__stream_control(s, "gap", GAP, NULL), 0);
	assert_int_equal(sg__stream_queued(s), want ? 1 : 0);
	assert_int_equal(e->conn.want_write, ww + (want ? 1 : 0));
	if (want)
		assert_queued(s, 0, want);
	assert_null(sg__stream_notes(s));
	sg__stream_detach(s, 0);
}

static void test_control_per_transport(void **state)
{
	stream_env *e = *state;
	for (int tagged = 0; tagged <= 1; tagged++) {
		assert_control(e, &sg_transport_sse, tagged, "event: sg.gap\ndata: " GAP "\n\n");
		assert_control(e, &sg_transport_ws, tagged, GAP);
		assert_control(e, &sg_transport_ndjson, tagged, GAP "\n");
		assert_control(e, &sg_transport_longpoll, tagged, GAP);
	}
	/* a plain chunked body is data only: the header must say it */
	assert_control(e, &sg_transport_chunked, 0, NULL);
	assert_control(e, &sg_transport_chunked, 1, GAP "\n");
	assert_int_equal(sg_frame_live(), e->frames);
}

/* Notes past SG_GAP_HEADER_MAX: whole ones are kept while they fit; the
 * header then ends with "*; truncated=N", dropping a kept note when that
 * entry would not fit beside it. */
static void test_control_notes_bounded(void **state)
{
	stream_env *e = *state;
	sg_stream *s = stream_new(e, &sg_transport_ndjson, 1 << 20, SG_SLOW_DROP_OLDEST);
	char note[101], want[600] = "";
	for (int i = 0; i < 5; i++) { /* 5 * 100 + 4 * 2 = 508 bytes */
		memset(note, 'a' + i, 100);
		note[100] = '\0';
		assert_int_equal(sg__stream_control(s, "gap", GAP, note), 0);
		if (i)
			strcat(want, ", ");
		strcat(want, note);
	}
	assert_string_equal(sg__stream_notes(s), want);
	assert_int_equal(strlen(sg__stream_notes(s)), 508);
	/* a sixth does not fit, nor does ", *; truncated=1" beside all five */
	assert_int_equal(sg__stream_control(s, "gap", GAP, "f; reason=evicted; first_id=none"), 0);
	want[4 * 100 + 3 * 2] = '\0';
	strcat(want, ", *; truncated=2");
	assert_string_equal(sg__stream_notes(s), want);
	assert_int_equal(strlen(sg__stream_notes(s)), 422);
	/* a small one after a truncation is counted too: order is kept */
	assert_int_equal(sg__stream_control(s, "gap", GAP, "g"), 0);
	want[4 * 100 + 3 * 2] = '\0';
	strcat(want, ", *; truncated=3");
	assert_string_equal(sg__stream_notes(s), want);
	/* every control frame was queued all the same */
	assert_int_equal(sg__stream_queued(s), 7);
	sg__stream_detach(s, 0);
	/* one note over the bound alone: only the count */
	s = stream_new(e, &sg_transport_ndjson, 1 << 20, SG_SLOW_DROP_OLDEST);
	char big[SG_GAP_HEADER_MAX + 2];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(sg__stream_control(s, "gap", GAP, big), 0);
	assert_string_equal(sg__stream_notes(s), "*; truncated=1");
	sg__stream_detach(s, 0);
	(void)state;
}

static void test_control_notes(void **state)
{
	stream_env *e = *state;
	sg_stream *s =
	    sg_stream_ref(stream_new(e, &sg_transport_longpoll, 1024, SG_SLOW_DROP_OLDEST));
	assert_null(sg__stream_notes(s));
	/* before the headers: notes are kept for a header, joined by ", " */
	assert_int_equal(sg__stream_control(s, "gap", GAP, "a; reason=evicted; first_id=5-0"), 0);
	assert_string_equal(sg__stream_notes(s), "a; reason=evicted; first_id=5-0");
	assert_int_equal(sg__stream_control(s, "gap", GAP, NULL), 0);
	assert_int_equal(sg__stream_control(s, "gap", GAP, "b; reason=unknown; first_id=none"), 0);
	assert_string_equal(sg__stream_notes(s),
	                    "a; reason=evicted; first_id=5-0, b; reason=unknown; first_id=none");
	assert_int_equal(sg__stream_queued(s), 3); /* long-poll: array elements */
	assert_queued(s, 2, GAP);
	/* a long-poll's head goes out with its answer: a note after the open
	 * (a replay a networked broker sent late) is kept too */
	sg__stream_opened(s);
	assert_int_equal(sg__stream_control(s, "gap", GAP, "c; reason=evicted; first_id=none"), 0);
	assert_string_equal(sg__stream_notes(s), "a; reason=evicted; first_id=5-0, b; reason=unknown; "
	                                         "first_id=none, c; reason=evicted; first_id=none");
	sg__stream_detach(s, 0);
	/* a stream's headers are out once it is open: a note has nowhere to go */
	sg_stream *t = sg_stream_ref(stream_new(e, &sg_transport_sse, 1024, SG_SLOW_DROP_OLDEST));
	sg__stream_opened(t);
	assert_int_equal(sg__stream_control(t, "gap", GAP, "c; reason=evicted; first_id=none"), 0);
	assert_null(sg__stream_notes(t));
	sg__stream_detach(t, 0);
	sg_stream_unref(t);
	assert_int_equal(sg__stream_control(s, "gap", GAP, "d"), SG_ECLOSED);
	sg_stream_unref(s);

	/* a transport that carries control frames queues them and keeps notes */
	s = stream_new(e, &sg_transport_ws, 1024, SG_SLOW_DROP_OLDEST);
	assert_int_equal(sg__stream_control(s, "gap", GAP, "x; reason=restarted; first_id=none"),
	                 0);
	assert_string_equal(sg__stream_notes(s), "x; reason=restarted; first_id=none");
	assert_queued(s, 0, GAP);
	sg__stream_opened(s);
	assert_int_equal(sg__stream_control(s, "subscribed", "{\"type\":\"subscribed\"}", NULL), 0);
	assert_queued(s, 1, "{\"type\":\"subscribed\"}");
	sg__stream_detach(s, 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, stream_env_setup, stream_env_teardown)
	const struct CMUnitTest tests[] = {
	    T(test_new_stream),        T(test_state_machine),
	    T(test_detach_errored),    T(test_close_before_open),
	    T(test_hook_order),        T(test_before_close_may_chunk),
	    T(test_chunk_on_loop),     T(test_chunk_in_new_state),
	    T(test_bad_arguments),     T(test_event_rejects_line_breaks),
	    T(test_filter_uppercases), T(test_filter_chain_and_event),
	    T(test_filter_drops),      T(test_fail_in_handler),
	    T(test_fail_arguments),    T(test_last_position),
	    T(test_tagged_frames),     T(test_control_per_transport),
	    T(test_control_notes),
	    T(test_control_notes_bounded),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
