/*
 * conn — what every connection kind shares: the request, and while it
 * streams, the bridge between a core stream and the socket. HTTP/1
 * connections are ours (h1.c, which embeds this struct first); WebSocket
 * connections are libwebsockets' per-session data (websocket.c).
 */
#ifndef SG_SERVER_CONN_H
#define SG_SERVER_CONN_H

#include "core/buf.h"
#include "request.h"
#include "server.h"

struct lws;

/* Zeroed at creation; owns req (while a request is handled) and one
 * stream ref. A WebSocket's is the first member of its sg_ws_conn
 * (websocket.h), which holds what only WebSockets need. */
typedef struct sg_conn {
	struct lws *wsi; /* a WebSocket's; NULL on HTTP/1 */
	sg_server *srv;
	sg_stream *stream;
	sg_request *req; /* the request being handled; NULL between requests */
	struct sg_conn *prev, *next; /* srv->conns, while streaming */
	struct sg_conn *dirty_prev, *dirty_next; /* srv->dirty or dirty_urgent */
	unsigned listed : 1, ending : 1, aborting : 1, timed_out : 1, is_ws : 1,
		headers_out : 1, active : 1, ping_due : 1, is_dirty : 1,
		dirty_urgent : 1, /* on srv->dirty_urgent, not srv->dirty */
		is_h2 : 1,  /* an HTTP/2 connection's (h2.c) */
		via_h2 : 1, /* an HTTP/2 stream's: the access log notes it */
		opened : 1,  /* its stream began: its end is logged */
		via_tls : 1; /* HTTP/1 over TLS (X-Forwarded-Proto: https upstream) */
	struct sg_timer *timer; /* a long-poll's wait, on the loop */
	struct sg_principal *principal; /* the stream's rights (owned); NULL: anonymous */
	struct sg_timer *expiry;	/* ends the stream when principal expires */
	char *rate_key;		/* WebSocket: its publishes' sg__rate_key, owned */
	/* for /metrics and the access log, while it streams */
	int64_t start_us;	     /* sg_mono_us() when its request came */
	unsigned long long sent;     /* bytes written of its stream */
	unsigned long messages;	     /* messages written */
	unsigned char slot;	     /* its transport's slot */
	char *access_req;	     /* with access_log: "client\0method\0target", owned */
	sg_response *late;	     /* HTTP/1, HTTP/2: an answer replacing the stream (owned) */
	sg_buf head_fields;	     /* HTTP/1, HTTP/2: more stream head lines, "name: value\r\n" */
} sg_conn;

/* Replaces s's response, whose head has not gone out, by r (taken, heap;
 * HTTP/1 and HTTP/2): 0, or SG_ECLOSED (a WebSocket, or too late: r stays
 * the caller's). Loop thread. */
int sg__conn_answer_late(sg_stream *s, sg_response *r);

/* Makes a stream for c with transport t whose events go to sink, and
 * lists c as streaming. */
sg_stream *sg__conn_stream_new(sg_conn *c, const sg_transport *t, const sg_stream_sink *sink);
/* Ends c's stream and unlists c; errored: the client vanished. Keeps wsi
 * and srv; idempotent. */
void sg__conn_release(sg_conn *c, int errored);
/* Queues c for the write pass that runs once per loop turn, before the
 * loop sleeps: all that its stream queued this turn goes out together. */
void sg__conn_mark_dirty(sg_conn *c);
/* Takes c off the write pass' list (it is going away). */
void sg__conn_dirty_unlink(sg_conn *c);
/* Starts and stops srv's write pass (an ev_prepare on its loop). */
int sg__conn_writer_start(sg_server *srv);
void sg__conn_writer_stop(sg_server *srv);

/* Long-poll: fills r (initialised here) with every frame c's stream
 * queued, as one batch. Returns the gap note r->gap points to (caller
 * frees it once r is written; NULL when none). */
char *sg__conn_longpoll_response(sg_conn *c, sg_response *r);

/* Heartbeat tick: an open stream that wrote nothing since the last tick
 * gets its transport's heartbeat (a WebSocket: a ping). */
void sg__conn_heartbeat(sg_conn *c);

/*
 * Wire framing around a batch of queued frames: an HTTP/1.1 chunk has one
 * size line before the batch and CRLF after it; WebSocket has a header per
 * frame (server frames are unmasked, so the bytes are the same for every
 * client of a shared frame); HTTP/1.0 has none.
 */
typedef struct sg_wire_framing {
	size_t (*batch_head)(size_t total, unsigned char *out);
	size_t (*frame_head)(size_t len, unsigned char *out);
	const char *batch_tail;
} sg_wire_framing;

extern const sg_wire_framing sg_wire_chunked, sg_wire_raw, sg_wire_websocket;

/* The next write of c's queue: as many frames as fit the server's scratch,
 * framed by w, in one run of bytes at *start (borrowed: valid until the
 * next batch). Returns how many frames it holds; pop them once written. */
size_t sg__conn_batch(sg_conn *c, const sg_wire_framing *w, unsigned char **start, size_t *len);
/* Pops the n frames a written batch held. */
void sg__conn_batch_done(sg_conn *c, size_t n);
/* Counts f, about to be written on c at now_us, as a delivery (when it
 * carries a message) and len bytes as sent. */
void sg__conn_sent(sg_conn *c, const sg_frame *f, size_t len, int64_t now_us);
/* The access log's line for the plain answer c->req (may be NULL: a head
 * that could not be read) got: status, bytes. */
void sg__conn_log_request(sg_conn *c, int status, size_t bytes);

#endif
