/*
 * envelope — JSON envelope frames for ndjson and long-poll.
 */
#include "envelope.h"

#include "core/json.h"
#include "core/message.h"

#include <string.h>

sg_frame *sg_envelope_frame(const sg_msg *m, const char *tail)
{
	sg_buf b = SG_BUF_INIT;
	sg_frame *f = NULL;
	if (sg_json_envelope(&b, m) == 0 && sg_buf_puts(&b, tail) == 0)
		f = sg_frame_copy(b.data, b.len);
	sg_buf_free(&b);
	return f;
}

sg_frame *sg_control_line(const char *json, const char *tail)
{
	size_t a = strlen(json), b = strlen(tail);
	sg_frame *f = sg_frame_new(a + b);
	if (f) {
		memcpy(sg_frame_data(f), json, a);
		memcpy(sg_frame_data(f) + a, tail, b);
	}
	return f;
}
