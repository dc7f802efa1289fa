/*
 * h1_request — what each HTTP/1 request gets, in the order they came:
 * admission, routing, then an answer, a body read to its end, a stream or
 * long-poll, or a WebSocket upgrade. Requests pipelined behind one wait in
 * the connection's input until it is done; nothing here frees the
 * connection (h1.c does, from its callbacks).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admit.h"
#include "h1_conn.h"

#define H1_OUT_HIGH (64 * 1024) /* answers waiting to be sent: stop taking requests */

/* ---- answers ------------------------------------------------------------ */

/* The request's answer is queued: the connection goes on to the next
 * request, or closes when the request, the answer or a shutdown says so. */
static void request_done(sg_h1 *h)
{
	sg_server *srv = h->c.srv;
	if (srv->shutting_down)
		h->wire.close = 1;
	h->state = h->wire.close ? SG_H1_CLOSING : SG_H1_HEAD;
	h->head_started = 0;
	h->wire.cors = (sg_cors){0}; /* a 408 for the next head is nobody's answer yet */
	sg__h1_timer(h, h->wire.close ? srv->cfg.body_timeout_ms : srv->cfg.keepalive_timeout_ms);
	sg__h1_flush(h);
}

static void wait_for(sg_h1 *h, sg_response *resp);
static void upgrade_answer(sg_h1 *h, sg_response *resp);

/* Sends resp and ends the request. */
static void answer(sg_h1 *h, sg_response *resp)
{
	if (resp->deferred)
		return wait_for(h, resp);
	if (h->over_limit || h->c.srv->shutting_down)
		h->wire.close = 1; /* said in the answer's own headers */
	size_t before = h->out.len;
	if (sg__response_write(resp, &h->wire, &h->out))
		sg__h1_die(h, 1);
	if (h->c.req || resp->status >= 400) /* not a long-poll's: its stream's end said it */
		sg__conn_log_request(&h->c, resp->status, h->out.len - before);
	sg__response_free(resp);
	sg__request_free(h->c.req);
	h->c.req = NULL;
	sg_buf_free(&h->body);
	request_done(h);
}

/* ---- answers that come later ---------------------------------------- */

/* From the broker's callback, at any depth: the write pass sends it. */
static void reply_arrived(void *owner)
{
	sg__h1_mark_dirty(owner);
}

/* The endpoint deferred resp: the connection waits (reading no further
 * request, so pipelined answers keep their order) until the answer
 * arrives or the broker's backstop passes. */
static void wait_for(sg_h1 *h, sg_response *resp)
{
	sg_reply *r = resp->deferred;
	resp->deferred = NULL;
	sg__response_free(resp);
	sg_buf_free(&h->body);
	if (sg__reply_attach(r, h, reply_arrived)) {
		sg_response now;
		sg__reply_take(r, &now);
		return answer(h, &now);
	}
	h->reply = r;
	h->state = SG_H1_WAIT;
	/* a preflight waits for an upstream's head (upstream_timeout_ms) too */
	sg__h1_timer(h, 2 * h->c.srv->cfg.redis_timeout_ms +
			    (h->upgrade_wait ? 2 * h->c.srv->cfg.upstream_timeout_ms : 0));
}

void sg__h1_reply_check(sg_h1 *h)
{
	if (h->state != SG_H1_WAIT || h->dead || !h->reply->sent)
		return;
	sg_response r;
	sg__reply_take(h->reply, &r);
	h->reply = NULL;
	if (h->upgrade_wait)
		return upgrade_answer(h, &r);
	answer(h, &r);
}

/* The broker never answered: 504, and the connection goes on (the
 * request was read whole, so the next one starts where it should). */
static void wait_timed_out(sg_h1 *h)
{
	sg_response r;
	sg__reply_abandon(h->reply);
	h->reply = NULL;
	h->upgrade_wait = 0;
	sg__response_init(&r);
	sg__response_error(&r, 504, "broker_timeout", "the broker did not answer in time");
	answer(h, &r);
}

