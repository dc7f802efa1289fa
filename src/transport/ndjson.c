/*
 * ndjson — a never-ending HTTP body of JSON envelopes, one per line, for
 * programs that want structure over curl. Only chosen by ?transport=ndjson.
 */
#include "core/transport.h"
#include "envelope.h"

static sg_frame *ndjson_render(const struct sg_msg *m, int tagged)
{
	(void)tagged; /* an envelope always names its channel */
	return sg_envelope_frame(m, "\n");
}

static sg_frame *ndjson_control(const char *kind, const char *json, int tagged)
{
	(void)kind;
	(void)tagged;
	return sg_control_line(json, "\n");
}

const sg_transport sg_transport_ndjson = {
	.name = "ndjson",
	.slot = 3,
	.wire = SG_WIRE_HTTP_STREAM,
	.content_type = "application/x-ndjson",
	.accepts = sg_transport_only_forced,
	.render = ndjson_render,
	.control = ndjson_control,
	.heartbeat = "\n",
	.prelude = sg_transport_no_prelude,
};
