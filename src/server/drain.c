/*
 * drain — asks streams to leave, spread over drain_ms (see drain.h). Runs
 * on the worker's loop from a 20 ms timer; ends nothing itself: each stream
 * ends through its transport's ordinary clean close.
 */
#include "drain.h"

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>

#include "conn.h"
#include "core/id.h"

#define DRAIN_TICK 0.02 /* s between two rounds of asking */

struct sg_drain {
	ev_timer tick;
	sg_server *srv;
	int64_t start_us;
	size_t total; /* streams open when the drain began */
	size_t asked;
	sg_frame *retry; /* "retry: N\n\n", shared by every SSE stream */
};

unsigned sg__drain_retry_ms(const sg_server *srv)
{
	size_t ms = srv->cfg.drain_ms / 10;
	return ms < 100 ? 100 : ms > 1000 ? 1000 : (unsigned)ms;
}

/* A retry: hint, then the stream's clean end (a WebSocket's is 1012: see
 * sg__ws_writeable). */
static void ask_to_leave(struct sg_drain *d, sg_conn *c)
{
	sg_stream *s = c->stream;
	sg__stream_set_end_reason(s, SG_END_SHUTDOWN);
	if (d->retry && sg__stream_transport_of(s) == &sg_transport_sse)
		sg__stream_push(s, d->retry);
	sg_stream_close(s);
	d->asked++;
}

/* How many should have been asked by now: a share of total growing with
 * the time spent, every stream (newer ones too) once drain_ms is over. */
static size_t due(const struct sg_drain *d)
{
	int64_t spent = sg_mono_us() - d->start_us, span = (int64_t)d->srv->cfg.drain_ms * 1000;
	if (spent >= span)
		return (size_t)-1;
	return (size_t)(((double)d->total * (double)spent + (double)span - 1) / (double)span);
}

static void drain_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct sg_drain *d = (struct sg_drain *)w;
	size_t want = due(d);
	for (sg_conn *c = d->srv->conns, *next; c && d->asked < want; c = next) {
		next = c->next; /* closing may unlist c */
		if (c->stream && !sg_stream_is_closed(c->stream))
			ask_to_leave(d, c);
	}
	/* past drain_ms the timer goes on: a stream a kept-alive connection
	 * starts late is asked at once; the shutdown watch ends the loop */
}

int sg__drain_begin(sg_server *srv)
{
	struct sg_drain *d = calloc(1, sizeof(*d));
	if (!d)
		return SG_ENOMEM;
	char hint[32];
	int n = snprintf(hint, sizeof(hint), "retry: %u\n\n", sg__drain_retry_ms(srv));
	d->retry = sg_frame_copy(hint, (size_t)n); /* NULL: SSE clients get no hint */
	d->srv = srv;
	d->start_us = sg_mono_us();
	for (sg_conn *c = srv->conns; c; c = c->next)
		d->total++;
	srv->drain = d;
	ev_timer_init(&d->tick, drain_tick, 0.0, DRAIN_TICK);
	ev_timer_start(srv->evloop, &d->tick);
	return 0;
}

void sg__drain_free(sg_server *srv)
{
	struct sg_drain *d = srv->drain;
	if (!d)
		return;
	ev_timer_stop(srv->evloop, &d->tick);
	sg_frame_unref(d->retry);
	free(d);
	srv->drain = NULL;
}
