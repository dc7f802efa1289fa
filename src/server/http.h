/*
 * http — what a request asks for, whatever connection carried it: routing
 * to a user route or a built-in endpoint, method checks, and opening a
 * stream. The HTTP/1 engine (h1.c) and the WebSocket side call it; it never
 * touches a socket.
 */
#ifndef SG_SERVER_HTTP_H
#define SG_SERVER_HTTP_H

#include <stddef.h>

#include "conn.h"

/* What to do with a routed request. */
typedef enum sg_route_kind {
	SG_ROUTE_ANSWER, /* resp holds the whole answer */
	SG_ROUTE_STREAM, /* open a stream with fn(ud) */
	SG_ROUTE_BODY,	 /* read the body, then sg__http_post */
} sg_route_kind;

/* Where a routed request goes; borrowed from the server's tables. */
typedef struct sg_dispatch {
	sg_route_kind kind;
	sg_handler_fn fn;
	void *ud;
	const sg_endpoint *ep;
} sg_dispatch;

/* Routes req (method, path, length) and answers what needs no body or
 * stream into resp. HEAD is routed as GET (the engine sends no body). */
void sg__http_route(sg_server *srv, const sg_request *req, sg_response *resp, sg_dispatch *d);
/* A POST read to its end for an endpoint that streams it: moves body into
 * req, turns d into SG_ROUTE_STREAM and returns 1; 0 for the others. */
int sg__http_body_streams(sg_server *srv, sg_dispatch *d, sg_request *req, sg_buf *body);
/* Answers a POST routed to SG_ROUTE_BODY with its whole body (borrowed). */
void sg__http_post(sg_server *srv, const sg_dispatch *d, const sg_request *req, const char *body,
		   size_t len, sg_response *resp);

/* HEAD on a streaming path: the answer (no body) its GET's headers would
 * have, or a 400 for a transport that cannot be had. */
void sg__http_stream_head(const sg_request *req, sg_response *resp);

/* Resolves a path to a user route's handler or a streaming endpoint's.
 * Returns 0 and fills fn/ud, or SG_ENOTFOUND. */
int sg__stream_handler_for(sg_server *srv, const char *path, sg_handler_fn *fn, void **ud);
/* Runs the ws_preflight of req's endpoint into resp: 1 when it has one
 * (resp is its answer, maybe deferred), 0 when the upgrade goes on now. */
int sg__http_ws_preflight(sg_server *srv, sg_request *req, sg_response *resp);
/* Creates c's stream with the negotiated transport and sink, and runs the
 * handler. Returns 0, or an HTTP status with error and detail set (static
 * or borrowed from the stream, valid until c is released). */
int sg__open_stream(sg_conn *c, const sg_stream_sink *sink, sg_handler_fn fn, void *ud,
		    const char **error, const char **detail);

#endif
