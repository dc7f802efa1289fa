/*
 * conn — binds a core stream to a connection of either kind and turns its
 * queue into bytes for the wire: several queued frames go out in one write
 * (one HTTP chunk, or back-to-back WebSocket frames); a lone frame is framed
 * in place in its head- and tailroom. Never writes to a socket itself.
 */
#include "conn.h"
#include "core/list.h"

#include <ev.h>
#include <libwebsockets.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "auth/principal.h"
#include "h1.h"
#include "h2.h"
#include "respond.h"
#include "websocket.h"

sg_stream *sg__conn_stream_new(sg_conn *c, const sg_transport *t, const sg_stream_sink *sink)
{
	sg_server *srv = c->srv;
	sg_stream *s =
		sg__stream_new(t, &srv->loop, sink, c, &srv->stream_limits, &srv->counters);
	if (!s)
		return NULL;
	c->stream = s;
	c->listed = 1;
	SG_LIST_PUSH(srv->conns, c, prev, next);
	atomic_fetch_add(&srv->connections, 1);
	sg_hub_attach(srv->hub, s);
	return s;
}

/* ---- the write pass ----------------------------------------------------- */

struct sg_writer {
	ev_prepare prepare;
	ev_timer delay; /* wakes the loop when write_delay_ms has passed */
	ev_tstamp last; /* when the last pass wrote */
	sg_server *srv;
};

void sg__conn_mark_dirty(sg_conn *c)
{
	sg_server *srv = c->srv;
	if (c->is_dirty)
		return;
	c->is_dirty = 1;
	SG_LIST_PUSH(srv->dirty, c, dirty_prev, dirty_next);
}

void sg__conn_dirty_unlink(sg_conn *c)
{
	if (!c->is_dirty)
		return;
	SG_LIST_UNLINK(c->srv->dirty, c, dirty_prev, dirty_next);
	c->is_dirty = 0;
}

/* With write_delay_ms set, a loop writes at most once per that long: a pass
 * due sooner after the last one is put off until then, and a loop with
 * headroom sends several messages at a time, as a saturated one does, at
 * the cost of at most that much latency. After a quiet spell the first
 * message goes out at once; a loop busier than the delay is never held. */
static int write_pass_deferred(struct sg_writer *wr)
{
	sg_server *srv = wr->srv;
	if (!srv->cfg.write_delay_ms || !srv->dirty || srv->shutting_down)
		return 0;
	ev_tstamp left = wr->last + (ev_tstamp)srv->cfg.write_delay_ms / 1000 - ev_now(srv->evloop);
	if (left <= 0)
		return 0;
	if (!ev_is_active(&wr->delay)) {
		ev_timer_set(&wr->delay, left, 0);
		ev_timer_start(srv->evloop, &wr->delay);
	}
	return 1;
}

/* The delay timer only has to wake the loop: its prepare watcher writes. */
static void write_delay_over(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
}

/* Runs just before the loop sleeps: every connection whose stream queued
 * frames during this turn writes them, several to a send. */
static void write_pass(struct ev_loop *loop, ev_prepare *w, int revents)
{
	(void)revents;
	struct sg_writer *wr = (struct sg_writer *)w;
	sg_server *srv = wr->srv;
	sg_conn *c;
	if (write_pass_deferred(wr))
		return;
	if (srv->dirty)
		wr->last = ev_now(loop);
	while ((c = srv->dirty)) {
		sg__conn_dirty_unlink(c);
		if (c->is_ws)
			sg__ws_write_pass(c);
		else if (c->is_h2)
			sg__h2_write_pass(c);
		else
			sg__h1_write_pass(c);
	}
}

int sg__conn_writer_start(sg_server *srv)
{
	struct sg_writer *w = calloc(1, sizeof(*w));
	if (!w)
		return SG_ENOMEM;
	w->srv = srv;
	ev_prepare_init(&w->prepare, write_pass);
	ev_prepare_start(srv->evloop, &w->prepare);
	ev_timer_init(&w->delay, write_delay_over, 0, 0);
	srv->writer = w;
	return 0;
}

void sg__conn_writer_stop(sg_server *srv)
{
	if (!srv->writer)
		return;
	ev_prepare_stop(srv->evloop, &srv->writer->prepare);
	ev_timer_stop(srv->evloop, &srv->writer->delay);
	free(srv->writer);
	srv->writer = NULL;
}

/* ---- the stream's end ---------------------------------------------------- */

void sg__conn_release(sg_conn *c, int errored)
{
	sg_server *srv = c->srv;
	sg__conn_dirty_unlink(c); /* its links are about to be cleared */
	srv->loop.timer_cancel(&srv->loop, c->timer);
	srv->loop.timer_cancel(&srv->loop, c->pong_timer);
	srv->loop.timer_cancel(&srv->loop, c->msg_timer);
	srv->loop.timer_cancel(&srv->loop, c->expiry);
	sg_principal_free(c->principal);
	if (c->listed) {
		SG_LIST_UNLINK(srv->conns, c, prev, next);
		atomic_fetch_sub(&srv->connections, 1);
	}
	sg_stream *s = c->stream;
	sg_buf_free(&c->wsmsg);
	sg__request_free(c->req);
	free(c->rate_key);
	/* ready for the next request on a kept-alive connection */
	*c = (sg_conn){.wsi = c->wsi, .srv = srv, .is_ws = c->is_ws, .is_h2 = c->is_h2};
	if (s)
		sg__stream_detach(s, errored);
}

