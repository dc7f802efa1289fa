/*
 * respond — complete HTTP/1.x answers as bytes: status line, headers and
 * body of a response, or the head of a streamed one. No sockets: the
 * engine sends what these build.
 */
#ifndef SG_SERVER_RESPOND_H
#define SG_SERVER_RESPOND_H

#include "core/transport.h"
#include "request.h"
#include "server.h"

/* How an answer goes on the wire. */
typedef struct sg_wire_opts {
	int minor;     /* HTTP/1.minor of the request */
	int close;     /* the connection ends after this answer */
	int head_only; /* HEAD: the headers of the answer, no body */
	sg_cors cors;  /* the request's CORS verdict: Access-Control-* on every answer */
} sg_wire_opts;

/* Appends resp to out as HTTP/1.x (a file named by resp->file is read
 * into the body first). Returns 0 or SG_ENOMEM. */
int sg__response_write(sg_response *resp, const sg_wire_opts *o, sg_buf *out);
/* Appends the head of a streamed answer with transport t: chunked on
 * HTTP/1.1, ended by close on HTTP/1.0. gap (may be NULL) is the
 * X-Streamgate-Gap value. */
int sg__response_stream_head(const sg_transport *t, const char *gap, const sg_wire_opts *o,
			     sg_buf *out);
/* One response header: 0, or nonzero when it could not be kept. */
typedef int (*sg_field_fn)(void *ctx, const char *name, const char *value);
/* Emits resp's headers through fn, whatever the protocol, with the CORS
 * headers cors (the request's verdict) calls for: all but the
 * status and the framing and connection headers each protocol adds (a
 * file named by resp->file is read into the body first: it may become a
 * 404). Nonzero when fn failed. */
int sg__response_fields(sg_response *resp, const sg_cors *cors, sg_field_fn fn, void *ctx);
/* Emits the header lines in lines ("name: value\r\n" each, as
 * sg_buf_printf wrote them) through fn; nonzero on a malformed line. */
int sg__response_extra_fields(const sg_buf *lines, sg_field_fn fn, void *ctx);
/* The same for the head of a stream with transport t. */
int sg__response_stream_fields(const sg_transport *t, const char *gap, const sg_cors *cors,
			       sg_field_fn fn, void *ctx);
void sg__response_init(sg_response *resp);
void sg__response_free(sg_response *resp);

#endif
