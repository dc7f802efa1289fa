/*
 * fuzz_up_ndjson — the upstream NDJSON parser (src/upstream/parse_ndjson.c)
 * on hostile bodies: no crash, no leak, every message one JSON value, and
 * the same messages however the body is split.
 */
#include <jansson.h>

#include "../../src/upstream/lines.c"
#include "../../src/upstream/parse_ndjson.c"
#include "fuzz_up_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size);

static void record_json(void *ud, const char *event, const char *id, const char *data, size_t len)
{
	json_t *v = json_loadb(data, len, JSON_DECODE_ANY, NULL);
	SG_FUZZ_CHECK(v != NULL && !event && !id);
	json_decref(v);
	fuzz_record(ud, event, id, data, len);
}

static fuzz_seen run(const uint8_t *in, size_t size, size_t piece)
{
	sg_up_ndjson p = {0};
	fuzz_seen s = {14695981039346656037ull, 0};
	for (size_t at = 0; at < size; at += piece)
		SG_FUZZ_CHECK(sg_up_ndjson_feed(&p, (const char *)in + at,
		                                size - at < piece ? size - at : piece, record_json,
		                                &s) == 0);
	SG_FUZZ_CHECK(sg_up_ndjson_finish(&p, record_json, &s) == 0);
	sg_up_ndjson_free(&p);
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
	return fuzz_whole_vs_split(in, size, run);
}
