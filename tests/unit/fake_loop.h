/*
 * fake_loop — the seams core talks through, faked for unit tests: an
 * sg_loop whose loop thread is the thread that called fake_loop_init(),
 * whose post() only queues the task (the test runs queued tasks by hand
 * with fake_loop_drain()) and whose timers only wait until the test fires
 * them (fake_loop_fire()); an sg_stream_sink that counts want_write calls
 * and records end(abort, reason); and a wall clock the test sets
 * (fake_clock_ms, for sg_hub_limits.clock_ms). No sockets, no real clock,
 * no real loop. Also the world the stream tests share (stream_env) and the
 * hook recorders they register.
 */
#ifndef SG_TEST_FAKE_LOOP_H
#define SG_TEST_FAKE_LOOP_H

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/loop.h"
#include "core/message.h"
#include "core/stream.h"
#include "streamgate.h"

typedef struct fake_task {
	sg_task_fn fn;
	void *arg;
} fake_task;

/* One armed timer; the loop owns it until it fires or is cancelled. */
struct sg_timer {
	sg_task_fn fn;
	void *arg;
	uint64_t ms;
};

#define FAKE_MAX_TIMERS 16

/* The loop: base first so a fake_loop * is an sg_loop *. Owns tasks and
 * timers. */
typedef struct fake_loop {
	sg_loop base;
	pthread_t thread; /* the "loop thread" */
	pthread_mutex_t mu;
	fake_task *tasks;
	size_t ntasks, cap;
	size_t posted; /* total accepted by post() */
	int stopped;   /* post() refuses with SG_ECLOSED */

	sg_timer *timers[FAKE_MAX_TIMERS]; /* armed, in start order */
	size_t ntimers;
	size_t timers_started, timers_cancelled;
	int timer_fail; /* timer_start() returns NULL */
} fake_loop;

static inline int fake_loop_on_loop(const sg_loop *l)
{
	const fake_loop *f = (const fake_loop *)l;
	return pthread_equal(pthread_self(), f->thread) != 0;
}

static inline int fake_loop_post(sg_loop *l, sg_task_fn fn, void *arg)
{
	fake_loop *f = (fake_loop *)l;
	int rc = 0;
	pthread_mutex_lock(&f->mu);
	if (f->stopped) {
		rc = SG_ECLOSED;
	} else {
		if (f->ntasks == f->cap) {
			size_t cap = f->cap ? f->cap * 2 : 16;
			fake_task *v = realloc(f->tasks, cap * sizeof(*v));
			if (!v) {
				pthread_mutex_unlock(&f->mu);
				return SG_ENOMEM;
			}
			f->tasks = v;
			f->cap = cap;
		}
		f->tasks[f->ntasks++] = (fake_task){.fn = fn, .arg = arg};
		f->posted++;
	}
	pthread_mutex_unlock(&f->mu);
	return rc;
}

static inline sg_timer *fake_loop_timer_start(sg_loop *l, uint64_t ms, sg_task_fn fn, void *arg)
{
	fake_loop *f = (fake_loop *)l;
	if (f->timer_fail || f->ntimers == FAKE_MAX_TIMERS)
		return NULL;
	sg_timer *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	*t = (sg_timer){.fn = fn, .arg = arg, .ms = ms};
	f->timers[f->ntimers++] = t;
	f->timers_started++;
	return t;
}

/* Removes t from the armed list; nonzero when it was there. */
static inline int fake_loop_timer_unlink(fake_loop *f, sg_timer *t)
{
	for (size_t i = 0; i < f->ntimers; i++)
		if (f->timers[i] == t) {
			memmove(f->timers + i, f->timers + i + 1,
			        (f->ntimers - i - 1) * sizeof(*f->timers));
			f->ntimers--;
			return 1;
		}
	return 0;
}

/* Like the server's: NULL (a timer that already fired) is a no-op. */
static inline void fake_loop_timer_cancel(sg_loop *l, sg_timer *t)
{
	fake_loop *f = (fake_loop *)l;
	if (!t)
		return;
	assert_true(fake_loop_timer_unlink(f, t));
	f->timers_cancelled++;
	free(t);
}

