/*
 * test_message — messages and frames: fields are copied, refcounts free at
 * zero, each transport renders a message once plain and once tagged with
 * its channel, and the cached frame is the one every later caller gets. Live counters must return
 * to their baseline.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/frame.h"
#include "core/message.h"
#include "core/transport.h"

static const sg_transport *const all_transports[] = {
    &sg_transport_chunked, &sg_transport_sse,      &sg_transport_ws,
    &sg_transport_ndjson,  &sg_transport_longpoll,
};
#define NTRANSPORTS (sizeof(all_transports) / sizeof(all_transports[0]))

static void assert_frame_bytes(sg_frame *f, const char *want)
{
	assert_non_null(f);
	assert_int_equal(f->len, strlen(want));
	assert_memory_equal(sg_frame_data(f), want, f->len);
}

static void test_frame_layout(void **state)
{
	(void)state;
	long base = sg_frame_live();
	sg_frame *f = sg_frame_new(5);
	assert_non_null(f);
	assert_int_equal(f->len, 5);
	assert_int_equal(atomic_load(&f->refs), 1);
	assert_ptr_equal(sg_frame_data(f), f->mem + SG_FRAME_HEADROOM);
	assert_int_equal(sg_frame_live(), base + 1);
	/* headroom and tailroom are writable without touching the payload */
	memset(f->mem, 'h', SG_FRAME_HEADROOM);
	memcpy(sg_frame_data(f), "hello", 5);
	memset(sg_frame_data(f) + 5, 't', SG_FRAME_TAILROOM);
	assert_memory_equal(sg_frame_data(f), "hello", 5);
	sg_frame_unref(f);
	assert_int_equal(sg_frame_live(), base);
}

static void test_frame_copy_and_refs(void **state)
{
	(void)state;
	long base = sg_frame_live();
	sg_frame *f = sg_frame_copy("abc", 3);
	assert_frame_bytes(f, "abc");
	assert_ptr_equal(sg_frame_ref(f), f);
	assert_int_equal(atomic_load(&f->refs), 2);
	sg_frame_unref(f);
	assert_int_equal(atomic_load(&f->refs), 1);
	assert_int_equal(sg_frame_live(), base + 1);
	sg_frame_unref(f);
	assert_int_equal(sg_frame_live(), base);

	sg_frame *empty = sg_frame_copy(NULL, 0);
	assert_non_null(empty);
	assert_int_equal(empty->len, 0);
	sg_frame_unref(empty);
	sg_frame_unref(NULL);
	assert_int_equal(sg_frame_live(), base);
}

static void test_msg_copies_fields(void **state)
{
	(void)state;
	long base = sg_msg_live();
	char channel[] = "news", id[] = "1000-7", event[] = "update", data[] = "a\0b";
	sg_msg *m = sg_msg_new(channel, (sg_id){1000, 7}, id, event, data, 3, 1234);
	assert_non_null(m);
	assert_int_equal(sg_msg_live(), base + 1);
	assert_int_equal(atomic_load(&m->refs), 1);
	assert_int_equal(m->pos.ms, 1000);
	assert_int_equal(m->pos.seq, 7);
	assert_int_equal(m->time_ms, 1234);
	assert_true(m->channel != channel);
	assert_true(m->id != id);
	assert_true(m->event != event);
	assert_true(m->data != data);
	/* the caller's buffers may change afterwards */
	memcpy(channel, "XXXX", 4);
	memcpy(data, "zzz", 3);
	assert_string_equal(m->channel, "news");
	assert_string_equal(m->id, "1000-7");
	assert_string_equal(m->event, "update");
	assert_int_equal(m->len, 3);
	assert_memory_equal(m->data, "a\0b\0", 4);
	for (int i = 0; i < SG_RENDER_SLOTS; i++)
		assert_null(m->frames[i]);
	sg_msg_unref(m);
	assert_int_equal(sg_msg_live(), base);
}

static void test_msg_null_fields(void **state)
{
	(void)state;
	long base = sg_msg_live();
	sg_msg *m = sg_msg_new(NULL, (sg_id){0, 0}, NULL, NULL, NULL, 0, 0);
	assert_non_null(m);
	assert_true(sg_id_is_zero(m->pos));
	assert_string_equal(m->channel, "");
	assert_null(m->id);
	assert_null(m->event);
	assert_non_null(m->data);
	assert_int_equal(m->len, 0);
	assert_string_equal(m->data, "");
	sg_msg_unref(m);
	sg_msg_unref(NULL);
	assert_int_equal(sg_msg_live(), base);
}

static void test_msg_refcount(void **state)
{
	(void)state;
	long base = sg_msg_live();
	sg_msg *m = sg_msg_new("c", (sg_id){1, 0}, "1-0", NULL, "x", 1, 0);
	assert_ptr_equal(sg_msg_ref(m), m);
	assert_ptr_equal(sg_msg_ref(m), m);
	assert_int_equal(atomic_load(&m->refs), 3);
	sg_msg_unref(m);
	sg_msg_unref(m);
	assert_int_equal(atomic_load(&m->refs), 1);
	assert_int_equal(sg_msg_live(), base + 1);
	sg_msg_unref(m);
	assert_int_equal(sg_msg_live(), base);
}

#define ENVELOPE "{\"channel\":\"news\",\"id\":\"1-0\",\"event\":null,\"data\":\"hello\"}"

