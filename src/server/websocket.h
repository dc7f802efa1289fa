/*
 * websocket — the WebSocket side of a connection: accepting the upgrade
 * for a streaming path, binding the stream, reading client messages.
 */
#ifndef SG_SERVER_WEBSOCKET_H
#define SG_SERVER_WEBSOCKET_H

#include <stddef.h>

#include "conn.h"

struct lws;

/* Nonzero refuses the upgrade (no streaming handler at that path). */
int sg__ws_filter(sg_server *srv, struct lws *wsi);
int sg__ws_established(sg_conn *c);
/* A piece of a client message (in borrowed); -1 closes (reason set). */
int sg__ws_receive(sg_conn *c, const void *in, size_t len);
/* The client's close payload (borrowed): 0 lets lws echo it, -1 answers
 * with a close of ours (1002 or 1007) instead. */
int sg__ws_peer_close(sg_conn *c, const unsigned char *in, size_t len);
/* A ping went out: starts the ws_ping_timeout_ms wait unless one runs. */
void sg__ws_ping_sent(sg_conn *c);
/* A pong came in: ends the wait. */
void sg__ws_pong(sg_conn *c);
/* lws is about to close wsi (c borrowed, may be unset). Where no close
 * frame was prepared, its parser refused the input without one: prepare
 * 1002 (or the code of a close c had started). */
void sg__ws_dropping(struct lws *wsi, sg_conn *c);

#endif
