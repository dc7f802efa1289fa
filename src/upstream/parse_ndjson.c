/*
 * parse_ndjson — an upstream's NDJSON (JSON Lines) body to messages: one
 * JSON value a line, passed on as its text. Blank lines are skipped;
 * lines that are not JSON (or too long) are skipped and counted.
 */
#include <string.h>

#include "core/json.h"
#include "parse.h"

typedef struct feed_ctx {
	sg_up_ndjson *p;
	sg_up_emit_fn emit;
	void *ud;
} feed_ctx;

static int on_line(void *ctx, const char *text, size_t n)
{
	feed_ctx *f = ctx;
	size_t blank = 0;
	if (text)
		while (blank < n && (text[blank] == ' ' || text[blank] == '\t'))
			blank++;
	if (text && blank == n)
		return 0;
	if (!text || !sg_json_valid(text, n))
		f->p->malformed++;
	else
		f->emit(f->ud, NULL, NULL, text, n);
	return 0;
}

int sg_up_ndjson_feed(sg_up_ndjson *p, const char *in, size_t len, sg_up_emit_fn emit, void *ud)
{
	feed_ctx f = {p, emit, ud};
	return sg__up_lines_feed(&p->lines, in, len, on_line, &f);
}

int sg_up_ndjson_finish(sg_up_ndjson *p, sg_up_emit_fn emit, void *ud)
{
	feed_ctx f = {p, emit, ud};
	return sg__up_lines_finish(&p->lines, on_line, &f);
}

void sg_up_ndjson_free(sg_up_ndjson *p)
{
	sg_buf_free(&p->lines.line);
}
