/*
 * websocket — WebSocket connections, which libwebsockets serves: an upgrade
 * our HTTP/1 engine accepted is handed over with its request, the stream is
 * bound to it, client messages are read and queued frames written.
 */
#ifndef SG_SERVER_WEBSOCKET_H
#define SG_SERVER_WEBSOCKET_H

#include <stddef.h>
#include <stdio.h>

#include "conn.h"

struct lws;
struct sg_timer;

/* A WebSocket connection: libwebsockets' per-session data, zeroed at
 * creation. The close code and reason outlive sg__conn_release (a stream
 * let go early still closes with them). */
typedef struct sg_ws_conn {
	sg_conn c;
	sg_buf msg;		     /* the client message being reassembled */
	struct sg_timer *pong_timer; /* a ping awaiting its pong */
	struct sg_timer *msg_timer;  /* a message awaiting its end */
	unsigned short close_code;   /* close code when aborting (0: 1008) */
	char reason[64];	     /* close reason when aborting */
} sg_ws_conn;

static inline sg_ws_conn *sg__ws_of(sg_conn *c)
{
	return (sg_ws_conn *)c;
}

/* What the stream's end lets go of a WebSocket (sg__conn_release): its
 * timers and the message being read. */
void sg__ws_release(sg_conn *c);
/* The code and reason the close will carry. Inline: no libwebsockets
 * (rights.c sets them, and links without websocket.c in the fuzzers). */
static inline void sg__ws_set_close(sg_conn *c, unsigned short code, const char *reason)
{
	sg_ws_conn *w = sg__ws_of(c);
	w->close_code = code;
	snprintf(w->reason, sizeof(w->reason), "%s", reason);
}

struct sg_ip_count;
/* Hands the socket fd, whose upgrade request req was accepted, to
 * libwebsockets with the bytes read so far (the request and anything
 * after it). Takes req, fd (closed on failure) and the connection's
 * max_connections_per_ip lease (may be NULL; released when lws lets the
 * connection go, see sg__ws_destroyed). */
int sg__ws_handoff(sg_server *srv, int fd, sg_request *req, const char *bytes, size_t len,
		   struct sg_ip_count *lease);
/* lws frees wsi (any of ours): what it held of ours goes with it. */
void sg__ws_destroyed(sg_server *srv, struct lws *wsi);
/* Forgets handed-over requests (the server is going away). */
void sg__ws_pending_free(sg_server *srv);
/* Nonzero refuses the upgrade (not one handed over by us). */
int sg__ws_filter(sg_server *srv, struct lws *wsi);
int sg__ws_established(sg_conn *c);
/* A piece of a client message (in borrowed); refusals close later with a
 * code and reason. */
int sg__ws_receive(sg_conn *c, const void *in, size_t len);
/* The client's close payload (borrowed): 0 lets lws echo it, -1 answers
 * with a close of ours (1002 or 1007) instead. */
int sg__ws_peer_close(sg_conn *c, const unsigned char *in, size_t len);
/* A pong came in: ends the ws_ping_timeout_ms wait. */
void sg__ws_pong(sg_conn *c);
/* lws is about to close wsi (c borrowed, may be unset). Where no close
 * frame was prepared, its parser refused the input without one: prepare
 * 1002 (or the code of a close c had started). */
void sg__ws_dropping(struct lws *wsi, sg_conn *c);
/* Writes what the stream has queued, a ping or the close. Returns what the
 * lws callback should return. */
int sg__ws_writeable(sg_conn *c);
/* The write pass' turn for a WebSocket (conn.c's list). */
void sg__ws_write_pass(sg_conn *c);
/* Sends a ping on the next writeable. */
void sg__ws_ping(sg_conn *c);

#endif
