/*
 * h2 — the HTTP/2 session of a TLS connection: nghttp2's callbacks, the
 * request each stream's headers make, and the connection's limits
 * (concurrent streams, header list size, rapid resets). Answers and
 * streams are written by h2_stream.c. A stream's memory is freed only in
 * nghttp2's stream-close callback or with the session.
 */
#include <stdlib.h>
#include <string.h>

#include "admit.h"
#include "core/list.h"
#include "h2_conn.h"

#define H2_MAX_STREAMS 100 /* SETTINGS_MAX_CONCURRENT_STREAMS */
/* CVE-2023-44487 (rapid reset): a client may reset this many streams at
 * once, and RESET_RATE more each second; past that, GOAWAY. */
#define H2_RESET_BURST 200.0
#define H2_RESET_RATE 50.0

static sg_h2 *h2_of(void *user_data)
{
	return user_data;
}

/* ---- bytes out ---------------------------------------------------------- */

/* nghttp2 hands us its frames; they wait in the TLS connection's buffer
 * for one SSL_write. Past the bound nghttp2 keeps them (WOULDBLOCK). */
static ssize_t on_send(nghttp2_session *session, const uint8_t *data, size_t len, int flags,
                       void *user_data)
{
	(void)session;
	(void)flags;
	sg_h2 *h2 = h2_of(user_data);
	if (sg__tls_pending(h2->t) >= SG_TLS_OUT_HIGH)
		return NGHTTP2_ERR_WOULDBLOCK;
	if (sg__tls_queue(h2->t, data, len))
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	return (ssize_t)len;
}

/* ---- streams come and go --------------------------------------------------- */

static int on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
	sg_h2 *h2 = h2_of(user_data);
	if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	sg_h2_stream *st = calloc(1, sizeof(*st));
	if (!st)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* resets this stream */
	st->c.srv = h2->c.srv;
	st->c.via_h2 = 1;
	st->h2 = h2;
	st->id = frame->hd.stream_id;
	SG_LIST_PUSH(h2->streams, st, prev, next);
	h2->nstreams++;
	ev_timer_stop(h2->c.srv->evloop, &h2->t->timer); /* not idle */
	nghttp2_session_set_stream_user_data(session, st->id, st);
	return 0;
}

static int on_stream_close(nghttp2_session *session, int32_t id, uint32_t error_code,
                           void *user_data)
{
	sg_h2 *h2 = h2_of(user_data);
	sg_h2_stream *st = nghttp2_session_get_stream_user_data(session, id);
	if (!st)
		return 0;
	sg__h2_stream_clear(st, error_code != NGHTTP2_NO_ERROR || !st->finished);
	SG_LIST_UNLINK(h2->streams, st, prev, next);
	h2->nstreams--;
	free(st);
	if (!h2->nstreams) { /* idle from now: keepalive_timeout_ms to the next stream */
		h2->t->timer.repeat = (double)h2->c.srv->cfg.keepalive_timeout_ms / 1000.0;
		ev_timer_again(h2->c.srv->evloop, &h2->t->timer);
	}
	return 0;
}

