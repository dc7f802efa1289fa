/*
 * test_upstream_parse — the upstream body parsers (src/upstream): SSE
 * fields, multi-line data, comments, CR/LF/CRLF, splits at every byte,
 * bounds; NDJSON lines, blank and malformed lines, the last line without
 * its LF; format names and Content-Type mapping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/upstream/lines.c"
#include "../../src/upstream/parse_ndjson.c"
#undef feed_ctx
#define feed_ctx sse_feed_ctx
#define on_line sse_on_line
#include "../../src/upstream/parse_sse.c"

/* Emitted messages as "event|id|data\n" lines. */
static sg_buf got;

static void record(void *ud, const char *event, const char *id, const char *data, size_t len)
{
	(void)ud;
	sg_buf_printf(&got, "%s|%s|%.*s\n", event ? event : "-", id ? id : "-", (int)len, data);
}

static const char *sse_all(const char *in, size_t split, unsigned long *malformed)
{
	sg_up_sse p = {0};
	size_t n = strlen(in);
	sg_buf_reset(&got);
	for (size_t at = 0; at < n; at += split)
		assert_int_equal(
		    sg_up_sse_feed(&p, in + at, n - at < split ? n - at : split, record, NULL), 0);
	*malformed = p.malformed;
	sg_up_sse_free(&p);
	sg_buf_puts(&got, "");
	return got.data ? got.data : "";
}

static void test_sse_fields(void **state)
{
	(void)state;
	const char *in = "id: 7\nevent: greet\ndata: hello\ndata: world\n\n: comment\n\n"
	                 "data:no space\r\n\r\nretry: 10\ndata: a\rdata: b\r\rfoo: bar\ndata\n\n";
	const char *want = "greet|7|hello\nworld\n-|-|no space\n-|-|a\nb\n-|-|\n";
	unsigned long bad;
	for (size_t split = 1; split <= strlen(in); split++)
		assert_string_equal(sse_all(in, split, &bad), want);
	assert_int_equal(bad, 0);
}

static void test_sse_unfinished_event_is_not_sent(void **state)
{
	(void)state;
	unsigned long bad;
	assert_string_equal(sse_all("data: x\n\ndata: y\n", 3, &bad), "-|-|x\n");
}

static void test_sse_bounds(void **state)
{
	(void)state;
	unsigned long bad;
	size_t n = SG_UP_LINE_MAX + 100;
	char *in = malloc(n + 40);
	memcpy(in, "data: ", 6);
	memset(in + 6, 'x', n);
	strcpy(in + 6 + n, "\n\ndata: ok\n\n");
	assert_string_equal(sse_all(in, 4096, &bad), "-|-|ok\n");
	assert_true(bad >= 1);
	/* an id too long is dropped and counted, the event still goes */
	memset(in, 'i', 400);
	memcpy(in, "id: ", 4);
	strcpy(in + 400, "\ndata: z\n\n");
	assert_string_equal(sse_all(in, 7, &bad), "-|-|z\n");
	assert_int_equal(bad, 1);
	free(in);
}

static const char *nd_all(const char *in, size_t split, unsigned long *malformed)
{
	sg_up_ndjson p = {0};
	size_t n = strlen(in);
	sg_buf_reset(&got);
	for (size_t at = 0; at < n; at += split)
		assert_int_equal(
		    sg_up_ndjson_feed(&p, in + at, n - at < split ? n - at : split, record, NULL),
		    0);
	assert_int_equal(sg_up_ndjson_finish(&p, record, NULL), 0);
	*malformed = p.malformed;
	sg_up_ndjson_free(&p);
	sg_buf_puts(&got, "");
	return got.data ? got.data : "";
}

static void test_ndjson_lines(void **state)
{
	(void)state;
	const char *in = "{\"a\":1}\n\n  \nnot json\r\n[1,2]\r\n\"s\"\n{\"tail\":true}";
	const char *want = "-|-|{\"a\":1}\n-|-|[1,2]\n-|-|\"s\"\n-|-|{\"tail\":true}\n";
	unsigned long bad;
	for (size_t split = 1; split <= strlen(in); split++)
		assert_string_equal(nd_all(in, split, &bad), want);
	assert_int_equal(bad, 1);
}

static void test_ndjson_bad_utf8_and_overlong(void **state)
{
	(void)state;
	unsigned long bad;
	assert_string_equal(nd_all("\"\xff\"\n1\n", 2, &bad), "-|-|1\n");
	assert_int_equal(bad, 1);
	size_t n = SG_UP_LINE_MAX + 5;
	char *in = malloc(n + 8);
	memset(in, '1', n);
	strcpy(in + n, "\n2\n");
	assert_string_equal(nd_all(in, 1000, &bad), "-|-|2\n");
	assert_int_equal(bad, 1);
	free(in);
}

static void test_formats(void **state)
{
	(void)state;
	assert_int_equal(sg_up_format_of("text/event-stream; charset=utf-8"), SG_UP_SSE);
	assert_int_equal(sg_up_format_of("application/x-ndjson"), SG_UP_NDJSON);
	assert_int_equal(sg_up_format_of("application/jsonl"), SG_UP_NDJSON);
	assert_int_equal(sg_up_format_of("application/json"), SG_UP_TEXT);
	assert_int_equal(sg_up_format_of(NULL), SG_UP_TEXT);
	assert_int_equal(sg_up_format_parse("auto"), SG_UP_AUTO);
	assert_int_equal(sg_up_format_parse("sse"), SG_UP_SSE);
	assert_int_equal(sg_up_format_parse("xml"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sse_fields),
	    cmocka_unit_test(test_sse_unfinished_event_is_not_sent),
	    cmocka_unit_test(test_sse_bounds),
	    cmocka_unit_test(test_ndjson_lines),
	    cmocka_unit_test(test_ndjson_bad_utf8_and_overlong),
	    cmocka_unit_test(test_formats),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	sg_buf_free(&got);
	return rc;
}
