/*
 * h1_parse — reads HTTP/1.x requests (RFC 9112) out of bytes: the request
 * head, a chunked body, and the request target's path and query. Plain C
 * with no sockets and no allocation in the head parser: the engine in h1.c
 * feeds it what it read, and so do the unit tests and the fuzzer. Anything
 * it cannot frame with certainty is refused with a status, never guessed.
 */
#ifndef SG_SERVER_H1_PARSE_H
#define SG_SERVER_H1_PARSE_H

#include <stddef.h>

#define SG_H1_FIELDS_MAX 64  /* header lines in one request */
#define SG_H1_METHOD_MAX 16  /* bytes of a method name */
#define SG_H1_ARGS_MAX 16    /* query arguments in one request */

/* One header line, borrowed from the parsed bytes (not NUL-terminated). */
typedef struct sg_h1_field {
	const char *name, *value;
	size_t name_len, value_len;
} sg_h1_field;

/* A parsed request head; every pointer borrows from the parsed bytes. */
typedef struct sg_h1_head {
	const char *method, *target;
	size_t method_len, target_len;
	int minor; /* HTTP/1.minor: 0 or 1 */
	size_t nfields;
	sg_h1_field fields[SG_H1_FIELDS_MAX];
	long long content_length; /* -1: no Content-Length */
	unsigned chunked : 1,	  /* Transfer-Encoding: chunked */
		close : 1,	  /* the connection ends after this answer */
		expect_continue : 1, upgrade_ws : 1;
	size_t head_len; /* bytes of the head, its blank line included */
} sg_h1_head;

/* Why a request was refused: an HTTP status, a code and a sentence
 * (static strings). */
typedef struct sg_h1_error {
	int status;
	const char *error, *detail;
} sg_h1_error;

typedef enum sg_h1_result { SG_H1_MORE = 0, SG_H1_DONE = 1, SG_H1_BAD = -1 } sg_h1_result;

/* Parses the head at the start of buf (len bytes). max_head bounds the
 * whole head (431 past it), max_line the request line (414 past it).
 * DONE: *h is filled; MORE: the head is incomplete; BAD: *err says why. */
sg_h1_result sg_h1_parse_head(const char *buf, size_t len, size_t max_head, size_t max_line,
			      sg_h1_head *h, sg_h1_error *err);

/* The value of the first header called name (case-insensitive) in h, or
 * NULL; *len gets its length. Borrowed from the parsed bytes. */
const char *sg_h1_field_get(const sg_h1_head *h, const char *name, size_t *len);

/* Decoder state for a chunked body; zero it before the first call. */
typedef struct sg_h1_chunked {
	int state;
	unsigned long long remain; /* bytes left in the current chunk */
	size_t line;		   /* bytes seen on the current size or trailer line */
	unsigned digits;
	int trailer_empty;
} sg_h1_chunked;

/* Decodes up to len bytes of a chunked body from in: payload bytes are
 * appended through emit(ctx, p, n) (which returns nonzero to stop with
 * SG_H1_BAD and a 413). Returns DONE with *used set once the last chunk
 * and trailers were read, MORE when every byte was used and more is
 * needed, BAD with *err on malformed framing. */
sg_h1_result sg_h1_chunked_feed(sg_h1_chunked *st, const char *in, size_t len, size_t *used,
				int (*emit)(void *ctx, const char *p, size_t n), void *ctx,
				sg_h1_error *err);

/* A request target split and percent-decoded: the path, and the query as
 * "name=value" strings ('+' is a space). Caller frees with
 * sg_h1_target_free. */
typedef struct sg_h1_target {
	char *path;
	size_t nargs;
	char *args[SG_H1_ARGS_MAX];
} sg_h1_target;

/* Splits target (len bytes, origin-form "/path?query"). Returns 0, or
 * SG_EINVAL with *err set (a bad escape, a NUL, too many arguments),
 * SG_ENOMEM. Nothing is ever dropped silently. */
int sg_h1_target_parse(const char *target, size_t len, sg_h1_target *t, sg_h1_error *err);
void sg_h1_target_free(sg_h1_target *t);

#endif
