/*
 * redis_sub — the SUBSCRIBE connection's side of the Redis broker: a
 * channel is SUBSCRIBEd when its first local subscriber arrives and
 * UNSUBSCRIBEd after the last (one command in flight per channel, see
 * redis_state.h); what PUBLISH brings goes to the hub, or waits in a
 * bounded queue while a catch-up read is out.
 */
#include "redis_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIVE_QUEUE_MAX 100000 /* live messages kept while a catch-up is out */

/* ---- subscriptions ----------------------------------------------------------- */

static void on_pubsub(redisAsyncContext *ac, void *reply, void *priv);

/* Sends what channel c needs next, if anything (c may be freed). */
static void channel_reconcile(sg_rbroker *b, sg_rchan *c)
{
	char name[256];
	int was = b->chans.inflight != 0;
	sg_rch_action a = sg_rchans_next(&b->chans, c, b->sub_ok && b->sub != NULL);
	if (a == SG_RCH_NONE)
		return;
	sg__redis_key(b, "c:", c->name, name, sizeof(name));
	const char *argv[] = {a == SG_RCH_SUBSCRIBE ? "SUBSCRIBE" : "UNSUBSCRIBE", name};
	if (!was)
		b->sub_since = ev_now(b->loop);
	if (redisAsyncCommandArgv(b->sub, on_pubsub, b, 2, argv, NULL) != REDIS_OK)
		sg__redis_fail(b, "cannot send");
}

void sg__redis_subscribe_one(void *ud, sg_rchan *c)
{
	channel_reconcile(ud, c);
}

/* The hub's subscribers hook: the first local subscriber of a channel
 * SUBSCRIBEs, the last one gone UNSUBSCRIBEs. */
void sg__redis_on_subscribers(void *ud, const char *channel, long delta)
{
	sg_rbroker *b = ud;
	sg_rchan *c = sg_rchans_get(&b->chans, channel, delta > 0);
	if (!c)
		return; /* out of memory: the channel stays unsubscribed */
	c->local += delta;
	channel_reconcile(b, c);
	if (delta < 0)
		sg__redis_reads_kick(b); /* a resume waiting for a stream that left */
}

/* "message", "subscribe" and "unsubscribe" of the SUBSCRIBE connection. */
static void on_pubsub(redisAsyncContext *ac, void *reply, void *priv)
{
	(void)ac;
	sg_rbroker *b = priv;
	redisReply *r = reply;
	size_t plen = strlen(b->prefix) + 2;
	if (!r || b->state == SG_REDIS_DOWN)
		return;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
	    r->element[0]->type != REDIS_REPLY_STRING ||
	    r->element[1]->type != REDIS_REPLY_STRING || r->element[1]->len <= plen ||
	    r->element[1]->len > plen + SG_CHANNEL_NAME_MAX) {
		sg__redis_fail(b, "bad pubsub reply");
		return;
	}
	const char *kind = r->element[0]->str, *channel = r->element[1]->str + plen;
	if (strcmp(kind, "message") == 0) {
		if (r->element[2]->type == REDIS_REPLY_STRING)
			sg__redis_live(b, channel, r->element[2]->str, r->element[2]->len);
		return;
	}
	int subscribed = strcmp(kind, "subscribe") == 0;
	if (!subscribed && strcmp(kind, "unsubscribe") != 0)
		return;
	sg_rchan *c = sg_rchans_get(&b->chans, channel, 0);
	if (!c)
		return;
	sg_rchans_answered(&b->chans, c, subscribed);
	b->sub_since = ev_now(b->loop);
	channel_reconcile(b, c); /* wanted again, or not any more, meanwhile */
	if (subscribed)
		sg__redis_reads_kick(b);
	sg__redis_maybe_up(b);
}

/* ---- live messages -------------------------------------------------------- */

void sg__redis_live(sg_rbroker *b, const char *channel, const char *payload, size_t len)
{
	if (b->state == SG_REDIS_UP) {
		sg_redis_payload m;
		if (sg_redis_payload_parse(payload, len, &m) == 0)
			sg__redis_apply(b, channel, &m);
		return;
	}
	if (b->nlive >= LIVE_QUEUE_MAX) { /* read it all again after this catch-up */
		b->recatch = 1;
		return;
	}
	sg_rlive *l = malloc(sizeof(*l) + len);
	if (!l) {
		b->recatch = 1;
		return;
	}
	l->next = NULL;
	l->len = len;
	snprintf(l->channel, sizeof(l->channel), "%s", channel);
	memcpy(l->payload, payload, len);
	if (b->live_tail)
		b->live_tail->next = l;
	else
		b->live = l;
	b->live_tail = l;
	b->nlive++;
}

/* After a catch-up: the live messages that came meanwhile, then up. */
void sg__redis_caught_up(sg_rbroker *b)
{
	sg_rlive *l = b->live;
	b->live = b->live_tail = NULL;
	b->nlive = 0;
	b->catching_up = 0;
	if (b->recatch) { /* some were dropped: read again from where we are */
		b->recatch = 0;
		while (l) {
			sg_rlive *next = l->next;
			free(l);
			l = next;
		}
		sg__redis_catch_up(b);
		return;
	}
	sg__redis_set_state(b, SG_REDIS_UP);
	b->backoff_s = SG_REDIS_BACKOFF_MIN_S;
	while (l) {
		sg_rlive *next = l->next;
		sg_redis_payload m;
		if (b->state == SG_REDIS_UP && sg_redis_payload_parse(l->payload, l->len, &m) == 0)
			sg__redis_apply(b, l->channel, &m);
		free(l);
		l = next;
	}
	sg__redis_reads_kick(b);
}
