/*
 * websocket — upgrades bind to a path, not to a subprotocol: the filter
 * accepts only paths with a streaming handler. Refusals after the upgrade
 * are close frames with a code and a reason.
 */
#include "websocket.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <string.h>

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
