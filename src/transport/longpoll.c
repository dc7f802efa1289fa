/*
 * longpoll — one response per request: a JSON array of the envelopes that
 * are ready (waiting until at least one is, or the poll times out with []).
 * The client carries its cursor: it asks again with ?last_event_id= set to
 * the last id it got (also sent back as the Last-Event-ID header).
 */
#include "core/transport.h"
#include "envelope.h"

static sg_frame *longpoll_render(const struct sg_msg *m, int tagged)
{
	(void)tagged; /* an envelope always names its channel */
	return sg_envelope_frame(m, "");
}

static sg_frame *longpoll_control(const char *kind, const char *json, int tagged)
{
	(void)kind;
	(void)json;
	(void)tagged;
	return NULL; /* the answer is an array of messages: headers carry the rest */
}

const sg_transport sg_transport_longpoll = {
	.name = "longpoll",
	.slot = 4,
	.wire = SG_WIRE_HTTP_ONESHOT,
	.content_type = "application/json",
	.accepts = sg_transport_only_forced,
	.render = longpoll_render,
	.control = longpoll_control,
	.prelude = sg_transport_no_prelude,
	.batch_open = "[",
	.batch_sep = ",",
	.batch_close = "]",
};
