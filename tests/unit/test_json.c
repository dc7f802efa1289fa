/*
 * test_json — the JSON room: envelopes rendered byte for byte (key order,
 * nulls, escaping), string quoting, and parsing of published envelopes and
 * of WebSocket commands, with every error a client can provoke and the
 * reason it is told.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/json.h"
#include "core/message.h"
#include "core/utf8.h"
#include "streamgate.h"

/* Renders the envelope of one message into a fresh buffer. */
static void assert_envelope(const char *channel, const char *id, const char *event,
                            const char *data, size_t len, const char *want)
{
	sg_msg *m = sg_msg_new(channel, (sg_id){1, 0}, id, event, data, len, 0);
	sg_buf b = SG_BUF_INIT;
	assert_int_equal(sg_json_envelope(&b, m), 0);
	assert_int_equal(b.len, strlen(want));
	assert_string_equal(b.data, want);
	sg_buf_free(&b);
	sg_msg_unref(m);
}

static void test_envelope_key_order_and_nulls(void **state)
{
	(void)state;
	long base = sg_msg_live();
	assert_envelope("news", "1", NULL, "hello", 5,
	                "{\"channel\":\"news\",\"id\":\"1\",\"event\":null,\"data\":\"hello\"}");
	assert_envelope("news", NULL, "ev", "hello", 5,
	                "{\"channel\":\"news\",\"id\":null,\"event\":\"ev\",\"data\":\"hello\"}");
	assert_envelope("a:b", "42", "e", "", 0,
	                "{\"channel\":\"a:b\",\"id\":\"42\",\"event\":\"e\",\"data\":\"\"}");
	assert_int_equal(sg_msg_live(), base);
}

static void test_envelope_escaping(void **state)
{
	(void)state;
	const char data[] = "say \"hi\"\nnext\t\\ \xc3\xa9 \xf0\x9f\x98\x80 \x01 </";
	assert_envelope("c", "1", "quo\"te", data, sizeof(data) - 1,
	                "{\"channel\":\"c\",\"id\":\"1\",\"event\":\"quo\\\"te\","
	                "\"data\":\"say \\\"hi\\\"\\nnext\\t\\\\ \xc3\xa9 \xf0\x9f\x98\x80 "
	                "\\u0001 </\"}");
	/* CR and an embedded NUL byte in the data */
	assert_envelope("c", "2", NULL, "a\r\nb\0c", 6,
	                "{\"channel\":\"c\",\"id\":\"2\",\"event\":null,"
	                "\"data\":\"a\\r\\nb\\u0000c\"}");
}

static void test_envelope_appends(void **state)
{
	(void)state;
	sg_msg *m = sg_msg_new("c", (sg_id){1, 0}, "1", NULL, "x", 1, 0);
	sg_buf b = SG_BUF_INIT;
	assert_int_equal(sg_buf_puts(&b, "["), 0);
	assert_int_equal(sg_json_envelope(&b, m), 0);
	assert_int_equal(sg_buf_puts(&b, "]"), 0);
	assert_string_equal(b.data,
	                    "[{\"channel\":\"c\",\"id\":\"1\",\"event\":null,\"data\":\"x\"}]");
	sg_buf_free(&b);
	sg_msg_unref(m);
}

static void test_envelope_rejects_invalid_utf8(void **state)
{
	(void)state;
	sg_msg *m = sg_msg_new("c", (sg_id){1, 0}, "1", NULL, "\xc3(", 2, 0);
	sg_buf b = SG_BUF_INIT;
	assert_int_equal(sg_buf_puts(&b, "keep"), 0);
	assert_int_equal(sg_json_envelope(&b, m), SG_EINVAL);
	assert_int_equal(b.len, 4);
	assert_string_equal(b.data, "keep");
	sg_buf_free(&b);
	sg_msg_unref(m);
}

static void test_quote(void **state)
{
	(void)state;
	sg_buf b = SG_BUF_INIT;
	assert_int_equal(sg_json_quote(&b, "a\"b", 3), 0);
	assert_string_equal(b.data, "\"a\\\"b\"");
	sg_buf_reset(&b);
	assert_int_equal(sg_json_quote(&b, "", 0), 0);
	assert_string_equal(b.data, "\"\"");
	sg_buf_reset(&b);
	/* the length bounds the string, not a NUL */
	assert_int_equal(sg_json_quote(&b, "line\nnext-ignored", 9), 0);
	assert_string_equal(b.data, "\"line\\nnext\"");
	sg_buf_reset(&b);
	assert_int_equal(sg_json_quote(&b, "\x1f\x7f", 2), 0);
	assert_string_equal(b.data, "\"\\u001F\x7f\"");
	sg_buf_reset(&b);
	assert_int_equal(sg_json_quote(&b, "\xed\xa0\x80", 3), SG_EINVAL);
	assert_int_equal(b.len, 0);
	sg_buf_free(&b);
}