/* ---- a request's headers ------------------------------------------------- */

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *user_data)
{
	(void)flags;
	(void)user_data;
	sg_h2_stream *st = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
	if (!st || st->state != SG_H2S_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0; /* trailers: not kept */
	/* counted as SETTINGS_MAX_HEADER_LIST_SIZE counts (RFC 9113 §6.5.2);
	 * what is over the bound is dropped and answered with a 431 */
	st->hdr_bytes += namelen + valuelen + 32;
	if (st->hdr_bytes > st->c.srv->cfg.max_header_bytes || st->nhdrs >= SG_H1_FIELDS_MAX + 4) {
		st->too_big = 1;
		return 0;
	}
	if (sg_buf_append(&st->hdrs, name, namelen) || sg_buf_append(&st->hdrs, "", 1) ||
	    sg_buf_append(&st->hdrs, value, valuelen) || sg_buf_append(&st->hdrs, "", 1))
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	st->nhdrs++;
	return 0;
}

/* An HTTP/1 head made of the stream's headers (pointing into st->hdrs),
 * so that request.c builds the request as it does for HTTP/1. */
static void head_build(sg_h2_stream *st, int end_stream, sg_h1_head *h)
{
	memset(h, 0, sizeof(*h));
	h->minor = 1;
	h->content_length = -1;
	const char *p = st->hdrs.data, *method = NULL, *path = NULL;
	for (size_t i = 0; i < st->nhdrs; i++) {
		const char *n = p, *v = p + strlen(p) + 1;
		p = v + strlen(v) + 1;
		if (strcmp(n, ":method") == 0)
			method = v;
		else if (strcmp(n, ":path") == 0)
			path = v;
		else if (n[0] == ':' && strcmp(n, ":authority") != 0)
			continue; /* :scheme */
		else if (h->nfields < SG_H1_FIELDS_MAX) {
			sg_h1_field *f = &h->fields[h->nfields++];
			*f = (sg_h1_field){.name = n[0] == ':' ? "host" : n, .value = v};
			f->name_len = strlen(f->name);
			f->value_len = strlen(v);
			if (strcmp(n, "content-length") == 0) /* nghttp2 checked its digits */
				h->content_length = strtoll(v, NULL, 10);
		}
	}
	h->method = method ? method : "";
	h->method_len = strlen(h->method);
	h->target = path ? path : "";
	h->target_len = strlen(h->target);
	if (h->content_length < 0 && !end_stream)
		h->chunked = 1; /* a body framed by DATA frames: its length is known at its end */
	else if (h->content_length < 0 && strcmp(h->method, "POST") == 0)
		h->content_length = 0;
}

/* The request's headers are complete: admission, routing, then an answer,
 * a body to read, or a stream. */
static void request_ready(sg_h2_stream *st, int end_stream)
{
	sg_server *srv = st->c.srv;
	if (st->too_big)
		return sg__h2_fail(st, 431, "headers_too_large",
		                   "the request headers are over max_header_bytes");
	sg_h1_head head;
	sg_h1_error err;
	head_build(st, end_stream, &head);
	if (head.method_len > SG_H1_METHOD_MAX || !head.target_len || head.target[0] != '/')
		return sg__h2_fail(st, 400, "bad_request", "a request needs a method and a path");
	if (st->h2->held > SG_H2_HELD_MAX(srv))
		return sg__h2_fail(st, 503, "busy",
		                   "this connection holds too many bodies and answers: read them");
	if (strlen(head.target) > srv->cfg.max_url_bytes)
		return sg__h2_fail(st, 414, "url_too_long", "the path is over max_url_bytes");
	if (!(st->c.req = sg__request_new(&head, &err)))
		return sg__h2_fail(st, err.status, err.error, err.detail);
	sg_buf_free(&st->hdrs);
	st->head_only = strcmp(st->c.req->method, "HEAD") == 0;
	sg_admit_ctx ctx = {.over_limit = st->h2->over_limit,
			    .over_ip_limit = st->h2->over_ip_limit,
			    .peer = st->h2->peer,
			    .principal = &st->c.req->principal};
	sg__admit_prepare(srv, st->c.req, &ctx);
	sg_response resp;
	sg__response_init(&resp);
	if (sg__admit(srv, st->c.req, &ctx, &resp))
		return sg__h2_answer(st, &resp);
	sg__http_route(srv, st->c.req, &resp, &st->d);
	if (st->d.kind == SG_ROUTE_STREAM) {
		sg__response_free(&resp);
		return sg__h2_stream_begin(st);
	}
	if (st->d.kind == SG_ROUTE_BODY) {
		sg__response_free(&resp);
		st->state = SG_H2S_BODY;
		return;
	}
	sg__h2_answer(st, &resp);
}

/* ---- request bodies -------------------------------------------------------- */

static int on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t id, const uint8_t *data,
                         size_t len, void *user_data)
{
	(void)flags;
	(void)user_data;
	sg_h2_stream *st = nghttp2_session_get_stream_user_data(session, id);
	if (!st || st->state != SG_H2S_BODY || st->body_over)
		return 0; /* a body nobody reads: its window is given back all the same */
	if (st->body.len + len > st->c.srv->cfg.max_body_bytes) {
		st->body_over = 1;
		sg__h2_fail(st, 413, "body_too_large", "the body is over max_body_bytes");
		return 0;
	}
	if (st->h2->held + len > SG_H2_HELD_MAX(st->c.srv)) {
		st->body_over = 1;
		sg__h2_fail(st, 503, "busy",
		            "this connection holds too many bodies and answers: read them");
		return 0;
	}
	if (sg_buf_append(&st->body, data, len))
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	st->h2->held += len;
	return 0;
}

