/*
 * test_utf8 — the strict UTF-8 validator: every well-formed length, and each
 * way RFC 3629 says bytes are ill-formed (overlongs, surrogates, code points
 * above U+10FFFF, truncated and stray continuation bytes).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/utf8.h"

#define VALID(lit) sg_utf8_valid(lit, sizeof(lit) - 1)

static void test_empty_and_ascii(void **state)
{
	(void)state;
	assert_int_equal(sg_utf8_valid(NULL, 0), 1);
	assert_int_equal(sg_utf8_valid("", 0), 1);
	assert_int_equal(VALID("hello, world"), 1);
	assert_int_equal(VALID("\x7f"), 1);
	/* NUL is a valid code point; the length, not a terminator, bounds it */
	assert_int_equal(VALID("a\0b"), 1);
}

static void test_two_three_four_byte(void **state)
{
	(void)state;
	assert_int_equal(VALID("\xc2\x80"), 1);         /* U+0080, lowest 2-byte */
	assert_int_equal(VALID("\xc3\xa9"), 1);         /* é */
	assert_int_equal(VALID("\xdf\xbf"), 1);         /* U+07FF */
	assert_int_equal(VALID("\xe0\xa0\x80"), 1);     /* U+0800, lowest 3-byte */
	assert_int_equal(VALID("\xe2\x82\xac"), 1);     /* € */
	assert_int_equal(VALID("\xed\x9f\xbf"), 1);     /* U+D7FF, just below surrogates */
	assert_int_equal(VALID("\xee\x80\x80"), 1);     /* U+E000, just above */
	assert_int_equal(VALID("\xef\xbf\xbf"), 1);     /* U+FFFF */
	assert_int_equal(VALID("\xf0\x90\x80\x80"), 1); /* U+10000, lowest 4-byte */
	assert_int_equal(VALID("\xf0\x9f\x98\x80"), 1); /* 😀 */
	assert_int_equal(VALID("\xf4\x8f\xbf\xbf"), 1); /* U+10FFFF, the last */
	assert_int_equal(VALID("a\xc3\xa9z\xe2\x82\xac\xf0\x9f\x98\x80!"), 1);
}

static void test_overlong(void **state)
{
	(void)state;
	assert_int_equal(VALID("\xc0\x80"), 0);         /* NUL in two bytes */
	assert_int_equal(VALID("\xc0\xaf"), 0);         /* '/' in two bytes */
	assert_int_equal(VALID("\xc1\xbf"), 0);         /* U+007F in two bytes */
	assert_int_equal(VALID("\xe0\x80\xaf"), 0);     /* '/' in three bytes */
	assert_int_equal(VALID("\xe0\x9f\xbf"), 0);     /* U+07FF in three bytes */
	assert_int_equal(VALID("\xf0\x80\x80\xaf"), 0); /* '/' in four bytes */
	assert_int_equal(VALID("\xf0\x8f\xbf\xbf"), 0); /* U+FFFF in four bytes */
}

static void test_surrogates(void **state)
{
	(void)state;
	assert_int_equal(VALID("\xed\xa0\x80"), 0); /* U+D800 */
	assert_int_equal(VALID("\xed\xaf\xbf"), 0); /* U+DBFF */
	assert_int_equal(VALID("\xed\xb0\x80"), 0); /* U+DC00 */
	assert_int_equal(VALID("\xed\xbf\xbf"), 0); /* U+DFFF */
	/* a CESU-8 pair for U+10000 */
	assert_int_equal(VALID("\xed\xa0\x80\xed\xb0\x80"), 0);
}

static void test_above_max(void **state)
{
	(void)state;
	assert_int_equal(VALID("\xf4\x90\x80\x80"), 0); /* U+110000 */
	assert_int_equal(VALID("\xf5\x80\x80\x80"), 0);
	assert_int_equal(VALID("\xf7\xbf\xbf\xbf"), 0);
	assert_int_equal(VALID("\xf8\x88\x80\x80\x80"), 0); /* old 5-byte form */
	assert_int_equal(VALID("\xfc\x84\x80\x80\x80\x80"), 0);
	assert_int_equal(VALID("\xfe"), 0);
	assert_int_equal(VALID("\xff"), 0);
}

static void test_truncated_at_end(void **state)
{
	(void)state;
	assert_int_equal(VALID("\xc3"), 0);
	assert_int_equal(VALID("abc\xc3"), 0);
	assert_int_equal(VALID("\xe2\x82"), 0);
	assert_int_equal(VALID("\xe2"), 0);
	assert_int_equal(VALID("\xf0\x9f\x98"), 0);
	assert_int_equal(VALID("\xf0\x9f"), 0);
	assert_int_equal(VALID("\xf0"), 0);
	/* the length cuts a valid sequence short */
	assert_int_equal(sg_utf8_valid("\xe2\x82\xac", 2), 0);
	assert_int_equal(sg_utf8_valid("\xf0\x9f\x98\x80", 3), 0);
	assert_int_equal(sg_utf8_valid("\xf0\x9f\x98\x80", 4), 1);
}

static void test_truncated_inside(void **state)
{
	(void)state;
	/* a lead byte followed by something that is not a continuation */
	assert_int_equal(VALID("\xc3z"), 0);
	assert_int_equal(VALID("\xe2\x82z"), 0);
	assert_int_equal(VALID("\xf0\x9f\x98z"), 0);
	assert_int_equal(VALID("\xe2\xc3\xa9"), 0);
	assert_int_equal(VALID("\xc3\xc3\xa9"), 0);
}

static void test_lone_continuation(void **state)
{
	(void)state;
	assert_int_equal(VALID("\x80"), 0);
	assert_int_equal(VALID("\xbf"), 0);
	assert_int_equal(VALID("a\x80z"), 0);
	assert_int_equal(VALID("\xc3\xa9\xa9"), 0); /* one continuation too many */
	assert_int_equal(VALID("\xe2\x82\xac\x80"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty_and_ascii),  cmocka_unit_test(test_two_three_four_byte),
	    cmocka_unit_test(test_overlong),         cmocka_unit_test(test_surrogates),
	    cmocka_unit_test(test_above_max),        cmocka_unit_test(test_truncated_at_end),
	    cmocka_unit_test(test_truncated_inside), cmocka_unit_test(test_lone_continuation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
