/*
 * test_transport — each transport's table and the exact bytes it renders
 * (chunked lines, SSE fields and line splitting, WebSocket payloads, JSON
 * envelopes for ndjson and long-poll), tagged with the channel, its control
 * messages, preludes and heartbeats, and negotiation between them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/message.h"
#include "core/transport.h"
#include "streamgate.h"

/* Renders one message through t (tagged or not) and compares the frame
 * with want (wlen). */
static void assert_render(const sg_transport *t, int tagged, const char *id, const char *event,
                          const char *data, size_t len, const char *want, size_t wlen)
{
	long msgs = sg_msg_live(), frames = sg_frame_live();
	sg_msg *m = sg_msg_new("news", (sg_id){1, 0}, id, event, data, len, 0);
	sg_frame *f = t->render(m, tagged);
	assert_non_null(f);
	assert_int_equal(atomic_load(&f->refs), 1);
	assert_int_equal(f->len, wlen);
	assert_memory_equal(sg_frame_data(f), want, wlen);
	sg_frame_unref(f);
	sg_msg_unref(m);
	assert_int_equal(sg_msg_live(), msgs);
	assert_int_equal(sg_frame_live(), frames);
}

#define RENDER(t, id, event, data, want)                                                           \
	assert_render(t, 0, id, event, data, sizeof(data) - 1, want, sizeof(want) - 1)
#define RENDER_TAGGED(t, id, event, data, want)                                                    \
	assert_render(t, 1, id, event, data, sizeof(data) - 1, want, sizeof(want) - 1)

static void test_tables(void **state)
{
	(void)state;
	const sg_transport *all[] = {&sg_transport_chunked, &sg_transport_sse, &sg_transport_ws,
	                             &sg_transport_ndjson, &sg_transport_longpoll};
	const char *names[] = {"chunked", "sse", "ws", "ndjson", "longpoll"};
	int slots_seen = 0;
	for (size_t i = 0; i < 5; i++) {
		assert_string_equal(all[i]->name, names[i]);
		assert_ptr_equal(sg_transport_find(names[i]), all[i]);
		/* two cache slots each: plain and tagged */
		assert_true(all[i]->slot >= 0 && all[i]->slot * 2 + 1 < SG_RENDER_SLOTS);
		assert_int_equal(slots_seen & (1 << all[i]->slot), 0); /* slots are distinct */
		slots_seen |= 1 << all[i]->slot;
	}
	assert_null(sg_transport_find("nope"));
	assert_null(sg_transport_find(""));
	assert_null(sg_transport_find("SSE"));
	assert_string_equal(sg_transport_names(), "chunked, sse, ws, longpoll, ndjson");

	assert_int_equal(sg_transport_chunked.wire, SG_WIRE_HTTP_STREAM);
	assert_int_equal(sg_transport_sse.wire, SG_WIRE_HTTP_STREAM);
	assert_int_equal(sg_transport_ndjson.wire, SG_WIRE_HTTP_STREAM);
	assert_int_equal(sg_transport_ws.wire, SG_WIRE_WEBSOCKET);
	assert_int_equal(sg_transport_longpoll.wire, SG_WIRE_HTTP_ONESHOT);
	assert_string_equal(sg_transport_chunked.content_type, "text/plain; charset=utf-8");
	assert_string_equal(sg_transport_sse.content_type, "text/event-stream");
	assert_string_equal(sg_transport_ndjson.content_type, "application/x-ndjson");
	assert_string_equal(sg_transport_longpoll.content_type, "application/json");
	assert_null(sg_transport_ws.content_type);
}

static void test_preludes(void **state)
{
	(void)state;
	sg_buf b = SG_BUF_INIT;
	sg_transport_opts none = {0}, retry = {.sse_retry_ms = 2500};
	assert_int_equal(sg_transport_sse.prelude(&b, &none), 0);
	assert_int_equal(b.len, 6);
	assert_string_equal(b.data, ": ok\n\n");
	sg_buf_reset(&b);
	assert_int_equal(sg_transport_sse.prelude(&b, &retry), 0);
	assert_string_equal(b.data, "retry: 2500\n\n: ok\n\n");
	const sg_transport *silent[] = {&sg_transport_chunked, &sg_transport_ws,
	                                &sg_transport_ndjson, &sg_transport_longpoll};
	for (size_t i = 0; i < 4; i++) {
		sg_buf_reset(&b);
		/* the shared empty prelude, which appends nothing */
		assert_ptr_equal(silent[i]->prelude, sg_transport_no_prelude);
		assert_int_equal(silent[i]->prelude(&b, &retry), 0);
		assert_int_equal(b.len, 0);
	}
	sg_buf_reset(&b);
	assert_int_equal(sg_buf_puts(&b, "kept"), 0);
	assert_int_equal(sg_transport_no_prelude(&b, &none), 0);
	assert_string_equal(b.data, "kept");
	sg_buf_free(&b);
}

