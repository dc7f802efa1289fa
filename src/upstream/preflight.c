/*
 * preflight — a WebSocket on an upstream path answers with the upstream's
 * status: the upgrade waits (the HTTP/1 engine holds it, reply.h) until
 * the upstream's head arrives. A 2xx lets the 101 go out, with the
 * request parked (read paused, the bytes that came with the head kept)
 * until the WebSocket's stream adopts it (upstream.c); anything else, and
 * 502/504, is the upgrade's answer instead, as for any other transport.
 */
#include <stdlib.h>
#include <string.h>

#include "auth/principal.h"
#include "server/reply.h"
#include "server/respond.h"
#include "upstream.h"

void sg__preflight_free(void *p)
{
	sg_upstream *u = p;
	if (u->adopted)
		return; /* the stream owns it now */
	if (u->pre) { /* never answered: the engine has abandoned it */
		sg__reply_send(u->pre);
		u->pre = NULL;
	}
	sg__upstream_free(u);
}

void sg__upstream_ws_preflight(sg_server *srv, sg_request *req, sg_response *resp)
{
	const sg_upstream_cfg *cfg = sg__upstream_for(srv, req->path);
	if (sg__upstream_admit_request(srv, req, cfg, resp))
		return; /* the upstream's "auth" refused it: the upstream never sees it */
	sg_upstream *u = calloc(1, sizeof(*u));
	if (!u)
		return sg__response_error(resp, 503, "out_of_memory", "cannot proxy the request");
	if (!(u->pre = sg__response_defer(resp))) { /* resp holds a 503 */
		free(u);
		return;
	}
	u->srv = srv;
	u->cfg = cfg;
	req->pre = u;
	req->pre_free = sg__preflight_free;
	/* a WebSocket over TLS reached us through the pump: "http", as README says */
	if (sg__upstream_start(u, req, 0)) {
		sg_reply *r = u->pre;
		u->pre = NULL;
		sg__response_error(&r->resp, 503, "out_of_memory", "cannot proxy the request");
		sg__reply_send(r);
	}
}

void sg__preflight_ready(sg_upstream *u)
{
	sg_reply *r = u->pre;
	u->pre = NULL;
	u->parked = 1;
	sg_up_client_pause(&u->client, 1);
	r->resp.status = 101;
	sg__reply_send(r);
}

void sg__preflight_refuse(sg_upstream *u, int status, const char *ct, const char *body,
                          size_t len)
{
	sg_reply *r = u->pre;
	u->pre = NULL;
	r->resp.status = status;
	r->resp.content_type = ct;
	if (sg_buf_append(&r->resp.body, body, len))
		sg__response_error(&r->resp, 503, "out_of_memory", "cannot pass the answer on");
	sg__reply_send(r);
}
