/*
 * longpoll — one response per request: a JSON array of the envelopes that
 * are ready (waiting until at least one is, or the poll times out with []).
 * The client carries its cursor: it asks again with ?last_event_id= set to
 * the Last-Event-ID header of the answer. Gap signals ({"type":"gap"})
 * come first in the array, so the whole list is there whatever the
 * header could hold.
 */
#include "core/transport.h"
#include "envelope.h"

static sg_frame *longpoll_render(const struct sg_msg *m, int tagged)
{
	(void)tagged; /* an envelope always names its channel */
	return sg_envelope_frame(m, "");
}

/* Gap signals are elements of the array, before the replay; replies to
 * commands do not happen (no input on a long-poll). */
static sg_frame *longpoll_control(const char *kind, const char *json, int tagged)
{
	(void)kind;
	(void)tagged;
	return sg_control_line(json, "");
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
