/*
 * test_stream_threads — one stream seen from elsewhere and over time:
 * chunks and closes arriving from other threads through loop.post (and
 * refused once the loop stopped), timers (once, every, cancelled at close
 * and at detach, a callback that closes or detaches), client messages and
 * refcounts. The loop, sink and hook recorders are in fake_loop.h.
 */
#include <pthread.h>
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
	stream_env *e = *state;
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
	stream_env *e = *state;
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
	stream_env *e = *state;
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
	stream_env *e = *state;
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
	stream_env *e = *state;
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
	stream_env *e = *state;
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
	stream_env *e = *state;
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
	stream_env *e = *state;
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
	stream_env *e = *state;
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
	stream_env *e = *state;
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
	stream_env *e = *state;
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
	stream_env *e = *state;
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
	stream_env *e = *state;
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

static void test_timers_cancelled_at_close(void **state)
{
	stream_env *e = *state;
	tick_log tick = {0};
	sg_stream *s = stream_new(e, &sg_transport_chunked, 1024, SG_SLOW_DROP_OLDEST);
	sg__stream_opened(s);
	assert_int_equal(sg_stream_after(s, 10, on_tick, &tick), 0);
	assert_int_equal(sg_stream_every(s, 20, on_tick, &tick), 0);
	assert_int_equal(sg_stream_close(s), 0);
	/* the close stops them, not the detach: nothing fires while the queue
	 * drains */
	assert_int_equal(sg__stream_state(s), SG_STREAM_CLOSING);
	assert_int_equal(e->loop.ntimers, 0);
	assert_int_equal(e->loop.timers_cancelled, 2);
	assert_int_equal(e->conn.ends, 1);
	assert_int_equal(sg__stream_queued(s), 0);
	/* and no new one can be armed on a closing stream */
	assert_int_equal(sg_stream_after(s, 1, on_tick, &tick), SG_ECLOSED);
	assert_int_equal(sg_stream_every(s, 1, on_tick, &tick), SG_ECLOSED);
	assert_int_equal(e->loop.ntimers, 0);
	sg__stream_detach(s, 0);
	assert_int_equal(e->loop.timers_cancelled, 2);
	assert_int_equal(tick.calls, 0);
}

static void test_timers_cancelled_at_close_from_thread(void **state)
{
	stream_env *e = *state;
	tick_log tick = {0};
	sg_stream *s = stream_new(e, &sg_transport_chunked, 1024, SG_SLOW_DROP_OLDEST);
	sg__stream_opened(s);
	assert_int_equal(sg_stream_every(s, 20, on_tick, &tick), 0);
	assert_int_equal(run_in_thread(s, "x", 0, 1), 0);
	/* the close is still on its way: the timer is armed and may fire */
	assert_int_equal(e->loop.ntimers, 1);
	fake_loop_fire(&e->loop, 0);
	assert_int_equal(tick.calls, 1);
	assert_int_equal(e->loop.ntimers, 1);
	assert_int_equal(fake_loop_drain(&e->loop), 1);
	assert_int_equal(e->loop.ntimers, 0);
	assert_int_equal(e->loop.timers_cancelled, 1);
	assert_int_equal(e->conn.ends, 1);
	assert_queued(s, 0, "tick 1\n");
	sg__stream_detach(s, 0);
	assert_int_equal(tick.calls, 1);
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
	stream_env *e = *state;
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
	stream_env *e = *state;
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
	stream_env *e = *state;
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
#define T(fn) cmocka_unit_test_setup_teardown(fn, stream_env_setup, stream_env_teardown)
	const struct CMUnitTest tests[] = {
	    T(test_chunk_from_thread),
	    T(test_chunks_from_many_threads),
	    T(test_close_from_thread),
	    T(test_posted_chunk_after_close),
	    T(test_posted_chunk_after_detach),
	    T(test_post_refused),
	    T(test_timer_once),
	    T(test_timer_every),
	    T(test_timer_every_zero_ms),
	    T(test_timer_stops_when_closed),
	    T(test_timer_detach_inside_callback),
	    T(test_timers_cancelled_on_detach),
	    T(test_timers_cancelled_at_close),
	    T(test_timers_cancelled_at_close_from_thread),
	    T(test_timer_errors),
	    T(test_on_message),
	    T(test_on_message_removed),
	    T(test_refcounts),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
