/*
 * loop — what core needs from an event loop, as function pointers the
 * server fills in: run a task on the loop thread (from any thread) and
 * tell whether the caller is on it. Keeps core free of libwebsockets.
 */
#ifndef SG_CORE_LOOP_H
#define SG_CORE_LOOP_H

#include <stdint.h>

typedef void (*sg_task_fn)(void *arg);
typedef struct sg_timer sg_timer; /* the loop's own, opaque to core */

typedef struct sg_loop {
	/* Runs fn(arg) soon on the loop thread; any thread. Returns 0, or
	 * SG_ECLOSED when the loop has stopped (fn is then never run). */
	int (*post)(struct sg_loop *loop, sg_task_fn fn, void *arg);
	/* Nonzero when called on the loop thread. */
	int (*on_loop)(const struct sg_loop *loop);
	/* Runs fn(arg) once after ms on the loop thread; the timer frees
	 * itself after it fired. Loop thread. NULL when out of memory. */
	sg_timer *(*timer_start)(struct sg_loop *loop, uint64_t ms, sg_task_fn fn, void *arg);
	/* Cancels and frees a timer that has not fired yet; NULL is a no-op.
	 * Loop thread. */
	void (*timer_cancel)(struct sg_loop *loop, sg_timer *t);
} sg_loop;

#endif