static void test_heartbeats(void **state)
{
	(void)state;
	assert_string_equal(sg_transport_sse.heartbeat, ":\n\n");
	assert_string_equal(sg_transport_chunked.heartbeat, "\n");
	assert_string_equal(sg_transport_ndjson.heartbeat, "\n");
	assert_null(sg_transport_ws.heartbeat);
	assert_null(sg_transport_longpoll.heartbeat);
}

static void test_batch_markers(void **state)
{
	(void)state;
	assert_string_equal(sg_transport_longpoll.batch_open, "[");
	assert_string_equal(sg_transport_longpoll.batch_sep, ",");
	assert_string_equal(sg_transport_longpoll.batch_close, "]");
	const sg_transport *streaming[] = {&sg_transport_chunked, &sg_transport_sse,
	                                   &sg_transport_ws, &sg_transport_ndjson};
	for (size_t i = 0; i < 4; i++) {
		assert_null(streaming[i]->batch_open);
		assert_null(streaming[i]->batch_sep);
		assert_null(streaming[i]->batch_close);
	}
}

static void test_chunked_bytes(void **state)
{
	(void)state;
	RENDER(&sg_transport_chunked, "1-0", "e", "hello", "hello\n");
	RENDER(&sg_transport_chunked, NULL, NULL, "", "\n");
	/* id and event are not part of a plain body; newlines pass through */
	RENDER(&sg_transport_chunked, "9-0", "ev", "a\nb", "a\nb\n");
	RENDER(&sg_transport_chunked, NULL, NULL, "\xff\x00z", "\xff\x00z\n");
}

static void test_sse_fields(void **state)
{
	(void)state;
	RENDER(&sg_transport_sse, "1-0", "e", "a\nb", "id: 1-0\nevent: e\ndata: a\ndata: b\n\n");
	RENDER(&sg_transport_sse, "1-0", NULL, "hello", "id: 1-0\ndata: hello\n\n");
	RENDER(&sg_transport_sse, NULL, "e", "hello", "event: e\ndata: hello\n\n");
	RENDER(&sg_transport_sse, NULL, NULL, "hello", "data: hello\n\n");
	RENDER(&sg_transport_sse, NULL, NULL, "", "data: \n\n");
	RENDER(&sg_transport_sse, "12-3", "e", "", "id: 12-3\nevent: e\ndata: \n\n");
}

static void test_sse_line_endings(void **state)
{
	(void)state;
	RENDER(&sg_transport_sse, NULL, NULL, "a\r\nb", "data: a\ndata: b\n\n");
	RENDER(&sg_transport_sse, NULL, NULL, "a\rb", "data: a\ndata: b\n\n");
	RENDER(&sg_transport_sse, NULL, NULL, "a\n\nb", "data: a\ndata: \ndata: b\n\n");
	RENDER(&sg_transport_sse, NULL, NULL, "a\r\rb", "data: a\ndata: \ndata: b\n\n");
	/* CR then CRLF: two line ends, not three */
	RENDER(&sg_transport_sse, NULL, NULL, "a\r\r\nb", "data: a\ndata: \ndata: b\n\n");
	/* LF then CR: two line ends (only CR LF is one) */
	RENDER(&sg_transport_sse, NULL, NULL, "a\n\rb", "data: a\ndata: \ndata: b\n\n");
	/* a trailing line end keeps an empty last line, so the client gets it */
	RENDER(&sg_transport_sse, NULL, NULL, "a\n", "data: a\ndata: \n\n");
	RENDER(&sg_transport_sse, NULL, NULL, "a\r", "data: a\ndata: \n\n");
	RENDER(&sg_transport_sse, NULL, NULL, "a\r\n", "data: a\ndata: \n\n");
	RENDER(&sg_transport_sse, NULL, NULL, "\n", "data: \ndata: \n\n");
	RENDER(&sg_transport_sse, NULL, NULL, "\r\n", "data: \ndata: \n\n");
	RENDER(&sg_transport_sse, "3-0", "e", "x\ry\r\nz\n",
	       "id: 3-0\nevent: e\ndata: x\ndata: y\ndata: z\ndata: \n\n");
}

static void test_ws_payload(void **state)
{
	(void)state;
	RENDER(&sg_transport_ws, "1-0", "e", "hello", "hello");
	RENDER(&sg_transport_ws, NULL, NULL, "a\nb\r\n", "a\nb\r\n");
	RENDER(&sg_transport_ws, NULL, NULL, "", "");
	RENDER(&sg_transport_ws, NULL, NULL, "\xc3\xa9", "\xc3\xa9");
}

