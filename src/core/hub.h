/*
 * hub — channels by name: each keeps its subscribers and a bounded history,
 * assigns ids when a message is published and fans it out. Loop thread only;
 * other threads reach it through the server's post.
 */
#ifndef SG_CORE_HUB_H
#define SG_CORE_HUB_H

#include <stddef.h>
#include <stdint.h>

#include "id.h"
#include "streamgate.h"

typedef struct sg_hub sg_hub;
typedef struct sg_channel sg_channel;

typedef struct sg_hub_limits {
	size_t history_count; /* messages kept per channel */
	size_t history_bytes; /* payload bytes kept per channel */
	uint64_t history_age_ms; /* oldest message kept, 0: no bound */
	size_t max_channels;	 /* channels at once (0: no bound): past it the least
				    recently active channel without subscribers is
				    evicted; SG_ETOOBIG when all have some */
	int64_t (*clock_ms)(void); /* wall clock in ms; NULL: the real one */
} sg_hub_limits;

/* One publish; every pointer borrowed. id NULL: the hub assigns one. */
typedef struct sg_publish_req {
	const char *channel;
	const char *event;
	const char *id;
	const void *data;
	size_t len;
} sg_publish_req;

typedef struct sg_publish_result {
	char id[SG_ID_TEXT_MAX];
	size_t subscribers;
} sg_publish_result;

typedef struct sg_channel_info {
	size_t subscribers;
	size_t history_count, history_bytes;
	sg_id first_id, last_id; /* zero when none */
} sg_channel_info;

#define SG_CHANNEL_NAME_MAX 128
#define SG_SUBSCRIBE_MAX 16 /* channels in one subscribe call */

/* Caller frees with sg_hub_free. */
sg_hub *sg_hub_new(const sg_hub_limits *lim);
/* Frees every channel and its history; subscribers must be gone. */
void sg_hub_free(sg_hub *h);
/* Replaces h's bounds with lim's (borrowed; the clock stays h's own) and
 * evicts at once what the new bounds do not keep. Channels past a lowered
 * max_channels stay; only new ones are refused. Loop thread. */
void sg_hub_set_limits(sg_hub *h, const sg_hub_limits *lim);

/* h's bounds as they are now (a reload may change them). */
sg_hub_limits sg_hub_get_limits(const sg_hub *h);
/* Subscribers of channel on this hub (0 when it is unknown). */
size_t sg_hub_subscribers(const sg_hub *h, const char *channel);
/* Tells every subscriber of channel that messages may be missing (a
 * broker's store lost them): the gap control message, reason why. */
void sg_hub_gap(sg_hub *h, const char *channel, const char *why);

/* Nonzero when name is 1..128 of [A-Za-z0-9_.:-]. */
int sg_channel_name_valid(const char *name);
/* Nonzero when event is NULL or a non-empty line (no CR or LF), as SSE
 * needs. */
int sg_event_name_valid(const char *event);

/* Stores and fans out one message. SG_EID_STALE when req->id is not above
 * the hub's last id; SG_EINVAL for a malformed id (or one over a minute
 * ahead of the clock), name or event;
 * SG_ETOOBIG when a new channel would pass max_channels and every channel
 * has subscribers (else the least recently active one without is evicted). */
int sg_hub_publish(sg_hub *h, const sg_publish_req *req, sg_publish_result *res);
/* Stores and fans out a message whose id a broker gave (req->id is
 * ignored): SG_EID_STALE when pos is not above the hub's last id (the hub
 * has it already), else as sg_hub_publish. */
int sg_hub_publish_at(sg_hub *h, const sg_publish_req *req, sg_id pos, sg_publish_result *res);
/* The store behind a broker lost its data and gives ids from last on
 * (perhaps lower than what this hub gave): the hub takes them. */
void sg_hub_rebase(sg_hub *h, sg_id last);
/* Subscribes s to channel, first queueing the history after last_id (NULL:
 * none; the replay may come later, see the history hook, while live
 * messages wait). When the history cannot vouch for everything after last_id (it
 * was evicted, the id predates this process, or is unknown) a "gap"
 * control message goes first and the whole history follows. SG_EINVAL for
 * a bad name, SG_EBADID for a malformed last_id. */
int sg_hub_subscribe(sg_hub *h, sg_stream *s, const char *channel, const char *last_id);
/* Lets s subscribe later (sg_stream_subscribe) and unsubscribes it from
 * everything when it detaches. */
void sg_hub_attach(sg_hub *h, sg_stream *s);
/* The same for several channels at once (at most SG_SUBSCRIBE_MAX): their
 * histories are replayed merged in id order. */
