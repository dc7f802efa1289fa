/*
 * hub_private — the hub's structs, shared by hub.c (channels, history,
 * fan-out) and hub_evict.c (the idle order and eviction at max_channels).
 * Nothing outside src/core/hub*.c includes it.
 */
#ifndef SG_CORE_HUB_PRIVATE_H
#define SG_CORE_HUB_PRIVATE_H

#include <stdatomic.h>
#include <stdint.h>

#include "hub.h"
#include "message.h"

/* Which idle list a channel is on. */
typedef enum { SG_IDLE_NONE, SG_IDLE_EVICTABLE, SG_IDLE_HELD } sg_idle_list;

/* A doubly linked list of channels through their idle links (borrowed:
 * the hub's buckets own the channels). */
typedef struct sg_channel_list {
	sg_channel *head, *tail;
} sg_channel_list;

/* One channel; owned by the hub's bucket chain. Holds a ref on each
 * message of its history; its subscriber streams are borrowed. */
struct sg_channel {
	char *name;
	sg_id last;  /* newest message published here, zero when none */
	sg_id floor; /* resuming from before this can have missed messages */
	int evicted; /* the history has lost a message */
	sg_stream **subs;
	size_t nsubs, subs_cap;
	/* beside subs[i]: what its resume replayed up to, so a live copy of
	 * it that a networked broker delivers late is dropped (seen_cap slots) */
	sg_id *seen;
	size_t seen_cap;
	sg_msg **hist; /* ring: hcount messages from hhead, hcap slots */
	size_t hcap, hhead, hcount, hbytes;
	sg_channel *next; /* bucket chain */
	sg_idle_list idle; /* which of the hub's idle lists holds it */
	sg_channel *idle_prev, *idle_next;
	/* publish rate (GET /channels): publishes counted in a window of at
	 * least a second, and the rate of the last full window */
	uint64_t published;
	int64_t win_start_ms;
	uint32_t win_count;
	float rate;
};

/* The hub; owns its channels. */
struct sg_hub {
	sg_channel **buckets;
	size_t nbuckets, nchannels;
	sg_hub_limits lim;
	sg_id start; /* the first id this hub could have given */
	sg_id last;  /* the last id it gave */
	sg_id floor; /* newest id a channel that went away held: a new one vouches from here */
	sg_hub_hooks hooks;
	/* channels without local subscribers, least recently active first:
	 * evictable ones, and held ones another hub had subscribers for when
	 * eviction last looked (they rejoin on activity or at the sweep) */
	sg_channel_list idle, held;
	atomic_ulong channels_evicted; /* read from any thread */
};

/* Puts c in its place after activity (a publish, a subscriber coming or
 * going): last of the evictable list when it has no local subscriber, on
 * no list otherwise. */
void sg__hub_idle_touch(sg_hub *h, sg_channel *c);
/* Takes c off whichever idle list holds it (before it is freed). */
void sg__hub_idle_unlink(sg_hub *h, sg_channel *c);
/* At the sweep: a held channel no longer subscribed elsewhere becomes
 * evictable again (last in the order). */
void sg__hub_idle_recheck(sg_hub *h, sg_channel *c);
/* Makes room for one more channel: 0 when under max_channels or after
 * evicting the least recently active channel without subscribers
 * anywhere; SG_ETOOBIG when there is none. */
int sg__hub_make_room(sg_hub *h);
/* hub.c: the i-th oldest message of c's history (borrowed); the channel
 * named name, or NULL. */
struct sg_msg *sg__hub_history_at(const sg_channel *c, size_t i);
sg_channel *sg__hub_channel_find(const sg_hub *h, const char *name);
/* hub_resume.c: replays what s missed on cs[0..n) after last_id (NULL: a
 * live subscribe, which reads only when a history hook is set) from this
 * hub's history or through the history hook; live messages wait meanwhile. */
int sg__hub_resume_start(sg_hub *h, sg_stream *s, sg_channel **cs, size_t n, const char *last_id);

/* Unlinks c (owned by h) from its bucket and idle list and frees it; what
 * it held becomes the hub's floor. */
void sg__hub_channel_remove(sg_hub *h, sg_channel *c);

#endif
