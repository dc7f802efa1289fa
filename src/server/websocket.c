/*
 * websocket — upgrades bind to a path, not to a subprotocol: the filter
 * accepts only paths with a streaming handler. Refusals after the upgrade
 * are close frames with a code and a reason. Also what RFC 6455 asks of a
 * server that libwebsockets 4.1.6 leaves to us: UTF-8 of text messages and
 * close reasons, close codes, binary messages, a close frame where its
 * parser only hangs up, a pong deadline and a message deadline (README,
 * "WebSocket conformance"). Nothing here writes to the socket: closes go
 * through lws_close_reason() and the writeable callback.
 */
#include "websocket.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <string.h>

#include "core/utf8.h"
#include "http.h"

int sg__ws_filter(sg_server *srv, struct lws *wsi)
{
	char path[1024];
	if (srv->shutting_down || lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI) <= 0)
		return 1;
	sg_handler_fn fn;
	void *ud;
	return sg__stream_handler_for(srv, path, &fn, &ud) ? 1 : 0;
}

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
	int rc = sg__request_init(&c->req, c->wsi, 1);
	c->has_req = 1;
	if (rc)
		return refuse(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "bad_request",
			      "cannot read the request");
	sg_handler_fn fn;
	void *ud;
	if (sg__stream_handler_for(c->srv, c->req.path, &fn, &ud))
		return refuse(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "not_found", c->req.path);
	const char *error, *detail;
	if (sg__open_stream(c, fn, ud, &error, &detail))
		return refuse(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, error, detail);
	c->req.wsi = NULL;
	sg__stream_opened(c->stream);
	if (sg__stream_queued(c->stream))
		lws_callback_on_writable(c->wsi);
	return 0;
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
	sg__conn_release(c, 1);
	c->aborting = 1;
	c->close_code = (unsigned short)code;
	snprintf(c->reason, sizeof(c->reason), "%s: %s", error, detail);
	lws_callback_on_writable(c->wsi);
	lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, 5);
	return 0;
}

static void message_overdue(void *p)
{
	sg_conn *c = p;
	c->msg_timer = NULL;
	if (c->stream)
		close_later(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "message_timeout",
			    "not complete within body_timeout_ms");
}

static void pong_overdue(void *p)
{
	sg_conn *c = p;
	c->pong_timer = NULL;
	if (!c->stream || c->aborting)
		return;
	atomic_fetch_add(&c->srv->ws_ping_timeouts, 1);
	close_later(c, LWS_CLOSE_STATUS_GOINGAWAY, "ping_timeout",
		    "no pong within ws_ping_timeout_ms");
}

void sg__ws_ping_sent(sg_conn *c)
{
	sg_server *srv = c->srv;
	/* the deadline runs from the first ping left unanswered */
	if (srv->cfg.ws_ping_timeout_ms && !c->pong_timer)
		c->pong_timer = srv->loop.timer_start(&srv->loop, srv->cfg.ws_ping_timeout_ms,
						      pong_overdue, c);
}

void sg__ws_pong(sg_conn *c)
{
	c->srv->loop.timer_cancel(&c->srv->loop, c->pong_timer);
	c->pong_timer = NULL;
}

/* A message is read whole (up to max_ws_message_bytes, within
 * body_timeout_ms of its first piece), then checked and handed over. */
int sg__ws_receive(sg_conn *c, const void *in, size_t len)
{
	if (!c->stream || c->aborting)
		return 0; /* closing: what follows is not read */
	sg_server *srv = c->srv;
	/* set by the first frame of a message, kept by its continuations */
	if (lws_frame_is_binary(c->wsi))
		return close_later(c, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE, "unsupported_data",
				   "binary messages are not accepted");
	if (c->wsmsg.len + len > srv->cfg.max_ws_message_bytes)
		return close_later(c, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "message_too_big",
				   "the message is over max_ws_message_bytes");
	if (sg_buf_append(&c->wsmsg, in, len))
		return close_later(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "internal_error",
				   "out of memory");
	if (!lws_is_final_fragment(c->wsi)) {
		if (!c->msg_timer)
			c->msg_timer = srv->loop.timer_start(&srv->loop, srv->cfg.body_timeout_ms,
							     message_overdue, c);
		return 0;
	}
	srv->loop.timer_cancel(&srv->loop, c->msg_timer);
	c->msg_timer = NULL;
	/* whole: a character split over fragments is fine, one cut short is not */
	if (!sg_utf8_valid(c->wsmsg.data, c->wsmsg.len))
		return close_later(c, LWS_CLOSE_STATUS_INVALID_PAYLOAD, "invalid_payload",
				   "a text message must be UTF-8");
	sg__stream_input(c->stream, c->wsmsg.data ? c->wsmsg.data : "", c->wsmsg.len);
	sg_buf_reset(&c->wsmsg);
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

void sg__ws_dropping(struct lws *wsi, sg_conn *c)
{
	static const char parser[] = "protocol_error: refused by the WebSocket parser";
	if (lws_get_close_length(wsi))
		return; /* a close frame is already prepared */
	if (c && c->srv && c->aborting)
		lws_close_reason(wsi,
				 c->close_code ? (enum lws_close_status)c->close_code
					       : LWS_CLOSE_STATUS_POLICY_VIOLATION,
				 (unsigned char *)c->reason, strlen(c->reason));
	else
		lws_close_reason(wsi, LWS_CLOSE_STATUS_PROTOCOL_ERR, (unsigned char *)parser,
				 sizeof(parser) - 1);
}
