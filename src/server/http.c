/*
 * http — routing and answering HTTP requests. User routes come first, then
 * the built-in endpoints; a streaming GET becomes a stream bound to the
 * connection, anything else gets one complete answer.
 */
#include "http.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <string.h>

#include "respond.h"

static sg_route *route_find(sg_server *srv, const char *path)
{
	for (sg_route *r = srv->group->workers[0]->routes; r; r = r->next)
		if (r->prefix ? strncmp(path, r->path, strlen(r->path)) == 0
			      : strcmp(path, r->path) == 0)
			return r;
	return NULL;
}

int sg__stream_handler_for(sg_server *srv, const char *path, sg_handler_fn *fn, void **ud)
{
	sg_route *r = route_find(srv, path);
	if (r) {
		*fn = r->fn;
		*ud = r->ud;
		return 0;
	}
	const sg_endpoint *ep = sg__endpoint_for(srv, path);
	if (ep && ep->stream) {
		*fn = ep->stream;
		*ud = srv;
		return 0;
	}
	return SG_ENOTFOUND;
}

static unsigned method_bit(const char *m)
{
	return strcmp(m, "GET") == 0	  ? SG_M_GET
	       : strcmp(m, "POST") == 0	  ? SG_M_POST
	       : strcmp(m, "DELETE") == 0 ? SG_M_DELETE
					  : 0;
}

int sg__open_stream(sg_conn *c, sg_handler_fn fn, void *ud, const char **error,
		    const char **detail)
{
	sg_negotiation n = {.forced = sg_request_query(&c->req, "transport"),
			    .accept = sg_request_header(&c->req, "accept"),
			    .ws_upgrade = c->is_ws};
	const sg_transport *t;
	if (sg_transport_negotiate(&n, &t, detail)) {
		*error = "bad_transport";
		return 400;
	}
	sg_stream *s = sg__conn_stream_new(c, t);
	if (!s) {
		*error = "out_of_memory";
		*detail = "cannot create the stream";
		return 503;
	}
	if (c->srv->preludes[t->slot])
		sg__stream_push(s, c->srv->preludes[t->slot]);
	fn(s, &c->req, ud);
	return sg__stream_failure(s, error, detail);
}

static int write_stream_headers(sg_conn *c, const sg_transport *t)
{
	unsigned char buf[LWS_PRE + 2048], *start = buf + LWS_PRE, *p = start,
					   *end = buf + sizeof(buf);
	struct lws *wsi = c->wsi;
	static const char *const names[] = {"content-type:", "transfer-encoding:",
					    "cache-control:", "x-accel-buffering:",
					    "x-streamgate-gap:"};
	const char *gap = sg__stream_notes(c->stream);
	const char *values[] = {t->content_type, "chunked", "no-cache", "no", gap};
	if (lws_add_http_header_status(wsi, HTTP_STATUS_OK, &p, end))
		return -1;
	for (size_t i = 0; i < (gap ? 5u : 4u); i++)
		if (lws_add_http_header_by_name(wsi, (const unsigned char *)names[i],
						(const unsigned char *)values[i],
						(int)strlen(values[i]), &p, end))
			return -1;
	return lws_finalize_write_http_header(wsi, start, &p, end) ? -1 : 0;
}

static int stream_start(sg_conn *c, sg_handler_fn fn, void *ud)
{
	const char *error, *detail;
	int status = sg__open_stream(c, fn, ud, &error, &detail);
	if (status) {
		char e[32], d[160];
		snprintf(e, sizeof(e), "%s", error);
		snprintf(d, sizeof(d), "%s", detail);
		sg__conn_release(c, 1);
		return sg__respond_error(c->wsi, status, e, d, NULL);
	}
	sg_stream *s = c->stream;
	const sg_transport *t = sg__stream_transport_of(s);
	c->req.wsi = NULL; /* lws may drop the header table from here on */
	if (t->wire == SG_WIRE_HTTP_STREAM) {
		if (write_stream_headers(c, t))
			return -1;
		c->headers_out = 1;
		lws_http_headers_detach(c->wsi); /* ~5 KB a connection */
	} else {
		sg__conn_wait(c, c->srv->cfg.longpoll_timeout_ms);
	}
	lws_set_timeout(c->wsi, NO_PENDING_TIMEOUT, 0);
	sg__conn_watch_hangup(c);
	sg__stream_opened(s);
	if (sg__stream_queued(s))
		lws_callback_on_writable(c->wsi);
	return 0;
}

