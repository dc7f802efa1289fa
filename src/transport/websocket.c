/*
 * websocket — one WebSocket text message per message, carrying its data.
 * The server owns the handshake and the frame header; this file only says
 * what the payload is.
 */
#include "core/message.h"
#include "core/transport.h"

static int ws_accepts(const sg_negotiation *n)
{
	return n->ws_upgrade;
}

static sg_frame *ws_render(const sg_msg *m)
{
	return sg_frame_copy(m->data, m->len);
}

const sg_transport sg_transport_ws = {
	.name = "ws",
	.slot = 2,
	.wire = SG_WIRE_WEBSOCKET,
	.content_type = NULL,
	.accepts = ws_accepts,
	.render = ws_render,
	.prelude = sg_transport_no_prelude,
};
