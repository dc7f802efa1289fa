/*
 * test_stream — one stream without a server: its state machine, the order
 * and count of its hooks, before_chunk filters, the bounded queue under both
 * slow-consumer policies, when the sink is told to write or end, chunks and
 * closes arriving from other threads through loop.post, sg_stream_fail, the
 * channel cursor, timers, client messages and refcounts. The loop and sink
 * are the fakes from fake_loop.h.
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

/* Per-test world: the fakes and the live counts to return to. */
typedef struct env {
	fake_loop loop;
	fake_conn conn;
	sg_stream_counters ctr;
	long streams, msgs, frames;
} env;

static int env_setup(void **state)
{
	env *e = calloc(1, sizeof(*e));
	if (!e)
		return -1;
	fake_loop_init(&e->loop);
	e->streams = sg_stream_live();
	e->msgs = sg_msg_live();
	e->frames = sg_frame_live();
	*state = e;
	return 0;
}

/* Every test must leave no task queued and nothing alive. */
static int env_teardown(void **state)
{
	env *e = *state;
	assert_int_equal(fake_loop_pending(&e->loop), 0);
	assert_int_equal(sg_stream_live(), e->streams);
	assert_int_equal(sg_msg_live(), e->msgs);
	assert_int_equal(sg_frame_live(), e->frames);
	fake_loop_destroy(&e->loop);
	free(e);
	return 0;
}

/* A stream with the server's one ref. */
static sg_stream *stream_new(env *e, const sg_transport *t, size_t queue_bytes,
                             sg_slow_policy policy)
{
	sg_stream_limits lim = {.queue_bytes = queue_bytes, .policy = policy};
	sg_stream *s = sg__stream_new(t, &e->loop.base, fake_sink(), &e->conn, &lim, &e->ctr);
	assert_non_null(s);
	return s;
}

static void assert_queued(sg_stream *s, size_t i, const char *want)
{
	char text[256];
	sg_frame *f = sg__stream_peek(s, i);
	assert_non_null(f);
	assert_int_equal(f->len, strlen(want));
	assert_string_equal(frame_text(f, text, sizeof(text)), want);
}

/* ---- hook recorders --------------------------------------------------- */

typedef struct hook_log {
	char text[512];
	int after_close;
	int chunk_rc_in_before_close;
	int chunk_rc_in_after_close;
	int ran_on_loop;
	const fake_loop *loop;
} hook_log;

static void log_add(hook_log *l, const char *what)
{
	size_t n = strlen(l->text);
	snprintf(l->text + n, sizeof(l->text) - n, "%s%s", n ? "," : "", what);
}

static void on_open1(sg_stream *s, void *ud)
{
	(void)s;
	log_add(ud, "open1");
}

static void on_open2(sg_stream *s, void *ud)
{
	(void)s;
	log_add(ud, "open2");
}

static int on_before_chunk(sg_stream *s, sg_chunk *c, void *ud)
{
	(void)s;
	size_t len;
	const char *d = sg_chunk_data(c, &len);
	char what[64];
	snprintf(what, sizeof(what), "before:%.*s", (int)len, d);
	log_add(ud, what);
	return 0;
}

static void on_after_chunk(sg_stream *s, void *ud)
{
	(void)s;
	log_add(ud, "after");
}

static void on_before_close(sg_stream *s, void *ud)
{
	hook_log *l = ud;
	log_add(l, "bclose");
	l->chunk_rc_in_before_close = sg_stream_chunk(s, "bye", 3);
	if (l->loop)
		l->ran_on_loop = fake_loop_on_loop(&l->loop->base);
}

static void on_after_close(sg_stream *s, void *ud)
{
	hook_log *l = ud;
	log_add(l, "aclose");
	l->after_close++;
	l->chunk_rc_in_after_close = sg_stream_chunk(s, "late", 4);
}

/* ---- state machine ---------------------------------------------------- */

