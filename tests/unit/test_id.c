/*
 * test_id — message ids "MS-SEQ": parsing every malformed text a client can
 * send (SG_EBADID, never a crash, however long), printing and the round
 * trip, ordering, and minting the next id within a millisecond, in a later
 * one, when the clock went backwards and when the counter is full.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/id.h"
#include "streamgate.h"

/* Parses text, expects success and the id {ms, seq}. */
static void parse_ok(const char *text, uint64_t ms, uint64_t seq)
{
	sg_id id = {7, 7};
	assert_int_equal(sg_id_parse(text, &id), 0);
	assert_true(id.ms == ms);
	assert_true(id.seq == seq);
}

/* The text form of id. */
static const char *fmt(sg_id id, char *out)
{
	memset(out, 'z', SG_ID_TEXT_MAX);
	sg_id_format(id, out);
	return out;
}

static void test_parse_valid(void **state)
{
	(void)state;
	parse_ok("0", 0, 0);
	parse_ok("0-0", 0, 0);
	parse_ok("1-0", 1, 0);
	parse_ok("0-1", 0, 1);
	parse_ok("1700000000000-42", 1700000000000ULL, 42);
	parse_ok("18446744073709551615-18446744073709551615", UINT64_MAX, UINT64_MAX);
	parse_ok("18446744073709551615-0", UINT64_MAX, 0);
	/* leading zeros are digits like any other, up to 20 of them */
	parse_ok("007-010", 7, 10);
	parse_ok("00000000000000000001-00000000000000000002", 1, 2);
	assert_int_equal(sg_id_is_zero((sg_id){0, 0}), 1);
	assert_int_equal(sg_id_is_zero((sg_id){0, 1}), 0);
	assert_int_equal(sg_id_is_zero((sg_id){1, 0}), 0);
}

static void test_parse_malformed(void **state)
{
	(void)state;
	const char *bad[] = {/* overflow, one past UINT64_MAX in either part */
	                     "18446744073709551616-0", "0-18446744073709551616",
	                     "99999999999999999999-0",
	                     /* 21 digits, even when the value would fit */
	                     "000000000000000000001-0", "1-000000000000000000001",
	                     /* no dash, or the old plain numbers */
	                     "1", "42", "00", "18446744073709551615",
	                     /* empty parts */
	                     "", "-", "1-", "-1", "-0",
	                     /* signs */
	                     "+1-0", "1-+0", "-1-0", "1--0", "1-0-", "1-2-3",
	                     /* spaces anywhere */
	                     " 1-0", "1-0 ", "1 -0", "1- 0", " 0", "0 ",
	                     /* anything else that is not a decimal digit */
	                     "0x1-0", "1-0x1", "1e3-0", "1.0-0", "a-b", "1-a", "\xef\xbc\x91-0",
	                     "1-0\n", "1_0", "0-", "00-", "1\t-0"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		sg_id id = {7, 7};
		assert_int_equal(sg_id_parse(bad[i], &id), SG_EBADID);
	}
	sg_id id;
	assert_int_equal(sg_id_parse(NULL, &id), SG_EBADID);
}

static void test_parse_huge(void **state)
{
	(void)state;
	enum { N = 1 << 20 };
	char *s = malloc(N + 1);
	assert_non_null(s);
	sg_id id;
	/* a megabyte of digits, with and without a dash in the middle or at
	 * either end */
	memset(s, '9', N);
	s[N] = '\0';
	assert_int_equal(sg_id_parse(s, &id), SG_EBADID);
	s[N / 2] = '-';
	assert_int_equal(sg_id_parse(s, &id), SG_EBADID);
	s[N / 2] = '9';
	s[1] = '-';
	assert_int_equal(sg_id_parse(s, &id), SG_EBADID);
	s[1] = '9';
	s[N - 2] = '-';
	assert_int_equal(sg_id_parse(s, &id), SG_EBADID);
	/* zeros only: small values, far too many digits */
	memset(s, '0', N);
	s[N / 2] = '-';
	assert_int_equal(sg_id_parse(s, &id), SG_EBADID);
	/* a megabyte of dashes */
	memset(s, '-', N);
	assert_int_equal(sg_id_parse(s, &id), SG_EBADID);
	free(s);
}

static void test_format(void **state)
{
	(void)state;
	char t[SG_ID_TEXT_MAX];
	assert_string_equal(fmt((sg_id){0, 0}, t), "0");
	assert_string_equal(fmt((sg_id){0, 1}, t), "0-1");
	assert_string_equal(fmt((sg_id){1, 0}, t), "1-0");
	assert_string_equal(fmt((sg_id){1700000000000ULL, 42}, t), "1700000000000-42");
	assert_string_equal(fmt((sg_id){UINT64_MAX, UINT64_MAX}, t),
	                    "18446744073709551615-18446744073709551615");
	/* the longest id and its NUL fill SG_ID_TEXT_MAX exactly */
	assert_int_equal(strlen(t) + 1, SG_ID_TEXT_MAX);
}

