/*
 * conn — libwebsockets' per-session data: one HTTP exchange or WebSocket,
 * and, when it streams, the bridge between a core stream and the socket.
 */
#ifndef SG_SERVER_CONN_H
#define SG_SERVER_CONN_H

#include "core/buf.h"
#include "request.h"
#include "server.h"

struct lws;

/* Zeroed by libwebsockets; owns body, wsmsg, req and one stream ref. */
typedef struct sg_conn {
	struct lws *wsi;
	sg_server *srv;
	sg_stream *stream;
	sg_request req;
	const sg_endpoint *ep;
	struct sg_conn *prev, *next; /* srv->conns, while streaming */
	sg_buf body;		     /* POST body so far */
	sg_buf wsmsg;		     /* WebSocket message being reassembled */
	unsigned has_req : 1, listed : 1, ending : 1, aborting : 1, timed_out : 1, released : 1,
		is_ws : 1, headers_out : 1, active : 1, ping_due : 1, watched : 1;
	struct sg_timer *timer; /* a long-poll's wait, on the loop */
	struct sg_timer *pong_timer; /* WebSocket: a ping awaiting its pong */
	struct sg_timer *msg_timer;  /* WebSocket: a message awaiting its end */
	unsigned short close_code;   /* WebSocket close code when aborting (0: 1008) */
	char reason[64];	/* close reason when aborting */
} sg_conn;

/* Makes a stream for c with transport t and lists c as streaming. */
sg_stream *sg__conn_stream_new(sg_conn *c, const sg_transport *t);
/* Ends c's stream and unlists c; errored: the client vanished. Idempotent. */
void sg__conn_release(sg_conn *c, int errored);
/* Writes what the stream has queued (HTTP and WebSocket writeable). Returns
 * what the lws callback should return. */
int sg__conn_write_stream(sg_conn *c);
/* Answers c's long-poll (empty, unless something came) after ms. */
void sg__conn_wait(sg_conn *c, uint64_t ms);
/* Watches a streamed HTTP response for the client hanging up. */
void sg__conn_watch_hangup(sg_conn *c);
/* Cuts every watched connection whose client hung up or sent input. */
void sg__conn_hangups(sg_server *srv);
/* Heartbeat tick: an open stream that wrote nothing since the last tick
 * gets its transport's heartbeat (a WebSocket: a ping). */
void sg__conn_heartbeat(sg_conn *c);
int sg__conn_write_ws(sg_conn *c);

#endif
