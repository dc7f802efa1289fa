/*
 * test_admit_rate — the publish_rate token buckets without sockets: the
 * burst and the refill, the seconds a refused client is told to wait, the
 * cap on how many buckets the table holds (least recently used goes) and
 * the sweep of buckets that have refilled.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "server/admit_rate.c"

/* admit_rate.c's calls into request.c, rights.c and respond.c */
const char *sg__client_ip(const sg_request *req)
{
	return req->client_ip;
}

const char *sg__principal_sub(const sg_request *req)
{
	(void)req;
	return NULL; /* these tests publish without tokens */
}

void sg__response_error(sg_response *resp, int status, const char *error, const char *detail)
{
	(void)detail;
	resp->status = status;
	resp->content_type = error; /* where the test can read it */
}

typedef struct world {
	sg_group group;
	sg_server srv;
} world;

static void world_init(world *w, size_t rate, size_t burst)
{
	memset(w, 0, sizeof(*w));
	w->group.rates = sg__rate_table_new();
	assert_non_null(w->group.rates);
	w->srv.group = &w->group;
	w->srv.cfg.publish_rate = rate;
	w->srv.cfg.publish_burst = burst;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

static void test_off(void **state)
{
	(void)state;
	world w;
	world_init(&w, 0, 3);
	for (int i = 0; i < 100; i++)
		assert_int_equal(sg__rate_take(&w.srv, "a"), 0);
	assert_int_equal(sg__rate_table_size(w.group.rates), 0);
	sg__rate_table_free(w.group.rates);
}

static void test_burst_then_refill(void **state)
{
	(void)state;
	world w;
	world_init(&w, 5, 10);
	for (int i = 0; i < 10; i++)
		assert_int_equal(sg__rate_take(&w.srv, "10.0.0.1"), 0);
	assert_int_equal(sg__rate_take(&w.srv, "10.0.0.1"), 1); /* 0.2 s to the next token: 1 */
	assert_int_equal(sg__rate_take(&w.srv, "10.0.0.2"), 0); /* a bucket of its own */
	assert_int_equal(atomic_load(&w.group.rate_limited), 1);
	sleep_ms(450); /* two tokens at 5 a second */
	assert_int_equal(sg__rate_take(&w.srv, "10.0.0.1"), 0);
	assert_int_equal(sg__rate_take(&w.srv, "10.0.0.1"), 0);
	assert_int_equal(sg__rate_take(&w.srv, "10.0.0.1"), 1);
	sg__rate_table_free(w.group.rates);
}

static void test_burst_defaults_to_rate(void **state)
{
	(void)state;
	world w;
	world_init(&w, 3, 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(sg__rate_take(&w.srv, "k"), 0);
	assert_int_equal(sg__rate_take(&w.srv, "k"), 1);
	sg__rate_table_free(w.group.rates);
}

static void test_long_keys_count_by_their_start(void **state)
{
	(void)state;
	world w;
	world_init(&w, 1, 1);
	char a[400], b[400];
	memset(a, 'x', sizeof(a) - 1);
	a[sizeof(a) - 1] = '\0';
	memcpy(b, a, sizeof(b));
	b[300] = 'y'; /* past RATE_KEY_MAX: the same bucket */
	assert_int_equal(sg__rate_take(&w.srv, a), 0);
	assert_int_equal(sg__rate_take(&w.srv, b), 1);
	b[10] = 'y';
	assert_int_equal(sg__rate_take(&w.srv, b), 0);
	sg__rate_table_free(w.group.rates);
}

static void test_cap_drops_least_recently_used(void **state)
{
	(void)state;
	world w;
	world_init(&w, 1, 1); /* nothing refills within the test */
	char key[32];
	for (int i = 0; i < RATE_KEYS_MAX + 100; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(sg__rate_take(&w.srv, key), 0);
		if (i == 200) /* k0 used again: newer than k1..k199, it stays */
			assert_int_equal(sg__rate_take(&w.srv, "k0"), 1);
	}
	assert_int_equal(sg__rate_table_size(w.group.rates), RATE_KEYS_MAX);
	assert_int_equal(sg__rate_take(&w.srv, "k0"), 1);	/* kept, still empty */
	assert_int_equal(sg__rate_take(&w.srv, "k1"), 0);	/* dropped: a new, full bucket */
	snprintf(key, sizeof(key), "k%d", RATE_KEYS_MAX + 99);
	assert_int_equal(sg__rate_take(&w.srv, key), 1);
	sg__rate_table_free(w.group.rates);
}

static void test_refilled_buckets_are_swept(void **state)
{
	(void)state;
	world w;
	world_init(&w, 1000, 1); /* full again 1 ms after a take */
	char key[32];
	for (int i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "old%d", i);
		sg__rate_take(&w.srv, key);
	}
	assert_int_equal(sg__rate_table_size(w.group.rates), 100);
	sleep_ms(5);
	for (int i = 0; i < 25; i++) { /* each new bucket drops up to 4 refilled ones */
		snprintf(key, sizeof(key), "new%d", i);
		sg__rate_take(&w.srv, key);
	}
	assert_true(sg__rate_table_size(w.group.rates) <= 25);
	sg__rate_table_free(w.group.rates);
}

static void test_stage_counts_channel_posts_only(void **state)
{
	(void)state;
	world w;
	world_init(&w, 1, 2);
	sg_request post = {.method = "POST", .path = "/channels/a"}, get = {.method = "GET", .path = "/channels/a"},
		   other = {.method = "POST", .path = "/examples/x"};
	strcpy(post.client_ip, "127.0.0.9");
	strcpy(get.client_ip, "127.0.0.9");
	strcpy(other.client_ip, "127.0.0.9");
	sg_admit_ctx ctx = {0};
	sg_response r = {0};
	for (int i = 0; i < 5; i++) {
		assert_int_equal(sg__admit_publish_rate(&w.srv, &get, &ctx, &r), 0);
		assert_int_equal(sg__admit_publish_rate(&w.srv, &other, &ctx, &r), 0);
	}
	assert_int_equal(sg__admit_publish_rate(&w.srv, &post, &ctx, &r), 0);
	assert_int_equal(sg__admit_publish_rate(&w.srv, &post, &ctx, &r), 0);
	assert_int_equal(sg__admit_publish_rate(&w.srv, &post, &ctx, &r), -1);
	assert_int_equal(r.status, 429);
	assert_string_equal(r.content_type, "rate_limited");
	assert_int_equal(r.retry_after, 1);
	assert_string_equal(sg__rate_key(&post), "127.0.0.9");
	sg__rate_table_free(w.group.rates);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_off),
		cmocka_unit_test(test_burst_then_refill),
		cmocka_unit_test(test_burst_defaults_to_rate),
		cmocka_unit_test(test_long_keys_count_by_their_start),
		cmocka_unit_test(test_cap_drops_least_recently_used),
		cmocka_unit_test(test_refilled_buckets_are_swept),
		cmocka_unit_test(test_stage_counts_channel_posts_only),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