int sg_hub_subscribe_many(sg_hub *h, sg_stream *s, const char *const *names, size_t n,
			  const char *last_id);
/* SG_ENOTFOUND when s is not subscribed to channel. */
int sg_hub_unsubscribe(sg_hub *h, sg_stream *s, const char *channel);
/* The name of a channel a stream holds (borrowed, valid while it does). */
const char *sg_hub_channel_name(const struct sg_channel *c);
/* SG_ENOTFOUND when the channel does not exist. */
int sg_hub_channel_info(sg_hub *h, const char *channel, sg_channel_info *out);
size_t sg_hub_channel_count(const sg_hub *h);
/* What GET /channels reports of one channel; name borrowed for the call. */
typedef struct sg_channel_stat {
	const char *name;
	size_t subscribers; /* this hub's */
	uint64_t published; /* since the channel was made here */
	double rate;	    /* publishes a second over the last full window of 1 to 2 s; 0 when
			       none came for 2 s */
} sg_channel_stat;
/* Calls fn for every channel (loop thread; fn must not change the hub). */
void sg_hub_each_channel(sg_hub *h, int64_t now_ms, void (*fn)(void *ud, const sg_channel_stat *st),
			 void *ud);
/* Evicts expired history and frees channels that have neither subscribers
 * nor history; a channel eviction passed over because another hub had
 * subscribers becomes evictable again when it has none. Returns how many
 * channels were freed. */
size_t sg_hub_sweep(sg_hub *h, int64_t now_ms);
/* Makes sure a publish to channel will not pass max_channels: 0 when it
 * exists or there is room, evicting the least recently active channel
 * with no subscriber (here or elsewhere) if it must; SG_ETOOBIG when every
 * channel has subscribers. */
int sg_hub_make_room(sg_hub *h, const char *channel);
/* Channels evicted to make room at max_channels since the hub was made.
 * Safe from any thread. */
unsigned long sg_hub_channels_evicted(const sg_hub *h);
/* The newest id this hub gave or took. */
sg_id sg_hub_last(const sg_hub *h);
/* Tells the hub a message with id was meant for it but not stored (a
 * channel it could not hold): resumes from before it get a gap. */
void sg_hub_lost(sg_hub *h, sg_id id);

/* A resume waiting for its replay: the hub's handle (owns a stream ref),
 * lent to the history hook and given back through sg_hub_resume_done. */
typedef struct sg_resume sg_resume;
struct sg_msg;

/* What a history source found for one channel of a resume. */
typedef struct sg_replay {
	const char *gap;      /* NULL, or why it cannot vouch for everything
				 after the id: "evicted", "restarted", "unknown" */
	struct sg_msg **msgs; /* after the id (all it has after a gap), in id
				 order; borrowed for the call */
	size_t n;
} sg_replay;

/* Completes r (and frees it): rc 0 and v[i] for the i-th channel the hook
 * was given; upto is the newest id the source had when it read, so live
 * messages held meanwhile at or below it, on these channels, were in the
 * replay (after a gap the cursor goes there). rc nonzero: the source
 * could not answer and the stream is cut, so its client resumes again. */
void sg_hub_resume_done(sg_resume *r, int rc, const sg_replay *v, sg_id upto);
/* Nonzero when r is a subscribe that asked for no history: the read only
 * covers the time until the broker's own subscription took effect, a gap
 * is not the client's concern and a failed read cuts nothing. */
int sg_hub_resume_live(const sg_resume *r);

/* Hooks for a broker that spans several hubs (see broker/workers.c); each
 * NULL-safe, called on the hub's thread. sync runs before the hub answers
 * a subscribe, so it can first take in what was published elsewhere;
 * subscribers runs when channel's local subscriber count changes by delta;
 * elsewhere tells the sweep and eviction that another hub has subscribers
 * to channel, so it is kept (with its last id) even with none here. */
typedef struct sg_hub_hooks {
	void (*sync)(void *ud);
	void (*subscribers)(void *ud, const char *channel, long delta);
	int (*elsewhere)(void *ud, const char *channel);
	/* Where a resume's replay comes from when not this hub's own history:
	 * reads names[0..n) (borrowed for the call) after `after` and calls
	 * sg_hub_resume_done(r, ...) exactly once, now or later. */
	void (*history)(void *ud, sg_resume *r, const char *const *names, size_t n, sg_id after);
	void *ud;
} sg_hub_hooks;
void sg_hub_set_hooks(sg_hub *h, const sg_hub_hooks *hooks);

/* Deletes a channel: its subscribers are unsubscribed and their streams
 * closed cleanly, its history dropped. SG_ENOTFOUND when unknown. */
int sg_hub_delete(sg_hub *h, const char *channel, size_t *subscribers);

#endif