static void test_new_stream(void **state)
{
	env *e = *state;
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
	env *e = *state;
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
	env *e = *state;
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
	env *e = *state;
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
	env *e = *state;
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
	env *e = *state;
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
	env *e = *state;
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
	env *e = *state;
	sg_stream *s = stream_new(e, &sg_transport_ws, 1024, SG_SLOW_DROP_OLDEST);
	/* the handler may send before the headers are out */
	assert_int_equal(sg_stream_chunk(s, "early", 5), 0);
	assert_queued(s, 0, "early");
	sg__stream_detach(s, 0);
}

static void test_bad_arguments(void **state)
{
	env *e = *state;
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
	env *e = *state;
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
	env *e = *state;
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
	env *e = *state;
	int seen = 0;
	hook_log log = {0};
	sg_stream *s = stream_new(e, &sg_transport_chunked, 1024, SG_SLOW_DROP_OLDEST);
	assert_int_equal(sg_stream_before_chunk(s, filter_drop_secret, &seen), 0);
	assert_int_equal(sg_stream_before_chunk(s, on_before_chunk, &log), 0);
	sg__stream_opened(s);
	assert_int_equal(sg_stream_chunk(s, "secret plans", 12), 0);
	assert_int_equal(sg__stream_queued(s), 0);
	assert_int_equal(e->conn.want_write, 0);
	/* a dropping filter stops the chain: later filters never see it */
	assert_string_equal(log.text, "");
	assert_int_equal(sg_stream_chunk(s, "public", 6), 0);
	assert_int_equal(seen, 2);
	assert_string_equal(log.text, "before:public");
	assert_int_equal(sg__stream_queued(s), 1);
	assert_queued(s, 0, "public\n");
	assert_int_equal(e->conn.want_write, 1);
	assert_int_equal(sg_msg_live(), e->msgs);
	sg__stream_detach(s, 0);
}

/* ---- queue bounds and the sink --------------------------------------- */

static void test_want_write_on_empty_to_nonempty(void **state)
{
	env *e = *state;
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
	env *e = *state;
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
	env *e = *state;
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
	env *e = *state;
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
	env *e = *state;
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
	env *e = *state;
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
	env *e = *state;
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
	assert_int_equal(sg__stream_queued(s), 2);
	assert_queued(s, 0, "msg0\n");
	assert_queued(s, 1, "msg1\n");
	/* once cut, nothing more is queued, counted or ended */
	assert_int_equal(sg_stream_chunk(s, "msg3", 4), SG_ECLOSED);
	assert_int_equal(sg_stream_close(s), 0);
	assert_int_equal(atomic_load(&e->ctr.slow_disconnects), 1);
	assert_int_equal(e->conn.ends, 1);
	assert_int_equal(sg__stream_queued(s), 2);
	sg__stream_detach(s, 1);
	assert_int_equal(sg__stream_state(s), SG_STREAM_ERRORED);
	assert_int_equal(log.after_close, 1);
	assert_string_equal(log.text, "aclose");
	sg_stream_unref(s);
}

static void test_slow_disconnect_at_bound(void **state)
{
	env *e = *state;
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
	assert_int_equal(sg__stream_queued_bytes(s), 10);
	sg__stream_detach(s, 1);
}

/* ---- other threads ---------------------------------------------------- */

typedef struct thread_job {
	sg_stream *s; /* the job owns one ref */
	const char *prefix;
	int count;
	int close;
	int rc;
} thread_job;

static void *thread_main(void *arg)
{
	thread_job *j = arg;
	char d[32];
	j->rc = 0;
	for (int i = 0; i < j->count && j->rc == 0; i++) {
		int n = snprintf(d, sizeof(d), "%s%d", j->prefix, i);
		j->rc = sg_stream_chunk(j->s, d, (size_t)n);
	}
	if (j->close && j->rc == 0)
		j->rc = sg_stream_close(j->s);
	sg_stream_unref(j->s);
	return NULL;
}

