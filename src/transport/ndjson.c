/*
 * ndjson — a never-ending HTTP body of JSON envelopes, one per line, for
 * programs that want structure over curl. Only chosen by ?transport=ndjson.
 */
#include "core/transport.h"
#include "envelope.h"

static int ndjson_accepts(const sg_negotiation *n)
{
	(void)n;
	return 0;
}

static sg_frame *ndjson_render(const struct sg_msg *m)
{
	return sg_envelope_frame(m, "\n");
}

const sg_transport sg_transport_ndjson = {
	.name = "ndjson",
	.slot = 3,
	.wire = SG_WIRE_HTTP_STREAM,
	.content_type = "application/x-ndjson",
	.accepts = ndjson_accepts,
	.render = ndjson_render,
	.heartbeat = "\n",
	.prelude = sg_transport_no_prelude,
};
