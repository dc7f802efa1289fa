/*
 * The ticket table: a ticket is taken once, within its lifetime, with a
 * copy of its principal; the table is bounded, and expired tickets make
 * room in the order they were issued; lookups find each of many tickets.
 */
#define _GNU_SOURCE /* memmem, in patterns.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/auth/patterns.c"
#include "../../src/auth/principal.c"
#include "../../src/auth/tickets.c"

static sg_principal *user(void)
{
	sg_principal *p = sg_principal_trusted();
	assert_non_null(p);
	return p;
}

static void test_once(void **state)
{
	(void)state;
	sg_tickets *t = sg_tickets_new(8);
	sg_principal *p = user();
	char text[SG_TICKET_TEXT];
	assert_int_equal(sg_tickets_issue(t, p, 1000, 30000, text), 0);
	assert_int_equal(strlen(text), 32);
	assert_int_equal(sg_tickets_count(t), 1);
	assert_null(sg_tickets_take(t, "0123456789abcdef0123456789abcdef", 1001));
	assert_null(sg_tickets_take(t, "short", 1001));
	sg_principal *got = sg_tickets_take(t, text, 1001);
	assert_non_null(got);
	assert_int_equal(got->from_ticket, 1);
	assert_int_equal(sg_tickets_count(t), 0);
	assert_null(sg_tickets_take(t, text, 1002)); /* used */
	sg_principal_free(got);
	sg_principal_free(p);
	sg_tickets_free(t);
}

static void test_expiry_and_bound(void **state)
{
	(void)state;
	sg_tickets *t = sg_tickets_new(3);
	sg_principal *p = user();
	char a[SG_TICKET_TEXT], b[SG_TICKET_TEXT], c[SG_TICKET_TEXT], d[SG_TICKET_TEXT];
	assert_int_equal(sg_tickets_issue(t, p, 0, 100, a), 0);
	assert_int_equal(sg_tickets_issue(t, p, 10, 100, b), 0);
	assert_int_equal(sg_tickets_issue(t, p, 20, 100, c), 0);
	assert_int_equal(sg_tickets_issue(t, p, 50, 100, d), SG_ETOOBIG); /* full of live ones */
	assert_int_equal(sg_tickets_issue(t, p, 105, 100, d), 0); /* a expired: it makes room */
	assert_int_equal(sg_tickets_count(t), 3);
	assert_null(sg_tickets_take(t, a, 105));
	assert_null(sg_tickets_take(t, b, 110)); /* expired at 110: gone */
	assert_int_equal(sg_tickets_count(t), 2);
	sg_principal *got = sg_tickets_take(t, c, 119);
	assert_non_null(got);
	sg_principal_free(got);
	sg_principal_free(p);
	sg_tickets_free(t); /* frees d with it */
}

static void test_many(void **state)
{
	(void)state;
	enum { N = 5000 };
	sg_tickets *t = sg_tickets_new(N);
	sg_principal *p = user();
	static char texts[N][SG_TICKET_TEXT];
	for (int i = 0; i < N; i++)
		assert_int_equal(sg_tickets_issue(t, p, 0, 1000, texts[i]), 0);
	assert_int_equal(sg_tickets_count(t), N);
	for (int i = N - 1; i >= 0; i -= 2) { /* every other one, from the newest */
		sg_principal *got = sg_tickets_take(t, texts[i], 1);
		assert_non_null(got);
		sg_principal_free(got);
	}
	assert_int_equal(sg_tickets_count(t), N / 2);
	for (int i = 0; i < N; i += 2) {
		sg_principal *got = sg_tickets_take(t, texts[i], 1);
		assert_non_null(got);
		sg_principal_free(got);
	}
	assert_int_equal(sg_tickets_count(t), 0);
	sg_principal_free(p);
	sg_tickets_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_once),
	    cmocka_unit_test(test_expiry_and_bound),
	    cmocka_unit_test(test_many),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
