/*
 * h1_parse — HTTP/1.x request framing (RFC 9112) and request targets.
 * Strict where framing is at stake (Content-Length, Transfer-Encoding,
 * line endings, folding), because a lenient parser in front of another
 * parser is how requests get smuggled; no allocation in the head parser.
 */
#include "h1_parse.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "streamgate.h"

static int is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* A field value byte: visible ASCII, space, tab, or obs-text. */
static int is_value_char(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static sg_h1_result bad(sg_h1_error *err, int status, const char *error, const char *detail)
{
	*err = (sg_h1_error){status, error, detail};
	return SG_H1_BAD;
}

/* The end of the line starting at p (before its CRLF or LF), or NULL when
 * no LF is in [p, end). *next gets the start of the following line. A CR
 * anywhere but before the LF is malformed: *bare_cr is set. */
static const char *line_end(const char *p, const char *end, const char **next, int *bare_cr)
{
	const char *lf = memchr(p, '\n', (size_t)(end - p));
	if (!lf)
		return NULL;
	*next = lf + 1;
	const char *e = lf > p && lf[-1] == '\r' ? lf - 1 : lf;
	*bare_cr = memchr(p, '\r', (size_t)(e - p)) != NULL;
	return e;
}

static int token_is(const char *p, size_t n, const char *word)
{
	return strlen(word) == n && strncasecmp(p, word, n) == 0;
}

/* Calls fn on each comma-separated, trimmed element of a list value. */
static void list_each(const char *v, size_t n, void (*fn)(sg_h1_head *h, const char *p, size_t n),
		      sg_h1_head *h)
{
	const char *end = v + n;
	while (v < end) {
		const char *comma = memchr(v, ',', (size_t)(end - v));
		const char *e = comma ? comma : end;
		const char *s = v;
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		const char *t = e;
		while (t > s && (t[-1] == ' ' || t[-1] == '\t'))
			t--;
		if (t > s)
			fn(h, s, (size_t)(t - s));
		v = e + (comma ? 1 : 0);
	}
}

static void connection_token(sg_h1_head *h, const char *p, size_t n)
{
	if (token_is(p, n, "close"))
		h->close = 1;
	else if (token_is(p, n, "keep-alive") && h->minor == 0)
		h->close = 0;
}

/* Content-Length: digits only, and every copy the same. */
static sg_h1_result content_length(sg_h1_head *h, const char *v, size_t n, sg_h1_error *err)
{
	long long x = 0;
	if (n == 0 || n > 15)
		return bad(err, 400, "bad_request", "Content-Length is not a number");
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return bad(err, 400, "bad_request", "Content-Length is not a number");
		x = x * 10 + (v[i] - '0');
	}
	if (h->content_length >= 0 && h->content_length != x)
		return bad(err, 400, "bad_request", "two different Content-Length headers");
	h->content_length = x;
	return SG_H1_DONE;
}

/* What the framing-relevant headers say. */
static sg_h1_result field_meaning(sg_h1_head *h, const sg_h1_field *f, int *hosts, int *te,
				  sg_h1_error *err)
{
	const char *n = f->name, *v = f->value;
	size_t nl = f->name_len, vl = f->value_len;
	if (token_is(n, nl, "content-length"))
		return content_length(h, v, vl, err);
	if (token_is(n, nl, "transfer-encoding")) {
		if (*te || !token_is(v, vl, "chunked"))
			return bad(err, 501, "not_implemented",
				   "the only Transfer-Encoding accepted is one \"chunked\"");
		*te = 1;
		h->chunked = 1;
	} else if (token_is(n, nl, "host")) {
		++*hosts;
	} else if (token_is(n, nl, "connection")) {
		list_each(v, vl, connection_token, h);
	} else if (token_is(n, nl, "upgrade")) {
		h->upgrade_ws = token_is(v, vl, "websocket");
	} else if (token_is(n, nl, "expect")) {
		if (!token_is(v, vl, "100-continue"))
			return bad(err, 417, "expectation_failed",
				   "the only expectation met is 100-continue");
		h->expect_continue = 1;
	}
	return SG_H1_DONE;
}

