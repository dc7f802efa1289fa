/*
 * websocket — WebSocket connections on libwebsockets. Our HTTP/1 engine
 * reads and checks the upgrade request; this file hands the socket to lws
 * with those bytes, and takes the request back, already parsed, when lws
 * has finished the handshake. Refusals after the upgrade are close frames
 * with a code and a reason. Also what RFC 6455 asks of a server that
 * libwebsockets 4.1.6 leaves to us: UTF-8 of text messages and close
 * reasons, close codes, binary messages, a close frame where its parser
 * only hangs up, a pong deadline and a message deadline (README,
 * "WebSocket conformance").
 */
#include "websocket.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admit.h"
#include "core/utf8.h"
#include "http.h"

/* A request handed over with its socket, until lws says it is upgraded.
 * Keyed by fd: an entry for an fd is replaced when the fd is handed over
 * again, so a stale one (a handshake lws refused) never outlives it. */
typedef struct sg_ws_pending {
	int fd;
	sg_request *req;
	struct sg_ws_pending *next;
} sg_ws_pending;

static sg_ws_pending **pending_find(sg_server *srv, int fd)
{
	sg_ws_pending **p = &srv->ws_pending;
	while (*p && (*p)->fd != fd)
		p = &(*p)->next;
	return p;
}

static void pending_drop(sg_ws_pending **p)
{
	sg_ws_pending *e = *p;
	*p = e->next;
	sg__request_free(e->req);
	free(e);
}

int sg__ws_handoff(sg_server *srv, int fd, sg_request *req, const char *bytes, size_t len,
		   sg_ip_count *lease)
{
	sg_ws_pending **old = pending_find(srv, fd);
	if (*old)
		pending_drop(old);
	sg_ws_pending *e = calloc(1, sizeof(*e));
	if (!e) {
		sg__request_free(req);
		sg__ip_release(srv->group->ips, lease);
		close(fd);
		return SG_ENOMEM;
	}
	e->fd = fd;
	e->req = req;
	e->next = srv->ws_pending;
	srv->ws_pending = e;
	struct lws *wsi = lws_adopt_socket_vhost_readbuf(srv->vhost, fd, bytes, len);
	if (!wsi) {
		sg_ws_pending **p = pending_find(srv, fd); /* lws closed fd */
		if (*p)
			pending_drop(p);
		sg__ip_release(srv->group->ips, lease);
		return SG_EIO;
	}
	/* the lease follows the connection, whether lws completes the
	 * handshake or not: the wsi is its one owner to the end */
	lws_set_opaque_user_data(wsi, lease);
	return 0;
}

void sg__ws_destroyed(sg_server *srv, struct lws *wsi)
{
	sg__ip_release(srv->group->ips, lws_get_opaque_user_data(wsi));
	lws_set_opaque_user_data(wsi, NULL);
}

void sg__ws_pending_free(sg_server *srv)
{
	while (srv->ws_pending)
		pending_drop(&srv->ws_pending);
}

int sg__ws_filter(sg_server *srv, struct lws *wsi)
{
	return srv->shutting_down || !*pending_find(srv, lws_get_socket_fd(wsi));
}

static void ws_want_write(void *p)
{
	sg__conn_mark_dirty(p);
}

static void ws_end(void *p, int abort, const char *reason)
{
	sg_conn *c = p;
	if (abort) {
		c->aborting = 1;
		sg_ws_conn *w = sg__ws_of(c);
		snprintf(w->reason, sizeof(w->reason), "%s", reason ? reason : "");
		/* the close frame goes out once the socket drains, or never */
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, 5);
		sg__conn_mark_dirty(c); /* the stream is let go on the write pass */
	} else {
		c->ending = 1;
		lws_callback_on_writable(c->wsi);
	}
}

static const sg_stream_sink ws_sink = {
	.want_write = ws_want_write,
	.end = ws_end,
};

static int refuse(sg_conn *c, enum lws_close_status code, const char *error, const char *detail)
{
	char reason[124];
	int n = snprintf(reason, sizeof(reason), "%s: %s", error, detail);
	if (n < 0 || n >= (int)sizeof(reason))
		n = (int)sizeof(reason) - 1;
	lws_close_reason(c->wsi, code, (unsigned char *)reason, (size_t)n);
	sg__conn_release(c, 1);
	return -1;
}

int sg__ws_established(sg_conn *c)
{
	sg_ws_pending **p = pending_find(c->srv, lws_get_socket_fd(c->wsi));
	if (!*p)
		return refuse(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "bad_request",
			      "cannot read the request");
	c->req = (*p)->req;
	(*p)->req = NULL;
	pending_drop(p);
	if (!(c->rate_key = strdup(sg__rate_key(c->req))))
		return refuse(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out_of_memory",
			      "cannot keep the connection");
	sg_handler_fn fn;
	void *ud;
	if (sg__stream_handler_for(c->srv, c->req->path, &fn, &ud))
		return refuse(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "not_found", c->req->path);
	const char *error, *detail;
	if (sg__open_stream(c, &ws_sink, fn, ud, &error, &detail))
		return refuse(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, error, detail);
	sg__request_free(c->req); /* borrowed by the handler only */
	c->req = NULL;
	sg__stream_opened(c->stream);
	if (sg__stream_queued(c->stream))
		lws_callback_on_writable(c->wsi);
	return 0;
}

