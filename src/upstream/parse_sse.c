/*
 * parse_sse — an upstream's text/event-stream body to messages, as a
 * browser's EventSource reads it: "field: value" lines, a blank line
 * dispatches, data lines join with LF, comments (":") and retry are
 * ignored. Unlike a browser, the id is the event's own (not carried over
 * to later events), since each message is re-rendered with its own id.
 */
#include <string.h>

#include "core/hub.h"
#include "parse.h"
#include "streamgate.h"

typedef struct feed_ctx {
	sg_up_sse *p;
	sg_up_emit_fn emit;
	void *ud;
} feed_ctx;

static void event_reset(sg_up_sse *p)
{
	sg_buf_reset(&p->data);
	p->event[0] = p->id[0] = '\0';
	p->has_data = p->too_big = 0;
}

static void dispatch(feed_ctx *f)
{
	sg_up_sse *p = f->p;
	if (p->too_big)
		p->malformed++;
	else if (p->has_data)
		f->emit(f->ud, p->event[0] ? p->event : NULL, p->id[0] ? p->id : NULL,
		        p->data.data ? p->data.data : "", p->data.len);
	event_reset(p);
}

/* Keeps value as an id or event name: one line, bounded, else malformed. */
static void field_keep(sg_up_sse *p, char *dst, const char *value, size_t n)
{
	if (n >= SG_UP_FIELD_MAX || memchr(value, '\0', n)) {
		p->malformed++;
		return;
	}
	memcpy(dst, value, n);
	dst[n] = '\0';
	if (!sg_event_name_valid(dst)) { /* not UTF-8, say */
		dst[0] = '\0';
		p->malformed++;
	}
}

static int data_add(sg_up_sse *p, const char *value, size_t n)
{
	if (p->too_big || p->data.len + n + 1 > SG_UP_MSG_MAX) {
		p->too_big = 1;
		return 0;
	}
	if (p->has_data && sg_buf_append(&p->data, "\n", 1))
		return SG_ENOMEM;
	p->has_data = 1;
	return sg_buf_append(&p->data, value, n);
}

static int on_line(void *ctx, const char *text, size_t n)
{
	feed_ctx *f = ctx;
	sg_up_sse *p = f->p;
	if (!text) { /* overlong: the event it belonged to is not whole */
		p->malformed++;
		p->too_big = p->has_data = 1;
		return 0;
	}
	if (!n) {
		dispatch(f);
		return 0;
	}
	if (text[0] == ':')
		return 0;
	const char *colon = memchr(text, ':', n);
	size_t name_len = colon ? (size_t)(colon - text) : n;
	const char *value = colon ? colon + 1 : text + n;
	size_t vn = n - (size_t)(value - text);
	if (vn && *value == ' ') {
		value++;
		vn--;
	}
	if (name_len == 4 && memcmp(text, "data", 4) == 0)
		return data_add(p, value, vn);
	if (name_len == 5 && memcmp(text, "event", 5) == 0)
		field_keep(p, p->event, value, vn);
	else if (name_len == 2 && memcmp(text, "id", 2) == 0)
		field_keep(p, p->id, value, vn);
	return 0; /* retry and unknown fields: ignored, as a browser does */
}

int sg_up_sse_feed(sg_up_sse *p, const char *in, size_t len, sg_up_emit_fn emit, void *ud)
{
	feed_ctx f = {p, emit, ud};
	return sg__up_lines_feed(&p->lines, in, len, on_line, &f);
}

void sg_up_sse_free(sg_up_sse *p)
{
	sg_buf_free(&p->lines.line);
	sg_buf_free(&p->data);
}