/* Fires the i-th armed timer as the loop would: frees it, then runs it. */
static inline void fake_loop_fire(fake_loop *f, size_t i)
{
	assert_true(i < f->ntimers);
	sg_timer *t = f->timers[i];
	sg_task_fn fn = t->fn;
	void *arg = t->arg;
	fake_loop_timer_unlink(f, t);
	free(t);
	fn(arg);
}

/* The calling thread becomes the loop thread. */
static inline void fake_loop_init(fake_loop *f)
{
	memset(f, 0, sizeof(*f));
	f->base.post = fake_loop_post;
	f->base.on_loop = fake_loop_on_loop;
	f->base.timer_start = fake_loop_timer_start;
	f->base.timer_cancel = fake_loop_timer_cancel;
	f->thread = pthread_self();
	pthread_mutex_init(&f->mu, NULL);
}

static inline size_t fake_loop_pending(fake_loop *f)
{
	pthread_mutex_lock(&f->mu);
	size_t n = f->ntasks;
	pthread_mutex_unlock(&f->mu);
	return n;
}

/* Runs queued tasks in post order (also those they post); returns how many. */
static inline size_t fake_loop_drain(fake_loop *f)
{
	size_t ran = 0;
	for (;;) {
		pthread_mutex_lock(&f->mu);
		if (!f->ntasks) {
			pthread_mutex_unlock(&f->mu);
			return ran;
		}
		fake_task t = f->tasks[0];
		memmove(f->tasks, f->tasks + 1, (f->ntasks - 1) * sizeof(*f->tasks));
		f->ntasks--;
		pthread_mutex_unlock(&f->mu);
		t.fn(t.arg);
		ran++;
	}
}

static inline void fake_loop_destroy(fake_loop *f)
{
	assert_int_equal(f->ntimers, 0);
	free(f->tasks);
	pthread_mutex_destroy(&f->mu);
}

/* What the sink saw for one connection. */
typedef struct fake_conn {
	int want_write;
	int ends;
	int end_abort;
	char end_reason[64]; /* "" when end() got NULL */
} fake_conn;

static inline void fake_want_write(void *conn)
{
	((fake_conn *)conn)->want_write++;
}

static inline void fake_end(void *conn, int abort, const char *reason)
{
	fake_conn *c = conn;
	c->ends++;
	c->end_abort = abort;
	snprintf(c->end_reason, sizeof(c->end_reason), "%s", reason ? reason : "");
}

/* Borrowed; lives for the whole program. */
static inline const sg_stream_sink *fake_sink(void)
{
	static const sg_stream_sink sink = {.want_write = fake_want_write, .end = fake_end};
	return &sink;
}

/* The bytes of a queued frame as a NUL-terminated copy in out (cap bytes). */
static inline const char *frame_text(const sg_frame *f, char *out, size_t cap)
{
	size_t n = f->len < cap - 1 ? f->len : cap - 1;
	memcpy(out, f->mem + SG_FRAME_HEADROOM, n);
	out[n] = '\0';
	return out;
}

/* Every queued frame of s, in order, concatenated into out (cap bytes). */
static inline const char *queue_text(const sg_stream *s, char *out, size_t cap)
{
	size_t n = 0;
	out[0] = '\0';
	for (size_t i = 0; i < sg__stream_queued(s); i++) {
		const sg_frame *f = sg__stream_peek(s, i);
		assert_true(n + f->len < cap);
		memcpy(out + n, f->mem + SG_FRAME_HEADROOM, f->len);
		n += f->len;
	}
	out[n] = '\0';
	return out;
}

/* The i-th queued frame of s is exactly want. */
static inline void assert_queued(const sg_stream *s, size_t i, const char *want)
{
	char text[1024];
	sg_frame *f = sg__stream_peek(s, i);
	assert_non_null(f);
	assert_int_equal(f->len, strlen(want));
	assert_string_equal(frame_text(f, text, sizeof(text)), want);
}

/* ---- the clock ---------------------------------------------------------- */

/* The wall clock tests set; one per test program, loop thread only. */
static inline int64_t *fake_clock_cell(void)
{
	static int64_t now_ms;
	return &now_ms;
}

