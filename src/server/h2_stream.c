/*
 * h2_stream — what an HTTP/2 stream sends: a complete answer, or a streamed
 * response (SSE, chunked, ndjson) whose frames go out raw as DATA, or a
 * long-poll's one answer. nghttp2 pulls DATA through data providers, as
 * much as the peer's windows allow; a stream with nothing queued is
 * deferred and resumed when its core stream queues frames. Frames wait in
 * the core stream's bounded queue, so a slow reader meets the slow-client
 * policy as it does on HTTP/1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "h2_conn.h"
#include "reply.h"

#define H2_FIELDS_MAX 16 /* headers of one answer */

/* ---- answers ------------------------------------------------------------ */

/* An answer's header list: names and values copied into store (the
 * emitters' strings may not outlive the call), as offsets until the
 * store stops growing. */
typedef struct h2_fields {
	sg_buf store;
	size_t n;
	size_t name_at[H2_FIELDS_MAX], value_at[H2_FIELDS_MAX];
} h2_fields;

static int field_add(void *ctx, const char *name, const char *value)
{
	h2_fields *f = ctx;
	if (f->n == H2_FIELDS_MAX)
		return -1;
	f->name_at[f->n] = f->store.len;
	int rc = sg_buf_append(&f->store, name, strlen(name) + 1);
	f->value_at[f->n] = f->store.len;
	rc |= sg_buf_append(&f->store, value, strlen(value) + 1);
	f->n++;
	return rc;
}

/* Submits :status and the fields, with prd's DATA after them (or none). */
static int submit(sg_h2_stream *st, int status, h2_fields *f, nghttp2_data_provider *prd)
{
	char code[8];
	snprintf(code, sizeof(code), "%d", status);
	nghttp2_nv nv[H2_FIELDS_MAX + 1];
	nv[0] = (nghttp2_nv){(uint8_t *)":status", (uint8_t *)code, 7, strlen(code), 0};
	for (size_t i = 0; i < f->n; i++) {
		char *name = f->store.data + f->name_at[i], *value = f->store.data + f->value_at[i];
		nv[i + 1] = (nghttp2_nv){(uint8_t *)name, (uint8_t *)value, strlen(name),
		                         strlen(value), NGHTTP2_NV_FLAG_NONE};
	}
	/* nghttp2 copies the names and values */
	int rc = nghttp2_submit_response(st->h2->session, st->id, nv, f->n + 1, prd);
	sg_buf_free(&f->store);
	return rc;
}

/* DATA of an answer: its body, from body_off. */
static ssize_t answer_read(nghttp2_session *session, int32_t id, uint8_t *buf, size_t length,
                           uint32_t *flags, nghttp2_data_source *src, void *user_data)
{
	(void)session;
	(void)id;
	(void)user_data;
	sg_h2_stream *st = src->ptr;
	size_t n = st->body.len - st->body_off;
	if (n > length)
		n = length;
	memcpy(buf, st->body.data + st->body_off, n);
	st->body_off += n;
	if (st->body_off == st->body.len) {
		*flags |= NGHTTP2_DATA_FLAG_EOF;
		st->finished = 1;
		sg__h2_body_drop(st);
	}
	return (ssize_t)n;
}

/* The request's CORS verdict; none for a request refused before it was one. */
static const sg_cors *cors_of(const sg_h2_stream *st)
{
	static const sg_cors none = {.mode = SG_CORS_NONE};
	return st->c.req ? &st->c.req->cors : &none;
}

/* From the broker's callback, at any depth: the write pass answers. */
static void reply_arrived(void *owner)
{
	sg_h2_stream *st = owner;
	st->want = 1;
	sg__conn_mark_dirty(&st->h2->c);
}

/* The endpoint deferred resp: the stream waits for the broker (other
 * streams of the connection go on); a reset stream abandons the wait. */
static void wait_for(sg_h2_stream *st, sg_response *resp)
{
	sg_reply *r = resp->deferred;
	resp->deferred = NULL;
	sg__response_free(resp);
	sg__h2_body_drop(st);
	if (sg__reply_attach(r, st, reply_arrived)) {
		sg_response now;
		sg__reply_take(r, &now);
		return sg__h2_answer(st, &now);
	}
	st->reply = r;
}