static int run_in_thread(sg_stream *s, const char *prefix, int count, int close)
{
	thread_job j = {.s = sg_stream_ref(s), .prefix = prefix, .count = count, .close = close};
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, thread_main, &j), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	return j.rc;
}

static void test_chunk_from_thread(void **state)
{
	env *e = *state;
	sg_stream *s = stream_new(e, &sg_transport_chunked, 1024, SG_SLOW_DROP_OLDEST);
	sg__stream_opened(s);
	assert_int_equal(run_in_thread(s, "from thread ", 1, 0), 0);
	/* nothing reached the queue: it waits for the loop */
	assert_int_equal(sg__stream_queued(s), 0);
	assert_int_equal(e->conn.want_write, 0);
	assert_int_equal(fake_loop_pending(&e->loop), 1);
	assert_int_equal(sg_msg_live(), e->msgs + 1);
	assert_int_equal(fake_loop_drain(&e->loop), 1);
	assert_int_equal(sg__stream_queued(s), 1);
	assert_queued(s, 0, "from thread 0\n");
	assert_int_equal(e->conn.want_write, 1);
	assert_int_equal(sg_msg_live(), e->msgs);
	sg__stream_detach(s, 0);
}

static void test_chunks_from_many_threads(void **state)
{
	env *e = *state;
	enum { THREADS = 4, PER = 50 };
	sg_stream *s = stream_new(e, &sg_transport_ws, 1 << 20, SG_SLOW_DROP_OLDEST);
	sg__stream_opened(s);
	static const char *prefixes[THREADS] = {"a", "b", "c", "d"};
	thread_job jobs[THREADS];
	pthread_t t[THREADS];
	for (int k = 0; k < THREADS; k++) {
		jobs[k] = (thread_job){.s = sg_stream_ref(s), .prefix = prefixes[k], .count = PER};
		assert_int_equal(pthread_create(&t[k], NULL, thread_main, &jobs[k]), 0);
	}
	for (int k = 0; k < THREADS; k++) {
		assert_int_equal(pthread_join(t[k], NULL), 0);
		assert_int_equal(jobs[k].rc, 0);
	}
	assert_int_equal(sg__stream_queued(s), 0);
	assert_int_equal(fake_loop_drain(&e->loop), THREADS * PER);
	assert_int_equal(sg__stream_queued(s), THREADS * PER);
	assert_int_equal(e->conn.want_write, 1);
	/* each thread's chunks arrive complete and in its own order */
	int next[THREADS] = {0};
	char text[32], want[32];
	for (size_t i = 0; i < THREADS * PER; i++) {
		frame_text(sg__stream_peek(s, i), text, sizeof(text));
		int k = text[0] - 'a';
		assert_true(k >= 0 && k < THREADS);
		snprintf(want, sizeof(want), "%s%d", prefixes[k], next[k]++);
		assert_string_equal(text, want);
	}
	for (int k = 0; k < THREADS; k++)
		assert_int_equal(next[k], PER);
	sg__stream_detach(s, 0);
}

static void test_close_from_thread(void **state)
{
	env *e = *state;
	hook_log log = {.loop = &e->loop};
	sg_stream *s = stream_new(e, &sg_transport_chunked, 1024, SG_SLOW_DROP_OLDEST);
	assert_int_equal(sg_stream_before_close(s, on_before_close, &log), 0);
	sg__stream_opened(s);
	assert_int_equal(run_in_thread(s, "x", 0, 1), 0);
	assert_int_equal(sg__stream_state(s), SG_STREAM_OPEN);
	assert_int_equal(e->conn.ends, 0);
	assert_int_equal(fake_loop_drain(&e->loop), 1);
	assert_int_equal(sg__stream_state(s), SG_STREAM_CLOSING);
	assert_int_equal(e->conn.ends, 1);
	assert_int_equal(e->conn.end_abort, 0);
	assert_string_equal(log.text, "bclose");
	assert_int_equal(log.ran_on_loop, 1);
	assert_int_equal(log.chunk_rc_in_before_close, 0);
	assert_queued(s, 0, "bye\n");
	/* from another thread, a closing stream refuses without posting */
	assert_int_equal(run_in_thread(s, "y", 1, 0), SG_ECLOSED);
	assert_int_equal(fake_loop_pending(&e->loop), 0);
	assert_int_equal(run_in_thread(s, "y", 0, 1), 0);
	assert_int_equal(fake_loop_pending(&e->loop), 0);
	sg__stream_detach(s, 0);
}

