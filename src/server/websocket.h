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
int sg__ws_receive(sg_conn *c, const void *in, size_t len);

#endif
