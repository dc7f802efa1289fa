/*
 * http — one HTTP request: route it, read its body, answer it or turn it
 * into a stream.
 */
#ifndef SG_SERVER_HTTP_H
#define SG_SERVER_HTTP_H

#include <stddef.h>

#include "conn.h"

int sg__http_request(sg_conn *c);
int sg__http_body(sg_conn *c, const void *in, size_t len);
int sg__http_body_done(sg_conn *c);

/* Resolves a path to a user route's handler or a streaming endpoint's.
 * Returns 0 and fills fn/ud, or SG_ENOTFOUND. */
int sg__stream_handler_for(sg_server *srv, const char *path, sg_handler_fn *fn, void **ud);
/* Creates c's stream with the negotiated transport and runs the handler.
 * Returns 0, or an HTTP status with error and detail set (static or
 * borrowed from the stream, valid until c is released). */
int sg__open_stream(sg_conn *c, sg_handler_fn fn, void *ud, const char **error,
		    const char **detail);

#endif