/* Ends an aborting c's stream now (its subscriptions and memory with it);
 * its close code and reason stay for the close frame. */
static void let_go(sg_conn *c)
{
	sg__conn_release(c, 1);
	c->aborting = 1;
}

/*
 * Ends c's stream now (its memory with it) and closes with code and
 * reason on the next writeable callback, or cuts the connection after 5 s
 * if that never comes. For refusals in LWS_CALLBACK_RECEIVE and for timers:
 * returning -1 from RECEIVE would leave lws 4.1.6's parser mid-frame, and
 * with more input already buffered it then fails on that input and hangs
 * up without sending the close frame.
 */
static int close_later(sg_conn *c, enum lws_close_status code, const char *error,
		       const char *detail)
{
	if (c->stream)
		sg__stream_set_end_reason(c->stream, SG_END_ERROR);
	char why[sizeof(((sg_ws_conn *)0)->reason)];
	c->aborting = 1;
	snprintf(why, sizeof(why), "%s: %s", error, detail);
	sg__ws_set_close(c, (unsigned short)code, why);
	let_go(c);
	lws_callback_on_writable(c->wsi);
	lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, 5);
	return 0;
}

static void message_overdue(void *p)
{
	sg_conn *c = p;
	sg__ws_of(c)->msg_timer = NULL;
	if (c->stream)
		close_later(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "message_timeout",
			    "not complete within body_timeout_ms");
}

static void pong_overdue(void *p)
{
	sg_conn *c = p;
	sg__ws_of(c)->pong_timer = NULL;
	if (!c->stream || c->aborting)
		return;
	atomic_fetch_add(&c->srv->ws_ping_timeouts, 1);
	sg__stream_set_end_reason(c->stream, SG_END_CLIENT_LEFT); /* it stopped answering */
	close_later(c, LWS_CLOSE_STATUS_GOINGAWAY, "ping_timeout",
		    "no pong within ws_ping_timeout_ms");
}

/* A ping went out: the deadline runs from the first one left unanswered. */
static void ping_sent(sg_conn *c)
{
	sg_server *srv = c->srv;
	sg_ws_conn *w = sg__ws_of(c);
	if (srv->cfg.ws_ping_timeout_ms && !w->pong_timer)
		w->pong_timer = srv->loop.timer_start(&srv->loop, srv->cfg.ws_ping_timeout_ms,
						      pong_overdue, c);
}

void sg__ws_release(sg_conn *c)
{
	sg_ws_conn *w = sg__ws_of(c);
	c->srv->loop.timer_cancel(&c->srv->loop, w->pong_timer);
	c->srv->loop.timer_cancel(&c->srv->loop, w->msg_timer);
	w->pong_timer = w->msg_timer = NULL;
	sg_buf_free(&w->msg);
}

void sg__ws_pong(sg_conn *c)
{
	sg_ws_conn *w = sg__ws_of(c);
	c->srv->loop.timer_cancel(&c->srv->loop, w->pong_timer);
	w->pong_timer = NULL;
}

/* A message is read whole (up to max_ws_message_bytes, within
 * body_timeout_ms of its first piece), then checked and handed over. */
int sg__ws_receive(sg_conn *c, const void *in, size_t len)
{
	if (!c->stream || c->aborting)
		return 0; /* closing: what follows is not read */
	sg_server *srv = c->srv;
	sg_ws_conn *w = sg__ws_of(c);
	/* set by the first frame of a message, kept by its continuations */
	if (lws_frame_is_binary(c->wsi))
		return close_later(c, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE, "unsupported_data",
				   "binary messages are not accepted");
	if (w->msg.len + len > srv->cfg.max_ws_message_bytes)
		return close_later(c, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "message_too_big",
				   "the message is over max_ws_message_bytes");
	if (sg_buf_append(&w->msg, in, len))
		return close_later(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "internal_error",
				   "out of memory");
	if (!lws_is_final_fragment(c->wsi)) {
		if (!w->msg_timer)
			w->msg_timer = srv->loop.timer_start(&srv->loop, srv->cfg.body_timeout_ms,
							     message_overdue, c);
		return 0;
	}
	srv->loop.timer_cancel(&srv->loop, w->msg_timer);
	w->msg_timer = NULL;
	/* whole: a character split over fragments is fine, one cut short is not */
	if (!sg_utf8_valid(w->msg.data, w->msg.len))
		return close_later(c, LWS_CLOSE_STATUS_INVALID_PAYLOAD, "invalid_payload",
				   "a text message must be UTF-8");
	sg__stream_input(c->stream, w->msg.data ? w->msg.data : "", w->msg.len);
	sg_buf_reset(&w->msg);
	return 0;
}

/* RFC 6455 §7.4: what a peer may send (1012-1014 never get here: lws
 * turns them into 1002 with the codes below 1000 and 1004-1006, 1015-2999). */