char *sg__conn_longpoll_response(sg_conn *c, sg_response *r)
{
	sg_stream *s = c->stream;
	const sg_transport *t = sg__stream_transport_of(s);
	sg__response_init(r);
	r->content_type = t->content_type;
	sg_id_format(sg__stream_last(s), r->last_event_id);
	char *gap = sg__stream_notes(s) ? strdup(sg__stream_notes(s)) : NULL;
	r->gap = gap;
	sg_buf_puts(&r->body, t->batch_open);
	for (size_t i = 0; sg__stream_queued(s); i++) {
		sg_frame *f = sg__stream_peek(s, 0);
		if (i)
			sg_buf_puts(&r->body, t->batch_sep);
		sg_buf_append(&r->body, sg_frame_data(f), f->len);
		sg__stream_pop(s);
	}
	sg_buf_puts(&r->body, t->batch_close);
	return gap;
}

void sg__conn_heartbeat(sg_conn *c)
{
	sg_stream *s = c->stream;
	if (c->active || !s || sg__stream_state(s) != SG_STREAM_OPEN) {
		c->active = 0;
		return;
	}
	const sg_transport *t = sg__stream_transport_of(s);
	if (c->is_ws)
		sg__ws_ping(c);
	else if (c->srv->heartbeats[t->slot] && !sg__stream_queued(s))
		sg__stream_push(s, c->srv->heartbeats[t->slot]);
}

/* ---- wire framing ----------------------------------------------------- */

#define WIRE_HEAD_MAX 10

static size_t none(size_t len, unsigned char *out)
{
	(void)len;
	(void)out;
	return 0;
}

static size_t chunk_size_line(size_t total, unsigned char *out)
{
	char line[WIRE_HEAD_MAX + 8];
	int n = snprintf(line, sizeof(line), "%zx\r\n", total);
	memcpy(out, line, (size_t)n);
	return (size_t)n;
}

/* RFC 6455 header of one final, unmasked text frame. */
static size_t ws_text_header(size_t len, unsigned char *out)
{
	out[0] = 0x81;
	if (len < 126) {
		out[1] = (unsigned char)len;
		return 2;
	}
	if (len < 65536) {
		out[1] = 126;
		out[2] = (unsigned char)(len >> 8);
		out[3] = (unsigned char)len;
		return 4;
	}
	out[1] = 127;
	for (int i = 0; i < 8; i++)
		out[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
	return 10;
}

const sg_wire_framing sg_wire_chunked = {chunk_size_line, none, "\r\n"};
const sg_wire_framing sg_wire_raw = {none, none, ""};
const sg_wire_framing sg_wire_websocket = {none, ws_text_header, ""};

_Static_assert(LWS_PRE + WIRE_HEAD_MAX <= SG_FRAME_HEADROOM, "frame headroom too small");

/* How many queued frames go in the next write (they and their framing fit
 * in cap), and their payload size. */
static size_t batch_size(const sg_stream *s, size_t cap, size_t *total)
{
	size_t n = sg__stream_queued(s), take = 0, wire = 0;
	*total = 0;
	while (take < n) {
		size_t len = sg__stream_peek(s, take)->len;
		if (take && wire + len + WIRE_HEAD_MAX > cap)
			break;
		*total += len;
		wire += len + WIRE_HEAD_MAX;
		take++;
	}
	return take;
}

size_t sg__conn_batch(sg_conn *c, const sg_wire_framing *w, unsigned char **start, size_t *len)
{
	sg_server *srv = c->srv;
	sg_stream *s = c->stream;
	size_t total, take = batch_size(s, srv->scratch_cap - 2 * WIRE_HEAD_MAX, &total);
	unsigned char head[2 * WIRE_HEAD_MAX], *p;
	size_t tail = strlen(w->batch_tail);
	if (take == 1) {
		sg_frame *f = sg__stream_peek(s, 0);
		size_t hl = w->batch_head(f->len, head);
		hl += w->frame_head(f->len, head + hl);
		*start = sg_frame_data(f) - hl;
		memcpy(*start, head, hl);
		memcpy(sg_frame_data(f) + f->len, w->batch_tail, tail);
		p = sg_frame_data(f) + f->len + tail;
	} else {
		*start = p = srv->scratch + LWS_PRE;
		p += w->batch_head(total, p);
		for (size_t i = 0; i < take; i++) {
			sg_frame *f = sg__stream_peek(s, i);
			p += w->frame_head(f->len, p);
			memcpy(p, sg_frame_data(f), f->len);
			p += f->len;
		}
		memcpy(p, w->batch_tail, tail);
		p += tail;
	}
	*len = (size_t)(p - *start);
	return take;
}

void sg__conn_batch_done(sg_conn *c, size_t n)
{
	c->active = 1;
	while (n--)
		sg__stream_pop(c->stream);
}
