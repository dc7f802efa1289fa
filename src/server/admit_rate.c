/*
 * admit_rate — publish_rate and publish_burst: a token bucket per client,
 * shared by every worker under one mutex, taken by HTTP publishes (a stage
 * here) and WebSocket publish commands (commands.c). A bucket refills at
 * publish_rate tokens a second up to publish_burst; a full bucket is the
 * same as none, so buckets are dropped once idle long enough to be full,
 * and the table never holds more than RATE_KEYS_MAX: past it the least
 * recently used bucket goes, so a flood of distinct clients (forged
 * X-Forwarded-For from a trusted proxy, or many addresses) costs bounded
 * memory. Only publishing touches the table, never a stream's writes.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admit.h"
#include "core/hash.h"
#include "core/list.h"
#include "conn.h"
#include "rights.h"

#define RATE_BUCKETS 16384   /* hash chains; a power of two */
#define RATE_KEYS_MAX 65536  /* buckets held at most */
#define RATE_KEY_MAX 255     /* longer keys count by their first bytes */
#define RATE_IDLE_SWEEP 4    /* idle buckets dropped per new one */

typedef struct rate_bucket {
	double tokens;
	long long at_us;			/* when tokens was last brought up to date */
	struct rate_bucket *next;		/* in its hash chain */
	struct rate_bucket *newer, *older;	/* the LRU list */
	size_t hash;
	char key[];
} rate_bucket;

struct sg_rate_table {
	pthread_mutex_t lock;
	uint64_t seed; /* keys are the client's to choose: keep the spread secret */
	size_t n;
	rate_bucket *newest, *oldest;
	rate_bucket **chains; /* RATE_BUCKETS, made on first use */
};

sg_rate_table *sg__rate_table_new(void)
{
	sg_rate_table *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	sg_hash_seed(&t->seed);
	pthread_mutex_init(&t->lock, NULL);
	return t;
}

void sg__rate_table_free(sg_rate_table *t)
{
	if (!t)
		return;
	while (t->newest) {
		rate_bucket *b = t->newest;
		t->newest = b->older;
		free(b);
	}
	free(t->chains);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

size_t sg__rate_table_size(sg_rate_table *t)
{
	pthread_mutex_lock(&t->lock);
	size_t n = t->n;
	pthread_mutex_unlock(&t->lock);
	return n;
}

static long long now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void lru_unlink(sg_rate_table *t, rate_bucket *b)
{
	SG_DLIST_UNLINK(t->oldest, t->newest, b, older, newer);
}

static void lru_push(sg_rate_table *t, rate_bucket *b)
{
	/* newest first: appending at the "tail" end of the newer links */
	SG_DLIST_APPEND(t->oldest, t->newest, b, older, newer);
}

static void bucket_drop(sg_rate_table *t, rate_bucket *b)
{
	rate_bucket **p = &t->chains[b->hash & (RATE_BUCKETS - 1)];
	while (*p != b)
		p = &(*p)->next;
	*p = b->next;
	lru_unlink(t, b);
	t->n--;
	free(b);
}

/* Makes room for one more: drops the oldest buckets that have refilled
 * (they hold nothing), and the oldest of all when the table is full. */
static void make_room(sg_rate_table *t, long long now, long long full_us)
{
	for (int i = 0; i < RATE_IDLE_SWEEP && t->oldest && now - t->oldest->at_us >= full_us; i++)
		bucket_drop(t, t->oldest);
	if (t->n >= RATE_KEYS_MAX)
		bucket_drop(t, t->oldest);
}

/* key's bucket, made full when new; NULL when out of memory. */
static rate_bucket *bucket_get(sg_rate_table *t, const char *key, double burst, long long now,
			       long long full_us)
{
	size_t n = strnlen(key, RATE_KEY_MAX), h = sg_hash_bytes(t->seed, key, n);
	if (!t->chains && !(t->chains = calloc(RATE_BUCKETS, sizeof(*t->chains))))
		return NULL;
	rate_bucket **chain = &t->chains[h & (RATE_BUCKETS - 1)], *b = *chain;
	while (b && (b->hash != h || strncmp(b->key, key, n) != 0 || b->key[n]))
		b = b->next;
	if (b) {
		lru_unlink(t, b);
		lru_push(t, b);
		return b;
	}
	make_room(t, now, full_us);
	if (!(b = calloc(1, sizeof(*b) + n + 1)))
		return NULL;
	memcpy(b->key, key, n);
	b->hash = h;
	b->tokens = burst;
	b->at_us = now;
	b->next = *chain;
	*chain = b;
	lru_push(t, b);
	t->n++;
	return b;
}

/* Whole seconds until a bucket with tokens (< 1) holds one: at least 1. */
static int seconds_to_token(double tokens, double rate)
{
	double wait = (1 - tokens) / rate;
	int s = (int)wait;
	s += s < wait;
	return s < 1 ? 1 : s;
}

int sg__rate_take(sg_server *srv, const char *key)
{
	double rate = (double)srv->cfg.publish_rate;
	if (!rate || !srv->group || !srv->group->rates)
		return 0;
	double burst = srv->cfg.publish_burst ? (double)srv->cfg.publish_burst : (rate > 1 ? rate : 1);
	long long now = now_us(), full_us = (long long)(burst / rate * 1e6);
	sg_rate_table *t = srv->group->rates;
	int wait = 0;
	pthread_mutex_lock(&t->lock);
	rate_bucket *b = bucket_get(t, key, burst, now, full_us);
	if (b) {
		b->tokens += (double)(now - b->at_us) * rate / 1e6;
		if (b->tokens > burst)
			b->tokens = burst;
		b->at_us = now;
		if (b->tokens >= 1)
			b->tokens -= 1;
		else
			wait = seconds_to_token(b->tokens, rate);
	} /* out of memory: let it publish rather than refuse everyone */
	pthread_mutex_unlock(&t->lock);
	if (wait)
		atomic_fetch_add(&srv->group->rate_limited, 1);
	return wait;
}

int sg__rate_take_stream(sg_server *srv, sg_stream *s)
{
	if (!srv->cfg.publish_rate)
		return 0; /* before the stream's connection is looked at */
	const sg_conn *c = sg__stream_conn(s);
	return sg__rate_take(srv, c && c->rate_key ? c->rate_key : "");
}

const char *sg__rate_key(const sg_request *req)
{
	const char *sub = sg__principal_sub(req);
	return sub ? sub : sg__client_ip(req);
}

/* What publish_rate counts: publishes, and tickets (each holds a place in
 * the gateway's bounded ticket table: a client minting them without end
 * would take every place from the others). */
static int is_counted(const sg_request *req)
{
	return strcmp(req->method, "POST") == 0 &&
	       (strncmp(req->path, "/channels/", 10) == 0 || strcmp(req->path, "/auth/ticket") == 0);
}

int sg__admit_publish_rate(sg_server *srv, const sg_request *req, const sg_admit_ctx *ctx,
			   sg_response *resp)
{
	(void)ctx;
	if (!srv->cfg.publish_rate || !is_counted(req))
		return 0;
	int wait = sg__rate_take(srv, sg__rate_key(req));
	if (!wait)
		return 0;
	sg__response_error(resp, 429, "rate_limited",
			   "this client publishes faster than publish_rate allows");
	resp->retry_after = wait;
	return -1;
}
