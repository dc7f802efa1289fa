/*
 * http — routing requests. User routes come first, then the built-in
 * endpoints; a streaming GET becomes a stream bound to the connection,
 * anything else gets one complete answer. Knows nothing of sockets.
 */
#include "http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "respond.h"
#include "rights.h"

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

int sg__http_ws_preflight(sg_server *srv, sg_request *req, sg_response *resp)
{
	if (route_find(srv, req->path)) /* a user route: no preflight */
		return 0;
	const sg_endpoint *ep = sg__endpoint_for(srv, req->path);
	if (!ep || !ep->ws_preflight)
		return 0;
	ep->ws_preflight(srv, req, resp);
	return 1;
}

static unsigned method_bit(const char *m)
{
	return strcmp(m, "GET") == 0	   ? SG_M_GET
	       : strcmp(m, "HEAD") == 0	   ? SG_M_GET
	       : strcmp(m, "POST") == 0	   ? SG_M_POST
	       : strcmp(m, "DELETE") == 0  ? SG_M_DELETE
	       : strcmp(m, "OPTIONS") == 0 ? SG_M_OPTIONS
					   : 0;
}

int sg__open_stream(sg_conn *c, const sg_stream_sink *sink, sg_handler_fn fn, void *ud,
		    const char **error, const char **detail)
{
	sg_negotiation n = {.forced = sg_request_query(c->req, "transport"),
			    .accept = sg_request_header(c->req, "accept"),
			    .ws_upgrade = c->is_ws};
	const sg_transport *t;
	if (sg_transport_negotiate(&n, &t, detail)) {
		*error = "bad_transport";
		return 400;
	}
	sg_stream *s = sg__conn_stream_new(c, t, sink);
	if (!s) {
		*error = "out_of_memory";
		*detail = "cannot create the stream";
		return 503;
	}
	if (c->srv->preludes[t->slot])
		sg__stream_push(s, c->srv->preludes[t->slot]);
	sg__rights_bind(c); /* the handler asks the stream's rights */
	fn(s, c->req, ud);
	int status = sg__stream_failure(s, error, detail);
	c->opened = !status;
	return status;
}

void sg__http_stream_head(const sg_request *req, sg_response *resp)
{
	const sg_transport *t;
	const char *why;
	sg_negotiation n = {.forced = sg_request_query(req, "transport"),
			    .accept = sg_request_header(req, "accept")};
	if (sg_transport_negotiate(&n, &t, &why))
		sg__response_error(resp, 400, "bad_transport", why);
	else
		resp->content_type = t->content_type;
}

/* A POST: its framing decides whether the body can be read. */
static void route_post(sg_server *srv, const sg_request *req, sg_response *resp, sg_dispatch *d)
{
	char detail[96];
	long long n = req->content_length;
	if (n == -1) {
		sg__response_error(resp, 411, "length_required",
				   "a POST needs a Content-Length header or a chunked body");
		return;
	}
	if (n >= 0 && (unsigned long long)n > srv->cfg.max_body_bytes) {
		snprintf(detail, sizeof(detail), "the body is %lld bytes; the limit is %zu", n,
			 srv->cfg.max_body_bytes);
		sg__response_error(resp, 413, "body_too_large", detail);
		return;
	}
	d->kind = SG_ROUTE_BODY;
}

/* OPTIONS: what the path allows. */
static void route_options(const char *allow, sg_response *resp)
{
	resp->status = 204;
	resp->allow = allow;
}

void sg__http_route(sg_server *srv, const sg_request *req, sg_response *resp, sg_dispatch *d)
{
	*d = (sg_dispatch){.kind = SG_ROUTE_ANSWER};
	if (srv->shutting_down) {
		sg__response_error(resp, 503, "shutting_down", "the server is stopping");
		return;
	}
	sg_route *r = route_find(srv, req->path);
	const sg_endpoint *ep = r ? NULL : sg__endpoint_for(srv, req->path);
	unsigned m = method_bit(req->method);
	if (!r && !ep) {
		char detail[160];
		snprintf(detail, sizeof(detail), "nothing is served at %.120s", req->path);
		sg__response_error(resp, 404, "not_found", detail);
		return;
	}
	const char *allow = r ? "GET, HEAD, OPTIONS" : ep->allow;
	if (m == SG_M_OPTIONS)
		return route_options(allow, resp);
	if (!(m & (r ? SG_M_GET : ep->methods))) {
		char detail[96];
		snprintf(detail, sizeof(detail), "%.16s is not allowed here", req->method);
		sg__response_error(resp, 405, "method_not_allowed", detail);
		resp->allow = allow;
		return;
	}
	d->ep = ep;
	if (r || (m == SG_M_GET && ep->stream)) {
		d->kind = SG_ROUTE_STREAM;
		d->fn = r ? r->fn : ep->stream;
		d->ud = r ? r->ud : srv;
	} else if (m == SG_M_POST) {
		route_post(srv, req, resp, d);
	} else if (m == SG_M_DELETE) {
		ep->del(srv, req, resp);
	} else {
		ep->get(srv, req, resp);
	}
}

int sg__http_body_streams(sg_server *srv, sg_dispatch *d, sg_request *req, sg_buf *body)
{
	if (!d->ep || !d->ep->post_streams)
		return 0;
	req->body = body->data ? body->data : strdup("");
	req->body_len = body->len;
	*body = (sg_buf)SG_BUF_INIT;
	d->kind = SG_ROUTE_STREAM;
	d->fn = d->ep->stream;
	d->ud = srv;
	return 1;
}

void sg__http_post(sg_server *srv, const sg_dispatch *d, const sg_request *req, const char *body,
		   size_t len, sg_response *resp)
{
	d->ep->post(srv, req, body, len, resp);
}