/* Parses body and expects success. */
static void parse_ok(const char *body, sg_json_publish *p)
{
	char err[128] = "untouched";
	assert_int_equal(sg_json_parse_publish(body, strlen(body), p, err, sizeof(err)), 0);
	assert_string_equal(err, "untouched");
}

static void test_parse_text_data(void **state)
{
	(void)state;
	sg_json_publish p;
	parse_ok("{\"data\":\"hello\"}", &p);
	assert_string_equal(p.data, "hello");
	assert_int_equal(p.len, 5);
	assert_null(p.event);
	assert_null(p.id);
	sg_json_publish_free(&p);

	parse_ok("{\"data\":\"a\\nb\\u00e9\\\"\"}", &p);
	assert_int_equal(p.len, 6);
	assert_string_equal(p.data, "a\nb\xc3\xa9\"");
	sg_json_publish_free(&p);

	parse_ok("{\"data\":\"\"}", &p);
	assert_int_equal(p.len, 0);
	assert_string_equal(p.data, "");
	sg_json_publish_free(&p);
}

static void test_parse_non_string_data(void **state)
{
	(void)state;
	sg_json_publish p;
	parse_ok("{\"data\": {\"b\": [1, 2], \"a\": {\"x\": true}}}", &p);
	assert_string_equal(p.data, "{\"b\":[1,2],\"a\":{\"x\":true}}");
	assert_int_equal(p.len, strlen("{\"b\":[1,2],\"a\":{\"x\":true}}"));
	sg_json_publish_free(&p);

	parse_ok("{\"data\": [ \"x\" , null ]}", &p);
	assert_string_equal(p.data, "[\"x\",null]");
	assert_int_equal(p.len, 10);
	sg_json_publish_free(&p);

	parse_ok("{\"data\": 12}", &p);
	assert_string_equal(p.data, "12");
	assert_int_equal(p.len, 2);
	sg_json_publish_free(&p);

	parse_ok("{\"data\": true}", &p);
	assert_string_equal(p.data, "true");
	sg_json_publish_free(&p);

	parse_ok("{\"data\": null}", &p);
	assert_string_equal(p.data, "null");
	assert_int_equal(p.len, 4);
	sg_json_publish_free(&p);
}

static void test_parse_event_and_id(void **state)
{
	(void)state;
	sg_json_publish p;
	parse_ok("{\"event\":\"update\",\"data\":\"x\",\"id\":\"17\"}", &p);
	assert_string_equal(p.event, "update");
	assert_string_equal(p.data, "x");
	assert_string_equal(p.id, "17");
	sg_json_publish_free(&p);

	parse_ok("{\"data\":\"x\",\"id\":42}", &p);
	assert_string_equal(p.id, "42");
	assert_null(p.event);
	sg_json_publish_free(&p);

	/* an integer id is passed on as text; the hub decides if it is valid */
	parse_ok("{\"data\":\"x\",\"id\":-3}", &p);
	assert_string_equal(p.id, "-3");
	sg_json_publish_free(&p);

	parse_ok("{\"data\":\"x\",\"id\":null,\"event\":null}", &p);
	assert_null(p.id);
	assert_null(p.event);
	sg_json_publish_free(&p);

	/* unknown members are ignored */
	parse_ok("{\"data\":\"x\",\"extra\":[1]}", &p);
	assert_string_equal(p.data, "x");
	sg_json_publish_free(&p);
}

static void test_parse_respects_len(void **state)
{
	(void)state;
	const char body[] = "{\"data\":\"x\"}trailing garbage";
	sg_json_publish p;
	char err[128] = "";
	assert_int_equal(sg_json_parse_publish(body, 12, &p, err, sizeof(err)), 0);
	assert_string_equal(p.data, "x");
	sg_json_publish_free(&p);
}

