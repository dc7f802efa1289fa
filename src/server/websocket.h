/*
 * websocket — WebSocket connections, which libwebsockets serves: an upgrade
 * our HTTP/1 engine accepted is handed over with its request, the stream is
 * bound to it, client messages are read and queued frames written.
 */
#ifndef SG_SERVER_WEBSOCKET_H
#define SG_SERVER_WEBSOCKET_H

#include <stddef.h>

#include "conn.h"

struct lws;

/* Hands the socket fd, whose upgrade request req was accepted, to
 * libwebsockets with the bytes read so far (the request and anything
 * after it). Takes req's contents and fd (closed on failure). */
int sg__ws_handoff(sg_server *srv, int fd, sg_request *req, const char *bytes, size_t len);
/* Forgets handed-over requests (the server is going away). */
void sg__ws_pending_free(sg_server *srv);
/* Nonzero refuses the upgrade (not one handed over by us). */
int sg__ws_filter(sg_server *srv, struct lws *wsi);
int sg__ws_established(sg_conn *c);
int sg__ws_receive(sg_conn *c, const void *in, size_t len);
/* Writes what the stream has queued, a ping or the close. Returns what the
 * lws callback should return. */
int sg__ws_writeable(sg_conn *c);
/* Sends a ping on the next writeable. */
void sg__ws_ping(sg_conn *c);

#endif
