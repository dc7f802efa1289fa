/*
 * fuzz_up_parse — what the upstream parser harnesses share: the input is
 * fed whole and again in pieces whose sizes come from its first byte; the
 * messages emitted must be the same both times (a split never changes a
 * message), each within the parser's bounds.
 */
#ifndef SG_FUZZ_UP_PARSE_H
#define SG_FUZZ_UP_PARSE_H

#include <stdint.h>
#include <string.h>

#include "core/buf.h"
#include "fuzz_check.h"
#include "upstream/parse.h"

/* What was emitted, as one digest and a count. */
typedef struct fuzz_seen {
	uint64_t digest;
	size_t n;
} fuzz_seen;

static void fuzz_mix(fuzz_seen *s, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		s->digest = (s->digest ^ b[i]) * 1099511628211ull;
	s->digest = (s->digest ^ 0xff) * 1099511628211ull; /* a separator */
}

static void fuzz_record(void *ud, const char *event, const char *id, const char *data, size_t len)
{
	fuzz_seen *s = ud;
	SG_FUZZ_CHECK(len <= SG_UP_MSG_MAX);
	SG_FUZZ_CHECK(!event || (strlen(event) < SG_UP_FIELD_MAX && !strpbrk(event, "\r\n")));
	SG_FUZZ_CHECK(!id || (strlen(id) < SG_UP_FIELD_MAX && !strpbrk(id, "\r\n")));
	fuzz_mix(s, event ? event : "", event ? strlen(event) : 0);
	fuzz_mix(s, id ? id : "", id ? strlen(id) : 0);
	fuzz_mix(s, data, len);
	s->n++;
}

/* A harness's parse of size bytes at in, fed piece bytes at a time. */
typedef fuzz_seen (*fuzz_run)(const uint8_t *in, size_t size, size_t piece);

/* The whole check: the input after its first byte is parsed whole, and
 * again in pieces of 1-7 bytes (the first byte picks); the two must emit
 * the same messages. */
static int fuzz_whole_vs_split(const uint8_t *in, size_t size, fuzz_run run)
{
	if (!size)
		return 0;
	fuzz_seen whole = run(in + 1, size - 1, size), split = run(in + 1, size - 1, 1 + in[0] % 7);
	SG_FUZZ_CHECK(whole.n == split.n && whole.digest == split.digest);
	return 0;
}

#endif