static int answer(sg_conn *c, sg_response *r)
{
	struct lws *wsi = c->wsi;
	sg__conn_release(c, 0);
	int rc = sg__respond(wsi, r);
	sg__response_free(r);
	return rc;
}

static int post_start(sg_conn *c)
{
	char detail[96];
	long long n = c->req.content_length;
	struct lws *wsi = c->wsi;
	if (n == -1 || n == -2) {
		sg__conn_release(c, 0);
		sg__respond_error(wsi, n == -1 ? 411 : 400,
				  n == -1 ? "length_required" : "bad_request",
				  n == -1 ? "a POST needs a Content-Length header"
					  : "Content-Length is not a number",
				  NULL);
		return -1; /* the body that follows cannot be skipped */
	}
	if ((unsigned long long)n > c->srv->cfg.max_body_bytes) {
		snprintf(detail, sizeof(detail), "the body is %lld bytes; the limit is %zu", n,
			 c->srv->cfg.max_body_bytes);
		sg__conn_release(c, 0);
		sg__respond_error(wsi, 413, "body_too_large", detail, NULL);
		return -1;
	}
	if (n == 0)
		return sg__http_body_done(c);
	return sg_buf_reserve(&c->body, (size_t)n + 1) ? -1 : 0;
}

int sg__http_request(sg_conn *c)
{
	struct lws *wsi = c->wsi;
	if (c->srv->shutting_down)
		return sg__respond_error(wsi, 503, "shutting_down", "the server is stopping", NULL);
	int rc = sg__request_init(&c->req, wsi, 0);
	c->has_req = 1;
	if (rc) {
		sg__conn_release(c, 0);
		return sg__respond_error(wsi, 400, "bad_request",
					 rc == SG_ETOOBIG ? "too many query arguments"
							  : "cannot read the request line",
					 NULL);
	}
	sg_route *r = route_find(c->srv, c->req.path);
	const sg_endpoint *ep = r ? NULL : sg__endpoint_for(c->srv, c->req.path);
	unsigned m = method_bit(c->req.method);
	if (!r && !ep) {
		char detail[160];
		snprintf(detail, sizeof(detail), "nothing is served at %.120s", c->req.path);
		sg__conn_release(c, 0);
		return sg__respond_error(wsi, 404, "not_found", detail, NULL);
	}
	if (!(m & (r ? SG_M_GET : ep->methods))) {
		char detail[96];
		snprintf(detail, sizeof(detail), "%s is not allowed here", c->req.method);
		sg__conn_release(c, 0);
		return sg__respond_error(wsi, 405, "method_not_allowed", detail,
					 r ? "GET" : ep->allow);
	}
	if (r)
		return stream_start(c, r->fn, r->ud);
	if (m == SG_M_POST) {
		c->ep = ep;
		return post_start(c);
	}
	if (m == SG_M_GET && ep->stream)
		return stream_start(c, ep->stream, c->srv);
	sg_response resp;
	sg__response_init(&resp);
	if (m == SG_M_DELETE)
		ep->del(c->srv, &c->req, &resp);
	else
		ep->get(c->srv, &c->req, &resp);
	return answer(c, &resp);
}

int sg__http_body(sg_conn *c, const void *in, size_t len)
{
	if (!c->ep)
		return 0;
	if (c->body.len + len > c->srv->cfg.max_body_bytes)
		return -1; /* more than Content-Length announced */
	return sg_buf_append(&c->body, in, len) ? -1 : 0;
}

int sg__http_body_done(sg_conn *c)
{
	if (!c->ep)
		return 0;
	sg_response resp;
	sg__response_init(&resp);
	c->ep->post(c->srv, &c->req, c->body.data ? c->body.data : "", c->body.len, &resp);
	return answer(c, &resp);
}
