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

#include "access_log.h"
#include "auth/principal.h"
#include "h1.h"
#include "h2.h"
#include "respond.h"
#include "websocket.h"
#include "write_hold.h"

/* "client\0method\0target" for the line the stream's end writes (the
 * request is gone by then). NULL on no memory: the line says "-". */
static char *access_req_keep(const sg_request *req)
{
	char *target = sg__access_log_target(req);
	const char *client = sg__client_ip(req);
	size_t lc = strlen(client), lm = strlen(req->method), lt = target ? strlen(target) : 0;
	char *k = target ? malloc(lc + lm + lt + 3) : NULL;
	if (k) {
		memcpy(k, client, lc + 1);
		memcpy(k + lc + 1, req->method, lm + 1);
		memcpy(k + lc + lm + 2, target, lt + 1);
	}
	free(target);
	return k;
}

sg_stream *sg__conn_stream_new(sg_conn *c, const sg_transport *t, const sg_stream_sink *sink)
{
	sg_server *srv = c->srv;
	sg_stream *s =
		sg__stream_new(t, &srv->loop, sink, c, &srv->stream_limits, &srv->counters);
	if (!s)
		return NULL;
	c->stream = s;
	c->listed = 1;
	c->start_us = c->req ? c->req->start_us : sg_mono_us();
	c->slot = (unsigned char)t->slot;
	if (srv->group->access_log && c->req)
		c->access_req = access_req_keep(c->req);
	sg__obs_add(&srv->obs.opened[c->slot], 1);
	SG_LIST_PUSH(srv->conns, c, prev, next);
	atomic_fetch_add(&srv->connections, 1);
	sg_hub_attach(srv->hub, s);
	return s;
}

/* ---- the write pass ----------------------------------------------------- */

struct sg_writer {
	ev_prepare prepare;
	ev_timer delay; /* wakes the loop when a held pass is due */
	ev_tstamp last; /* when the last pass wrote */
	size_t last_n;	/* how many connections it wrote */
	sg_server *srv;
};

/* An HTTP/1 connection whose stream has sent no head yet has an answer to
 * send (a late one, a publish's, a refusal) or a stream to open: a hold
 * would only delay it, so it is written on the next pass, held or not. */
static int urgent(const sg_conn *c)
{
	return !c->is_ws && !c->is_h2 && !c->headers_out;
}

void sg__conn_mark_dirty(sg_conn *c)
{
	sg_server *srv = c->srv;
	if (c->is_dirty)
		return;
	c->is_dirty = 1;
	c->dirty_urgent = urgent(c);
	if (c->dirty_urgent)
		SG_LIST_PUSH(srv->dirty_urgent, c, dirty_prev, dirty_next);
	else
		SG_LIST_PUSH(srv->dirty, c, dirty_prev, dirty_next);
}

void sg__conn_dirty_unlink(sg_conn *c)
{
	if (!c->is_dirty)
		return;
	if (c->dirty_urgent)
		SG_LIST_UNLINK(c->srv->dirty_urgent, c, dirty_prev, dirty_next);
	else
		SG_LIST_UNLINK(c->srv->dirty, c, dirty_prev, dirty_next);
	c->is_dirty = 0;
}

/* A pass due sooner after the last one than write_hold.h says is put off
 * until then, and a loop with headroom sends several messages at a time,
 * as a saturated one does, at the cost of at most that much latency.
 * After a quiet spell the first message goes out at once; a loop busier
 * than the hold is never held. */