void sg__h2_answer(sg_h2_stream *st, sg_response *resp)
{
	if (resp->deferred)
		return wait_for(st, resp);
	h2_fields f = {.store = SG_BUF_INIT};
	int rc = sg__response_fields(resp, cors_of(st), field_add, &f);
	if (st->c.req || resp->status >= 400) /* not a long-poll's: its stream's end said it */
		sg__conn_log_request(&st->c, resp->status, resp->body.len);
	sg__h2_body_drop(st);
	st->body = resp->body; /* the answer's body is st's now */
	resp->body = (sg_buf)SG_BUF_INIT;
	st->body_off = 0;
	st->h2->held += st->body.len;
	st->state = SG_H2S_ANSWER;
	int has_body = !st->head_only && resp->status != 204 && st->body.len;
	nghttp2_data_provider prd = {.source.ptr = st, .read_callback = answer_read};
	if (!has_body)
		st->finished = 1;
	if (rc || submit(st, resp->status, &f, has_body ? &prd : NULL))
		nghttp2_submit_rst_stream(st->h2->session, NGHTTP2_FLAG_NONE, st->id,
		                          NGHTTP2_INTERNAL_ERROR);
	sg_buf_free(&f.store);
	sg__response_free(resp);
	sg__request_free(st->c.req);
	st->c.req = NULL;
}

void sg__h2_fail(sg_h2_stream *st, int status, const char *error, const char *detail)
{
	sg_response r;
	sg__response_init(&r);
	sg__response_error(&r, status, error, detail);
	sg__h2_answer(st, &r);
}

/* ---- streams ------------------------------------------------------------ */

static void want(sg_h2_stream *st)
{
	st->want = 1;
	sg__conn_mark_dirty(&st->h2->c);
}

static void h2_want_write(void *p)
{
	want(p);
}

static void h2_end(void *p, int abort, const char *reason)
{
	sg_h2_stream *st = p;
	(void)reason;
	if (abort)
		st->c.aborting = 1;
	else
		st->c.ending = 1;
	want(st);
}

static const sg_stream_sink h2_sink = {
    .want_write = h2_want_write,
    .end = h2_end,
};

/* DATA of a stream: queued frames as they are, no chunk framing. A frame
 * taken off the queue is held (cur) until all of it is sent, so the
 * slow-client policy may drop the queue's oldest frames meanwhile. */
static ssize_t stream_read(nghttp2_session *session, int32_t id, uint8_t *buf, size_t length,
                           uint32_t *flags, nghttp2_data_source *src, void *user_data)
{
	(void)session;
	(void)id;
	(void)user_data;
	sg_h2_stream *st = src->ptr;
	sg_stream *s = st->c.stream;
	if (st->c.aborting || !s)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* RST_STREAM */
	size_t n = 0;
	while (n < length && (st->cur || sg__stream_queued(s))) {
		if (!st->cur) {
			st->cur = sg_frame_ref(sg__stream_peek(s, 0));
			st->cur_off = 0;
			sg__stream_pop(s);
			/* nghttp2 may ask outside the write pass: a clock of its own */
			sg__conn_sent(&st->c, st->cur, st->cur->len, sg_mono_us());
		}
		size_t take = st->cur->len - st->cur_off;
		if (take > length - n)
			take = length - n;
		memcpy(buf + n, sg_frame_data(st->cur) + st->cur_off, take);
		n += take;
		st->cur_off += take;
		if (st->cur_off == st->cur->len) {
			sg_frame_unref(st->cur);
			st->cur = NULL;
		}
	}
	if (n)
		st->c.active = 1; /* no heartbeat due */
	if (!st->cur && !sg__stream_queued(s) && st->c.ending) {
		*flags |= NGHTTP2_DATA_FLAG_EOF;
		st->finished = 1;
		return (ssize_t)n;
	}
	return n ? (ssize_t)n : NGHTTP2_ERR_DEFERRED;
}

static void wait_over(void *p)
{
	sg_h2_stream *st = p;
	st->c.timer = NULL;
	st->c.timed_out = 1;
	want(st);
}

/* Submits a streamed answer's HEADERS, with the gap notes the stream has,
 * once nothing holds them back (a replay on its way, an upstream's head),
 * or the stream ends first. The request (its CORS verdict) is kept until
 * then. */
static void stream_head(sg_h2_stream *st)
{
	sg_conn *c = &st->c;
	sg_stream *s = c->stream;
	if (!st->head_later || (!c->ending && !c->aborting && sg__stream_head_waits(s)))
		return;
	st->head_later = 0;
	h2_fields f = {.store = SG_BUF_INIT};
	nghttp2_data_provider prd = {.source.ptr = st, .read_callback = stream_read};
	if (sg__response_stream_fields(sg__stream_transport_of(s), sg__stream_notes(s), cors_of(st),
	                               field_add, &f) ||
	    sg__response_extra_fields(&c->head_fields, field_add, &f) || submit(st, 200, &f, &prd))
		c->aborting = 1;
	sg_buf_free(&f.store);
	c->headers_out = 1;
	sg__request_free(c->req); /* a stream keeps no head */
	c->req = NULL;
}