/* One header line [p, e): name ":" OWS value OWS. */
static sg_h1_result field_parse(const char *p, const char *e, sg_h1_field *f, sg_h1_error *err)
{
	const char *colon = memchr(p, ':', (size_t)(e - p));
	if (!colon || colon == p)
		return bad(err, 400, "bad_request", "a header line without a name");
	for (const char *c = p; c < colon; c++)
		if (!is_tchar((unsigned char)*c))
			return bad(err, 400, "bad_request", "a header name with a bad character");
	const char *v = colon + 1, *ve = e;
	while (v < ve && (*v == ' ' || *v == '\t'))
		v++;
	while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
		ve--;
	for (const char *c = v; c < ve; c++)
		if (!is_value_char((unsigned char)*c))
			return bad(err, 400, "bad_request", "a header value with a control character");
	*f = (sg_h1_field){p, v, (size_t)(colon - p), (size_t)(ve - v)};
	return SG_H1_DONE;
}

/* "METHOD SP target SP HTTP/1.x" in [p, e). */
static sg_h1_result request_line(const char *p, const char *e, size_t max_line, sg_h1_head *h,
				 sg_h1_error *err)
{
	if ((size_t)(e - p) > max_line)
		return bad(err, 414, "uri_too_long", "the request line is over the limit");
	const char *sp = memchr(p, ' ', (size_t)(e - p));
	if (!sp || sp == p || sp - p > SG_H1_METHOD_MAX)
		return bad(err, 400, "bad_request", "cannot read the request line");
	for (const char *c = p; c < sp; c++)
		if (!is_tchar((unsigned char)*c))
			return bad(err, 400, "bad_request", "a method with a bad character");
	h->method = p;
	h->method_len = (size_t)(sp - p);
	const char *t = sp + 1, *sp2 = memchr(t, ' ', (size_t)(e - t));
	if (!sp2 || sp2 == t || e - sp2 != 9)
		return bad(err, 400, "bad_request", "cannot read the request line");
	for (const char *c = t; c < sp2; c++)
		if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f)
			return bad(err, 400, "bad_request", "a request target with a bad character");
	if (*t != '/' && !(sp2 - t == 1 && *t == '*'))
		return bad(err, 400, "bad_request", "the request target must be a path");
	h->target = t;
	h->target_len = (size_t)(sp2 - t);
	const char *v = sp2 + 1;
	if (memcmp(v, "HTTP/", 5) != 0 || v[6] != '.' || v[5] < '0' || v[5] > '9' || v[7] < '0' ||
	    v[7] > '9')
		return bad(err, 400, "bad_request", "cannot read the HTTP version");
	if (v[5] != '1' || v[7] > '1')
		return bad(err, 505, "http_version_not_supported", "only HTTP/1.0 and HTTP/1.1");
	h->minor = v[7] - '0';
	h->close = h->minor == 0;
	return SG_H1_DONE;
}

/* What the whole head says once every line is read. */
static sg_h1_result head_checks(sg_h1_head *h, int hosts, sg_h1_error *err)
{
	if (h->chunked && h->content_length >= 0)
		return bad(err, 400, "bad_request",
			   "both Content-Length and Transfer-Encoding: the framing is ambiguous");
	if (h->chunked && h->minor == 0)
		return bad(err, 400, "bad_request", "Transfer-Encoding in an HTTP/1.0 request");
	if (hosts > 1 || (h->minor == 1 && hosts == 0))
		return bad(err, 400, "bad_request", "an HTTP/1.1 request needs exactly one Host");
	return SG_H1_DONE;
}