static int write_pass_deferred(struct sg_writer *wr)
{
	sg_server *srv = wr->srv;
	if (!srv->dirty || srv->shutting_down)
		return 0;
	size_t hold_us = sg__write_hold_us(srv->cfg.write_delay_ms, srv->cfg.write_delay_auto_ms,
					   wr->last_n);
	if (!hold_us)
		return 0;
	ev_tstamp left = wr->last + (ev_tstamp)hold_us / 1e6 - ev_now(srv->evloop);
	if (left <= 0)
		return 0;
	if (!ev_is_active(&wr->delay)) {
		sg__obs_add(&srv->obs.write_holds, 1);
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

static void write_conn(sg_conn *c)
{
	sg__conn_dirty_unlink(c);
	if (c->is_ws)
		sg__ws_write_pass(c);
	else if (c->is_h2)
		sg__h2_write_pass(c);
	else
		sg__h1_write_pass(c);
}

/* Runs just before the loop sleeps: every connection whose stream queued
 * frames during this turn writes them, several to a send. */
static void write_pass(struct ev_loop *loop, ev_prepare *w, int revents)
{
	(void)revents;
	struct sg_writer *wr = (struct sg_writer *)w;
	sg_server *srv = wr->srv;
	sg_conn *c;
	if (srv->dirty || srv->dirty_urgent)
		srv->write_now_us = sg_mono_us(); /* one clock read per pass, not per write */
	while ((c = srv->dirty_urgent))
		write_conn(c);
	if (write_pass_deferred(wr))
		return;
	if (srv->dirty) {
		wr->last = ev_now(loop);
		wr->last_n = 0;
		sg__obs_add(&srv->obs.write_passes, 1);
	}
	while ((c = srv->dirty ? srv->dirty : srv->dirty_urgent)) {
		write_conn(c);
		wr->last_n++;
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

/* Why c's stream ends, when nothing said so before. */
static sg_end_reason end_reason(const sg_conn *c, int errored)
{
	sg_end_reason r = sg__stream_end_reason(c->stream);
	if (r)
		return r;
	if (c->srv->shutting_down)
		return SG_END_SHUTDOWN;
	return errored ? SG_END_CLIENT_LEFT : SG_END_ENDED;
}

static void log_line(sg_conn *c, const char *req, int status, unsigned long long bytes,
		     const char *transport, const char *reason)
{
	const char *client = req ? req : "-";
	const char *method = req ? client + strlen(client) + 1 : "-";
	const char *target = req ? method + strlen(method) + 1 : "-";
	sg_access_entry e = {.client = client,
			     .method = method,
			     .target = target,
			     .transport = transport,
			     .h2 = c->via_h2,
			     .status = status,
			     .bytes = bytes,
			     .duration_us = sg_mono_us() - c->start_us,
			     .messages = c->messages,
			     .reason = reason};
	sg__access_log_write(c->srv->group->access_log, &e);
}

/* The stream's end in /metrics and the access log: one place for HTTP/1,
 * HTTP/2 and WebSocket. */
static void stream_ended(sg_conn *c, int errored)
{
	sg_obs *o = &c->srv->obs;
	sg_end_reason r = end_reason(c, errored);
	sg__obs_add(&o->closed[c->slot], 1);
	sg__obs_add(&o->ended[r], 1);
	sg__obs_observe(&o->duration, &sg_obs_duration_bounds, sg_mono_us() - c->start_us);
	if (c->opened && c->srv->group->access_log) {
		const sg_transport *t = sg__stream_transport_of(c->stream);
		log_line(c, c->access_req, c->is_ws ? 101 : 200, c->sent, t->name,
			 sg_end_reason_name(r));
	}
}

void sg__conn_log_request(sg_conn *c, int status, size_t bytes)
{
	if (!c->srv->group->access_log)
		return;
	char *keep = c->req ? access_req_keep(c->req) : NULL;
	c->start_us = c->req ? c->req->start_us : sg_mono_us();
	c->messages = 0;
	log_line(c, keep, status, bytes, "http", NULL);
	free(keep);
}

int sg__conn_answer_late(sg_stream *s, sg_response *r)
{
	sg_conn *c = s ? sg__stream_conn(s) : NULL;
	if (!c || c->is_ws || c->headers_out || c->late)
		return SG_ECLOSED;
	c->late = r;
	sg__stream_wake(s); /* its engine's write pass sends r instead */
	return 0;
}

void sg__conn_release(sg_conn *c, int errored)
{
	sg_server *srv = c->srv;
	if (c->stream)
		stream_ended(c, errored);
	free(c->access_req);
	sg__conn_dirty_unlink(c); /* its links are about to be cleared */
	srv->loop.timer_cancel(&srv->loop, c->timer);
	if (c->is_ws)
		sg__ws_release(c);
	srv->loop.timer_cancel(&srv->loop, c->expiry);
	sg_principal_free(c->principal);
	if (c->listed) {
		SG_LIST_UNLINK(srv->conns, c, prev, next);
		atomic_fetch_sub(&srv->connections, 1);
	}
	sg_stream *s = c->stream;
	sg_buf_free(&c->head_fields);
	if (c->late) {
		sg__response_free(c->late);
		free(c->late);
	}
	sg__request_free(c->req);
	free(c->rate_key);
	/* ready for the next request on a kept-alive connection */
	*c = (sg_conn){
	    .wsi = c->wsi, .srv = srv, .is_ws = c->is_ws, .is_h2 = c->is_h2, .via_h2 = c->via_h2,
	    .via_tls = c->via_tls};
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
	if (c->head_fields.len) /* e.g. an upstream stream's Stream-Id */
		sg_buf_append(&r->headers, c->head_fields.data, c->head_fields.len);
	sg_buf_puts(&r->body, t->batch_open);
	int64_t now = sg_mono_us();
	for (size_t i = 0; sg__stream_queued(s); i++) {
		sg_frame *f = sg__stream_peek(s, 0);
		if (i)
			sg_buf_puts(&r->body, t->batch_sep);
		sg_buf_append(&r->body, sg_frame_data(f), f->len);
		sg__conn_sent(c, f, 0, now);
		sg__stream_pop(s);
	}
	sg_buf_puts(&r->body, t->batch_close);
	c->sent += r->body.len;
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
	c->sent += *len;
	return take;
}

void sg__conn_sent(sg_conn *c, const sg_frame *f, size_t len, int64_t now_us)
{
	sg_server *srv = c->srv;
	c->sent += len;
	if (!f->pub_us)
		return; /* a prelude, heartbeat or control frame: not a delivery */
	c->messages++;
	sg__obs_add(&srv->obs.delivered[c->slot], 1);
	sg__obs_observe(&srv->obs.lag, &sg_obs_lag_bounds, now_us - f->pub_us);
}

void sg__conn_batch_done(sg_conn *c, size_t n)
{
	int64_t now = c->srv->write_now_us;
	c->active = 1;
	for (size_t i = 0; i < n; i++)
		sg__conn_sent(c, sg__stream_peek(c->stream, i), 0, now);
	while (n--)
		sg__stream_pop(c->stream);
}
