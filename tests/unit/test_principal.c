/*
 * test_principal — the claims of a verified token: exp, nbf and iat with
 * leeway, iss, aud as a string or an array, sub, and the "streamgate"
 * claim turned into rights; each refusal names its check.
 */
#define _GNU_SOURCE /* memmem, in the file under test */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/auth/patterns.c"
#include "../../src/auth/principal.c"

#define NOW 1700000000000LL /* ms */

static const sg_claim_rules rules = {.issuer = "iss1", .audience = "aud1", .leeway_ms = 5000};

/* The principal of claims json, or NULL with *why. */
static sg_principal *of(const char *json, const char **why)
{
	*why = NULL;
	return sg_principal_from_claims(json, strlen(json), &rules, NOW, why);
}

static void expect_refused(const char *json, const char *detail)
{
	const char *why;
	sg_principal *p = of(json, &why);
	assert_null(p);
	assert_string_equal(why, detail);
}

static void test_dates(void **state)
{
	(void)state;
	const char *why;
	sg_principal *p = of("{\"iss\":\"iss1\",\"aud\":\"aud1\",\"exp\":1700000060}", &why);
	assert_non_null(p);
	assert_int_equal(p->exp_ms, 1700000060000LL);
	sg_principal_free(p);
	/* within the leeway: still good; past it: expired */
	p = of("{\"iss\":\"iss1\",\"aud\":\"aud1\",\"exp\":1699999996}", &why);
	assert_non_null(p);
	sg_principal_free(p);
	expect_refused("{\"iss\":\"iss1\",\"aud\":\"aud1\",\"exp\":1699999995}", "the token has expired (exp)");
	expect_refused("{\"iss\":\"iss1\",\"aud\":\"aud1\",\"nbf\":1700000006}", "the token is not valid yet (nbf)");
	expect_refused("{\"iss\":\"iss1\",\"aud\":\"aud1\",\"iat\":1700000006}",
		       "the token was issued in the future (iat)");
	expect_refused("{\"iss\":\"iss1\",\"aud\":\"aud1\",\"exp\":\"soon\"}", "exp is not a NumericDate");
	expect_refused("{\"iss\":\"iss1\",\"aud\":\"aud1\",\"exp\":1e300}", "exp is not a NumericDate");
	expect_refused("{\"iss\":\"iss1\",\"aud\":\"aud1\",\"nbf\":-1}", "nbf is not a NumericDate");
}

static void test_issuer_audience(void **state)
{
	(void)state;
	const char *why;
	expect_refused("{\"aud\":\"aud1\"}", "wrong issuer (iss)");
	expect_refused("{\"iss\":\"iss2\",\"aud\":\"aud1\"}", "wrong issuer (iss)");
	expect_refused("{\"iss\":\"iss1\"}", "wrong audience (aud)");
	expect_refused("{\"iss\":\"iss1\",\"aud\":[\"x\",1]}", "wrong audience (aud)");
	sg_principal *p = of("{\"iss\":\"iss1\",\"aud\":[\"x\",\"aud1\"]}", &why);
	assert_non_null(p);
	sg_principal_free(p);
	expect_refused("[1]", "the payload is not a JSON object");
	expect_refused("{\"iss\":\"iss1\",\"iss\":\"iss1\",\"aud\":\"aud1\"}", "the payload is not a JSON object");
}

static void test_rights(void **state)
{
	(void)state;
	const char *why;
	sg_principal *p = of("{\"iss\":\"iss1\",\"aud\":\"aud1\",\"sub\":\"alice\",\"streamgate\":"
			     "{\"subscribe\":[\"news\",\"user.{sub}.*\"],\"publish\":[\"news\"]}}",
			     &why);
	assert_non_null(p);
	assert_string_equal(p->sub, "alice");
	assert_true(sg_principal_may(p, SG_RIGHT_SUBSCRIBE, "news"));
	assert_false(sg_principal_may(p, SG_RIGHT_SUBSCRIBE, "news2"));
	assert_true(sg_principal_may(p, SG_RIGHT_SUBSCRIBE, "user.alice.x"));
	assert_false(sg_principal_may(p, SG_RIGHT_PUBLISH, "user.alice.x"));
	assert_false(sg_principal_may(p, SG_RIGHT_ADMIN, NULL));
	sg_principal *d = sg_principal_dup(p);
	assert_true(sg_principal_may(d, SG_RIGHT_SUBSCRIBE, "user.alice.x"));
	sg_principal_free(d);
	sg_principal_free(p);
	p = of("{\"iss\":\"iss1\",\"aud\":\"aud1\",\"streamgate\":{\"admin\":true}}", &why);
	assert_true(sg_principal_may(p, SG_RIGHT_ADMIN, NULL));
	assert_false(sg_principal_may(p, SG_RIGHT_SUBSCRIBE, "news"));
	sg_principal_free(p);
	expect_refused("{\"iss\":\"iss1\",\"aud\":\"aud1\",\"streamgate\":[]}", "the streamgate claim is not an object");
	expect_refused("{\"iss\":\"iss1\",\"aud\":\"aud1\",\"streamgate\":{\"admin\":1}}",
		       "streamgate claim: admin is not a boolean");
	expect_refused("{\"iss\":\"iss1\",\"aud\":\"aud1\",\"streamgate\":{\"publish\":\"news\"}}",
		       "streamgate claim: subscribe and publish are arrays of patterns");
	expect_refused("{\"iss\":\"iss1\",\"aud\":\"aud1\",\"streamgate\":{\"publish\":[1]}}",
		       "streamgate claim: a pattern is not a string");
	expect_refused("{\"iss\":\"iss1\",\"aud\":\"aud1\",\"sub\":7}", "sub is not a string");
	p = sg_principal_invalid("bad signature");
	assert_false(sg_principal_may(p, SG_RIGHT_SUBSCRIBE, "news"));
	sg_principal_free(p);
	p = sg_principal_trusted();
	assert_true(sg_principal_may(p, SG_RIGHT_ADMIN, NULL));
	assert_true(sg_principal_may(p, SG_RIGHT_PUBLISH, "x"));
	sg_principal_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_issuer_audience),
		cmocka_unit_test(test_rights),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
