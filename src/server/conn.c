/*
 * conn — drains a stream's queue onto its connection when libwebsockets
 * says the socket is writeable: one write per callback, re-armed while
 * frames remain. Several queued frames go out in one write (one HTTP chunk,
 * or back-to-back WebSocket frames); a lone frame is framed in place.
 */
#include "conn.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "respond.h"
#include "websocket.h"


static void conn_want_write(void *p)
{
	sg_conn *c = p;
	lws_callback_on_writable(c->wsi);
}

static void conn_end(void *p, int abort, const char *reason)
{
	sg_conn *c = p;
	if (!abort) {
		c->ending = 1;
		lws_callback_on_writable(c->wsi);
		return;
	}
	c->aborting = 1;
	snprintf(c->reason, sizeof(c->reason), "%s", reason ? reason : "");
	if (c->is_ws) {
		/* the close frame goes out once the socket drains, or never */
		lws_callback_on_writable(c->wsi);
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, 5);
		return;
	}
	lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

static const sg_stream_sink conn_sink = {
	.want_write = conn_want_write,
	.end = conn_end,
};

sg_stream *sg__conn_stream_new(sg_conn *c, const sg_transport *t)
{
	sg_server *srv = c->srv;
	sg_stream *s =
		sg__stream_new(t, &srv->loop, &conn_sink, c, &srv->stream_limits, &srv->counters);
	if (!s)
		return NULL;
	c->stream = s;
	c->listed = 1;
	c->prev = NULL;
	c->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = c;
	srv->conns = c;
	atomic_fetch_add(&srv->connections, 1);
	sg_hub_attach(srv->hub, s);
	return s;
}

/*
 * libwebsockets reads nothing from an HTTP connection while a response is
 * in progress, yet keeps polling it for input: a client that hangs up (or
 * sends more bytes) mid-stream makes the loop spin until a write fails. So
 * streamed responses are also watched by an epoll set of ours, itself
 * polled by lws; any sign of input there cuts the connection at once.
 */
void sg__conn_watch_hangup(sg_conn *c)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLET, .data.ptr = c};
	if (c->srv->hangup_fd >= 0 &&
	    epoll_ctl(c->srv->hangup_fd, EPOLL_CTL_ADD, lws_get_socket_fd(c->wsi), &ev) == 0)
		c->watched = 1;
}

static void unwatch_hangup(sg_conn *c)
{
	if (c->watched)
		epoll_ctl(c->srv->hangup_fd, EPOLL_CTL_DEL, lws_get_socket_fd(c->wsi), NULL);
	c->watched = 0;
}

void sg__conn_hangups(sg_server *srv)
{
	struct epoll_event evs[64];
	int n;
	while ((n = epoll_wait(srv->hangup_fd, evs, 64, 0)) > 0)
		for (int i = 0; i < n; i++) {
			sg_conn *c = evs[i].data.ptr;
			unwatch_hangup(c);
			c->aborting = 1;
			/* now: lws would first serve the dead socket's endless
			 * input events, and only then its list of timeouts */
			lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
		}
}

static void wait_over(void *p)
{
	sg_conn *c = p;
	c->timer = NULL;
	c->timed_out = 1;
	lws_callback_on_writable(c->wsi);
}

void sg__conn_wait(sg_conn *c, uint64_t ms)
{
	c->timer = c->srv->loop.timer_start(&c->srv->loop, ms, wait_over, c);
	if (!c->timer) /* out of memory: answer at once rather than never */
		wait_over(c);
}

void sg__conn_release(sg_conn *c, int errored)
{
	sg_server *srv = c->srv;
	srv->loop.timer_cancel(&srv->loop, c->timer);
	srv->loop.timer_cancel(&srv->loop, c->pong_timer);
	srv->loop.timer_cancel(&srv->loop, c->msg_timer);
	unwatch_hangup(c);
	if (c->listed) {
		if (c->prev)
			c->prev->next = c->next;
		else
			srv->conns = c->next;
		if (c->next)
			c->next->prev = c->prev;
		atomic_fetch_sub(&srv->connections, 1);
	}
	sg_stream *s = c->stream;
	sg_buf_free(&c->body);
	sg_buf_free(&c->wsmsg);
	if (c->has_req)
		sg__request_clear(&c->req);
	/* ready for the next request on a kept-alive connection */
	*c = (sg_conn){.wsi = c->wsi, .srv = srv, .is_ws = c->is_ws};
	if (s)
		sg__stream_detach(s, errored);
}

/*
 * Wire framing around a batch of queued frames: an HTTP/1.1 chunk has one
 * size line before the batch and CRLF after it; WebSocket has a header per
 * frame (server frames are unmasked, so the bytes are the same for every
 * client of a shared frame). Each returns how many bytes it wrote to out.
 */
typedef struct wire_framing {
	size_t (*batch_head)(size_t total, unsigned char *out);
	size_t (*frame_head)(size_t len, unsigned char *out);
	const char *batch_tail;
} wire_framing;

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

static const wire_framing http_chunked = {chunk_size_line, none, "\r\n"};
static const wire_framing websocket = {none, ws_text_header, ""};

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

/* One write holding as many queued frames as fit in scratch, framed for the
 * wire; a lone frame is framed in place in its head- and tailroom. Several
 * frames cost one copy into scratch, which is cheaper than a send each. */
