/*
 * test_h1_parse — the HTTP/1 request parser: heads, framing refusals,
 * chunked bodies and request targets, byte for byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "server/h1_parse.c"

#define HEAD_MAX 8192
#define LINE_MAX_ 4096

static sg_h1_result parse(const char *s, sg_h1_head *h, sg_h1_error *err)
{
	return sg_h1_parse_head(s, strlen(s), HEAD_MAX, LINE_MAX_, h, err);
}

static void expect_bad(const char *s, int status)
{
	sg_h1_head h;
	sg_h1_error err = {0};
	assert_int_equal(parse(s, &h, &err), SG_H1_BAD);
	assert_int_equal(err.status, status);
	assert_non_null(err.error);
	assert_non_null(err.detail);
}

static void test_simple_get(void **state)
{
	(void)state;
	const char *req = "GET /channels/a?x=1 HTTP/1.1\r\nHost: h\r\nAccept:  text/event-stream \r\n\r\nNEXT";
	sg_h1_head h;
	sg_h1_error err = {0};
	assert_int_equal(parse(req, &h, &err), SG_H1_DONE);
	assert_int_equal(h.head_len, strlen(req) - 4);
	assert_int_equal(h.method_len, 3);
	assert_memory_equal(h.method, "GET", 3);
	assert_int_equal(h.target_len, 15);
	assert_memory_equal(h.target, "/channels/a?x=1", 15);
	assert_int_equal(h.minor, 1);
	assert_int_equal(h.nfields, 2);
	size_t n;
	const char *v = sg_h1_field_get(&h, "accept", &n);
	assert_int_equal(n, 17);
	assert_memory_equal(v, "text/event-stream", 17);
	assert_int_equal(h.content_length, -1);
	assert_false(h.close);
	assert_false(h.chunked);
}

static void test_incomplete_heads_ask_for_more(void **state)
{
	(void)state;
	const char *req = "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n";
	sg_h1_head h;
	sg_h1_error err = {0};
	for (size_t i = 0; i < strlen(req); i++)
		assert_int_equal(sg_h1_parse_head(req, i, HEAD_MAX, LINE_MAX_, &h, &err), SG_H1_MORE);
	assert_int_equal(parse(req, &h, &err), SG_H1_DONE);
	assert_int_equal(h.content_length, 3);
}

static void test_framing_refusals(void **state)
{
	(void)state;
	expect_bad("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400);
	expect_bad("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501);
	expect_bad("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 501);
	expect_bad("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400);
	expect_bad("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400);
	expect_bad("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1x\r\n\r\n", 400);
	expect_bad("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 9999999999999999\r\n\r\n", 400);
	expect_bad("GET / HTTP/1.1\r\n\r\n", 400);
	expect_bad("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 400);
	expect_bad("GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n", 400);
	expect_bad("GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400);
	expect_bad("GET / HTTP/1.1\r\nHost: h\rX\r\n\r\n", 400);
	expect_bad("GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505);
	expect_bad("GET / HTTX/1.1\r\nHost: h\r\n\r\n", 400);
	expect_bad("GET http://x/ HTTP/1.1\r\nHost: h\r\n\r\n", 400);
	expect_bad("GET / HTTP/1.1\r\nHost: h\r\nExpect: 200-ok\r\n\r\n", 417);
}

static void test_same_content_length_twice_is_fine(void **state)
{
	(void)state;
	sg_h1_head h;
	sg_h1_error err = {0};
	assert_int_equal(parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\n", &h, &err),
			 SG_H1_DONE);
	assert_int_equal(h.content_length, 5);
}

static void test_sizes(void **state)
{
	(void)state;
	char big[HEAD_MAX + 64];
	memset(big, 'a', sizeof(big));
	memcpy(big, "GET /", 5);
	big[sizeof(big) - 1] = '\0';
	expect_bad(big, 414); /* no end of line in sight past the line limit */
	char head[HEAD_MAX + 200];
	int n = snprintf(head, sizeof(head), "GET / HTTP/1.1\r\nHost: h\r\nX: %0*d\r\n\r\n", HEAD_MAX, 0);
	assert_true(n > HEAD_MAX);
	expect_bad(head, 431);
}