static void test_frame_rendered_once_per_transport(void **state)
{
	(void)state;
	long msgs = sg_msg_live(), frames = sg_frame_live();
	sg_msg *m = sg_msg_new("news", (sg_id){1, 0}, "1-0", NULL, "hello", 5, 0);
	sg_frame *first[NTRANSPORTS][2];
	long made = 0;
	for (int tagged = 0; tagged <= 1; tagged++)
		for (size_t i = 0; i < NTRANSPORTS; i++) {
			const sg_transport *t = all_transports[i];
			first[i][tagged] = sg_msg_frame(m, t, tagged);
			assert_non_null(first[i][tagged]);
			/* plain and tagged each have a slot of their own */
			assert_true(t->slot * 2 + 1 < SG_RENDER_SLOTS);
			assert_ptr_equal(m->frames[t->slot * 2 + tagged], first[i][tagged]);
			assert_int_equal(sg_frame_live(), frames + ++made);
		}
	/* asking again renders nothing and hands back the same frame */
	for (int tagged = 0; tagged <= 1; tagged++)
		for (size_t i = 0; i < NTRANSPORTS; i++) {
			assert_ptr_equal(sg_msg_frame(m, all_transports[i], tagged),
			                 first[i][tagged]);
			assert_int_equal(atomic_load(&first[i][tagged]->refs), 1);
			assert_true(first[i][0] != first[i][1]);
		}
	assert_int_equal(sg_frame_live(), frames + 2 * (long)NTRANSPORTS);
	assert_frame_bytes(sg_msg_frame(m, &sg_transport_chunked, 0), "hello\n");
	assert_frame_bytes(sg_msg_frame(m, &sg_transport_sse, 0), "id: 1-0\ndata: hello\n\n");
	assert_frame_bytes(sg_msg_frame(m, &sg_transport_ws, 0), "hello");
	assert_frame_bytes(sg_msg_frame(m, &sg_transport_ndjson, 0), ENVELOPE "\n");
	assert_frame_bytes(sg_msg_frame(m, &sg_transport_longpoll, 0), ENVELOPE);
	assert_frame_bytes(sg_msg_frame(m, &sg_transport_chunked, 1), ENVELOPE "\n");
	assert_frame_bytes(sg_msg_frame(m, &sg_transport_sse, 1),
	                   "id: 1-0\ndata: " ENVELOPE "\n\n");
	assert_frame_bytes(sg_msg_frame(m, &sg_transport_ws, 1), ENVELOPE);
	assert_frame_bytes(sg_msg_frame(m, &sg_transport_ndjson, 1), ENVELOPE "\n");
	assert_frame_bytes(sg_msg_frame(m, &sg_transport_longpoll, 1), ENVELOPE);
	/* unused slots stay empty */
	int used = 0;
	for (int i = 0; i < SG_RENDER_SLOTS; i++)
		used += m->frames[i] != NULL;
	assert_int_equal(used, 2 * (int)NTRANSPORTS);
	sg_msg_unref(m);
	assert_int_equal(sg_msg_live(), msgs);
	assert_int_equal(sg_frame_live(), frames);
}

static void test_frame_outlives_message(void **state)
{
	(void)state;
	long msgs = sg_msg_live(), frames = sg_frame_live();
	sg_msg *m = sg_msg_new("c", (sg_id){3, 0}, "3-0", "e", "payload", 7, 0);
	sg_frame *f = sg_frame_ref(sg_msg_frame(m, &sg_transport_ws, 0));
	assert_int_equal(atomic_load(&f->refs), 2);
	sg_msg_unref(m);
	assert_int_equal(sg_msg_live(), msgs);
	assert_int_equal(sg_frame_live(), frames + 1);
	assert_int_equal(atomic_load(&f->refs), 1);
	assert_frame_bytes(f, "payload");
	sg_frame_unref(f);
	assert_int_equal(sg_frame_live(), frames);
}

static void test_render_failure_is_null(void **state)
{
	(void)state;
	long msgs = sg_msg_live(), frames = sg_frame_live();
	/* JSON envelopes need UTF-8 text; these bytes are not */
	sg_msg *m = sg_msg_new("c", (sg_id){1, 0}, "1-0", NULL, "\xff\xfe", 2, 0);
	assert_null(sg_msg_frame(m, &sg_transport_ndjson, 0));
	assert_null(sg_msg_frame(m, &sg_transport_longpoll, 0));
	/* nor can any transport tag it with its channel */
	for (size_t i = 0; i < NTRANSPORTS; i++)
		assert_null(sg_msg_frame(m, all_transports[i], 1));
	assert_int_equal(sg_frame_live(), frames);
	/* the byte transports still render it plain */
	assert_frame_bytes(sg_msg_frame(m, &sg_transport_chunked, 0), "\xff\xfe\n");
	assert_frame_bytes(sg_msg_frame(m, &sg_transport_ws, 0), "\xff\xfe");
	sg_msg_unref(m);
	assert_int_equal(sg_msg_live(), msgs);
	assert_int_equal(sg_frame_live(), frames);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_frame_layout),
	    cmocka_unit_test(test_frame_copy_and_refs),
	    cmocka_unit_test(test_msg_copies_fields),
	    cmocka_unit_test(test_msg_null_fields),
	    cmocka_unit_test(test_msg_refcount),
	    cmocka_unit_test(test_frame_rendered_once_per_transport),
	    cmocka_unit_test(test_frame_outlives_message),
	    cmocka_unit_test(test_render_failure_is_null),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