static void test_posted_chunk_after_close(void **state)
{
	env *e = *state;
	sg_stream *s = stream_new(e, &sg_transport_chunked, 1024, SG_SLOW_DROP_OLDEST);
	sg__stream_opened(s);
	assert_int_equal(run_in_thread(s, "in flight ", 1, 0), 0);
	assert_int_equal(sg_stream_close(s), 0);
	assert_int_equal(fake_loop_drain(&e->loop), 1);
	assert_int_equal(sg__stream_queued(s), 0);
	assert_int_equal(sg_msg_live(), e->msgs);
	sg__stream_detach(s, 0);
}

static void test_posted_chunk_after_detach(void **state)
{
	env *e = *state;
	sg_stream *s = stream_new(e, &sg_transport_chunked, 1024, SG_SLOW_DROP_OLDEST);
	sg__stream_opened(s);
	assert_int_equal(run_in_thread(s, "orphan ", 1, 0), 0);
	/* the server lets go; the posted task keeps the stream alive */
	sg__stream_detach(s, 1);
	assert_int_equal(sg_stream_live(), e->streams + 1);
	assert_int_equal(fake_loop_drain(&e->loop), 1);
	assert_int_equal(sg_stream_live(), e->streams);
	assert_int_equal(e->conn.want_write, 0);
}

static void test_post_refused(void **state)
{
	env *e = *state;
	sg_stream *s = stream_new(e, &sg_transport_chunked, 1024, SG_SLOW_DROP_OLDEST);
	sg__stream_opened(s);
	e->loop.stopped = 1;
	assert_int_equal(run_in_thread(s, "lost ", 1, 0), SG_ECLOSED);
	assert_int_equal(run_in_thread(s, "x", 0, 1), SG_ECLOSED);
	assert_int_equal(fake_loop_pending(&e->loop), 0);
	assert_int_equal(sg_msg_live(), e->msgs);
	assert_int_equal(sg__stream_state(s), SG_STREAM_OPEN);
	sg__stream_detach(s, 1);
}

/* ---- refusing a request ---------------------------------------------- */