/* Parses body, expects SG_EINVAL with exactly this reason and a zeroed out. */
static void parse_fails(const char *body, const char *why)
{
	sg_json_publish p;
	char err[160] = "";
	assert_int_equal(sg_json_parse_publish(body, strlen(body), &p, err, sizeof(err)),
	                 SG_EINVAL);
	assert_string_equal(err, why);
	assert_null(p.data);
	assert_null(p.event);
	assert_null(p.id);
	assert_int_equal(p.len, 0);
}

static void test_parse_invalid_json(void **state)
{
	(void)state;
	parse_fails("{",
	            "invalid JSON at line 1 column 1: string or '}' expected near end of file");
	parse_fails("{\"data\": }", "invalid JSON at line 1 column 10: unexpected token near '}'");
	parse_fails("", "invalid JSON at line 1 column 0: '[' or '{' expected near end of file");
	parse_fails("{\"data\":\"x\"} junk",
	            "invalid JSON at line 1 column 17: end of file expected near 'junk'");
	parse_fails("\n\n  {\"data\" 1}",
	            "invalid JSON at line 3 column 11: ':' expected near '1'");
	parse_fails("{\"data\":1,\"data\":2}",
	            "invalid JSON at line 1 column 16: duplicate object key near '\"data\"'");
	/* a bare string is not even accepted as a JSON text here */
	parse_fails("\"abc\"",
	            "invalid JSON at line 1 column 5: '[' or '{' expected near '\"abc\"'");
}

static void test_parse_wrong_shape(void **state)
{
	(void)state;
	parse_fails("[1]", "the envelope must be a JSON object");
	parse_fails("[{\"data\":\"x\"}]", "the envelope must be a JSON object");
	parse_fails("{}", "the envelope has no \"data\" member");
	parse_fails("{\"event\":\"e\"}", "the envelope has no \"data\" member");
	parse_fails("{\"data\":\"x\",\"event\":5}", "\"event\" must be a string");
	parse_fails("{\"data\":\"x\",\"event\":{}}", "\"event\" must be a string");
	parse_fails("{\"data\":\"x\",\"id\":1.5}", "\"id\" must be a string or an integer");
	parse_fails("{\"data\":\"x\",\"id\":true}", "\"id\" must be a string or an integer");
	parse_fails("{\"data\":\"x\",\"id\":[1]}", "\"id\" must be a string or an integer");
}

static void test_parse_err_truncated(void **state)
{
	(void)state;
	sg_json_publish p;
	char err[8];
	memset(err, 'z', sizeof(err));
	assert_int_equal(sg_json_parse_publish("[]", 2, &p, err, sizeof(err)), SG_EINVAL);
	assert_string_equal(err, "the env");
}

/* Found by fuzz_commands: jansson quotes the bytes near an error, which can
 * end inside a UTF-8 sequence; the reason goes back to the client inside
 * JSON, so it must be UTF-8 itself (it was not, and the WebSocket error
 * reply came out as {"type":"error",...,"detail":} — not JSON). */
static void test_parse_err_is_utf8(void **state)
{
	(void)state;
	const char text[] = "{\"type\":\"publish\",\"channel\":\"y\",\"data\":\"\\\xc5\x91i\"}";
	sg_json_command c;
	sg_json_publish p;
	char err[200], small[40];
	sg_buf b = SG_BUF_INIT;
	assert_int_equal(sg_json_parse_command(text, sizeof(text) - 1, &c, err, sizeof(err)),
	                 SG_EINVAL);
	sg_json_command_free(&c);
	assert_true(sg_utf8_valid(err, strlen(err)));
	assert_int_equal(sg_json_quote(&b, err, strlen(err)), 0);
	assert_int_equal(sg_json_parse_publish(text, sizeof(text) - 1, &p, err, sizeof(err)),
	                 SG_EINVAL);
	assert_true(sg_utf8_valid(err, strlen(err)));
	/* a reason cut to the caller's buffer inside a sequence is UTF-8 too */
	const char eacute[] = "{\"data\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\",,}";
	for (size_t n = 30; n < sizeof(small); n++) {
		assert_int_equal(sg_json_parse_publish(eacute, sizeof(eacute) - 1, &p, small, n),
		                 SG_EINVAL);
		assert_true(sg_utf8_valid(small, strlen(small)));
	}
	sg_buf_free(&b);
}

static void test_publish_free_twice(void **state)
{
	(void)state;
	sg_json_publish p;
	parse_ok("{\"event\":\"e\",\"data\":\"x\",\"id\":\"1\"}", &p);
	sg_json_publish_free(&p);
	assert_null(p.data);
	assert_null(p.event);
	assert_null(p.id);
	assert_int_equal(p.len, 0);
	sg_json_publish_free(&p);
}

