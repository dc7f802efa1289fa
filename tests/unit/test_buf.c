/*
 * test_buf — the growable byte buffer: appends keep a NUL after the bytes,
 * capacity starts at 64 and doubles, reset keeps the memory, free is
 * idempotent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "streamgate.h"

static void test_init_is_empty(void **state)
{
	(void)state;
	sg_buf b = SG_BUF_INIT;
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
	/* reserving nothing on an empty buffer allocates nothing */
	assert_int_equal(sg_buf_reserve(&b, 0), 0);
	assert_null(b.data);
	assert_int_equal(b.cap, 0);
	sg_buf_reset(&b);
	assert_null(b.data);
	sg_buf_free(&b);
}

static void test_append_and_puts(void **state)
{
	(void)state;
	sg_buf b = SG_BUF_INIT;
	assert_int_equal(sg_buf_append(&b, "abc", 3), 0);
	assert_int_equal(b.len, 3);
	assert_int_equal(b.cap, 64);
	assert_memory_equal(b.data, "abc\0", 4);
	assert_int_equal(sg_buf_puts(&b, "def"), 0);
	assert_int_equal(b.len, 6);
	assert_string_equal(b.data, "abcdef");
	assert_int_equal(sg_buf_puts(&b, ""), 0);
	assert_int_equal(b.len, 6);
	sg_buf_free(&b);
}

static void test_append_nothing_terminates(void **state)
{
	(void)state;
	sg_buf b = SG_BUF_INIT;
	assert_int_equal(sg_buf_append(&b, NULL, 0), 0);
	assert_non_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 64);
	assert_string_equal(b.data, "");
	sg_buf_free(&b);
}

static void test_binary_bytes(void **state)
{
	(void)state;
	sg_buf b = SG_BUF_INIT;
	assert_int_equal(sg_buf_append(&b, "a\0b\xff", 4), 0);
	assert_int_equal(b.len, 4);
	assert_memory_equal(b.data, "a\0b\xff\0", 5);
	sg_buf_free(&b);
}

static void test_growth_doubles(void **state)
{
	(void)state;
	char big[300];
	memset(big, 'x', sizeof(big));
	sg_buf b = SG_BUF_INIT;
	assert_int_equal(sg_buf_append(&b, big, 63), 0); /* 63 + NUL fits 64 */
	assert_int_equal(b.cap, 64);
	assert_int_equal(sg_buf_append(&b, big, 1), 0); /* 64 + NUL does not */
	assert_int_equal(b.cap, 128);
	assert_int_equal(b.len, 64);
	assert_int_equal(sg_buf_append(&b, big, 200), 0); /* 264 + NUL */
	assert_int_equal(b.cap, 512);
	assert_int_equal(b.len, 264);
	assert_int_equal(b.data[264], '\0');
	for (size_t i = 0; i < 264; i++)
		assert_int_equal(b.data[i], 'x');
	/* reserve says yes without growing when room is left */
	assert_int_equal(sg_buf_reserve(&b, 512 - 264), 0);
	assert_int_equal(b.cap, 512);
	assert_int_equal(sg_buf_reserve(&b, 512 - 264 + 1), 0);
	assert_int_equal(b.cap, 1024);
	sg_buf_free(&b);
}

static void test_printf(void **state)
{
	(void)state;
	sg_buf b = SG_BUF_INIT;
	assert_int_equal(sg_buf_puts(&b, "id: "), 0);
	assert_int_equal(sg_buf_printf(&b, "%d-%s-%zu", 42, "x", (size_t)7), 0);
	assert_int_equal(b.len, 10);
	assert_string_equal(b.data, "id: 42-x-7");
	assert_int_equal(sg_buf_printf(&b, "%s", ""), 0);
	assert_int_equal(b.len, 10);
	assert_string_equal(b.data, "id: 42-x-7");
	sg_buf_free(&b);
}

static void test_printf_grows(void **state)
{
	(void)state;
	sg_buf b = SG_BUF_INIT;
	assert_int_equal(sg_buf_printf(&b, "%0200d", 5), 0);
	assert_int_equal(b.len, 200);
	assert_int_equal(b.cap, 256);
	assert_int_equal(b.data[0], '0');
	assert_int_equal(b.data[198], '0');
	assert_int_equal(b.data[199], '5');
	assert_int_equal(b.data[200], '\0');
	sg_buf_free(&b);
}

static void test_reset_keeps_memory(void **state)
{
	(void)state;
	sg_buf b = SG_BUF_INIT;
	assert_int_equal(sg_buf_puts(&b, "something"), 0);
	char *mem = b.data;
	sg_buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 64);
	assert_ptr_equal(b.data, mem);
	assert_string_equal(b.data, "");
	assert_int_equal(sg_buf_puts(&b, "new"), 0);
	assert_string_equal(b.data, "new");
	sg_buf_free(&b);
}

static void test_free_twice(void **state)
{
	(void)state;
	sg_buf b = SG_BUF_INIT;
	assert_int_equal(sg_buf_puts(&b, "x"), 0);
	sg_buf_free(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
	sg_buf_free(&b);
	assert_null(b.data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_init_is_empty),
	    cmocka_unit_test(test_append_and_puts),
	    cmocka_unit_test(test_append_nothing_terminates),
	    cmocka_unit_test(test_binary_bytes),
	    cmocka_unit_test(test_growth_doubles),
	    cmocka_unit_test(test_printf),
	    cmocka_unit_test(test_printf_grows),
	    cmocka_unit_test(test_reset_keeps_memory),
	    cmocka_unit_test(test_free_twice),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
