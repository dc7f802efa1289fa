/*
 * h2_conn — the HTTP/2 session and its streams, private to h2.c (the
 * session, its callbacks and the requests) and h2_stream.c (answers,
 * streams and long-polls written through nghttp2's data providers).
 */
#ifndef SG_SERVER_H2_CONN_H
#define SG_SERVER_H2_CONN_H

#include <nghttp2/nghttp2.h>

#include "client_ip.h"
#include "conn.h"
#include "h2.h"
#include "http.h"
#include "respond.h"
#include "tls.h"

typedef enum sg_h2s_state {
	SG_H2S_HEADERS,  /* collecting the request's headers */
	SG_H2S_BODY,     /* reading a POST body */
	SG_H2S_ANSWER,   /* an answer is submitted */
	SG_H2S_STREAM,   /* a streamed response (SSE, chunked, ndjson) */
	SG_H2S_LONGPOLL, /* waiting for frames, the end, or the timeout */
} sg_h2s_state;

/* One HTTP/2 stream; c first: the core stream's sink gets &c. Owns hdrs,
 * body, cur's ref and (through c) its request and core stream. */
typedef struct sg_h2_stream {
	sg_conn c;
	struct sg_h2 *h2;
	int32_t id;
	sg_h2s_state state;
	sg_buf hdrs; /* "name\0value\0" as received, pseudo-headers too */
	size_t nhdrs, hdr_bytes;
	unsigned too_big : 1, want : 1, head_only : 1, finished : 1, body_over : 1,
	    head_later : 1; /* a streamed answer's HEADERS wait (a replay, an upstream's head) */
	sg_dispatch d;
	sg_buf body; /* the POST body so far, then the answer's body */
	size_t body_off;
	sg_frame *cur; /* a frame taken off the queue, partly sent */
	size_t cur_off;
	struct sg_reply *reply; /* an answer the broker gives later (reply.h) */
	struct sg_h2_stream *prev, *next;
} sg_h2_stream;

/* The session of one TLS connection; c first: only its write-pass links
 * (and is_h2) are used, so that one send serves all the streams that
 * queued frames in a loop turn. */
typedef struct sg_h2 {
	sg_conn c;
	sg_tls *t;
	nghttp2_session *session;
	sg_h2_stream *streams;
	size_t nstreams;
	size_t held;         /* bytes of request bodies and unsent answers, every stream's */
	double reset_tokens; /* rapid reset: RST_STREAMs the client may still send */
	double reset_at;     /* when the tokens were last counted (loop time) */
	sg_ip peer;          /* the client */
	struct sg_ip_count *ip_lease; /* its place under max_connections_per_ip */
	unsigned over_limit : 1,
	    over_ip_limit : 1, /* past max_connections_per_ip: every request gets 429 */
	    goaway_sent : 1, /* shutting down or idle: streams end, then close */
	    broken : 1;      /* the client broke the protocol: GOAWAY, read no more */
} sg_h2;

/* A connection holding more than this in bodies and answers gets 503 for
 * new requests and bodies until its client reads: 100 streams cannot make
 * it hold 100 bodies. */
#define SG_H2_HELD_MAX(srv) (4 * (srv)->cfg.max_body_bytes + 65536)

/* h2_stream.c */
/* Frees st's body and takes it off the connection's count. */
void sg__h2_body_drop(sg_h2_stream *st);
/* Submits resp as st's answer (frees resp). */
void sg__h2_answer(sg_h2_stream *st, sg_response *resp);
/* A JSON error answer. */
void sg__h2_fail(sg_h2_stream *st, int status, const char *error, const char *detail);
/* Opens the routed stream (SSE, chunked, ndjson, long-poll) on st. */
void sg__h2_stream_begin(sg_h2_stream *st);
/* What st's core stream asked for since the last pass: resume its data,
 * answer a long-poll, or reset it. */
void sg__h2_stream_service(sg_h2_stream *st);
/* Frees what st owns apart from the session's link (the stream ended). */
void sg__h2_stream_clear(sg_h2_stream *st, int errored);

#endif