/* ---- WebSocket commands ------------------------------------------------- */

/* Parses text as a command and expects success. */
static void command_ok(const char *text, sg_json_command *c)
{
	char err[128] = "untouched";
	assert_int_equal(sg_json_parse_command(text, strlen(text), c, err, sizeof(err)), 0);
	assert_string_equal(err, "untouched");
}

static void test_command_subscribe(void **state)
{
	(void)state;
	sg_json_command c;
	command_ok("{\"type\":\"subscribe\",\"channel\":\"a,b\",\"last_event_id\":\"1000-3\","
	           "\"ref\":7}",
	           &c);
	assert_string_equal(c.type, "subscribe");
	assert_string_equal(c.channel, "a,b");
	assert_string_equal(c.last_event_id, "1000-3");
	assert_string_equal(c.ref, "7");
	assert_null(c.event);
	assert_null(c.data);
	assert_int_equal(c.len, 0);
	sg_json_command_free(&c);
	assert_null(c.type);
	assert_null(c.ref);
	sg_json_command_free(&c); /* twice is harmless */

	/* only "type" is required; null members are absent ones */
	command_ok("{\"type\":\"unsubscribe\",\"channel\":null,\"last_event_id\":null,"
	           "\"event\":null,\"extra\":[1]}",
	           &c);
	assert_string_equal(c.type, "unsubscribe");
	assert_null(c.channel);
	assert_null(c.last_event_id);
	assert_null(c.event);
	assert_null(c.data);
	assert_null(c.ref);
	sg_json_command_free(&c);
}

static void test_command_publish_data(void **state)
{
	(void)state;
	sg_json_command c;
	command_ok("{\"type\":\"publish\",\"channel\":\"c\",\"event\":\"up\",\"data\":\"a\\nb\"}",
	           &c);
	assert_string_equal(c.event, "up");
	assert_int_equal(c.len, 3);
	assert_string_equal(c.data, "a\nb");
	sg_json_command_free(&c);
	/* a non-string "data" is its compact JSON text */
	command_ok("{\"type\":\"publish\",\"data\": {\"b\": [1, 2], \"a\": null}}", &c);
	assert_string_equal(c.data, "{\"b\":[1,2],\"a\":null}");
	assert_int_equal(c.len, strlen("{\"b\":[1,2],\"a\":null}"));
	sg_json_command_free(&c);
	command_ok("{\"type\":\"publish\",\"data\":null}", &c);
	assert_string_equal(c.data, "null");
	assert_int_equal(c.len, 4);
	sg_json_command_free(&c);
	command_ok("{\"type\":\"publish\",\"data\":\"\"}", &c);
	assert_string_equal(c.data, "");
	assert_int_equal(c.len, 0);
	sg_json_command_free(&c);
}

static void test_command_ref_is_json_text(void **state)
{
	(void)state;
	/* the ref is echoed into replies as JSON: whatever the client sent */
	const char *in[] = {"7", "\"abc\"", "\"q\\\"t\"", "{\"b\":1,\"a\":[true]}", "null", "-1.5"};
	const char *out[] = {"7",    "\"abc\"", "\"q\\\"t\"", "{\"b\":1,\"a\":[true]}",
	                     "null", "-1.5"};
	char text[128];
	sg_json_command c;
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		snprintf(text, sizeof(text), "{\"type\":\"x\",\"ref\": %s }", in[i]);
		command_ok(text, &c);
		assert_string_equal(c.ref, out[i]);
		sg_json_command_free(&c);
	}
}

/* Parses text, expects SG_EINVAL with exactly this reason and out zeroed
 * but for the client's ref (ref_json, or NULL), kept for the error reply. */
static void command_fails_ref(const char *text, size_t len, const char *why, const char *ref_json)
{
	sg_json_command c;
	char err[160] = "";
	assert_int_equal(sg_json_parse_command(text, len, &c, err, sizeof(err)), SG_EINVAL);
	assert_string_equal(err, why);
	assert_null(c.type);
	assert_null(c.channel);
	assert_null(c.last_event_id);
	assert_null(c.event);
	assert_null(c.data);
	if (ref_json)
		assert_string_equal(c.ref, ref_json);
	else
		assert_null(c.ref);
	assert_int_equal(c.len, 0);
	sg_json_command_free(&c);
}