/* A JSON error, and the connection closes: after it, where the next
 * request starts is not known for sure. */
static void fail(sg_h1 *h, int status, const char *error, const char *detail)
{
	sg_response r;
	sg__response_init(&r);
	sg__response_error(&r, status, error, detail);
	h->wire.close = 1;
	answer(h, &r);
}

void sg__h1_timed_out(sg_h1 *h)
{
	if (h->state == SG_H1_CLOSING) { /* the client does not read our answer */
		sg__h1_die(h, 0);
		return;
	}
	if (h->state == SG_H1_WAIT)
		return wait_timed_out(h);
	if (h->state == SG_H1_HEAD && !h->wire.minor)
		h->wire.minor = 1;
	fail(h, 408, "request_timeout",
	     h->state == SG_H1_BODY ? "the request body stopped arriving (body_timeout_ms)"
				    : "the request head did not arrive in time (body_timeout_ms)");
}

/* ---- bodies --------------------------------------------------------------- */

static int body_emit(void *ctx, const char *p, size_t n)
{
	sg_h1 *h = ctx;
	if (h->body.len + n > h->c.srv->cfg.max_body_bytes)
		return -1;
	return sg_buf_append(&h->body, p, n) ? -1 : 0;
}

static void stream_begin(sg_h1 *h);

static void body_done(sg_h1 *h)
{
	if (sg__http_body_streams(h->c.srv, &h->d, h->c.req, &h->body))
		return stream_begin(h);
	sg_response resp;
	sg__response_init(&resp);
	sg__http_post(h->c.srv, &h->d, h->c.req, h->body.data ? h->body.data : "", h->body.len,
		      &resp);
	answer(h, &resp);
}

/* Takes body bytes from `in`. Returns nonzero when the body is done (or
 * failed) and the connection has moved on. */
static int body_feed(sg_h1 *h)
{
	const char *p = h->in.data + h->in_off;
	size_t avail = h->in.len - h->in_off, used;
	if (h->is_chunked) {
		sg_h1_error err;
		sg_h1_result r = sg_h1_chunked_feed(&h->chunked, p, avail, &used, body_emit, h, &err);
		h->in_off += used;
		if (r == SG_H1_BAD)
			fail(h, err.status, err.error, err.detail);
		else if (r == SG_H1_DONE)
			body_done(h);
		else
			sg__h1_timer(h, h->c.srv->cfg.body_timeout_ms);
		return r != SG_H1_MORE;
	}
	used = (unsigned long long)h->body_remain < avail ? (size_t)h->body_remain : avail;
	if (body_emit(h, p, used)) {
		fail(h, 413, "body_too_large", "the body is over max_body_bytes");
		return 1;
	}
	h->in_off += used;
	h->body_remain -= (long long)used;
	if (!h->body_remain) {
		body_done(h);
		return 1;
	}
	sg__h1_timer(h, h->c.srv->cfg.body_timeout_ms);
	return 0;
}

static void body_begin(sg_h1 *h, const sg_h1_head *head)
{
	if (head->expect_continue && head->minor == 1)
		sg__h1_send(h, "HTTP/1.1 100 Continue\r\n\r\n", 25);
	h->is_chunked = head->chunked;
	h->chunked = (sg_h1_chunked){0};
	h->body_remain = head->content_length;
	h->state = SG_H1_BODY;
	if (!head->chunked && head->content_length == 0)
		body_done(h);
	else
		sg__h1_timer(h, h->c.srv->cfg.body_timeout_ms);
}

/* ---- streams -------------------------------------------------------------- */

static void h1_want_write(void *p)
{
	sg__h1_mark_dirty(p);
}

static void h1_end(void *p, int abort, const char *reason)
{
	sg_h1 *h = p;
	(void)reason;
	if (abort)
		h->c.aborting = 1;
	else
		h->c.ending = 1;
	sg__h1_mark_dirty(h);
}

static const sg_stream_sink h1_sink = {
	.want_write = h1_want_write,
	.end = h1_end,
};

