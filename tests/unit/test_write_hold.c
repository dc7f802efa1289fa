/*
 * test_write_hold — how long a loop holds its next write pass: nothing
 * below 2,000 connections or with write_delay_auto_ms 0, 30 µs per
 * connection from there up to the cap, and write_delay_ms as a floor that
 * the auto hold only ever lengthens.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "server/write_hold.h"

static void test_small_passes_never_held(void **state)
{
	(void)state;
	assert_int_equal(sg__write_hold_us(0, 150, 0), 0);
	assert_int_equal(sg__write_hold_us(0, 150, 1), 0);
	assert_int_equal(sg__write_hold_us(0, 150, 1000), 0);
	assert_int_equal(sg__write_hold_us(0, 150, 1999), 0);
}

static void test_large_passes_held_by_size(void **state)
{
	(void)state;
	assert_int_equal(sg__write_hold_us(0, 150, 2000), 60000);
	assert_int_equal(sg__write_hold_us(0, 150, 2500), 75000);
	assert_int_equal(sg__write_hold_us(0, 150, 4999), 149970);
	assert_int_equal(sg__write_hold_us(0, 150, 5000), 150000);
}

static void test_capped(void **state)
{
	(void)state;
	assert_int_equal(sg__write_hold_us(0, 150, 5001), 150000);
	assert_int_equal(sg__write_hold_us(0, 150, 1000000), 150000);
	assert_int_equal(sg__write_hold_us(0, 20, 10000), 20000);
	assert_int_equal(sg__write_hold_us(0, 1000, 100000), 1000000);
}

static void test_auto_off(void **state)
{
	(void)state;
	assert_int_equal(sg__write_hold_us(0, 0, 2000), 0);
	assert_int_equal(sg__write_hold_us(0, 0, 100000), 0);
}

static void test_fixed_delay_is_a_floor(void **state)
{
	(void)state;
	assert_int_equal(sg__write_hold_us(40, 0, 0), 40000);
	assert_int_equal(sg__write_hold_us(40, 150, 10), 40000);
	assert_int_equal(sg__write_hold_us(40, 150, 1000), 40000);
	assert_int_equal(sg__write_hold_us(40, 150, 3000), 90000);  /* auto is longer */
	assert_int_equal(sg__write_hold_us(200, 150, 10000), 200000); /* fixed is longer */
	assert_int_equal(sg__write_hold_us(1000, 1000, 1000000), 1000000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_small_passes_never_held),
	    cmocka_unit_test(test_large_passes_held_by_size),
	    cmocka_unit_test(test_capped),
	    cmocka_unit_test(test_auto_off),
	    cmocka_unit_test(test_fixed_delay_is_a_floor),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
