/*
 * websocket — one WebSocket text message per message, carrying its data
 * (tagged: its JSON envelope); control messages are JSON text messages.
 * The server owns the handshake and the frame header; this file only says
 * what the payload is.
 */
#include "core/message.h"
#include "core/transport.h"
#include "envelope.h"

#include <string.h>

static int ws_accepts(const sg_negotiation *n)
{
	return n->ws_upgrade;
}

static sg_frame *ws_render(const sg_msg *m, int tagged)
{
	return tagged ? sg_envelope_frame(m, "") : sg_frame_copy(m->data, m->len);
}

static sg_frame *ws_control(const char *kind, const char *json, int tagged)
{
	(void)kind;
	(void)tagged; /* always JSON: a plain socket tells it by its "type" */
	return sg_frame_copy(json, strlen(json));
}

const sg_transport sg_transport_ws = {
	.name = "ws",
	.slot = 2,
	.wire = SG_WIRE_WEBSOCKET,
	.content_type = NULL,
	.accepts = ws_accepts,
	.render = ws_render,
	.control = ws_control,
	.prelude = sg_transport_no_prelude,
};
