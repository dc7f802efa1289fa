/*
 * fuzz_h1 — the HTTP/1 request parser (src/server/h1_parse.c): heads,
 * request targets and chunked bodies, as a hostile client sends them.
 * Input: bytes on the wire. Checks: a head that parses used no more than
 * it was given, every strict prefix of it asks for more (so splitting a
 * request never changes its meaning), its target splits without losing an
 * argument, and the bytes after it decode as a chunked body without ever
 * emitting more than they hold or claiming more bytes than given.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_world.h"
#include "server/h1_parse.h"

#define HEAD_MAX 2048
#define LINE_MAX_ 512

static int count_emit(void *ctx, const char *p, size_t n)
{
	size_t *total = ctx;
	(void)p;
	*total += n;
	return *total > 4096; /* a body limit, as the engine has */
}

static void check_target(const sg_h1_head *h)
{
	sg_h1_target t;
	sg_h1_error err;
	int rc = sg_h1_target_parse(h->target, h->target_len, &t, &err);
	if (rc) {
		SG_FUZZ_CHECK(rc == SG_EINVAL && err.status == 400 && err.detail);
		return;
	}
	SG_FUZZ_CHECK(strlen(t.path) <= h->target_len);
	for (size_t i = 0; i < t.nargs; i++)
		SG_FUZZ_CHECK(t.args[i][0] != '\0' && strlen(t.args[i]) <= h->target_len);
	sg_h1_target_free(&t);
}

static void check_chunked(const char *p, size_t n, size_t split)
{
	sg_h1_chunked st = {0};
	sg_h1_error err;
	size_t total = 0, used = 0, used2 = 0;
	split = split < n ? split : n;
	sg_h1_result r = sg_h1_chunked_feed(&st, p, split, &used, count_emit, &total, &err);
	SG_FUZZ_CHECK(used <= split);
	if (r == SG_H1_MORE) {
		SG_FUZZ_CHECK(used == split);
		r = sg_h1_chunked_feed(&st, p + split, n - split, &used2, count_emit, &total, &err);
		SG_FUZZ_CHECK(used2 <= n - split);
	}
	SG_FUZZ_CHECK(total <= n);
	if (r == SG_H1_BAD)
		SG_FUZZ_CHECK(err.status == 400 || err.status == 413);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	sg_h1_head *h = malloc(sizeof(*h));
	sg_h1_error err;
	sg_h1_result r = sg_h1_parse_head(buf, size, HEAD_MAX, LINE_MAX_, h, &err);
	if (r == SG_H1_BAD) {
		SG_FUZZ_CHECK(err.status >= 400 && err.status <= 505 && err.error && err.detail);
	} else if (r == SG_H1_DONE) {
		SG_FUZZ_CHECK(h->head_len > 0 && h->head_len <= size && h->head_len <= HEAD_MAX + 1);
		SG_FUZZ_CHECK(h->nfields <= SG_H1_FIELDS_MAX);
		SG_FUZZ_CHECK(!(h->chunked && h->content_length >= 0));
		sg_h1_head *p = malloc(sizeof(*p));
		size_t cut = size ? data[0] % h->head_len : 0;
		SG_FUZZ_CHECK(sg_h1_parse_head(buf, cut, HEAD_MAX, LINE_MAX_, p, &err) == SG_H1_MORE);
		free(p);
		check_target(h);
		check_chunked(buf + h->head_len, size - h->head_len, size ? data[size - 1] : 0);
	}
	free(h);
	return 0;
}
