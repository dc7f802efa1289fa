/*
 * fuzz_up_sse — the upstream SSE parser (src/upstream/parse_sse.c) on
 * hostile bodies: no crash, no leak, bounded messages, and the same
 * messages however the body is split.
 */
#include "../../src/upstream/lines.c"
#include "../../src/upstream/parse_sse.c"
#include "fuzz_up_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size);

static fuzz_seen run(const uint8_t *in, size_t size, size_t piece)
{
	sg_up_sse p = {0};
	fuzz_seen s = {14695981039346656037ull, 0};
	for (size_t at = 0; at < size; at += piece)
		SG_FUZZ_CHECK(sg_up_sse_feed(&p, (const char *)in + at,
		                             size - at < piece ? size - at : piece, fuzz_record,
		                             &s) == 0);
	sg_up_sse_free(&p);
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
	return fuzz_whole_vs_split(in, size, run);
}