static void test_ndjson_bytes(void **state)
{
	(void)state;
	RENDER(&sg_transport_ndjson, "1-0", NULL, "hello",
	       "{\"channel\":\"news\",\"id\":\"1-0\",\"event\":null,\"data\":\"hello\"}\n");
	RENDER(&sg_transport_ndjson, "2-0", "up", "a\nb",
	       "{\"channel\":\"news\",\"id\":\"2-0\",\"event\":\"up\",\"data\":\"a\\nb\"}\n");
	RENDER(&sg_transport_ndjson, NULL, NULL, "",
	       "{\"channel\":\"news\",\"id\":null,\"event\":null,\"data\":\"\"}\n");
}

static void test_longpoll_bytes(void **state)
{
	(void)state;
	RENDER(&sg_transport_longpoll, "1-0", NULL, "hello",
	       "{\"channel\":\"news\",\"id\":\"1-0\",\"event\":null,\"data\":\"hello\"}");
	RENDER(&sg_transport_longpoll, "2-0", "up", "\"q\"",
	       "{\"channel\":\"news\",\"id\":\"2-0\",\"event\":\"up\",\"data\":\"\\\"q\\\"\"}");
}

/* The envelopes the tagged tests expect, for news / 1-0 / up. */
#define ENV_UP "{\"channel\":\"news\",\"id\":\"1-0\",\"event\":\"up\",\"data\":\"a\\nb\"}"
#define ENV_BARE "{\"channel\":\"news\",\"id\":null,\"event\":null,\"data\":\"x\"}"

static void test_tagged_bytes(void **state)
{
	(void)state;
	/* chunked: one envelope a line, as ndjson */
	RENDER_TAGGED(&sg_transport_chunked, "1-0", "up", "a\nb", ENV_UP "\n");
	RENDER_TAGGED(&sg_transport_chunked, NULL, NULL, "x", ENV_BARE "\n");
	/* sse: the id line, the envelope as the one data line, and no event line:
	 * the envelope carries it, so every message reaches onmessage */
	RENDER_TAGGED(&sg_transport_sse, "1-0", "up", "a\nb",
	              "id: 1-0\ndata: " ENV_UP "\n\n");
	RENDER_TAGGED(&sg_transport_sse, NULL, NULL, "x", "data: " ENV_BARE "\n\n");
	/* ws: the envelope is the text message */
	RENDER_TAGGED(&sg_transport_ws, "1-0", "up", "a\nb", ENV_UP);
	RENDER_TAGGED(&sg_transport_ws, NULL, NULL, "x", ENV_BARE);
	/* ndjson and long-poll always name the channel: no change */
	RENDER_TAGGED(&sg_transport_ndjson, "1-0", "up", "a\nb", ENV_UP "\n");
	RENDER_TAGGED(&sg_transport_longpoll, "1-0", "up", "a\nb", ENV_UP);
	RENDER_TAGGED(&sg_transport_longpoll, NULL, NULL, "x", ENV_BARE);
}

/* The control frame of t for kind and json (tagged or not) is want, or
 * NULL when want is NULL. */
static void assert_control(const sg_transport *t, int tagged, const char *kind, const char *json,
                           const char *want)
{
	long frames = sg_frame_live();
	sg_frame *f = t->control(kind, json, tagged);
	if (!want) {
		assert_null(f);
		assert_int_equal(sg_frame_live(), frames);
		return;
	}
	assert_non_null(f);
	assert_int_equal(atomic_load(&f->refs), 1);
	assert_int_equal(f->len, strlen(want));
	assert_memory_equal(sg_frame_data(f), want, f->len);
	sg_frame_unref(f);
	assert_int_equal(sg_frame_live(), frames);
}

static void test_control_bytes(void **state)
{
	(void)state;
	const char *gap = "{\"type\":\"gap\",\"channel\":\"a\",\"last_event_id\":\"5-0\","
	                  "\"first_id\":null,\"reason\":\"evicted\"}";
	char want[256];
	for (int tagged = 0; tagged <= 1; tagged++) {
		/* sse: an event named sg.KIND and no id, so Last-Event-ID stays */
		snprintf(want, sizeof(want), "event: sg.gap\ndata: %s\n\n", gap);
		assert_control(&sg_transport_sse, tagged, "gap", gap, want);
		assert_control(&sg_transport_sse, tagged, "error", "{}",
		               "event: sg.error\ndata: {}\n\n");
		/* ws: the JSON is the text message */
		assert_control(&sg_transport_ws, tagged, "gap", gap, gap);
		/* ndjson: one more line */
		snprintf(want, sizeof(want), "%s\n", gap);
		assert_control(&sg_transport_ndjson, tagged, "gap", gap, want);
		/* long-poll: one more element of the array (no separator: the
		 * batch puts it between elements) */
		assert_control(&sg_transport_longpoll, tagged, "gap", gap, gap);
	}
	/* chunked: only a tagged body is JSON lines; a plain one is data */
	snprintf(want, sizeof(want), "%s\n", gap);
	assert_control(&sg_transport_chunked, 0, "gap", gap, NULL);
	assert_control(&sg_transport_chunked, 1, "gap", gap, want);
	assert_control(&sg_transport_chunked, 1, "subscribed", "{\"type\":\"subscribed\"}",
	               "{\"type\":\"subscribed\"}\n");
}

