/*
 * test_patterns — channel patterns: exact names and prefixes, "*" alone,
 * {sub} expansion that never widens a pattern, malformed entries, the
 * setting syntax ("none", spaces) and the bound on entries.
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

/* The list made from entries (NULL-terminated) with sub; NULL when one
 * entry was refused. Caller frees. */
static char *list_of(const char *sub, const char *const *entries)
{
	sg_buf b = SG_BUF_INIT;
	sg_buf_reserve(&b, 1);
	b.data[0] = '\0';
	for (; *entries; entries++)
		if (sg_pattern_append(&b, *entries, strlen(*entries), sub)) {
			sg_buf_free(&b);
			return NULL;
		}
	return b.data;
}

static void test_exact_and_prefix(void **state)
{
	(void)state;
	char *l = list_of(NULL, (const char *const[]){"news", "sports.*", NULL});
	assert_string_equal(l, "news,sports.*");
	assert_true(sg_patterns_match(l, "news"));
	assert_false(sg_patterns_match(l, "news2"));
	assert_false(sg_patterns_match(l, "new"));
	assert_true(sg_patterns_match(l, "sports.golf"));
	assert_true(sg_patterns_match(l, "sports."));
	assert_false(sg_patterns_match(l, "sports"));
	assert_false(sg_patterns_match(l, ""));
	free(l);
	l = list_of(NULL, (const char *const[]){"*", NULL});
	assert_true(sg_patterns_match(l, "anything"));
	free(l);
	assert_false(sg_patterns_match("", "news"));
	assert_false(sg_patterns_match(NULL, "news"));
}

static void test_sub_expansion(void **state)
{
	(void)state;
	char *l = list_of("alice", (const char *const[]){"user.{sub}.*", "{sub}", NULL});
	assert_string_equal(l, "user.alice.*,alice");
	assert_true(sg_patterns_match(l, "user.alice.inbox"));
	assert_false(sg_patterns_match(l, "user.bob.inbox"));
	assert_false(sg_patterns_match(l, "user.alice"));
	free(l);
	/* a sub that is not a channel name drops the entry: it grants nothing */
	const char *bad[] = {"*", "a,b", "", "a b", "x*", "{sub}"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		l = list_of(bad[i], (const char *const[]){"user.{sub}.*", NULL});
		assert_non_null(l);
		assert_string_equal(l, "");
		free(l);
	}
	l = list_of(NULL, (const char *const[]){"user.{sub}.*", "news", NULL});
	assert_string_equal(l, "news");
	free(l);
	/* expanded past a channel name's length */
	char sub[129];
	memset(sub, 'a', 128);
	sub[128] = '\0';
	assert_null(list_of(sub, (const char *const[]){"user.{sub}", NULL}));
}

static void test_malformed(void **state)
{
	(void)state;
	const char *bad[] = {"", "ne*ws", "**", "a,b", "a b", "news\n", "é", "*x", "{sub"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_null(list_of("alice", (const char *const[]){bad[i], NULL}));
	sg_buf b = SG_BUF_INIT;
	assert_int_equal(sg_pattern_append(&b, "a\0b", 3, NULL), SG_EINVAL);
	for (int i = 0; i < SG_PATTERNS_MAX; i++)
		assert_int_equal(sg_pattern_append(&b, "x", 1, NULL), 0);
	assert_int_equal(sg_pattern_append(&b, "x", 1, NULL), SG_ETOOBIG);
	sg_buf_free(&b);
}

static void test_setting(void **state)
{
	(void)state;
	char err[200];
	sg_buf b = SG_BUF_INIT;
	assert_int_equal(sg_patterns_parse(" public.* , news ", &b, err, sizeof(err)), 0);
	assert_string_equal(b.data, "public.*,news");
	assert_int_equal(sg_patterns_parse("none", &b, err, sizeof(err)), 0);
	assert_string_equal(b.data, "");
	assert_int_equal(sg_patterns_parse("a,,b", &b, err, sizeof(err)), SG_EINVAL);
	assert_string_equal(err, "\"\" is not a channel name or a prefix ending in *");
	assert_int_equal(sg_patterns_parse("user.{sub}.*", &b, err, sizeof(err)), SG_EINVAL);
	sg_buf_free(&b);
	/* the setting's text is matched as written */
	assert_true(sg_patterns_match(" public.* , news ", "news"));
	assert_true(sg_patterns_match(" public.* , news ", "public.x"));
	assert_false(sg_patterns_match(" public.* , news ", "newsx"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact_and_prefix),
		cmocka_unit_test(test_sub_expansion),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_setting),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