static void body_done(sg_h2_stream *st)
{
	size_t held = st->body.len;
	if (sg__http_body_streams(st->c.srv, &st->d, st->c.req, &st->body)) {
		st->h2->held -= held; /* the request has the body now */
		sg__h2_body_drop(st);
		return sg__h2_stream_begin(st);
	}
	sg_response resp;
	sg__response_init(&resp);
	sg__http_post(st->c.srv, &st->d, st->c.req, st->body.data ? st->body.data : "",
	              st->body.len, &resp);
	sg__h2_body_drop(st);
	sg__h2_answer(st, &resp);
}

/* ---- frames --------------------------------------------------------------- */

/* Rapid reset (CVE-2023-44487): resets cost a token; tokens come back at
 * H2_RESET_RATE a second up to H2_RESET_BURST. Nonzero: out of tokens. */
static int reset_flood(sg_h2 *h2)
{
	double now = ev_now(h2->c.srv->evloop);
	h2->reset_tokens += (now - h2->reset_at) * H2_RESET_RATE;
	if (h2->reset_tokens > H2_RESET_BURST)
		h2->reset_tokens = H2_RESET_BURST;
	h2->reset_at = now;
	h2->reset_tokens -= 1.0;
	return h2->reset_tokens < 0;
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
	sg_h2 *h2 = h2_of(user_data);
	int end = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
	if (frame->hd.type == NGHTTP2_RST_STREAM) {
		if (reset_flood(h2))
			nghttp2_session_terminate_session(session, NGHTTP2_ENHANCE_YOUR_CALM);
		return 0;
	}
	sg_h2_stream *st = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
	if (!st)
		return 0;
	if (frame->hd.type == NGHTTP2_HEADERS && st->state == SG_H2S_HEADERS)
		request_ready(st, end);
	if (end && st->state == SG_H2S_BODY && !st->body_over)
		body_done(st);
	return 0;
}

/* ---- the session ------------------------------------------------------------ */