static void command_fails(const char *text, size_t len, const char *why)
{
	command_fails_ref(text, len, why, NULL);
}

#define COMMAND_FAILS(text, why) command_fails(text, sizeof(text) - 1, why)

static void test_command_errors(void **state)
{
	(void)state;
	const char *strings = "type, channel, last_event_id and event must be strings";
	COMMAND_FAILS("{}", "a command needs a \"type\"");
	command_fails_ref("{\"channel\":\"a\",\"ref\":1}", 23, "a command needs a \"type\"", "1");
	COMMAND_FAILS("{\"type\":null}", "a command needs a \"type\"");
	COMMAND_FAILS("{\"type\":1}", strings);
	COMMAND_FAILS("{\"type\":\"subscribe\",\"channel\":[\"a\"]}", strings);
	COMMAND_FAILS("{\"type\":\"subscribe\",\"last_event_id\":5}", strings);
	COMMAND_FAILS("{\"type\":\"publish\",\"event\":{},\"data\":\"x\"}", strings);
	COMMAND_FAILS("{\"type\":true,\"channel\":2}", strings);
	COMMAND_FAILS("[{\"type\":\"subscribe\"}]", "a command is a JSON object");
	COMMAND_FAILS("\"subscribe\"", "invalid JSON at line 1 column 11: '[' or '{' expected "
	                               "near '\"subscribe\"'");
	COMMAND_FAILS("{",
	              "invalid JSON at line 1 column 1: string or '}' expected near end of file");
	COMMAND_FAILS("", "invalid JSON at line 1 column 0: '[' or '{' expected near end of file");
	COMMAND_FAILS("{\"type\": }",
	              "invalid JSON at line 1 column 10: unexpected token near '}'");
	COMMAND_FAILS("{\"type\":\"x\"} {}",
	              "invalid JSON at line 1 column 14: end of file expected near '{'");
	COMMAND_FAILS("{\"type\":\"x\",\"type\":\"y\"}",
	              "invalid JSON at line 1 column 18: duplicate object key near '\"type\"'");
	COMMAND_FAILS("{\"type\":\"\xff\"}",
	              "invalid JSON at line 1 column 9: unable to decode byte 0xff near '\"'");
	/* a raw NUL inside the text is read as such (len bounds it), and refused */
	COMMAND_FAILS("{\"type\":\"x\",\"data\":\"a\0b\"}",
	              "invalid JSON at line 1 column 21: control character 0x0 near '\"a'");
	COMMAND_FAILS("{\"type\":\"x\",\"data\":\"a\\u0000b\"}",
	              "invalid JSON at line 1 column 29: \\u0000 is not allowed without "
	              "JSON_ALLOW_NUL near '\"a\\u0000b\"'");
}

static void test_command_respects_len(void **state)
{
	(void)state;
	const char text[] = "{\"type\":\"x\"}{\"type\":\"ignored\"}";
	sg_json_command c;
	char err[64] = "";
	assert_int_equal(sg_json_parse_command(text, 12, &c, err, sizeof(err)), 0);
	assert_string_equal(c.type, "x");
	sg_json_command_free(&c);
	/* an error reason is cut to the caller's buffer */
	char small[8];
	memset(small, 'z', sizeof(small));
	assert_int_equal(sg_json_parse_command("[]", 2, &c, small, sizeof(small)), SG_EINVAL);
	assert_string_equal(small, "a comma");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_envelope_key_order_and_nulls),
	    cmocka_unit_test(test_envelope_escaping),
	    cmocka_unit_test(test_envelope_appends),
	    cmocka_unit_test(test_envelope_rejects_invalid_utf8),
	    cmocka_unit_test(test_quote),
	    cmocka_unit_test(test_parse_text_data),
	    cmocka_unit_test(test_parse_non_string_data),
	    cmocka_unit_test(test_parse_event_and_id),
	    cmocka_unit_test(test_parse_respects_len),
	    cmocka_unit_test(test_parse_invalid_json),
	    cmocka_unit_test(test_parse_wrong_shape),
	    cmocka_unit_test(test_parse_err_truncated),
	    cmocka_unit_test(test_parse_err_is_utf8),
	    cmocka_unit_test(test_publish_free_twice),
	    cmocka_unit_test(test_command_subscribe),
	    cmocka_unit_test(test_command_publish_data),
	    cmocka_unit_test(test_command_ref_is_json_text),
	    cmocka_unit_test(test_command_errors),
	    cmocka_unit_test(test_command_respects_len),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
