/*
 * chunked — the default transport: a plain HTTP response body that never
 * ends, one message per line ("data\n"). What `curl -N` shows. Tagged
 * (several channels): one JSON envelope per line, as ndjson.
 */
#include "core/message.h"
#include "core/transport.h"
#include "envelope.h"

static int chunked_accepts(const sg_negotiation *n)
{
	(void)n;
	return 1; /* the fallback: registered last */
}

static sg_frame *chunked_render(const sg_msg *m, int tagged)
{
	if (tagged)
		return sg_envelope_frame(m, "\n");
	sg_frame *f = sg_frame_new(m->len + 1);
	if (!f)
		return NULL;
	unsigned char *p = sg_frame_data(f);
	for (size_t i = 0; i < m->len; i++)
		p[i] = (unsigned char)m->data[i];
	p[m->len] = '\n';
	return f;
}

static sg_frame *chunked_control(const char *kind, const char *json, int tagged)
{
	(void)kind;
	return tagged ? sg_control_line(json, "\n") : NULL; /* plain lines are data */
}

const sg_transport sg_transport_chunked = {
	.name = "chunked",
	.slot = 0,
	.wire = SG_WIRE_HTTP_STREAM,
	.content_type = "text/plain; charset=utf-8",
	.accepts = chunked_accepts,
	.render = chunked_render,
	.control = chunked_control,
	.heartbeat = "\n",
	.prelude = sg_transport_no_prelude,
};