int sg__h2_start(sg_tls *t)
{
	sg_server *srv = t->srv;
	sg_h2 *h2 = calloc(1, sizeof(*h2));
	if (!h2)
		return SG_ENOMEM;
	h2->c.srv = srv;
	h2->c.is_h2 = 1;
	h2->t = t;
	h2->reset_tokens = H2_RESET_BURST;
	h2->reset_at = ev_now(srv->evloop);
	h2->over_limit = atomic_load(&srv->group->sockets) > srv->cfg.max_connections;
	/* an HTTP/1 connection over TLS is counted by the HTTP/1 engine */
	sg__ip_from_sockaddr((const struct sockaddr *)&t->peer, &h2->peer);
	size_t per_ip = srv->cfg.max_connections_per_ip;
	if (per_ip &&
	    sg__ip_acquire(srv->group->ips, &h2->peer, per_ip, &h2->ip_lease) == SG_ETOOBIG)
		h2->over_ip_limit = 1;
	t->h2 = h2;
	nghttp2_session_callbacks *cb;
	if (nghttp2_session_callbacks_new(&cb))
		return SG_ENOMEM;
	nghttp2_session_callbacks_set_send_callback(cb, on_send);
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
	int rc = nghttp2_session_server_new(&h2->session, cb, h2);
	nghttp2_session_callbacks_del(cb);
	if (rc)
		return SG_ENOMEM;
	/* no SETTINGS_ENABLE_CONNECT_PROTOCOL: WebSocket is HTTP/1.1's */
	nghttp2_settings_entry iv[] = {
	    {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, H2_MAX_STREAMS},
	    {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, (uint32_t)srv->cfg.max_header_bytes},
	};
	if (nghttp2_submit_settings(h2->session, NGHTTP2_FLAG_NONE, iv, 2))
		return SG_ENOMEM;
	/* no stream yet: the idle deadline runs (the handshake's timer) */
	t->timer.repeat = (double)srv->cfg.keepalive_timeout_ms / 1000.0;
	ev_timer_again(srv->evloop, &t->timer);
	return 0;
}

int sg__h2_recv(sg_tls *t, const char *p, size_t n)
{
	sg_h2 *h2 = t->h2;
	ssize_t r = nghttp2_session_mem_recv(h2->session, (const uint8_t *)p, n);
	if (r < 0) { /* not HTTP/2, a flood, or out of memory: say so and close */
		nghttp2_session_terminate_session(h2->session, r == NGHTTP2_ERR_FLOODED
		                                                   ? NGHTTP2_ENHANCE_YOUR_CALM
		                                                   : NGHTTP2_PROTOCOL_ERROR);
		h2->broken = 1;
	}
	return 0;
}

void sg__h2_send(sg_tls *t)
{
	sg_h2 *h2 = t->h2;
	if (nghttp2_session_send(h2->session))
		t->dead = 1;
}

int sg__h2_done(const sg_tls *t)
{
	return !nghttp2_session_want_read(t->h2->session) &&
	       !nghttp2_session_want_write(t->h2->session);
}

void sg__h2_want_send(sg_tls *t)
{
	if (t->h2)
		sg__conn_mark_dirty(&t->h2->c);
}

int sg__h2_wants_read(const sg_tls *t)
{
	return t->h2 && !t->h2->broken && nghttp2_session_want_read(t->h2->session);
}

void sg__h2_write_pass(sg_conn *c)
{
	sg_h2 *h2 = (sg_h2 *)c;
	sg_tls *t = h2->t;
	for (sg_h2_stream *st = h2->streams, *next; st; st = next) {
		next = st->next;
		if (st->want)
			sg__h2_stream_service(st);
	}
	sg__tls_kick(t); /* one send for all of them, then one SSL_write */
	sg__tls_settle(t);
}

void sg__h2_shutdown(sg_tls *t)
{
	sg_h2 *h2 = t->h2;
	if (!h2 || h2->goaway_sent || h2->broken)
		return;
	h2->goaway_sent = 1;
	nghttp2_submit_goaway(h2->session, NGHTTP2_FLAG_NONE,
	                      nghttp2_session_get_last_proc_stream_id(h2->session),
	                      NGHTTP2_NO_ERROR, NULL, 0);
	sg__conn_mark_dirty(&h2->c);
}

void sg__h2_free(sg_tls *t)
{
	sg_h2 *h2 = t->h2;
	if (!h2)
		return;
	sg__conn_dirty_unlink(&h2->c);
	while (h2->streams) { /* nghttp2_session_del calls no stream-close callback */
		sg_h2_stream *st = h2->streams;
		h2->streams = st->next;
		sg__h2_stream_clear(st, 1);
		free(st);
	}
	nghttp2_session_del(h2->session);
	sg__ip_release(h2->c.srv->group->ips, h2->ip_lease);
	free(h2);
	t->h2 = NULL;
}