static int close_code_valid(unsigned code)
{
	return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
	       (code >= 3000 && code <= 4999);
}

int sg__ws_peer_close(sg_conn *c, const unsigned char *in, size_t len)
{
	if (!c->srv || len == 0)
		return 0; /* lws echoes it */
	char detail[64];
	if (len == 1)
		return refuse(c, LWS_CLOSE_STATUS_PROTOCOL_ERR, "protocol_error",
			      "a close payload of one byte");
	unsigned code = (unsigned)in[0] << 8 | in[1];
	if (!close_code_valid(code)) {
		snprintf(detail, sizeof(detail), "invalid close code %u", code);
		return refuse(c, LWS_CLOSE_STATUS_PROTOCOL_ERR, "protocol_error", detail);
	}
	if (!sg_utf8_valid(in + 2, len - 2))
		return refuse(c, LWS_CLOSE_STATUS_INVALID_PAYLOAD, "invalid_payload",
			      "a close reason must be UTF-8");
	return 0;
}

/* The close frame of an aborting c: its code (1008 when none) and reason. */
static void abort_close_reason(struct lws *wsi, sg_conn *c)
{
	sg_ws_conn *w = sg__ws_of(c);
	lws_close_reason(wsi,
			 w->close_code ? (enum lws_close_status)w->close_code
				       : LWS_CLOSE_STATUS_POLICY_VIOLATION,
			 (unsigned char *)w->reason, strlen(w->reason));
}

void sg__ws_dropping(struct lws *wsi, sg_conn *c)
{
	static const char parser[] = "protocol_error: refused by the WebSocket parser";
	if (lws_get_close_length(wsi))
		return; /* a close frame is already prepared */
	if (c && c->srv && c->aborting)
		abort_close_reason(wsi, c);
	else
		lws_close_reason(wsi, LWS_CLOSE_STATUS_PROTOCOL_ERR, (unsigned char *)parser,
				 sizeof(parser) - 1);
}

/* Writes the next batch of c's queue (already framed) in one lws_write:
 * LWS_WRITE_HTTP sends the bytes as they are, on a WebSocket too. 0, or
 * -1 when the socket failed. */
static int write_batch(sg_conn *c)
{
	unsigned char *start;
	size_t len, take = sg__conn_batch(c, &sg_wire_websocket, &start, &len);
	if (lws_write(c->wsi, start, len, LWS_WRITE_HTTP) != (int)len)
		return -1;
	sg__conn_batch_done(c, take);
	return 0;
}

/* Writes the queue's batches now, each in one send, while lws holds no
 * unsent bytes for the socket: asking lws for a writeable callback instead
 * would cost an epoll_ctl to arm it (and lws' copy of what a send did not
 * take). Closes, pings and a full socket go through the callback. */
void sg__ws_write_pass(sg_conn *c)
{
	sg_stream *s = c->stream;
	if (c->aborting && s)
		let_go(c); /* a slow consumer cut: unsubscribed now, closed when it can be */
	if (!c->stream || c->aborting || c->ping_due) {
		lws_callback_on_writable(c->wsi);
		return;
	}
	while (sg__stream_queued(s) && !lws_partial_buffered(c->wsi))
		if (write_batch(c)) {
			c->aborting = 1; /* the callback closes it */
			break;
		}
	if (sg__stream_queued(s) || c->ending || c->aborting)
		lws_callback_on_writable(c->wsi);
}

void sg__ws_ping(sg_conn *c)
{
	c->ping_due = 1;
	lws_callback_on_writable(c->wsi);
}

int sg__ws_writeable(sg_conn *c)
{
	sg_stream *s = c->stream;
	/* before the stream test: a refusal has already released it */
	if (c->aborting) {
		abort_close_reason(c->wsi, c);
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
		ping_sent(c);
		if (sg__stream_queued(s) || c->ending)
			lws_callback_on_writable(c->wsi);
		return 0;
	}
	if (sg__stream_queued(s)) {
		c->srv->write_now_us = sg_mono_us(); /* outside the write pass */
		if (write_batch(c))
			return -1;
		if (sg__stream_queued(s) || c->ending)
			lws_callback_on_writable(c->wsi);
		return 0;
	}
	if (!c->ending)
		return 0;
	const char *why = c->srv->shutting_down ? "server shutting down" : "stream closed";
	enum lws_close_status code =
		c->srv->shutting_down ? LWS_CLOSE_STATUS_GOINGAWAY : LWS_CLOSE_STATUS_NORMAL;
	if (c->srv->drain) { /* a rolling restart: reconnect, to another node */
		why = "service restart";
		code = (enum lws_close_status)1012;
	}
	sg_ws_conn *w = sg__ws_of(c);
	if (w->close_code && !c->srv->shutting_down) { /* an end with a reason: token expiry */
		code = (enum lws_close_status)w->close_code;
		why = w->reason;
	}
	lws_close_reason(c->wsi, code, (unsigned char *)why, strlen(why));
	sg__conn_release(c, 0);
	return -1;
}
