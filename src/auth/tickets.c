/*
 * tickets — a bounded table under one mutex: a keyed hash finds a ticket
 * in O(1) whatever the table holds (a flood of made-up tickets costs a
 * chain walk each, not a scan of every live one), and a list in the order
 * they were issued lets expired ones go from its old end. Texts compare in
 * constant time (a ticket is a bearer secret). Tickets are never logged.
 */
#include "tickets.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/list.h"
#include "streamgate/error.h"

typedef struct ticket {
	char text[SG_TICKET_TEXT];
	long long expires_ms;
	sg_principal *p;	     /* owned */
	struct ticket *chain;	     /* in its hash bucket */
	struct ticket *newer, *older; /* in issue order */
} ticket;

struct sg_tickets {
	pthread_mutex_t lock;
	uint64_t seed;
	size_t n, max, mask;
	ticket **buckets; /* mask + 1 */
	ticket *newest, *oldest;
};

sg_tickets *sg_tickets_new(size_t max)
{
	sg_tickets *t = calloc(1, sizeof(*t));
	size_t nb = 64;
	while (nb < max && nb < (1u << 20))
		nb <<= 1;
	if (!t || !(t->buckets = calloc(nb, sizeof(*t->buckets)))) {
		free(t);
		return NULL;
	}
	t->max = max;
	t->mask = nb - 1;
	sg_hash_seed(&t->seed);
	pthread_mutex_init(&t->lock, NULL);
	return t;
}

static void ticket_free(ticket *k)
{
	sg_principal_free(k->p);
	free(k);
}

void sg_tickets_free(sg_tickets *t)
{
	if (!t)
		return;
	while (t->oldest) {
		ticket *k = t->oldest;
		t->oldest = k->newer;
		ticket_free(k);
	}
	free(t->buckets);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

static ticket **bucket_of(sg_tickets *t, const char *text)
{
	return &t->buckets[sg_hash_bytes(t->seed, text, SG_TICKET_TEXT - 1) & t->mask];
}

/* Takes k off the table (under the lock); the caller frees it. */
static void remove_ticket(sg_tickets *t, ticket *k)
{
	ticket **p = bucket_of(t, k->text);
	while (*p != k)
		p = &(*p)->chain;
	*p = k->chain;
	SG_DLIST_UNLINK(t->oldest, t->newest, k, older, newer);
	t->n--;
}

/* Drops the expired tickets at the old end of the issue order. */
static void sweep(sg_tickets *t, long long now_ms)
{
	while (t->oldest && t->oldest->expires_ms <= now_ms) {
		ticket *k = t->oldest;
		remove_ticket(t, k);
		ticket_free(k);
	}
}

int sg_tickets_issue(sg_tickets *t, const sg_principal *p, long long now_ms, long long ttl_ms,
		     char out[SG_TICKET_TEXT])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[SG_TICKET_BYTES];
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return SG_EIO;
	for (size_t i = 0; i < sizeof(raw); i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 15];
	}
	out[SG_TICKET_TEXT - 1] = '\0';
	ticket *k = calloc(1, sizeof(*k));
	if (!k || !(k->p = sg_principal_dup(p))) {
		free(k);
		return SG_ENOMEM;
	}
	k->p->from_ticket = 1;
	memcpy(k->text, out, SG_TICKET_TEXT);
	k->expires_ms = now_ms + ttl_ms;
	pthread_mutex_lock(&t->lock);
	sweep(t, now_ms);
	int rc = t->n < t->max ? 0 : SG_ETOOBIG;
	if (!rc) {
		ticket **b = bucket_of(t, k->text);
		k->chain = *b;
		*b = k;
		SG_DLIST_APPEND(t->oldest, t->newest, k, older, newer);
		t->n++;
	}
	pthread_mutex_unlock(&t->lock);
	if (rc)
		ticket_free(k);
	return rc;
}

sg_principal *sg_tickets_take(sg_tickets *t, const char *text, long long now_ms)
{
	sg_principal *p = NULL;
	if (strlen(text) != SG_TICKET_TEXT - 1)
		return NULL;
	pthread_mutex_lock(&t->lock);
	ticket *k = *bucket_of(t, text);
	while (k && CRYPTO_memcmp(k->text, text, SG_TICKET_TEXT - 1) != 0)
		k = k->chain;
	if (k) {
		if (k->expires_ms > now_ms) {
			p = k->p;
			k->p = NULL;
		}
		remove_ticket(t, k); /* used or expired: gone either way */
	}
	pthread_mutex_unlock(&t->lock);
	if (k)
		ticket_free(k);
	return p;
}

size_t sg_tickets_count(sg_tickets *t)
{
	pthread_mutex_lock(&t->lock);
	size_t n = t->n;
	pthread_mutex_unlock(&t->lock);
	return n;
}
