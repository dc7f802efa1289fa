/*
 * lines — the bounded line splitter of the SSE and NDJSON parsers, and
 * the format names. A line is kept in one buffer reserved once; bytes are
 * scanned with memchr, never copied one by one into growing memory.
 */
#include <string.h>
#include <strings.h>

#include "parse.h"
#include "streamgate.h"

sg_up_format sg_up_format_of(const char *ct)
{
	if (!ct)
		return SG_UP_TEXT;
	while (*ct == ' ')
		ct++;
	if (strncasecmp(ct, "text/event-stream", 17) == 0)
		return SG_UP_SSE;
	if (strncasecmp(ct, "application/x-ndjson", 20) == 0 ||
	    strncasecmp(ct, "application/jsonl", 17) == 0 ||
	    strncasecmp(ct, "application/ndjson", 18) == 0)
		return SG_UP_NDJSON;
	return SG_UP_TEXT;
}

int sg_up_format_parse(const char *name)
{
	static const char *const names[] = {"auto", "sse", "ndjson", "text"};
	for (int i = 0; i < 4; i++)
		if (strcmp(name, names[i]) == 0)
			return i;
	return -1;
}

/* Ends the current line: hands it over, or reports an overlong one. */
static int line_end(sg_up_lines *l, int (*line)(void *, const char *, size_t), void *ctx)
{
	int rc;
	if (l->overlong) {
		rc = line(ctx, NULL, 0);
	} else {
		l->line.data[l->line.len] = '\0';
		rc = line(ctx, l->line.data, l->line.len);
	}
	l->line.len = 0;
	l->overlong = 0;
	return rc;
}

int sg__up_lines_feed(sg_up_lines *l, const char *in, size_t len,
                      int (*line)(void *ctx, const char *text, size_t n), void *ctx)
{
	if (!l->line.data && sg_buf_reserve(&l->line, SG_UP_LINE_MAX + 1))
		return SG_ENOMEM;
	while (len) {
		if (l->after_cr && *in == '\n') { /* the LF of a CRLF */
			in++;
			len--;
			l->after_cr = 0;
			continue;
		}
		l->after_cr = 0;
		size_t n = 0;
		while (n < len && in[n] != '\n' && in[n] != '\r')
			n++;
		if (!l->overlong && l->line.len + n < SG_UP_LINE_MAX) {
			memcpy(l->line.data + l->line.len, in, n);
			l->line.len += n;
		} else {
			l->overlong = 1;
		}
		if (n == len)
			return 0;
		l->after_cr = in[n] == '\r';
		in += n + 1;
		len -= n + 1;
		int rc = line_end(l, line, ctx);
		if (rc)
			return rc;
	}
	return 0;
}

int sg__up_lines_finish(sg_up_lines *l, int (*line)(void *ctx, const char *text, size_t n),
                        void *ctx)
{
	if (!l->line.data || (!l->line.len && !l->overlong))
		return 0;
	return line_end(l, line, ctx);
}

/* A header's value (trimmed) if line[0..n) is "name: value". */
const char *sg__up_field_value(const char *line, size_t n, const char *name, size_t *vlen)
{
	size_t nl = strlen(name);
	if (n <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
		return NULL;
	const char *v = line + nl + 1, *end = line + n;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*vlen = (size_t)(end - v);
	return v;
}
