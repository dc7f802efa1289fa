/*
 * tickets — one-time tickets: a short random string standing for a
 * verified token's rights, for clients that cannot send a header (a
 * browser's WebSocket or EventSource). Shared by every worker of a
 * gateway: a ticket issued on one may be used on another. Thread-safe.
 */
#ifndef SG_AUTH_TICKETS_H
#define SG_AUTH_TICKETS_H

#include <stddef.h>

#include "principal.h"

#define SG_TICKET_BYTES 16 /* 128 random bits */
#define SG_TICKET_TEXT (2 * SG_TICKET_BYTES + 1)

typedef struct sg_tickets sg_tickets;

/* A table holding at most max live tickets. Caller frees. */
sg_tickets *sg_tickets_new(size_t max);
/* Frees t and every ticket in it; NULL is a no-op. */
void sg_tickets_free(sg_tickets *t);
/* Issues a ticket for a copy of p, good until now_ms + ttl_ms, its text
 * into out. Expired tickets make room, oldest first; SG_ETOOBIG when the
 * table is full of live ones, SG_EIO without randomness, SG_ENOMEM. */
int sg_tickets_issue(sg_tickets *t, const sg_principal *p, long long now_ms, long long ttl_ms,
		     char out[SG_TICKET_TEXT]);
/* Takes the ticket named text (borrowed) for good: its principal (caller
 * frees; from_ticket set), or NULL when unknown, already used or expired. */
sg_principal *sg_tickets_take(sg_tickets *t, const char *text, long long now_ms);
/* Live (not yet used) tickets held, expired ones included until swept. */
size_t sg_tickets_count(sg_tickets *t);

#endif
