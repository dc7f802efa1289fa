/*
 * tickets — a bounded table under one mutex. Lookups compare in constant
 * time (a ticket is a bearer secret); the table is small enough (max
 * entries, one scan) that no index is needed. Tickets are never logged.
 */
#include "tickets.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "streamgate/error.h"

typedef struct ticket {
	char text[SG_TICKET_TEXT];
	long long expires_ms;
	sg_principal *p; /* owned */
} ticket;

struct sg_tickets {
	pthread_mutex_t lock;
	ticket *v;
	size_t n, max;
};

sg_tickets *sg_tickets_new(size_t max)
{
	sg_tickets *t = calloc(1, sizeof(*t));
	if (!t || !(t->v = calloc(max ? max : 1, sizeof(*t->v)))) {
		free(t);
		return NULL;
	}
	t->max = max;
	pthread_mutex_init(&t->lock, NULL);
	return t;
}

void sg_tickets_free(sg_tickets *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		sg_principal_free(t->v[i].p);
	free(t->v);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

static void remove_at(sg_tickets *t, size_t i)
{
	sg_principal_free(t->v[i].p);
	t->v[i] = t->v[--t->n];
}

/* Drops expired tickets, the one that expired first first, until one
 * slot is free. Nonzero when none had expired. Under the lock. */
static int sweep_one(sg_tickets *t, long long now_ms)
{
	size_t oldest = t->n;
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].expires_ms <= now_ms &&
		    (oldest == t->n || t->v[i].expires_ms < t->v[oldest].expires_ms))
			oldest = i;
	if (oldest == t->n)
		return -1;
	remove_at(t, oldest);
	return 0;
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
	sg_principal *copy = sg_principal_dup(p);
	if (!copy)
		return SG_ENOMEM;
	copy->from_ticket = 1;
	pthread_mutex_lock(&t->lock);
	int rc = t->n < t->max || sweep_one(t, now_ms) == 0 ? 0 : SG_ETOOBIG;
	if (!rc) {
		ticket *k = &t->v[t->n++];
		memcpy(k->text, out, SG_TICKET_TEXT);
		k->expires_ms = now_ms + ttl_ms;
		k->p = copy;
	}
	pthread_mutex_unlock(&t->lock);
	if (rc)
		sg_principal_free(copy);
	return rc;
}

sg_principal *sg_tickets_take(sg_tickets *t, const char *text, long long now_ms)
{
	sg_principal *p = NULL;
	if (strlen(text) != SG_TICKET_TEXT - 1)
		return NULL;
	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; i < t->n; i++) {
		if (CRYPTO_memcmp(t->v[i].text, text, SG_TICKET_TEXT - 1) != 0)
			continue;
		if (t->v[i].expires_ms > now_ms) {
			p = t->v[i].p;
			t->v[i].p = NULL;
		}
		remove_at(t, i); /* used or expired: gone either way */
		break;
	}
	pthread_mutex_unlock(&t->lock);
	return p;
}

size_t sg_tickets_count(sg_tickets *t)
{
	pthread_mutex_lock(&t->lock);
	size_t n = t->n;
	pthread_mutex_unlock(&t->lock);
	return n;
}