static void test_format_round_trip(void **state)
{
	(void)state;
	const sg_id ids[] = {{0, 0},
	                     {0, 1},
	                     {1, 0},
	                     {1000, 999},
	                     {UINT64_MAX, 0},
	                     {0, UINT64_MAX},
	                     {UINT64_MAX, 1},
	                     {UINT64_MAX, UINT64_MAX},
	                     {1700000000000ULL, 3}};
	char t[SG_ID_TEXT_MAX];
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		sg_id back = {7, 7};
		assert_int_equal(sg_id_parse(fmt(ids[i], t), &back), 0);
		assert_int_equal(sg_id_cmp(back, ids[i]), 0);
	}
	/* and text to id to text, for canonical texts */
	const char *texts[] = {"0", "5-0", "5-5", "18446744073709551615-18446744073709551615"};
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		sg_id id;
		assert_int_equal(sg_id_parse(texts[i], &id), 0);
		assert_string_equal(fmt(id, t), texts[i]);
	}
	/* "0-0" and "007-1" are read, and printed canonically */
	sg_id id;
	assert_int_equal(sg_id_parse("0-0", &id), 0);
	assert_string_equal(fmt(id, t), "0");
	assert_int_equal(sg_id_parse("007-01", &id), 0);
	assert_string_equal(fmt(id, t), "7-1");
}

static void test_cmp(void **state)
{
	(void)state;
	/* in order, each before the next */
	const sg_id order[] = {{0, 0},
	                       {0, 1},
	                       {0, UINT64_MAX},
	                       {1, 0},
	                       {1, 1},
	                       {2, 0},
	                       {1000, 5},
	                       {1001, 0},
	                       {UINT64_MAX, 0},
	                       {UINT64_MAX, UINT64_MAX - 1},
	                       {UINT64_MAX, UINT64_MAX}};
	size_t n = sizeof(order) / sizeof(order[0]);
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++) {
			int c = sg_id_cmp(order[i], order[j]);
			if (i < j)
				assert_int_equal(c, -1);
			else if (i > j)
				assert_int_equal(c, 1);
			else
				assert_int_equal(c, 0);
		}
}

/* sg_id_next(last, now) is {ms, seq}. */
static void next_is(sg_id last, uint64_t now, uint64_t ms, uint64_t seq)
{
	sg_id n = sg_id_next(last, now);
	assert_true(n.ms == ms);
	assert_true(n.seq == seq);
	assert_int_equal(sg_id_cmp(n, last), 1); /* ids only grow */
}

static void test_next(void **state)
{
	(void)state;
	/* the same millisecond: the counter moves */
	next_is((sg_id){1000, 0}, 1000, 1000, 1);
	next_is((sg_id){1000, 41}, 1000, 1000, 42);
	/* a later millisecond: its first id */
	next_is((sg_id){1000, 41}, 1001, 1001, 0);
	next_is((sg_id){1000, 41}, 5000, 5000, 0);
	/* the clock went backwards: stay in the last millisecond */
	next_is((sg_id){1000, 41}, 999, 1000, 42);
	next_is((sg_id){1000, 41}, 0, 1000, 42);
	/* a full counter borrows the next millisecond */
	next_is((sg_id){1000, UINT64_MAX}, 1000, 1001, 0);
	next_is((sg_id){1000, UINT64_MAX}, 3, 1001, 0);
	next_is((sg_id){1000, UINT64_MAX - 1}, 1000, 1000, UINT64_MAX);
	/* from the zero id */
	next_is((sg_id){0, 0}, 0, 0, 1);
	next_is((sg_id){0, 0}, 1700000000000ULL, 1700000000000ULL, 0);
	/* a run of ids within one millisecond stays in order */
	sg_id last = {1000, 0};
	for (int i = 0; i < 100; i++) {
		sg_id n = sg_id_next(last, i % 2 ? 1000 : 999);
		assert_int_equal(sg_id_cmp(n, last), 1);
		last = n;
	}
	assert_true(last.ms == 1000 && last.seq == 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_valid),
	    cmocka_unit_test(test_parse_malformed),
	    cmocka_unit_test(test_parse_huge),
	    cmocka_unit_test(test_format),
	    cmocka_unit_test(test_format_round_trip),
	    cmocka_unit_test(test_cmp),
	    cmocka_unit_test(test_next),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
