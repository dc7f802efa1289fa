/*
 * parse — turning an upstream's streamed body into messages, by format.
 * Each parser is fed bytes as they arrive (any split) and emits whole
 * messages through one callback; lines are bounded (SG_UP_LINE_MAX) and
 * a message is bounded (SG_UP_MSG_MAX): what goes past is skipped and
 * counted as malformed, never grown. No sockets, no allocation per byte.
 */
#ifndef SG_UPSTREAM_PARSE_H
#define SG_UPSTREAM_PARSE_H

#include <stddef.h>

#include "core/buf.h"

#define SG_UP_LINE_MAX 65536 /* longest line of an SSE or NDJSON body */
#define SG_UP_MSG_MAX 262144 /* largest message (SSE data lines joined) */
#define SG_UP_FIELD_MAX 256  /* longest SSE id or event name kept */

/* One message: event and id may be NULL; all borrowed for the call. */
typedef void (*sg_up_emit_fn)(void *ud, const char *event, const char *id, const char *data,
                              size_t len);

typedef enum sg_up_format {
	SG_UP_AUTO,
	SG_UP_SSE,
	SG_UP_NDJSON,
	SG_UP_TEXT,
} sg_up_format;

/* The format a Content-Type value (may be NULL) names for "auto". */
sg_up_format sg_up_format_of(const char *content_type);
/* "auto", "sse", "ndjson", "text" to a format; -1 when none of them. */
int sg_up_format_parse(const char *name);

/* The line splitter both line formats share: owns line (reserved once). */
typedef struct sg_up_lines {
	sg_buf line;
	unsigned overlong : 1, /* the current line passed SG_UP_LINE_MAX: skip to its end */
	    after_cr : 1;      /* the last byte was CR: a LF next ends nothing */
} sg_up_lines;

/* SSE (WHATWG "event stream interpretation"): id, event, multi-line data;
 * comments and retry ignored. Zero it, then feed; free with _free. */
typedef struct sg_up_sse {
	sg_up_lines lines;
	sg_buf data; /* data lines of the event being read, joined by LF */
	char event[SG_UP_FIELD_MAX], id[SG_UP_FIELD_MAX];
	unsigned has_data : 1, too_big : 1;
	unsigned long malformed; /* lines and events skipped */
} sg_up_sse;

/* Feeds len bytes; complete events go to emit. 0, or SG_ENOMEM. */
int sg_up_sse_feed(sg_up_sse *p, const char *in, size_t len, sg_up_emit_fn emit, void *ud);
void sg_up_sse_free(sg_up_sse *p);

/* NDJSON / JSON Lines: one JSON value a line; blank lines skipped; a line
 * that is not JSON skipped and counted. */
typedef struct sg_up_ndjson {
	sg_up_lines lines;
	unsigned long malformed;
} sg_up_ndjson;

int sg_up_ndjson_feed(sg_up_ndjson *p, const char *in, size_t len, sg_up_emit_fn emit, void *ud);
/* The body ended: a last line without its LF is still a message. */
int sg_up_ndjson_finish(sg_up_ndjson *p, sg_up_emit_fn emit, void *ud);
void sg_up_ndjson_free(sg_up_ndjson *p);

/* Splits in[0..len) into lines (CR, LF or CRLF) and calls line(ctx, text,
 * n) for each whole one (n < SG_UP_LINE_MAX, text NUL-terminated); an
 * overlong line is skipped and reported with text NULL. 0 or SG_ENOMEM. */
int sg__up_lines_feed(sg_up_lines *l, const char *in, size_t len,
                      int (*line)(void *ctx, const char *text, size_t n), void *ctx);
/* The unterminated last line, as line() would get it (nothing when none). */
int sg__up_lines_finish(sg_up_lines *l, int (*line)(void *ctx, const char *text, size_t n),
                        void *ctx);

/* A header's value (trimmed, *vlen bytes) when line[0..n) is "name: value"
 * (name case-insensitive), else NULL. */
const char *sg__up_field_value(const char *line, size_t n, const char *name, size_t *vlen);

#endif