static void wait_over(void *p)
{
	sg_h1 *h = p;
	h->c.timer = NULL;
	h->c.timed_out = 1;
	sg__h1_mark_dirty(h);
}

/* HEAD on a streaming path: the headers its GET would get, no stream. */
static void stream_head_only(sg_h1 *h)
{
	sg_response r;
	sg__response_init(&r);
	sg__http_stream_head(h->c.req, &r);
	if (r.status != 200)
		h->wire.close = 1;
	answer(h, &r);
}

/* Sends a streamed answer's head, with the gap notes the stream has, once
 * no replay is on its way (or the stream ends first). */
static void stream_head(sg_h1 *h)
{
	sg_conn *c = &h->c;
	sg_stream *s = c->stream;
	if (!h->head_later || (!c->ending && !c->aborting && sg__stream_head_waits(s)))
		return;
	h->head_later = 0;
	sg_buf head = SG_BUF_INIT;
	if (sg__response_stream_head(sg__stream_transport_of(s), sg__stream_notes(s), &h->wire,
				     &head))
		sg__h1_die(h, 1);
	if (c->head_fields.len && head.len >= 2) { /* before the blank line */
		head.len -= 2;
		if (sg_buf_append(&head, c->head_fields.data, c->head_fields.len) ||
		    sg_buf_append(&head, "\r\n", 2))
			sg__h1_die(h, 1);
	}
	sg__h1_send(h, head.data, head.len);
	c->sent += head.len; /* the access log's bytes: the head too, as for answers */
	sg_buf_free(&head);
	c->headers_out = 1;
}

static void stream_begin(sg_h1 *h)
{
	const char *error, *detail;
	if (h->wire.head_only)
		return stream_head_only(h);
	int status = sg__open_stream(&h->c, &h1_sink, h->d.fn, h->d.ud, &error, &detail);
	if (status) {
		char e[32], d[160];
		snprintf(e, sizeof(e), "%s", error);
		snprintf(d, sizeof(d), "%s", detail);
		sg_request *req = h->c.req; /* kept for the answer's access log line */
		h->c.req = NULL;
		sg__conn_release(&h->c, 1);
		h->c.req = req;
		sg_response r;
		sg__response_init(&r);
		sg__response_error(&r, status, e, d);
		return answer(h, &r);
	}
	sg_stream *s = h->c.stream;
	const sg_transport *t = sg__stream_transport_of(s);
	h->state = SG_H1_BUSY;
	sg__h1_timer(h, 0);
	if (t->wire == SG_WIRE_HTTP_STREAM) {
		h->wire.close |= h->wire.minor == 0; /* the body ends with the connection */
		/* a replay on its way (a networked broker's) may bring a gap for
		 * the head: the write pass sends it once the replay is in */
		h->head_later = 1;
		stream_head(h);
	} else {
		h->c.timer = h->c.srv->loop.timer_start(&h->c.srv->loop,
							 h->c.srv->cfg.longpoll_timeout_ms, wait_over, h);
		if (!h->c.timer) /* out of memory: answer at once rather than never */
			wait_over(h);
	}
	sg__request_free(h->c.req); /* the handler had it; a stream keeps no head */
	h->c.req = NULL;
	sg__stream_opened(s);
	if (sg__stream_queued(s) || h->c.ending || h->c.aborting)
		sg__h1_mark_dirty(h);
}

/* Long-poll: one answer with every queued frame as a batch. */
static void longpoll_answer(sg_h1 *h)
{
	sg_response r;
	char *gap = sg__conn_longpoll_response(&h->c, &r);
	sg__conn_release(&h->c, 0);
	answer(h, &r);
	free(gap);
}

/* The end of a streamed body: the last chunk, then the next request. */
static void stream_finish(sg_h1 *h)
{
	if (h->wire.minor)
		sg__h1_send(h, "0\r\n\r\n", 5);
	sg__conn_release(&h->c, 0);
	request_done(h);
}