/* For sg_hub_limits.clock_ms. */
static inline int64_t fake_clock_ms(void)
{
	return *fake_clock_cell();
}

static inline void fake_clock_set(int64_t ms)
{
	*fake_clock_cell() = ms;
}

/* ---- the stream tests' world -------------------------------------------- */

/* Per-test world of the stream tests: the fakes and the live counts every
 * test must return to. */
typedef struct stream_env {
	fake_loop loop;
	fake_conn conn;
	sg_stream_counters ctr;
	long streams, msgs, frames;
} stream_env;

static inline int stream_env_setup(void **state)
{
	stream_env *e = calloc(1, sizeof(*e));
	if (!e)
		return -1;
	fake_loop_init(&e->loop);
	e->streams = sg_stream_live();
	e->msgs = sg_msg_live();
	e->frames = sg_frame_live();
	*state = e;
	return 0;
}

/* No task left queued on loop, and the live counts back at what they were
 * when the test began; then the loop is destroyed. */
static inline void fake_loop_finish(fake_loop *loop, long streams, long msgs, long frames)
{
	assert_int_equal(fake_loop_pending(loop), 0);
	assert_int_equal(sg_stream_live(), streams);
	assert_int_equal(sg_msg_live(), msgs);
	assert_int_equal(sg_frame_live(), frames);
	fake_loop_destroy(loop);
}

/* Every test must leave no task queued and nothing alive. */
static inline int stream_env_teardown(void **state)
{
	stream_env *e = *state;
	fake_loop_finish(&e->loop, e->streams, e->msgs, e->frames);
	free(e);
	return 0;
}

/* A stream on e's conn with the server's one ref. */
static inline sg_stream *stream_new(stream_env *e, const sg_transport *t, size_t queue_bytes,
                                    sg_slow_policy policy)
{
	sg_stream_limits lim = {.queue_bytes = queue_bytes, .policy = policy};
	sg_stream *s = sg__stream_new(t, &e->loop.base, fake_sink(), &e->conn, &lim, &e->ctr);
	assert_non_null(s);
	return s;
}

/* ---- hook recorders ------------------------------------------------------ */

/* What the hooks below saw, as "open1,before:x,after,...". */
typedef struct hook_log {
	char text[512];
	int after_close;
	int chunk_rc_in_before_close;
	int chunk_rc_in_after_close;
	int ran_on_loop;
	const fake_loop *loop;
} hook_log;

static inline void log_add(hook_log *l, const char *what)
{
	size_t n = strlen(l->text);
	snprintf(l->text + n, sizeof(l->text) - n, "%s%s", n ? "," : "", what);
}

static inline void on_open1(sg_stream *s, void *ud)
{
	(void)s;
	log_add(ud, "open1");
}

static inline void on_open2(sg_stream *s, void *ud)
{
	(void)s;
	log_add(ud, "open2");
}

/* Logs "before:DATA" and lets the chunk through. */
static inline int on_before_chunk(sg_stream *s, sg_chunk *c, void *ud)
{
	(void)s;
	size_t len;
	const char *d = sg_chunk_data(c, &len);
	char what[64];
	snprintf(what, sizeof(what), "before:%.*s", (int)len, d);
	log_add(ud, what);
	return 0;
}

static inline void on_after_chunk(sg_stream *s, void *ud)
{
	(void)s;
	log_add(ud, "after");
}

/* Logs "bclose" and tries to send "bye" (allowed here). */
static inline void on_before_close(sg_stream *s, void *ud)
{
	hook_log *l = ud;
	log_add(l, "bclose");
	l->chunk_rc_in_before_close = sg_stream_chunk(s, "bye", 3);
	if (l->loop)
		l->ran_on_loop = fake_loop_on_loop(&l->loop->base);
}

/* Logs "aclose", counts, and tries to send "late" (refused here). */
static inline void on_after_close(sg_stream *s, void *ud)
{
	hook_log *l = ud;
	log_add(l, "aclose");
	l->after_close++;
	l->chunk_rc_in_after_close = sg_stream_chunk(s, "late", 4);
}

#endif
