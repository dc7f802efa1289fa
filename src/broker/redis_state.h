/*
 * redis_state — the Redis broker's parts that need no socket, so they are
 * unit-tested alone: which channels this node wants SUBSCRIBEd and the
 * command each needs next (one in flight at a time per channel: hiredis
 * drops a channel's callback when an UNSUBSCRIBE is confirmed, so a
 * SUBSCRIBE must never overtake one), and the parsing of what PUBLISH
 * carries between nodes.
 */
#ifndef SG_BROKER_REDIS_STATE_H
#define SG_BROKER_REDIS_STATE_H

#include <stddef.h>

#include "core/id.h"

#define SG_RCHAN_BUCKETS 1024

/* A channel this node has or had local subscribers for. */
typedef struct sg_rchan {
	struct sg_rchan *next;
	long local;            /* local subscribers */
	unsigned on : 1;       /* SUBSCRIBEd (confirmed) on the current connection */
	unsigned inflight : 1; /* a SUBSCRIBE or UNSUBSCRIBE awaits its answer */
	char name[];
} sg_rchan;

/* Owns its channels. Zero it to start. */
typedef struct sg_rchans {
	sg_rchan *buckets[SG_RCHAN_BUCKETS];
	size_t n;        /* channels held */
	size_t inflight; /* commands awaiting an answer */
} sg_rchans;

typedef enum {
	SG_RCH_NONE,        /* nothing to send */
	SG_RCH_SUBSCRIBE,   /* send SUBSCRIBE (now in flight) */
	SG_RCH_UNSUBSCRIBE, /* send UNSUBSCRIBE (now in flight) */
} sg_rch_action;

/* The channel named name (borrowed), made when create and new; NULL when
 * unknown (or out of memory). */
sg_rchan *sg_rchans_get(sg_rchans *t, const char *name, int create);
/* What c needs next on a connection that is up (connected nonzero); none
 * while one of its commands is in flight. A channel that is off, wanted
 * by nobody and idle is freed (c must not be used after SG_RCH_NONE
 * unless the caller holds it through t). */
sg_rch_action sg_rchans_next(sg_rchans *t, sg_rchan *c, int connected);
/* The answer to c's command in flight came: subscribed or not. */
void sg_rchans_answered(sg_rchans *t, sg_rchan *c, int subscribed);
/* The connection went: every channel is off with nothing in flight. */
void sg_rchans_reset(sg_rchans *t);
/* Calls fn for every channel (fn may not free it). */
void sg_rchans_each(sg_rchans *t, void (*fn)(void *ud, sg_rchan *c), void *ud);
/* Frees every channel. */
void sg_rchans_free(sg_rchans *t);

/* What one PUBLISH between nodes carries: "m\nEPOCH\nID\nEVENT\nDATA" (a
 * message; EVENT empty when none) or "d\nEPOCH\n\n\n" (the channel was
 * deleted). Pointers into the payload. */
typedef struct sg_redis_payload {
	char kind; /* 'm' or 'd' */
	const char *epoch;
	size_t epoch_len;
	sg_id pos;
	char id[SG_ID_TEXT_MAX];
	char event[256]; /* "" when none */
	const char *data;
	size_t len;
} sg_redis_payload;

/* Parses n bytes at p; SG_EINVAL when they are not such a payload (bad
 * kind, missing lines, an id that does not parse, an event too long). */
int sg_redis_payload_parse(const char *p, size_t n, sg_redis_payload *out);

#endif