/* The stream's handler answered late, before its head went out (an
 * upstream's error): that answer replaces the stream. */
static void late_answer(sg_h1 *h)
{
	sg_response *r = h->c.late;
	h->c.late = NULL;
	h->head_later = 0;
	sg__conn_release(&h->c, 0);
	answer(h, r);
	free(r);
}

void sg__h1_write_stream(sg_h1 *h)
{
	sg_conn *c = &h->c;
	sg_stream *s = c->stream;
	if (!s || h->state != SG_H1_BUSY || h->dead)
		return;
	if (c->aborting) {
		sg__h1_die(h, 1);
		return;
	}
	if (h->out_off < h->out.len)
		return; /* the socket is full; its write watcher comes back here */
	if (c->late)
		return late_answer(h);
	stream_head(h);
	if (h->head_later)
		return; /* the replay is not in yet: its frames wait */
	const sg_transport *t = sg__stream_transport_of(s);
	if (t->wire == SG_WIRE_HTTP_ONESHOT) {
		if (sg__stream_queued(s) || c->ending || c->timed_out)
			longpoll_answer(h);
		return;
	}
	const sg_wire_framing *w = h->wire.minor ? &sg_wire_chunked : &sg_wire_raw;
	while (sg__stream_queued(s) && !h->dead && h->out_off == h->out.len) {
		unsigned char *start;
		size_t len, take = sg__conn_batch(c, w, &start, &len);
		sg__h1_send(h, start, len); /* keeps what the socket did not take */
		sg__conn_batch_done(c, take);
	}
	if (c->ending && !sg__stream_queued(s) && !h->dead && h->out_off == h->out.len)
		stream_finish(h);
}

/* ---- upgrades --------------------------------------------------------------- */

/* Checks a WebSocket upgrade (RFC 6455 §4.2.1) before libwebsockets gets
 * it, so every refusal is a clear HTTP answer. */
static void upgrade(sg_h1 *h, const sg_h1_head *head, size_t start)
{
	const sg_request *req = h->c.req;
	const char *version = sg_request_header(req, "sec-websocket-version");
	sg_handler_fn fn;
	void *ud;
	h->wire.close = 1;
	if (strcmp(req->method, "GET") != 0 || head->minor != 1)
		return fail(h, 400, "bad_upgrade", "a WebSocket upgrade is a GET over HTTP/1.1");
	if (!sg_request_header(req, "sec-websocket-key") || !version || strcmp(version, "13") != 0)
		return fail(h, 400, "bad_upgrade",
			    "a WebSocket upgrade needs Sec-WebSocket-Key and Sec-WebSocket-Version: 13");
	if (sg_request_header(req, "sec-websocket-protocol"))
		return fail(h, 400, "unsupported_subprotocol",
			    "this gateway speaks no WebSocket subprotocol: ask for none");
	if (sg__stream_handler_for(h->c.srv, req->path, &fn, &ud))
		return fail(h, 404, "not_found", "no stream is served at this path");
	if (h->out_off < h->out.len)
		return fail(h, 503, "busy", "an upgrade must wait for the answers before it");
	h->upgrade_at = start;
	sg_response resp;
	sg__response_init(&resp);
	if (!sg__http_ws_preflight(h->c.srv, h->c.req, &resp))
		return upgrade_answer(h, NULL);
	h->upgrade_wait = 1;
	upgrade_answer(h, &resp);
}

/* The endpoint's word on an upgrade (resp; NULL: go on): deferred, it
 * waits (the request's bytes stay in `in` for libwebsockets); 101 hands
 * the connection over; any other status is the answer, and a close. */
static void upgrade_answer(sg_h1 *h, sg_response *resp)
{
	if (resp && resp->deferred)
		return wait_for(h, resp);
	h->upgrade_wait = 0;
	if (resp && resp->status != 101) {
		h->wire.close = 1;
		return answer(h, resp);
	}
	if (resp)
		sg__response_free(resp);
	h->state = SG_H1_UPGRADE;
}