static int write_frames(sg_conn *c, const wire_framing *w)
{
	sg_server *srv = c->srv;
	sg_stream *s = c->stream;
	size_t total, take = batch_size(s, srv->scratch_cap - 2 * WIRE_HEAD_MAX, &total);
	unsigned char head[2 * WIRE_HEAD_MAX], *start, *p;
	size_t tail = strlen(w->batch_tail);
	if (take == 1) {
		sg_frame *f = sg__stream_peek(s, 0);
		size_t hl = w->batch_head(f->len, head);
		hl += w->frame_head(f->len, head + hl);
		start = sg_frame_data(f) - hl;
		memcpy(start, head, hl);
		memcpy(sg_frame_data(f) + f->len, w->batch_tail, tail);
		p = sg_frame_data(f) + f->len + tail;
	} else {
		start = p = srv->scratch + LWS_PRE;
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
	size_t len = (size_t)(p - start);
	/* LWS_WRITE_HTTP sends the bytes as they are, on a WebSocket too */
	if (lws_write(c->wsi, start, len, LWS_WRITE_HTTP) != (int)len)
		return -1;
	c->active = 1;
	while (take--)
		sg__stream_pop(s);
	if (sg__stream_queued(s) || c->ending)
		lws_callback_on_writable(c->wsi);
	return 0;
}

static int write_final_chunk(sg_conn *c)
{
	unsigned char buf[LWS_PRE + 8];
	memcpy(buf + LWS_PRE, "0\r\n\r\n", 5);
	if (lws_write(c->wsi, buf + LWS_PRE, 5, LWS_WRITE_HTTP_FINAL) != 5)
		return -1;
	struct lws *wsi = c->wsi;
	sg__conn_release(c, 0);
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* Long-poll: one answer with every queued frame as a batch. */
static int write_batch(sg_conn *c)
{
	sg_stream *s = c->stream;
	const sg_transport *t = sg__stream_transport_of(s);
	sg_response r;
	sg__response_init(&r);
	r.content_type = t->content_type;
	sg_id_format(sg__stream_last(s), r.last_event_id);
	char *gap = sg__stream_notes(s) ? strdup(sg__stream_notes(s)) : NULL;
	r.gap = gap;
	sg_buf_puts(&r.body, t->batch_open);
	for (size_t i = 0; sg__stream_queued(s); i++) {
		sg_frame *f = sg__stream_peek(s, 0);
		if (i)
			sg_buf_puts(&r.body, t->batch_sep);
		sg_buf_append(&r.body, sg_frame_data(f), f->len);
		sg__stream_pop(s);
	}
	sg_buf_puts(&r.body, t->batch_close);
	struct lws *wsi = c->wsi;
	/* release first: completing the transaction may free c (lws' data) */
	sg__conn_release(c, 0);
	int rc = sg__respond(wsi, &r);
	sg__response_free(&r);
	free(gap);
	return rc;
}

void sg__conn_heartbeat(sg_conn *c)
{
	sg_stream *s = c->stream;
	if (c->active || !s || sg__stream_state(s) != SG_STREAM_OPEN) {
		c->active = 0;
		return;
	}
	const sg_transport *t = sg__stream_transport_of(s);
	if (c->is_ws) {
		c->ping_due = 1;
		lws_callback_on_writable(c->wsi);
	} else if (c->srv->heartbeats[t->slot] && !sg__stream_queued(s)) {
		sg__stream_push(s, c->srv->heartbeats[t->slot]);
	}
}

int sg__conn_write_stream(sg_conn *c)
{
	if (!c->stream)
		return 0;
	if (c->aborting)
		return -1;
	const sg_transport *t = sg__stream_transport_of(c->stream);
	if (t->wire == SG_WIRE_HTTP_ONESHOT) {
		if (sg__stream_queued(c->stream) || c->ending || c->timed_out)
			return write_batch(c);
		return 0;
	}
	if (sg__stream_queued(c->stream))
		return write_frames(c, &http_chunked);
	return c->ending ? write_final_chunk(c) : 0;
}

int sg__conn_write_ws(sg_conn *c)
{
	sg_stream *s = c->stream;
	/* before the stream test: a refusal has already released it */
	if (c->aborting) {
		lws_close_reason(c->wsi,
				 c->close_code ? (enum lws_close_status)c->close_code
					       : LWS_CLOSE_STATUS_POLICY_VIOLATION,
				 (unsigned char *)c->reason, strlen(c->reason));
		return -1;
	}
	if (!s)
		return -1;
	if (c->ping_due) {
		/* with a payload: lws 4.1.6 reports no empty pong to us */
		static const char payload[] = "streamgate";
		unsigned char ping[LWS_PRE + sizeof(payload)];
		c->ping_due = 0;
		memcpy(ping + LWS_PRE, payload, sizeof(payload) - 1);
		if (lws_write(c->wsi, ping + LWS_PRE, sizeof(payload) - 1, LWS_WRITE_PING) < 0)
			return -1;
		sg__ws_ping_sent(c);
		if (sg__stream_queued(s) || c->ending)
			lws_callback_on_writable(c->wsi);
		return 0;
	}
	if (sg__stream_queued(s))
		return write_frames(c, &websocket);
	if (!c->ending)
		return 0;
	const char *why = c->srv->shutting_down ? "server shutting down" : "stream closed";
	lws_close_reason(c->wsi,
			 c->srv->shutting_down ? LWS_CLOSE_STATUS_GOINGAWAY : LWS_CLOSE_STATUS_NORMAL,
			 (unsigned char *)why, strlen(why));
	sg__conn_release(c, 0);
	return -1;
}
