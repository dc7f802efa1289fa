/*
 * fake_loop — the two seams core talks through, faked for unit tests: an
 * sg_loop whose loop thread is the thread that called fake_loop_init() and
 * whose post() only queues the task (the test runs queued tasks by hand
 * with fake_loop_drain()), and an sg_stream_sink that counts want_write
 * calls and records end(abort, reason). No sockets, no real event loop.
 */
#ifndef SG_TEST_FAKE_LOOP_H
#define SG_TEST_FAKE_LOOP_H

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/loop.h"
#include "core/stream.h"
#include "streamgate.h"

typedef struct fake_task {
	sg_task_fn fn;
	void *arg;
} fake_task;

/* The loop: base first so a fake_loop * is an sg_loop *. Owns tasks. */
typedef struct fake_loop {
	sg_loop base;
	pthread_t thread; /* the "loop thread" */
	pthread_mutex_t mu;
	fake_task *tasks;
	size_t ntasks, cap;
	size_t posted; /* total accepted by post() */
	int stopped;   /* post() refuses with SG_ECLOSED */
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

/* The calling thread becomes the loop thread. */
static inline void fake_loop_init(fake_loop *f)
{
	memset(f, 0, sizeof(*f));
	f->base.post = fake_loop_post;
	f->base.on_loop = fake_loop_on_loop;
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
