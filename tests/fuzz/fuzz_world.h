/*
 * fuzz_world — the little world the endpoint harnesses run in: a server
 * struct holding only a hub, the memory broker and a config; a loop that
 * queues posted tasks until fuzz_world_free runs them; a sink that does
 * nothing; a fixed clock. No libwebsockets, no sockets, no threads. It must
 * not hide a leak: fuzz_world_free checks every live count went back.
 */
#ifndef SG_FUZZ_WORLD_H
#define SG_FUZZ_WORLD_H

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/broker.h"
#include "core/hub.h"
#include "core/json.h"
#include "core/message.h"
#include "core/stream.h"
#include "core/transport.h"
#include "server/config.h"
#include "server/conn.h"
#include "server/request.h"
#include "server/server.h"

/* The clock every fuzz hub runs on: ids are "1700000000000-N". */
#define SG_FUZZ_NOW 1700000000000LL

#include "fuzz_check.h"

typedef struct sg_fuzz_task {
	sg_task_fn fn;
	void *arg;
} sg_fuzz_task;

/* One iteration's world; srv first so the loop is srv.loop. Owns all. */
typedef struct sg_fuzz_world {
	sg_server srv;
	sg_fuzz_task tasks[64];
	size_t ntasks;
	sg_conn conn;	/* the fake connection a stream points at: no token */
	sg_group group; /* no auth: rights as before authentication */
	long streams, msgs, frames;
} sg_fuzz_world;

static inline int64_t sg_fuzz_clock(void)
{
	return SG_FUZZ_NOW;
}

static inline int sg_fuzz_post(sg_loop *loop, sg_task_fn fn, void *arg)
{
	sg_fuzz_world *w = (sg_fuzz_world *)loop;
	if (w->ntasks == sizeof(w->tasks) / sizeof(w->tasks[0]))
		return SG_ENOMEM;
	w->tasks[w->ntasks++] = (sg_fuzz_task){fn, arg};
	return 0;
}

static inline int sg_fuzz_on_loop(const sg_loop *loop)
{
	(void)loop;
	return 1;
}

static inline sg_timer *sg_fuzz_timer_start(sg_loop *loop, uint64_t ms, sg_task_fn fn, void *arg)
{
	(void)loop, (void)ms, (void)fn, (void)arg;
	return NULL;
}

static inline void sg_fuzz_timer_cancel(sg_loop *loop, sg_timer *t)
{
	(void)loop;
	SG_FUZZ_CHECK(t == NULL);
}

static inline void sg_fuzz_want_write(void *conn)
{
	(void)conn;
}

static inline void sg_fuzz_end(void *conn, int abort_now, const char *reason)
{
	(void)conn, (void)abort_now, (void)reason;
}

static const sg_stream_sink sg_fuzz_sink = {.want_write = sg_fuzz_want_write, .end = sg_fuzz_end};

/* A fresh world with a hub (history 8 messages), the memory broker and the
 * default config. Caller frees with sg_fuzz_world_free. */
static inline sg_fuzz_world *sg_fuzz_world_new(void)
{
	sg_fuzz_world *w = calloc(1, sizeof(*w));
	SG_FUZZ_CHECK(w != NULL);
	w->streams = sg_stream_live();
	w->msgs = sg_msg_live();
	w->frames = sg_frame_live();
	w->srv.group = &w->group;
	w->conn.srv = &w->srv;
	w->srv.loop = (sg_loop){.post = sg_fuzz_post,
	                        .on_loop = sg_fuzz_on_loop,
	                        .timer_start = sg_fuzz_timer_start,
	                        .timer_cancel = sg_fuzz_timer_cancel};
	sg_config *cfg = sg_config_new();
	SG_FUZZ_CHECK(cfg != NULL);
	w->srv.cfg = *cfg;
	sg_config_free(cfg);
	sg_hub_limits lim = {.history_count = 8,
	                     .history_bytes = 1 << 16,
	                     .max_channels = 64,
	                     .clock_ms = sg_fuzz_clock};
	w->srv.hub = sg_hub_new(&lim);
	SG_FUZZ_CHECK(w->srv.hub != NULL);
	w->srv.broker = sg_broker_memory_new(w->srv.hub);
	SG_FUZZ_CHECK(w->srv.broker != NULL);
	w->srv.stream_limits =
	    (sg_stream_limits){.queue_bytes = 1 << 16, .policy = SG_SLOW_DROP_OLDEST};
	return w;
}

/* A new stream of transport t on w's hub, open (headers out) when open is
 * nonzero. Detach with sg__stream_detach before sg_fuzz_world_free. */
static inline sg_stream *sg_fuzz_stream(sg_fuzz_world *w, const sg_transport *t, int open)
{
	sg_stream *s = sg__stream_new(t, &w->srv.loop, &sg_fuzz_sink, &w->conn,
	                              &w->srv.stream_limits, &w->srv.counters);
	SG_FUZZ_CHECK(s != NULL);
	sg_hub_attach(w->srv.hub, s);
	if (open)
		sg__stream_opened(s);
	return s;
}

/* Runs what was posted, frees the broker and hub, checks nothing lives. */
static inline void sg_fuzz_world_free(sg_fuzz_world *w)
{
	for (size_t i = 0; i < w->ntasks; i++)
		w->tasks[i].fn(w->tasks[i].arg);
	w->srv.broker->ops->free(w->srv.broker);
	sg_hub_free(w->srv.hub);
	SG_FUZZ_CHECK(sg_stream_live() == w->streams);
	SG_FUZZ_CHECK(sg_msg_live() == w->msgs);
	SG_FUZZ_CHECK(sg_frame_live() == w->frames);
	free(w);
}

/* Pops every queued frame of s, checking each is one JSON object (with a
 * string "type" when it is a control message). Returns how many. */
static inline size_t sg_fuzz_drain_json(sg_stream *s)
{
	size_t n = 0;
	while (sg__stream_queued(s)) {
		sg_frame *f = sg__stream_peek(s, 0);
		json_error_t je;
		json_t *v = json_loadb((const char *)sg_frame_data(f), f->len, JSON_ALLOW_NUL, &je);
		SG_FUZZ_CHECK(json_is_object(v));
		json_t *type = json_object_get(v, "type");
		SG_FUZZ_CHECK(!type || json_is_string(type));
		json_decref(v);
		sg__stream_pop(s);
		n++;
	}
	return n;
}


#endif