static void test_connection_semantics(void **state)
{
	(void)state;
	sg_h1_head h;
	sg_h1_error err = {0};
	assert_int_equal(parse("GET / HTTP/1.0\r\n\r\n", &h, &err), SG_H1_DONE);
	assert_true(h.close);
	assert_int_equal(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &h, &err), SG_H1_DONE);
	assert_false(h.close);
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, close\r\nUpgrade: WebSocket\r\n\r\n", &h, &err),
			 SG_H1_DONE);
	assert_true(h.close);
	assert_true(h.upgrade_ws);
	assert_int_equal(parse("\r\nPOST / HTTP/1.1\nHost: h\nExpect: 100-Continue\n\n", &h, &err), SG_H1_DONE);
	assert_true(h.expect_continue);
	assert_int_equal(h.head_len, strlen("\r\nPOST / HTTP/1.1\nHost: h\nExpect: 100-Continue\n\n"));
}

typedef struct sink {
	char buf[256];
	size_t len, limit;
} sink;

static int emit(void *ctx, const char *p, size_t n)
{
	sink *s = ctx;
	if (s->len + n > s->limit)
		return -1;
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	return 0;
}

static void test_chunked(void **state)
{
	(void)state;
	const char *body = "5;ext=1\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nTrailer: x\r\n\r\nNEXT";
	for (size_t split = 1; split < strlen(body) - 4; split++) {
		sg_h1_chunked st = {0};
		sink s = {.limit = sizeof(s.buf)};
		sg_h1_error err = {0};
		size_t used, total = 0;
		assert_int_equal(sg_h1_chunked_feed(&st, body, split, &used, emit, &s, &err), SG_H1_MORE);
		assert_int_equal(used, split);
		total += used;
		assert_int_equal(sg_h1_chunked_feed(&st, body + split, strlen(body) - split, &used, emit, &s, &err),
				 SG_H1_DONE);
		total += used;
		assert_int_equal(total, strlen(body) - 4);
		assert_int_equal(s.len, 31);
		assert_memory_equal(s.buf, "helloabcdefghijklmnopqrstuvwxyz", 31);
	}
}

static void test_chunked_refusals(void **state)
{
	(void)state;
	const char *bad[] = {"zz\r\n", "\r\n", "5\r\nhelloX\r\n", "5\rX", "1234567890123456\r\n"};
	const int status[] = {400, 400, 400, 400, 413};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		sg_h1_chunked st = {0};
		sink s = {.limit = sizeof(s.buf)};
		sg_h1_error err = {0};
		size_t used;
		assert_int_equal(sg_h1_chunked_feed(&st, bad[i], strlen(bad[i]), &used, emit, &s, &err), SG_H1_BAD);
		assert_int_equal(err.status, status[i]);
	}
	sg_h1_chunked st = {0};
	sink s = {.limit = 4};
	sg_h1_error err = {0};
	size_t used;
	used = 99;
	assert_int_equal(sg_h1_chunked_feed(&st, "5\r\nhello\r\n", 10, &used, emit, &s, &err), SG_H1_BAD);
	assert_int_equal(err.status, 413);
	assert_int_equal(used, 3); /* the size line, and no payload byte */
}

static void test_targets(void **state)
{
	(void)state;
	sg_h1_target t;
	sg_h1_error err = {0};
	const char *in = "/channels/a%2Cb?last_event_id=12-0&x=a+b%21&flag&&y=#frag";
	assert_int_equal(sg_h1_target_parse(in, strlen(in), &t, &err), 0);
	assert_string_equal(t.path, "/channels/a,b");
	assert_int_equal(t.nargs, 4);
	assert_string_equal(t.args[0], "last_event_id=12-0");
	assert_string_equal(t.args[1], "x=a b!");
	assert_string_equal(t.args[2], "flag");
	assert_string_equal(t.args[3], "y=");
	sg_h1_target_free(&t);
	const char *bad[] = {"/a%2", "/a%zz", "/a%00", "/a?b=%0", "/a?b=%00"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(sg_h1_target_parse(bad[i], strlen(bad[i]), &t, &err), SG_EINVAL);
		assert_int_equal(err.status, 400);
	}
	char many[512] = "/p?";
	for (int i = 0; i < 17; i++)
		strcat(many, "a=1&");
	assert_int_equal(sg_h1_target_parse(many, strlen(many), &t, &err), SG_EINVAL);
	assert_string_equal(err.detail, "more than 16 query arguments");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple_get),
		cmocka_unit_test(test_incomplete_heads_ask_for_more),
		cmocka_unit_test(test_framing_refusals),
		cmocka_unit_test(test_same_content_length_twice_is_fine),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_connection_semantics),
		cmocka_unit_test(test_chunked),
		cmocka_unit_test(test_chunked_refusals),
		cmocka_unit_test(test_targets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
