/*
 * websocket — WebSocket connections on libwebsockets. Our HTTP/1 engine
 * reads and checks the upgrade request; this file hands the socket to lws
 * with those bytes, and takes the request back, already parsed, when lws
 * has finished the handshake. Refusals after the upgrade are close frames
 * with a code and a reason.
 */
#include "websocket.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http.h"

/* A request handed over with its socket, until lws says it is upgraded.
 * Keyed by fd: an entry for an fd is replaced when the fd is handed over
 * again, so a stale one (a handshake lws refused) never outlives it. */
typedef struct sg_ws_pending {
	int fd;
	sg_request req;
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
	sg__request_clear(&e->req);
	free(e);
}

int sg__ws_handoff(sg_server *srv, int fd, sg_request *req, const char *bytes, size_t len)
{
	sg_ws_pending **old = pending_find(srv, fd);
	if (*old)
		pending_drop(old);
	sg_ws_pending *e = calloc(1, sizeof(*e));
	if (!e) {
		sg__request_clear(req);
		close(fd);
		return SG_ENOMEM;
	}
	e->fd = fd;
	sg__request_move(&e->req, req);
	e->next = srv->ws_pending;
	srv->ws_pending = e;
	if (!lws_adopt_socket_vhost_readbuf(srv->vhost, fd, bytes, len)) {
		sg_ws_pending **p = pending_find(srv, fd); /* lws closed fd */
		if (*p)
			pending_drop(p);
		return SG_EIO;
	}
	return 0;
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
	sg_conn *c = p;
	lws_callback_on_writable(c->wsi);
}

static void ws_end(void *p, int abort, const char *reason)
{
	sg_conn *c = p;
	if (abort) {
		c->aborting = 1;
		snprintf(c->reason, sizeof(c->reason), "%s", reason ? reason : "");
		/* the close frame goes out once the socket drains, or never */
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, 5);
	} else {
		c->ending = 1;
	}
	lws_callback_on_writable(c->wsi);
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
	sg__request_move(&c->req, &(*p)->req);
	pending_drop(p);
	c->has_req = 1;
	sg_handler_fn fn;
	void *ud;
	if (sg__stream_handler_for(c->srv, c->req.path, &fn, &ud))
		return refuse(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "not_found", c->req.path);
	const char *error, *detail;
	if (sg__open_stream(c, &ws_sink, fn, ud, &error, &detail))
		return refuse(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, error, detail);
	sg__request_clear(&c->req); /* borrowed by the handler only */
	c->has_req = 0;
	sg__stream_opened(c->stream);
	if (sg__stream_queued(c->stream))
		lws_callback_on_writable(c->wsi);
	return 0;
}

int sg__ws_receive(sg_conn *c, const void *in, size_t len)
{
	if (!c->stream)
		return -1;
	if (c->wsmsg.len + len > c->srv->cfg.max_ws_message_bytes)
		return refuse(c, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "message_too_big",
			      "the message is over max_ws_message_bytes");
	if (sg_buf_append(&c->wsmsg, in, len))
		return -1;
	if (!lws_is_final_fragment(c->wsi))
		return 0;
	sg__stream_input(c->stream, c->wsmsg.data ? c->wsmsg.data : "", c->wsmsg.len);
	sg_buf_reset(&c->wsmsg);
	return 0;
}

void sg__ws_ping(sg_conn *c)
{
	c->ping_due = 1;
	lws_callback_on_writable(c->wsi);
}

int sg__ws_writeable(sg_conn *c)
{
	sg_stream *s = c->stream;
	if (!s)
		return -1;
	if (c->aborting) {
		lws_close_reason(c->wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION,
				 (unsigned char *)c->reason, strlen(c->reason));
		return -1;
	}
	if (c->ping_due) {
		unsigned char ping[LWS_PRE];
		c->ping_due = 0;
		if (lws_write(c->wsi, ping + LWS_PRE, 0, LWS_WRITE_PING) < 0)
			return -1;
		if (sg__stream_queued(s) || c->ending)
			lws_callback_on_writable(c->wsi);
		return 0;
	}
	if (sg__stream_queued(s)) {
		unsigned char *start;
		size_t len, take = sg__conn_batch(c, &sg_wire_websocket, &start, &len);
		/* LWS_WRITE_HTTP sends the bytes as they are, on a WebSocket too */
		if (lws_write(c->wsi, start, len, LWS_WRITE_HTTP) != (int)len)
			return -1;
		sg__conn_batch_done(c, take);
		if (sg__stream_queued(s) || c->ending)
			lws_callback_on_writable(c->wsi);
		return 0;
	}
	if (!c->ending)
		return 0;
	const char *why = c->srv->shutting_down ? "server shutting down" : "stream closed";
	lws_close_reason(c->wsi,
			 c->srv->shutting_down ? LWS_CLOSE_STATUS_GOINGAWAY : LWS_CLOSE_STATUS_NORMAL,
			 (unsigned char *)why, strlen(why));
	sg__conn_release(c, 0);
	return -1;
}
