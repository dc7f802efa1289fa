/*
 * fake_loop — the two seams core talks through, faked for unit tests: an
 * sg_loop whose loop thread is the thread that called fake_loop_init(),
 * whose post() only queues the task (the test runs queued tasks by hand
 * with fake_loop_drain()) and whose timers only wait until the test fires
 * them (fake_loop_fire()); and an sg_stream_sink that counts want_write
 * calls and records end(abort, reason). No sockets, no clock, no real loop.
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

#endif
