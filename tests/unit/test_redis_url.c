/*
 * test_redis_url — the redis_url setting: every accepted form with its
 * exact parts, and each refusal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "broker/redis_url.h"
#include "streamgate.h"

static sg_redis_url parsed(const char *text)
{
	sg_redis_url u;
	char err[300] = "";
	assert_int_equal(sg_redis_url_parse(text, &u, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	return u;
}

static void test_forms(void **state)
{
	(void)state;
	sg_redis_url u = parsed("redis://127.0.0.1:6380/2");
	assert_string_equal(u.host, "127.0.0.1");
	assert_int_equal(u.port, 6380);
	assert_int_equal(u.db, 2);
	assert_string_equal(u.password, "");
	assert_string_equal(u.user, "");
	u = parsed("redis://localhost");
	assert_string_equal(u.host, "localhost");
	assert_int_equal(u.port, 6379);
	assert_int_equal(u.db, 0);
	u = parsed("redis://:s3cret@10.0.0.1:7000/");
	assert_string_equal(u.password, "s3cret");
	assert_string_equal(u.user, "");
	assert_string_equal(u.host, "10.0.0.1");
	assert_int_equal(u.port, 7000);
	assert_int_equal(u.db, 0);
	u = parsed("redis://app:pw:with:colons@h:1/15");
	assert_string_equal(u.user, "app");
	assert_string_equal(u.password, "pw:with:colons");
	assert_string_equal(u.host, "h");
	assert_int_equal(u.port, 1);
	assert_int_equal(u.db, 15);
}

static void test_refusals(void **state)
{
	(void)state;
	char long_host[400];
	memset(long_host, 'h', sizeof(long_host));
	memcpy(long_host, "redis://", 8);
	long_host[sizeof(long_host) - 1] = '\0';
	const char *bad[] = {"http://h:1/0",
	                     "redis://",
	                     "redis://:6379/0",
	                     "redis://h:0/0",
	                     "redis://h:65536/0",
	                     "redis://h:x/0",
	                     "redis://h:1/db",
	                     "redis://h:1/-1",
	                     "redis://pw@h:1/0",
	                     "redis://h:1/1000001",
	                     long_host};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		sg_redis_url u;
		char err[300] = "";
		assert_int_equal(sg_redis_url_parse(bad[i], &u, err, sizeof(err)), SG_EINVAL);
		assert_non_null(strstr(err, "redis_url: "));
	}
	sg_redis_url u;
	char err[300];
	assert_int_equal(sg_redis_url_parse("redis://:s3cret@h:0/0", &u, err, sizeof(err)), SG_EINVAL);
	assert_null(strstr(err, "s3cret")); /* errors never show the password */
	assert_non_null(strstr(err, "redis://***@h:0/0"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_forms),
	    cmocka_unit_test(test_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
