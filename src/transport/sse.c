/*
 * sse — Server-Sent Events (text/event-stream), what a browser's
 * EventSource speaks. Multi-line data becomes several `data:` lines; CR,
 * LF and CRLF all end a line, as the SSE parser in browsers expects.
 * Tagged: data is the message's JSON envelope. Control messages are
 * events named sg.KIND.
 */
#include <string.h>

#include "core/json.h"
#include "core/message.h"
#include "core/transport.h"

static int sse_accepts(const sg_negotiation *n)
{
	return n->accept && strstr(n->accept, "text/event-stream") != NULL;
}

/* Appends "data: <line>\n" for each line of data. */
static int sse_data_lines(sg_buf *b, const char *d, size_t len)
{
	size_t start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && d[i] != '\n' && d[i] != '\r')
			continue;
		if (sg_buf_puts(b, "data: ") || sg_buf_append(b, d + start, i - start) ||
		    sg_buf_puts(b, "\n"))
			return -1;
		if (i < len && d[i] == '\r' && i + 1 < len && d[i + 1] == '\n')
			i++;
		start = i + 1;
	}
	return 0;
}

static sg_frame *sse_render(const sg_msg *m, int tagged)
{
	sg_buf b = SG_BUF_INIT;
	int rc = 0;
	if (m->id)
		rc |= sg_buf_printf(&b, "id: %s\n", m->id);
	/* tagged: the envelope carries the event, and every message reaches
	 * EventSource's onmessage */
	if (m->event && !tagged)
		rc |= sg_buf_printf(&b, "event: %s\n", m->event);
	if (tagged) {
		rc |= sg_buf_puts(&b, "data: ");
		rc |= sg_json_envelope(&b, m);
		rc |= sg_buf_puts(&b, "\n");
	} else {
		rc |= sse_data_lines(&b, m->data, m->len);
	}
	rc |= sg_buf_puts(&b, "\n");
	sg_frame *f = rc ? NULL : sg_frame_copy(b.data, b.len);
	sg_buf_free(&b);
	return f;
}

/* "event: sg.KIND" with the JSON as data, and no id: a control event
 * does not move the browser's Last-Event-ID. */
static sg_frame *sse_control(const char *kind, const char *json, int tagged)
{
	(void)tagged;
	sg_buf b = SG_BUF_INIT;
	sg_frame *f = NULL;
	if (sg_buf_printf(&b, "event: sg.%s\ndata: %s\n\n", kind, json) == 0)
		f = sg_frame_copy(b.data, b.len);
	sg_buf_free(&b);
	return f;
}

static int sse_prelude(sg_buf *out, const sg_transport_opts *o)
{
	if (o->sse_retry_ms && sg_buf_printf(out, "retry: %u\n\n", o->sse_retry_ms))
		return -1;
	/* a comment line flushes proxies and tells the client it is open */
	return sg_buf_puts(out, ": ok\n\n");
}

const sg_transport sg_transport_sse = {
	.name = "sse",
	.slot = 1,
	.wire = SG_WIRE_HTTP_STREAM,
	.content_type = "text/event-stream",
	.accepts = sse_accepts,
	.render = sse_render,
	.control = sse_control,
	.prelude = sse_prelude,
	.heartbeat = ":\n\n",
};
