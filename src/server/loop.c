/*
 * loop — a worker's loop as the core sees it (core/loop.h): tasks other
 * threads post (a locked queue, then lws_cancel_service to wake the loop),
 * whether the caller is on the loop, and one-shot timers on libev.
 */
#include <ev.h>
#include <libwebsockets.h>
#include <stdlib.h>

#include "server.h"

static int loop_post(sg_loop *loop, sg_task_fn fn, void *arg)
{
	sg_server *srv = (sg_server *)loop;
	sg_task *t = malloc(sizeof(*t));
	if (!t)
		return SG_ENOMEM;
	*t = (sg_task){.fn = fn, .arg = arg};
	pthread_mutex_lock(&srv->tasks_lock);
	int closed = srv->tasks_closed;
	if (!closed) {
		if (srv->tasks_tail)
			srv->tasks_tail->next = t;
		else
			srv->tasks_head = t;
		srv->tasks_tail = t;
	}
	pthread_mutex_unlock(&srv->tasks_lock);
	if (closed) {
		free(t);
		return SG_ECLOSED;
	}
	lws_cancel_service(srv->ctx);
	return 0;
}

static int loop_on_loop(const sg_loop *loop)
{
	const sg_server *srv = (const sg_server *)loop;
	/* until run, no thread is: what other threads post waits in the queue */
	return atomic_load(&srv->loop_started) && pthread_equal(pthread_self(), srv->loop_thread);
}

/* A loop timer: its libev watcher first, so the callback finds it. Not on
 * lws' sorted list: lws 4.1 arms its libev timer for the earliest entry
 * only when that timer fires, so an entry due sooner than the armed one
 * waited for it (a 50 ms timer fired after up to a second). */
struct sg_timer {
	ev_timer ev;
	sg_task_fn fn;
	void *arg;
};

static void timer_fire(struct ev_loop *evloop, ev_timer *w, int revents)
{
	(void)evloop;
	(void)revents;
	sg_timer *t = (sg_timer *)w;
	sg_task_fn fn = t->fn;
	void *arg = t->arg;
	free(t);
	fn(arg);
}

static sg_timer *loop_timer_start(sg_loop *loop, uint64_t ms, sg_task_fn fn, void *arg)
{
	sg_server *srv = (sg_server *)loop;
	sg_timer *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->fn = fn;
	t->arg = arg;
	ev_now_update(srv->evloop); /* from now, not from this pass' start */
	ev_timer_init(&t->ev, timer_fire, (double)ms / 1000.0, 0.0);
	ev_timer_start(srv->evloop, &t->ev);
	return t;
}

static void loop_timer_cancel(sg_loop *loop, sg_timer *t)
{
	sg_server *srv = (sg_server *)loop;
	if (!t)
		return;
	ev_timer_stop(srv->evloop, &t->ev);
	free(t);
}

void sg__server_run_tasks(sg_server *srv)
{
	pthread_mutex_lock(&srv->tasks_lock);
	sg_task *t = srv->tasks_head;
	srv->tasks_head = srv->tasks_tail = NULL;
	pthread_mutex_unlock(&srv->tasks_lock);
	while (t) {
		sg_task *next = t->next;
		t->fn(t->arg);
		free(t);
		t = next;
	}
}

void sg__server_loop_init(sg_server *srv)
{
	srv->loop.post = loop_post;
	srv->loop.on_loop = loop_on_loop;
	srv->loop.timer_start = loop_timer_start;
	srv->loop.timer_cancel = loop_timer_cancel;
}