/* The stream's handler answered late, before the HEADERS went out (an
 * upstream's error): that answer replaces the stream. */
static void late_answer(sg_h2_stream *st)
{
	sg_response *r = st->c.late;
	sg_request *req = st->c.req; /* kept for the answer's CORS and log line */
	st->c.late = NULL;
	st->c.req = NULL;
	st->head_later = 0;
	sg__conn_release(&st->c, 0);
	st->c.req = req;
	sg__h2_answer(st, r);
	free(r);
}

void sg__h2_stream_begin(sg_h2_stream *st)
{
	sg_server *srv = st->c.srv;
	const char *error, *detail;
	if (st->head_only) {
		sg_response r;
		sg__response_init(&r);
		sg__http_stream_head(st->c.req, &r);
		return sg__h2_answer(st, &r);
	}
	int status = sg__open_stream(&st->c, &h2_sink, st->d.fn, st->d.ud, &error, &detail);
	if (status) {
		char e[32], d[160];
		snprintf(e, sizeof(e), "%s", error);
		snprintf(d, sizeof(d), "%s", detail);
		sg_request *req = st->c.req; /* kept for the answer's access log line */
		st->c.req = NULL;
		sg__conn_release(&st->c, 1);
		st->c.req = req;
		return sg__h2_fail(st, status, e, d);
	}
	sg_stream *s = st->c.stream;
	const sg_transport *t = sg__stream_transport_of(s);
	if (t->wire == SG_WIRE_HTTP_STREAM) {
		st->state = SG_H2S_STREAM;
		st->head_later = 1;
		stream_head(st);
	} else {
		st->state = SG_H2S_LONGPOLL;
		st->c.timer =
		    srv->loop.timer_start(&srv->loop, srv->cfg.longpoll_timeout_ms, wait_over, st);
		if (!st->c.timer) /* out of memory: answer at once rather than never */
			wait_over(st);
	}
	if (!st->head_later) { /* the handler had it; a stream keeps no head */
		sg__request_free(st->c.req);
		st->c.req = NULL;
	}
	sg__stream_opened(s);
	if (sg__stream_queued(s) || st->c.ending || st->c.aborting)
		want(st);
}

/* Long-poll: one answer with every queued frame as a batch. */
static void longpoll_answer(sg_h2_stream *st)
{
	sg_response r;
	char *gap = sg__conn_longpoll_response(&st->c, &r);
	sg__conn_release(&st->c, 0);
	sg__h2_answer(st, &r);
	free(gap);
}

void sg__h2_stream_service(sg_h2_stream *st)
{
	nghttp2_session *session = st->h2->session;
	sg_conn *c = &st->c;
	st->want = 0;
	if (st->reply && st->reply->sent) {
		sg_response r;
		sg__reply_take(st->reply, &r);
		st->reply = NULL;
		return sg__h2_answer(st, &r);
	}
	if (!c->stream)
		return;
	if (c->late)
		return late_answer(st);
	if (c->aborting) { /* the slow-client policy, or the handler, cut it */
		nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_CANCEL);
		return;
	}
	if (st->state == SG_H2S_LONGPOLL) {
		if (sg__stream_queued(c->stream) || c->ending || c->timed_out)
			longpoll_answer(st);
		return;
	}
	if (st->state == SG_H2S_STREAM)
		stream_head(st);
	if (st->state == SG_H2S_STREAM && !st->head_later)
		nghttp2_session_resume_data(session, st->id); /* fails harmlessly if not deferred */
}

void sg__h2_stream_clear(sg_h2_stream *st, int errored)
{
	if (st->c.stream || st->c.req)
		sg__conn_release(&st->c, errored);
	sg__reply_abandon(st->reply); /* a broker answering later finds no one */
	st->reply = NULL;
	sg_frame_unref(st->cur);
	st->cur = NULL;
	sg_buf_free(&st->hdrs);
	sg__h2_body_drop(st);
}

void sg__h2_body_drop(sg_h2_stream *st)
{
	st->h2->held -= st->body.len;
	sg_buf_free(&st->body);
	st->body_off = 0;
}
