/*
 * admit_ip — max_connections_per_ip: how many connections each peer
 * address holds, counted for every worker in one table under one mutex.
 * Only accepting and closing a connection touch it, never a stream's
 * writes. A connection accepted over the limit is not counted: it is told
 * 429 at its first request and closed. The table holds an entry per
 * address with a connection open, so it is bounded by max_connections.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "admit.h"
#include "core/hash.h"

#define IP_BUCKETS 4096 /* a power of two */

struct sg_ip_count {
	sg_ip ip;
	size_t n;
	struct sg_ip_count *next; /* in its bucket */
};

struct sg_ip_table {
	pthread_mutex_t lock;
	uint64_t seed; /* addresses are the client's to choose: keep the spread secret */
	sg_ip_count *buckets[IP_BUCKETS];
};

sg_ip_table *sg__ip_table_new(void)
{
	sg_ip_table *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	sg_hash_seed(&t->seed);
	pthread_mutex_init(&t->lock, NULL);
	return t;
}

void sg__ip_table_free(sg_ip_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < IP_BUCKETS; i++)
		while (t->buckets[i]) {
			sg_ip_count *e = t->buckets[i];
			t->buckets[i] = e->next;
			free(e);
		}
	pthread_mutex_destroy(&t->lock);
	free(t);
}

static size_t bucket_of(const sg_ip_table *t, const sg_ip *ip)
{
	return sg_hash_bytes(t->seed, ip->b, sizeof(ip->b)) & (IP_BUCKETS - 1);
}

int sg__ip_acquire(sg_ip_table *t, const sg_ip *ip, size_t max, sg_ip_count **lease)
{
	*lease = NULL;
	if (!max)
		return 0; /* no limit: nothing to count */
	size_t b = bucket_of(t, ip);
	int rc = 0;
	pthread_mutex_lock(&t->lock);
	sg_ip_count *e = t->buckets[b];
	while (e && memcmp(&e->ip, ip, sizeof(*ip)) != 0)
		e = e->next;
	if (!e && (e = calloc(1, sizeof(*e)))) {
		e->ip = *ip;
		e->next = t->buckets[b];
		t->buckets[b] = e;
	}
	if (!e)
		rc = SG_ENOMEM;
	else if (e->n >= max)
		rc = SG_ETOOBIG;
	else
		e->n++;
	pthread_mutex_unlock(&t->lock);
	*lease = rc ? NULL : e;
	return rc;
}

void sg__ip_release(sg_ip_table *t, sg_ip_count *lease)
{
	if (!lease)
		return;
	pthread_mutex_lock(&t->lock);
	if (--lease->n == 0) {
		sg_ip_count **p = &t->buckets[bucket_of(t, &lease->ip)];
		while (*p != lease)
			p = &(*p)->next;
		*p = lease->next;
		free(lease);
	}
	pthread_mutex_unlock(&t->lock);
}

int sg__admit_ip_limit(sg_server *srv, const sg_request *req, const sg_admit_ctx *ctx,
		       sg_response *resp)
{
	(void)req;
	if (!ctx->over_ip_limit)
		return 0;
	atomic_fetch_add(&srv->group->ip_refused, 1);
	sg__response_error(resp, 429, "too_many_connections_per_ip",
			   "this address has max_connections_per_ip connections open");
	resp->retry_after = 1;
	return -1;
}