static void test_json_render_refuses_binary(void **state)
{
	(void)state;
	long frames = sg_frame_live();
	sg_msg *m = sg_msg_new("news", (sg_id){1, 0}, "1-0", NULL, "\x80", 1, 0);
	assert_null(sg_transport_ndjson.render(m, 0));
	assert_null(sg_transport_longpoll.render(m, 0));
	/* tagged, every transport needs the envelope */
	assert_null(sg_transport_chunked.render(m, 1));
	assert_null(sg_transport_sse.render(m, 1));
	assert_null(sg_transport_ws.render(m, 1));
	assert_null(sg_transport_ndjson.render(m, 1));
	assert_null(sg_transport_longpoll.render(m, 1));
	sg_msg_unref(m);
	assert_int_equal(sg_frame_live(), frames);
}

/* Negotiates and expects transport `want` (by name). */
static void negotiate_ok(const char *forced, const char *accept, int upgrade, const char *want)
{
	sg_negotiation n = {.forced = forced, .accept = accept, .ws_upgrade = upgrade};
	const sg_transport *t = NULL;
	const char *why = NULL;
	assert_int_equal(sg_transport_negotiate(&n, &t, &why), 0);
	assert_non_null(t);
	assert_string_equal(t->name, want);
	assert_null(why);
}

static void negotiate_fails(const char *forced, const char *accept, int upgrade,
                            const char *want_why)
{
	sg_negotiation n = {.forced = forced, .accept = accept, .ws_upgrade = upgrade};
	const sg_transport *t = &sg_transport_chunked;
	const char *why = NULL;
	assert_int_equal(sg_transport_negotiate(&n, &t, &why), SG_EINVAL);
	assert_null(t);
	assert_non_null(why);
	assert_string_equal(why, want_why);
}

static void test_negotiate_by_request(void **state)
{
	(void)state;
	negotiate_ok(NULL, NULL, 1, "ws");
	negotiate_ok(NULL, "text/event-stream", 1, "ws"); /* the upgrade wins */
	negotiate_ok(NULL, "text/event-stream", 0, "sse");
	negotiate_ok(NULL, "text/html, text/event-stream;q=0.9", 0, "sse");
	negotiate_ok(NULL, NULL, 0, "chunked");
	negotiate_ok(NULL, "*/*", 0, "chunked");
	negotiate_ok(NULL, "application/json", 0, "chunked");
	negotiate_ok("", "text/event-stream", 0, "sse"); /* empty ?transport= is no choice */
}

static void test_negotiate_forced(void **state)
{
	(void)state;
	negotiate_ok("chunked", "text/event-stream", 0, "chunked");
	negotiate_ok("sse", NULL, 0, "sse");
	negotiate_ok("ndjson", NULL, 0, "ndjson");
	negotiate_ok("longpoll", "text/event-stream", 0, "longpoll");
	negotiate_ok("ws", NULL, 1, "ws");
}

static void test_negotiate_errors(void **state)
{
	(void)state;
	negotiate_fails("carrier-pigeon", NULL, 0,
	                "unknown transport; use one of: chunked, sse, ws, longpoll, ndjson");
	negotiate_fails("SSE", NULL, 0,
	                "unknown transport; use one of: chunked, sse, ws, longpoll, ndjson");
	negotiate_fails("ws", "text/event-stream", 0,
	                "transport=ws needs a WebSocket upgrade request");
	negotiate_fails("sse", NULL, 1, "a WebSocket upgrade can only use transport=ws");
	negotiate_fails("longpoll", NULL, 1, "a WebSocket upgrade can only use transport=ws");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tables),
	    cmocka_unit_test(test_preludes),
	    cmocka_unit_test(test_heartbeats),
	    cmocka_unit_test(test_batch_markers),
	    cmocka_unit_test(test_chunked_bytes),
	    cmocka_unit_test(test_sse_fields),
	    cmocka_unit_test(test_sse_line_endings),
	    cmocka_unit_test(test_ws_payload),
	    cmocka_unit_test(test_ndjson_bytes),
	    cmocka_unit_test(test_longpoll_bytes),
	    cmocka_unit_test(test_tagged_bytes),
	    cmocka_unit_test(test_control_bytes),
	    cmocka_unit_test(test_json_render_refuses_binary),
	    cmocka_unit_test(test_negotiate_by_request),
	    cmocka_unit_test(test_negotiate_forced),
	    cmocka_unit_test(test_negotiate_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