sg_h1_result sg_h1_parse_head(const char *buf, size_t len, size_t max_head, size_t max_line,
			      sg_h1_head *h, sg_h1_error *err)
{
	const char *p = buf, *end = buf + len, *next, *e;
	int bare_cr, hosts = 0, te = 0;
	memset(h, 0, offsetof(sg_h1_head, fields)); /* fields[] are set as they are read */
	h->content_length = -1;
	h->chunked = h->close = h->expect_continue = h->upgrade_ws = 0;
	h->head_len = 0;
	while (p < end && (*p == '\r' || *p == '\n') && p - buf < 8) /* RFC 9112 §2.2 */
		p++;
	if (!(e = line_end(p, end, &next, &bare_cr))) {
		if ((size_t)(end - p) > max_line + 1) /* + its CR */
			return bad(err, 414, "uri_too_long", "the request line is over the limit");
		return len > max_head ? bad(err, 431, "headers_too_large",
					    "the request head is over max_header_bytes")
				      : SG_H1_MORE;
	}
	if (bare_cr)
		return bad(err, 400, "bad_request", "a bare CR in the request line");
	if (request_line(p, e, max_line, h, err) != SG_H1_DONE)
		return SG_H1_BAD;
	for (p = next;; p = next) {
		if (!(e = line_end(p, end, &next, &bare_cr)))
			return len > max_head ? bad(err, 431, "headers_too_large",
						    "the request head is over max_header_bytes")
					      : SG_H1_MORE;
		if ((size_t)(next - buf) > max_head)
			return bad(err, 431, "headers_too_large",
				   "the request head is over max_header_bytes");
		if (bare_cr)
			return bad(err, 400, "bad_request", "a bare CR in a header line");
		if (e == p)
			break; /* the blank line */
		if (*p == ' ' || *p == '\t')
			return bad(err, 400, "bad_request", "folded header lines are not accepted");
		if (h->nfields == SG_H1_FIELDS_MAX)
			return bad(err, 431, "headers_too_large", "more than 64 header lines");
		sg_h1_field *f = &h->fields[h->nfields];
		if (field_parse(p, e, f, err) != SG_H1_DONE ||
		    field_meaning(h, f, &hosts, &te, err) != SG_H1_DONE)
			return SG_H1_BAD;
		h->nfields++;
	}
	if (head_checks(h, hosts, err) != SG_H1_DONE)
		return SG_H1_BAD;
	h->head_len = (size_t)(next - buf);
	return SG_H1_DONE;
}

const char *sg_h1_field_get(const sg_h1_head *h, const char *name, size_t *len)
{
	for (size_t i = 0; i < h->nfields; i++)
		if (token_is(h->fields[i].name, h->fields[i].name_len, name)) {
			*len = h->fields[i].value_len;
			return h->fields[i].value;
		}
	return NULL;
}

/* ---- chunked bodies ---------------------------------------------------- */

enum { CK_SIZE, CK_EXT, CK_SIZE_LF, CK_DATA, CK_DATA_CR, CK_DATA_LF, CK_TRAILER, CK_TRAILER_LF };

#define CK_LINE_MAX 4096 /* a size line with extensions, or a trailer line */

static int hex_value(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
				      : -1;
}

/* One framing byte (not payload): advances the state. */
static sg_h1_result chunk_byte(sg_h1_chunked *st, char c, sg_h1_error *err)
{
	int hv;
	if (++st->line > CK_LINE_MAX)
		return bad(err, 400, "bad_request", "a chunk size or trailer line is too long");
	switch (st->state) {
	case CK_SIZE:
		if ((hv = hex_value(c)) >= 0) {
			if (++st->digits > 15)
				return bad(err, 413, "body_too_large", "a chunk size is too large");
			st->remain = st->remain * 16 + (unsigned)hv;
			return SG_H1_MORE;
		}
		if (!st->digits)
			return bad(err, 400, "bad_request", "a chunk without a size");
		if (c == ';' || c == ' ' || c == '\t') {
			st->state = CK_EXT;
			return SG_H1_MORE;
		}
		/* fallthrough */
	case CK_EXT:
		if (c == '\r') {
			st->state = CK_SIZE_LF;
			return SG_H1_MORE;
		}
		if (c == '\n')
			break;
		if (st->state == CK_EXT && c != '\r' && (unsigned char)c >= 0x20)
			return SG_H1_MORE;
		return bad(err, 400, "bad_request", "a malformed chunk size line");
	case CK_SIZE_LF:
		if (c != '\n')
			return bad(err, 400, "bad_request", "a malformed chunk size line");
		break;
	case CK_DATA_CR:
		if (c == '\r') {
			st->state = CK_DATA_LF;
			return SG_H1_MORE;
		}
		/* fallthrough */
	case CK_DATA_LF:
		if (c != '\n')
			return bad(err, 400, "bad_request", "a chunk not followed by CRLF");
		*st = (sg_h1_chunked){.state = CK_SIZE};
		return SG_H1_MORE;
	case CK_TRAILER:
		if (c == '\r') {
			st->state = CK_TRAILER_LF;
			return SG_H1_MORE;
		}
		if (c == '\n')
			goto trailer_line;
		st->trailer_empty = 0;
		return SG_H1_MORE;
	case CK_TRAILER_LF:
		if (c != '\n')
			return bad(err, 400, "bad_request", "a bare CR in a trailer");
	trailer_line:
		if (st->trailer_empty)
			return SG_H1_DONE;
		st->state = CK_TRAILER;
		st->trailer_empty = 1;
		st->line = 0;
		return SG_H1_MORE;
	}
	/* the size line ended */
	st->line = 0;
	st->state = st->remain ? CK_DATA : CK_TRAILER;
	st->trailer_empty = 1;
	return SG_H1_MORE;
}