/* ---- requests ---------------------------------------------------------------- */

static void request(sg_h1 *h, const sg_h1_head *head, size_t start)
{
	sg_server *srv = h->c.srv;
	sg_response resp;
	sg_h1_error err;
	sg__response_init(&resp);
	h->wire = (sg_wire_opts){.minor = head->minor,
				 .close = head->close,
				 .head_only = head->method_len == 4 && !memcmp(head->method, "HEAD", 4)};
	if (!(h->c.req = sg__request_new(head, &err)))
		return fail(h, err.status, err.error, err.detail);
	sg_admit_ctx ctx = {.over_limit = h->over_limit,
			    .over_ip_limit = h->over_ip_limit,
			    .from_metrics_listener = h->from_metrics,
			    .from_grip_listener = h->from_grip,
			    .peer = h->peer,
			    .principal = &h->c.req->principal};
	sg__admit_prepare(srv, h->c.req, &ctx);
	h->wire.cors = h->c.req->cors;
	if (sg__admit(srv, h->c.req, &ctx, &resp)) {
		/* a body we will not read, a client that meant to leave HTTP, a
		 * connection over its limit: none goes on */
		if (head->content_length > 0 || head->chunked || head->upgrade_ws || h->over_ip_limit)
			h->wire.close = 1;
		return answer(h, &resp);
	}
	if (head->upgrade_ws)
		return upgrade(h, head, start);
	sg__http_route(srv, h->c.req, &resp, &h->d);
	if (h->d.kind == SG_ROUTE_STREAM)
		return stream_begin(h);
	if (h->d.kind == SG_ROUTE_BODY)
		return body_begin(h, head);
	if (head->content_length > 0 || head->chunked)
		h->wire.close = 1; /* a body we will not read */
	answer(h, &resp);
}

/* Parses the next head in `in`. Returns nonzero when a request was taken. */
static int next_head(sg_h1 *h)
{
	sg_server *srv = h->c.srv;
	size_t avail = h->in.len - h->in_off;
	if (!avail)
		return 0;
	sg_h1_head head;
	sg_h1_error err;
	sg_h1_result r = sg_h1_parse_head(h->in.data + h->in_off, avail, srv->cfg.max_header_bytes,
					  srv->cfg.max_url_bytes, &head, &err);
	if (r == SG_H1_MORE) {
		if (!h->head_started) { /* the head has a deadline from its first byte */
			h->head_started = 1;
			sg__h1_timer(h, srv->cfg.body_timeout_ms);
		}
		return 0;
	}
	if (r == SG_H1_BAD) {
		h->wire = (sg_wire_opts){.minor = 1};
		fail(h, err.status, err.error, err.detail);
		return 1;
	}
	size_t start = h->in_off;
	h->in_off += head.head_len;
	request(h, &head, start);
	return 1;
}

void sg__h1_process(sg_h1 *h)
{
	if (h->processing)
		return;
	h->processing = 1;
	for (;;) {
		if (h->dead)
			break;
		if (h->state == SG_H1_HEAD) {
			if (h->out.len - h->out_off > H1_OUT_HIGH || !next_head(h))
				break;
		} else if (h->state == SG_H1_BODY) {
			if (h->in_off == h->in.len || !body_feed(h))
				break;
		} else {
			break;
		}
	}
	h->processing = 0;
	if (h->state == SG_H1_UPGRADE || h->upgrade_wait)
		return; /* `in` goes to libwebsockets as it is */
	if (h->in_off == h->in.len) {
		sg_buf_free(&h->in);
		h->in_off = 0;
	} else if (h->in_off) {
		memmove(h->in.data, h->in.data + h->in_off, h->in.len - h->in_off);
		h->in.len -= h->in_off;
		h->in_off = 0;
	}
	if (h->eof && h->state == SG_H1_HEAD && !h->dead && h->out_off == h->out.len)
		sg__h1_die(h, 0); /* the client is done sending and has every answer */
}
