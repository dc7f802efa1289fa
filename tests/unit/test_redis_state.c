/*
 * test_redis_state — the Redis broker's subscription table (one command in
 * flight per channel, whatever subscribers do meanwhile; a lost connection
 * resubscribes what is wanted) and the parser of what PUBLISH carries
 * between nodes, with every malformed payload refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "broker/redis_state.h"
#include "streamgate.h"

static sg_rchan *join(sg_rchans *t, const char *name, long delta)
{
	sg_rchan *c = sg_rchans_get(t, name, delta > 0);
	assert_non_null(c);
	c->local += delta;
	return c;
}

static void test_first_and_last_subscriber(void **state)
{
	(void)state;
	sg_rchans t = {0};
	sg_rchan *c = join(&t, "news", 1);
	assert_int_equal(sg_rchans_next(&t, c, 1), SG_RCH_SUBSCRIBE);
	assert_int_equal(t.inflight, 1);
	join(&t, "news", 1); /* a second one: nothing more to send */
	assert_int_equal(sg_rchans_next(&t, c, 1), SG_RCH_NONE);
	sg_rchans_answered(&t, c, 1);
	assert_int_equal(t.inflight, 0);
	assert_int_equal(sg_rchans_next(&t, c, 1), SG_RCH_NONE);
	join(&t, "news", -1);
	assert_int_equal(sg_rchans_next(&t, c, 1), SG_RCH_NONE);
	join(&t, "news", -1); /* the last one left */
	assert_int_equal(sg_rchans_next(&t, c, 1), SG_RCH_UNSUBSCRIBE);
	sg_rchans_answered(&t, c, 0);
	assert_int_equal(sg_rchans_next(&t, c, 1), SG_RCH_NONE); /* and it is forgotten */
	assert_int_equal(t.n, 0);
	assert_null(sg_rchans_get(&t, "news", 0));
}

static void test_one_command_in_flight(void **state)
{
	(void)state;
	sg_rchans t = {0};
	sg_rchan *c = join(&t, "c", 1);
	assert_int_equal(sg_rchans_next(&t, c, 1), SG_RCH_SUBSCRIBE);
	join(&t, "c", -1); /* gone before the SUBSCRIBE is answered */
	assert_int_equal(sg_rchans_next(&t, c, 1), SG_RCH_NONE);
	sg_rchans_answered(&t, c, 1);
	assert_int_equal(sg_rchans_next(&t, c, 1), SG_RCH_UNSUBSCRIBE);
	join(&t, "c", 1); /* back while the UNSUBSCRIBE is out: no SUBSCRIBE yet */
	assert_int_equal(sg_rchans_next(&t, c, 1), SG_RCH_NONE);
	sg_rchans_answered(&t, c, 0);
	assert_int_equal(sg_rchans_next(&t, c, 1), SG_RCH_SUBSCRIBE);
	sg_rchans_answered(&t, c, 1);
	assert_true(c->on);
	sg_rchans_free(&t);
}

static void test_reset_and_resubscribe(void **state)
{
	(void)state;
	sg_rchans t = {0};
	sg_rchan *a = join(&t, "a", 1), *b = join(&t, "b", 1);
	assert_int_equal(sg_rchans_next(&t, a, 0), SG_RCH_NONE); /* down: wait */
	assert_int_equal(sg_rchans_next(&t, a, 1), SG_RCH_SUBSCRIBE);
	assert_int_equal(sg_rchans_next(&t, b, 1), SG_RCH_SUBSCRIBE);
	sg_rchans_answered(&t, a, 1);
	sg_rchans_reset(&t); /* the connection went with b's SUBSCRIBE out */
	assert_int_equal(t.inflight, 0);
	assert_false(a->on);
	assert_false(b->inflight);
	join(&t, "b", -1);
	assert_int_equal(sg_rchans_next(&t, b, 1), SG_RCH_NONE); /* nobody wants b */
	assert_int_equal(t.n, 1);
	assert_int_equal(sg_rchans_next(&t, a, 1), SG_RCH_SUBSCRIBE);
	sg_rchans_free(&t);
	assert_int_equal(t.n, 0);
}

static void test_payloads(void **state)
{
	(void)state;
	sg_redis_payload m;
	const char msg[] = "m\n1700.5\n1700000000000-3\ntick\nline 1\nline 2";
	assert_int_equal(sg_redis_payload_parse(msg, sizeof(msg) - 1, &m), 0);
	assert_int_equal(m.kind, 'm');
	assert_int_equal(m.epoch_len, 6);
	assert_memory_equal(m.epoch, "1700.5", 6);
	assert_string_equal(m.id, "1700000000000-3");
	assert_true(m.pos.ms == 1700000000000ull && m.pos.seq == 3);
	assert_string_equal(m.event, "tick");
	assert_int_equal(m.len, 13);
	assert_memory_equal(m.data, "line 1\nline 2", 13);
	const char empty[] = "m\ne\n5-0\n\n";
	assert_int_equal(sg_redis_payload_parse(empty, sizeof(empty) - 1, &m), 0);
	assert_string_equal(m.event, "");
	assert_int_equal(m.len, 0);
	const char del[] = "d\ne\n\n\n";
	assert_int_equal(sg_redis_payload_parse(del, sizeof(del) - 1, &m), 0);
	assert_int_equal(m.kind, 'd');
	const char *bad[] = {"",
	                     "m",
	                     "x\ne\n1-1\n\nd",
	                     "m\n\n1-1\n\nd",
	                     "m\ne\n1-1",
	                     "m\ne\nabc\n\nd",
	                     "m\ne\n0\n\nd",
	                     "m\ne\n1-1\nev\rx\nd",
	                     "d\ne\n1-1\n\n",
	                     "mm\ne\n1-1\n\nd"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(sg_redis_payload_parse(bad[i], strlen(bad[i]), &m), SG_EINVAL);
	char long_event[400] = "m\ne\n1-1\n";
	memset(long_event + 8, 'e', 300);
	strcpy(long_event + 308, "\nd");
	assert_int_equal(sg_redis_payload_parse(long_event, strlen(long_event), &m), SG_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_first_and_last_subscriber),
	    cmocka_unit_test(test_one_command_in_flight),
	    cmocka_unit_test(test_reset_and_resubscribe),
	    cmocka_unit_test(test_payloads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