static void test_fail_in_handler(void **state)
{
	env *e = *state;
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
	env *e = *state;
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

/* ---- the stream's cursor ---------------------------------------------- */

static void test_last_seq(void **state)
{
	env *e = *state;
	sg_stream *s = stream_new(e, &sg_transport_sse, 1024, SG_SLOW_DROP_OLDEST);
	sg__stream_opened(s);
	assert_int_equal(sg__stream_last_seq(s), 0);
	sg__stream_set_last_seq(s, 41);
	assert_int_equal(sg__stream_last_seq(s), 41);
	sg_msg *m = sg_msg_new("c", 42, "42", NULL, "x", 1, 0);
	assert_int_equal(sg__stream_deliver(s, m), 0);
	sg_msg_unref(m);
	assert_int_equal(sg__stream_last_seq(s), 42);
	/* the stream's own chunks carry no channel position */
	assert_int_equal(sg_stream_chunk(s, "own", 3), 0);
	assert_int_equal(sg__stream_last_seq(s), 42);
	assert_int_equal(sg__stream_queued(s), 2);
	assert_queued(s, 0, "id: 42\ndata: x\n\n");
	/* a message that is not queued does not move the cursor */
	assert_int_equal(sg_stream_close(s), 0);
	m = sg_msg_new("c", 43, "43", NULL, "y", 1, 0);
	assert_int_equal(sg__stream_deliver(s, m), SG_ECLOSED);
	sg_msg_unref(m);
	assert_int_equal(sg__stream_last_seq(s), 42);
	sg__stream_detach(s, 0);
}

/* ---- timers and client messages -------------------------------------- */

typedef struct tick_log {
	int calls;
	int close_at;  /* close the stream on this call (0: never) */
	int detach_at; /* detach it, as a server reacting at once would */
	int chunk_rc;
} tick_log;

static void on_tick(sg_stream *s, void *ud)
{
	tick_log *t = ud;
	t->calls++;
	char d[16];
	int n = snprintf(d, sizeof(d), "tick %d", t->calls);
	t->chunk_rc = sg_stream_chunk(s, d, (size_t)n);
	if (t->calls == t->close_at)
		sg_stream_close(s);
	if (t->calls == t->detach_at)
		sg__stream_detach(s, 1);
}

static void test_timer_once(void **state)
{
	env *e = *state;
	tick_log tick = {0};
	sg_stream *s = stream_new(e, &sg_transport_chunked, 1024, SG_SLOW_DROP_OLDEST);
	sg__stream_opened(s);
	assert_int_equal(sg_stream_after(s, 250, on_tick, &tick), 0);
	assert_int_equal(e->loop.ntimers, 1);
	assert_int_equal(e->loop.timers[0]->ms, 250);
	assert_int_equal(tick.calls, 0);
	fake_loop_fire(&e->loop, 0);
	assert_int_equal(tick.calls, 1);
	assert_int_equal(tick.chunk_rc, 0);
	assert_queued(s, 0, "tick 1\n");
	assert_int_equal(e->loop.ntimers, 0); /* once means once */
	assert_int_equal(e->loop.timers_started, 1);
	sg__stream_detach(s, 0);
	assert_int_equal(e->loop.timers_cancelled, 0);
}

static void test_timer_every(void **state)
{
	env *e = *state;
	tick_log tick = {0};
	sg_stream *s = stream_new(e, &sg_transport_chunked, 1024, SG_SLOW_DROP_OLDEST);
	sg__stream_opened(s);
	assert_int_equal(sg_stream_every(s, 50, on_tick, &tick), 0);
	for (int i = 1; i <= 3; i++) {
		assert_int_equal(e->loop.ntimers, 1);
		assert_int_equal(e->loop.timers[0]->ms, 50);
		fake_loop_fire(&e->loop, 0);
		assert_int_equal(tick.calls, i);
	}
	assert_int_equal(e->loop.timers_started, 4);
	assert_int_equal(sg__stream_queued(s), 3);
	assert_queued(s, 2, "tick 3\n");
	/* the stream going away cancels the armed repetition */
	sg__stream_detach(s, 0);
	assert_int_equal(e->loop.ntimers, 0);
	assert_int_equal(e->loop.timers_cancelled, 1);
	assert_int_equal(tick.calls, 3);
}

static void test_timer_every_zero_ms(void **state)
{
	env *e = *state;
	tick_log tick = {0};
	sg_stream *s = stream_new(e, &sg_transport_ws, 1024, SG_SLOW_DROP_OLDEST);
	assert_int_equal(sg_stream_every(s, 0, on_tick, &tick), 0);
	assert_int_equal(e->loop.timers[0]->ms, 0);
	fake_loop_fire(&e->loop, 0);
	/* repeats every millisecond rather than spinning */
	assert_int_equal(e->loop.ntimers, 1);
	assert_int_equal(e->loop.timers[0]->ms, 1);
	sg__stream_detach(s, 0);
	assert_int_equal(e->loop.ntimers, 0);
}

static void test_timer_stops_when_closed(void **state)
{
	env *e = *state;
	tick_log tick = {.close_at = 2};
	sg_stream *s = stream_new(e, &sg_transport_chunked, 1024, SG_SLOW_DROP_OLDEST);
	sg__stream_opened(s);
	assert_int_equal(sg_stream_every(s, 10, on_tick, &tick), 0);
	fake_loop_fire(&e->loop, 0);
	fake_loop_fire(&e->loop, 0);
	assert_int_equal(tick.calls, 2);
	assert_int_equal(sg__stream_state(s), SG_STREAM_CLOSING);
	assert_int_equal(e->conn.ends, 1);
	assert_int_equal(e->loop.ntimers, 0); /* not re-armed after the close */
	assert_int_equal(sg__stream_queued(s), 2);
	sg__stream_detach(s, 0);
	assert_int_equal(e->loop.timers_cancelled, 0);
}

static void test_timer_detach_inside_callback(void **state)
{
	env *e = *state;
	tick_log tick = {.detach_at = 1};
	sg_stream *s = stream_new(e, &sg_transport_chunked, 1024, SG_SLOW_DROP_OLDEST);
	sg__stream_opened(s);
	assert_int_equal(sg_stream_every(s, 10, on_tick, &tick), 0);
	assert_int_equal(sg_stream_after(s, 99, on_tick, &tick), 0);
	/* the firing timer keeps the stream alive through its callback */
	fake_loop_fire(&e->loop, 0);
	assert_int_equal(tick.calls, 1);
	assert_int_equal(e->loop.ntimers, 0);
	assert_int_equal(e->loop.timers_cancelled, 1); /* the other one */
	assert_int_equal(sg_stream_live(), e->streams);
}

static void test_timers_cancelled_on_detach(void **state)
{
	env *e = *state;
	tick_log tick = {0};
	sg_stream *s = stream_new(e, &sg_transport_chunked, 1024, SG_SLOW_DROP_OLDEST);
	assert_int_equal(sg_stream_after(s, 10, on_tick, &tick), 0);
	assert_int_equal(sg_stream_every(s, 20, on_tick, &tick), 0);
	assert_int_equal(sg_stream_after(s, 30, on_tick, &tick), 0);
	assert_int_equal(e->loop.ntimers, 3);
	sg__stream_detach(s, 1);
	assert_int_equal(e->loop.ntimers, 0);
	assert_int_equal(e->loop.timers_cancelled, 3);
	assert_int_equal(tick.calls, 0);
}

static void test_timer_errors(void **state)
{
	env *e = *state;
	tick_log tick = {0};
	sg_stream *s =
	    sg_stream_ref(stream_new(e, &sg_transport_chunked, 1024, SG_SLOW_DROP_OLDEST));
	assert_int_equal(sg_stream_after(NULL, 1, on_tick, &tick), SG_EINVAL);
	assert_int_equal(sg_stream_after(s, 1, NULL, &tick), SG_EINVAL);
	assert_int_equal(sg_stream_every(s, 1, NULL, &tick), SG_EINVAL);
	e->loop.timer_fail = 1;
	assert_int_equal(sg_stream_after(s, 1, on_tick, &tick), SG_ENOMEM);
	assert_int_equal(sg_stream_every(s, 1, on_tick, &tick), SG_ENOMEM);
	e->loop.timer_fail = 0;
	assert_int_equal(e->loop.ntimers, 0);
	sg__stream_detach(s, 0);
	assert_int_equal(sg_stream_after(s, 1, on_tick, &tick), SG_ECLOSED);
	assert_int_equal(sg_stream_every(s, 1, on_tick, &tick), SG_ECLOSED);
	assert_int_equal(e->loop.timers_started, 0);
	sg_stream_unref(s);
}

typedef struct input_log {
	int calls;
	char last[32];
	size_t len;
	sg_stream *s;
} input_log;

static void on_input(sg_stream *s, const char *data, size_t len, void *ud)
{
	input_log *l = ud;
	l->calls++;
	l->s = s;
	l->len = len;
	snprintf(l->last, sizeof(l->last), "%s", data);
}

static void test_on_message(void **state)
{
	env *e = *state;
	input_log in = {0};
	sg_stream *s = sg_stream_ref(stream_new(e, &sg_transport_ws, 1024, SG_SLOW_DROP_OLDEST));
	sg__stream_opened(s);
	sg__stream_input(s, "ignored", 7); /* nobody listens yet */
	assert_int_equal(sg_stream_on_message(NULL, on_input, &in), SG_EINVAL);
	assert_int_equal(sg_stream_on_message(s, on_input, &in), 0);
	sg__stream_input(s, "hello", 5);
	assert_int_equal(in.calls, 1);
	assert_ptr_equal(in.s, s);
	assert_int_equal(in.len, 5);
	assert_string_equal(in.last, "hello");
	sg__stream_input(s, "", 0);
	assert_int_equal(in.calls, 2);
	assert_int_equal(in.len, 0);
	assert_string_equal(in.last, "");
	sg__stream_detach(s, 0);
	sg__stream_input(s, "late", 4);
	assert_int_equal(in.calls, 2);
	sg_stream_unref(s);
}

static void test_on_message_removed(void **state)
{
	env *e = *state;
	input_log in = {0};
	sg_stream *s = stream_new(e, &sg_transport_ws, 1024, SG_SLOW_DROP_OLDEST);
	assert_int_equal(sg_stream_on_message(s, on_input, &in), 0);
	assert_int_equal(sg_stream_on_message(s, NULL, NULL), 0);
	sg__stream_input(s, "x", 1);
	assert_int_equal(in.calls, 0);
	sg__stream_detach(s, 0);
}

/* ---- lifetime --------------------------------------------------------- */

static void test_refcounts(void **state)
{
	env *e = *state;
	sg_stream *s = stream_new(e, &sg_transport_chunked, 1024, SG_SLOW_DROP_OLDEST);
	assert_ptr_equal(sg_stream_ref(s), s);
	assert_ptr_equal(sg_stream_ref(s), s);
	sg_stream_unref(s);
	assert_int_equal(sg_stream_live(), e->streams + 1);
	assert_int_equal(sg_stream_chunk(s, "a", 1), 0);
	assert_int_equal(sg_stream_chunk(s, "b", 1), 0);
	sg__stream_detach(s, 0);
	/* detached: queue dropped at once, the object lives on our ref */
	assert_int_equal(sg_stream_live(), e->streams + 1);
	assert_int_equal(sg__stream_queued(s), 0);
	assert_int_equal(sg_frame_live(), e->frames);
	sg_stream_unref(s);
	assert_int_equal(sg_stream_live(), e->streams);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, env_setup, env_teardown)
	const struct CMUnitTest tests[] = {
	    T(test_new_stream),
	    T(test_state_machine),
	    T(test_detach_errored),
	    T(test_close_before_open),
	    T(test_hook_order),
	    T(test_before_close_may_chunk),
	    T(test_chunk_on_loop),
	    T(test_chunk_in_new_state),
	    T(test_bad_arguments),
	    T(test_filter_uppercases),
	    T(test_filter_chain_and_event),
	    T(test_filter_drops),
	    T(test_want_write_on_empty_to_nonempty),
	    T(test_queue_wraps_and_grows),
	    T(test_push_takes_ref),
	    T(test_drop_oldest_counts),
	    T(test_drop_oldest_mixed_sizes),
	    T(test_oversized_frame_goes_alone),
	    T(test_slow_disconnect),
	    T(test_slow_disconnect_at_bound),
	    T(test_chunk_from_thread),
	    T(test_chunks_from_many_threads),
	    T(test_close_from_thread),
	    T(test_posted_chunk_after_close),
	    T(test_posted_chunk_after_detach),
	    T(test_post_refused),
	    T(test_fail_in_handler),
	    T(test_fail_arguments),
	    T(test_last_seq),
	    T(test_timer_once),
	    T(test_timer_every),
	    T(test_timer_every_zero_ms),
	    T(test_timer_stops_when_closed),
	    T(test_timer_detach_inside_callback),
	    T(test_timers_cancelled_on_detach),
	    T(test_timer_errors),
	    T(test_on_message),
	    T(test_on_message_removed),
	    T(test_refcounts),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