sg_h1_result sg_h1_chunked_feed(sg_h1_chunked *st, const char *in, size_t len, size_t *used,
				int (*emit)(void *ctx, const char *p, size_t n), void *ctx,
				sg_h1_error *err)
{
	size_t i = 0;
	while (i < len) {
		if (st->state == CK_DATA) {
			size_t n = len - i < st->remain ? len - i : (size_t)st->remain;
			if (emit(ctx, in + i, n)) {
				*used = i;
				return bad(err, 413, "body_too_large",
					   "the body is over max_body_bytes");
			}
			i += n;
			if (!(st->remain -= n))
				st->state = CK_DATA_CR;
			continue;
		}
		sg_h1_result r = chunk_byte(st, in[i++], err);
		if (r != SG_H1_MORE) {
			*used = i;
			return r;
		}
	}
	*used = i;
	return SG_H1_MORE;
}

/* ---- request targets --------------------------------------------------- */

/* Percent-decodes [p, p + n) into a new string ('+' as a space when plus).
 * NULL with *err set on a bad escape or a NUL. */
static char *decode(const char *p, size_t n, int plus, sg_h1_error *err)
{
	char *out = malloc(n + 1), *o = out;
	if (!out) {
		bad(err, 503, "out_of_memory", "cannot read the request target");
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (c == '%') {
			int hi = i + 2 < n ? hex_value(p[i + 1]) : -1;
			int lo = i + 2 < n ? hex_value(p[i + 2]) : -1;
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
				free(out);
				bad(err, 400, "bad_request",
				    hi < 0 || lo < 0 ? "a bad percent escape in the request target"
						     : "a NUL byte in the request target");
				return NULL;
			}
			c = (char)(hi * 16 + lo);
			i += 2;
		} else if (c == '+' && plus) {
			c = ' ';
		}
		*o++ = c;
	}
	*o = '\0';
	return out;
}

int sg_h1_target_parse(const char *target, size_t len, sg_h1_target *t, sg_h1_error *err)
{
	memset(t, 0, sizeof(*t));
	const char *end = target + len, *q = memchr(target, '?', len);
	const char *hash = memchr(target, '#', len);
	if (hash && (!q || hash < q))
		q = NULL, end = hash;
	else if (hash)
		end = hash;
	const char *path_end = q ? q : end;
	if (!(t->path = decode(target, (size_t)(path_end - target), 0, err)))
		return err->status == 400 ? SG_EINVAL : SG_ENOMEM;
	for (const char *a = q ? q + 1 : end; a < end;) {
		const char *amp = memchr(a, '&', (size_t)(end - a));
		const char *ae = amp ? amp : end;
		if (ae > a) {
			if (t->nargs == SG_H1_ARGS_MAX) {
				sg_h1_target_free(t);
				bad(err, 400, "bad_request", "more than 16 query arguments");
				return SG_EINVAL;
			}
			char *arg = decode(a, (size_t)(ae - a), 1, err);
			if (!arg) {
				sg_h1_target_free(t);
				return err->status == 400 ? SG_EINVAL : SG_ENOMEM;
			}
			t->args[t->nargs++] = arg;
		}
		a = ae + 1;
	}
	return 0;
}

void sg_h1_target_free(sg_h1_target *t)
{
	free(t->path);
	for (size_t i = 0; i < t->nargs; i++)
		free(t->args[i]);
	memset(t, 0, sizeof(*t));
}
