/*
 * hub — channels, subscribers, history and fan-out. Publishing renders
 * nothing itself: each subscriber queues the message's shared frame for its
 * transport, so N subscribers cost N queue appends.
 */
#include "hub.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "message.h"
#include "stream.h"

struct sg_channel {
	char *name;
	uint64_t last_seq;
	sg_stream **subs;
	size_t nsubs, subs_cap;
	sg_msg **hist; /* ring: hcount messages from hhead, hcap slots */
	size_t hcap, hhead, hcount, hbytes;
	sg_channel *next; /* bucket chain */
};

struct sg_hub {
	sg_channel **buckets;
	size_t nbuckets, nchannels;
	sg_hub_limits lim;
};

sg_hub *sg_hub_new(const sg_hub_limits *lim)
{
	sg_hub *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->nbuckets = 1024;
	h->buckets = calloc(h->nbuckets, sizeof(*h->buckets));
	if (!h->buckets) {
		free(h);
		return NULL;
	}
	h->lim = *lim;
	return h;
}

static sg_msg *history_at(const sg_channel *c, size_t i)
{
	return c->hist[(c->hhead + i) % c->hcap];
}

static void history_evict_oldest(sg_channel *c)
{
	sg_msg *m = c->hist[c->hhead];
	c->hhead = (c->hhead + 1) % c->hcap;
	c->hcount--;
	c->hbytes -= m->len;
	sg_msg_unref(m);
}

/* Drops messages older than history_age_ms (0: no age bound). */
static void history_evict_expired(const sg_hub *h, sg_channel *c, int64_t now_ms)
{
	if (!h->lim.history_age_ms)
		return;
	while (c->hcount && now_ms - history_at(c, 0)->time_ms > (int64_t)h->lim.history_age_ms)
		history_evict_oldest(c);
}

static void channel_free(sg_channel *c)
{
	while (c->hcount)
		history_evict_oldest(c);
	free(c->hist);
	free(c->subs);
	free(c->name);
	free(c);
}

void sg_hub_free(sg_hub *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->nbuckets; i++)
		while (h->buckets[i]) {
			sg_channel *c = h->buckets[i];
			h->buckets[i] = c->next;
			channel_free(c);
		}
	free(h->buckets);
	free(h);
}

int sg_channel_name_valid(const char *name)
{
	size_t n = 0;
	for (const char *p = name; *p; p++, n++) {
		char ch = *p;
		int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			 (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == ':' ||
			 ch == '-';
		if (!ok || n >= SG_CHANNEL_NAME_MAX)
			return 0;
	}
	return n > 0;
}

int sg_event_name_valid(const char *event)
{
	return !event || (*event && !strpbrk(event, "\r\n"));
}

int sg_id_parse(const char *text, uint64_t *out)
{
	if (!text || !*text || strlen(text) > 20)
		return SG_EINVAL;
	for (const char *p = text; *p; p++)
		if (*p < '0' || *p > '9')
			return SG_EINVAL;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(text, &end, 10);
	if (errno || *end)
		return SG_EINVAL;
	*out = v;
	return 0;
}

static size_t name_hash(const char *s)
{
	size_t h = 5381;
	while (*s)
		h = h * 33 + (unsigned char)*s++;
	return h;
}

static sg_channel *channel_find(const sg_hub *h, const char *name)
{
	for (sg_channel *c = h->buckets[name_hash(name) % h->nbuckets]; c; c = c->next)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

/* The channel named name, made when new: 0, SG_ETOOBIG past max_channels,
 * or SG_ENOMEM. */
static int channel_get(sg_hub *h, const char *name, sg_channel **out)
{
	sg_channel *c = *out = channel_find(h, name);
	if (c)
		return 0;
	if (h->lim.max_channels && h->nchannels >= h->lim.max_channels)
		return SG_ETOOBIG;
	c = calloc(1, sizeof(*c));
	if (!c || !(c->name = strdup(name))) {
		free(c);
		return SG_ENOMEM;
	}
	size_t b = name_hash(name) % h->nbuckets;
	c->next = h->buckets[b];
	h->buckets[b] = c;
	h->nchannels++;
	*out = c;
	return 0;
}

size_t sg_hub_channel_count(const sg_hub *h)
{
	return h->nchannels;
}

/* Appends m to history (takes a ref), then evicts down to the bounds. */
static int history_append(sg_hub *h, sg_channel *c, sg_msg *m)
{
	if (h->lim.history_count == 0)
		return 0;
	if (c->hcount == c->hcap) {
		size_t cap = c->hcap ? c->hcap * 2 : 16;
		sg_msg **v = malloc(cap * sizeof(*v));
		if (!v)
			return SG_ENOMEM;
		for (size_t i = 0; i < c->hcount; i++)
			v[i] = history_at(c, i);
		free(c->hist);
		c->hist = v;
		c->hcap = cap;
		c->hhead = 0;
	}
	c->hist[(c->hhead + c->hcount) % c->hcap] = sg_msg_ref(m);
	c->hcount++;
	c->hbytes += m->len;
	while (c->hcount > h->lim.history_count ||
	       (c->hcount > 1 && c->hbytes > h->lim.history_bytes))
		history_evict_oldest(c);
	history_evict_expired(h, c, m->time_ms);
	return 0;
}

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int sg_hub_publish(sg_hub *h, const sg_publish_req *req, sg_publish_result *res)
{
	uint64_t seq = 0;
	if (!sg_channel_name_valid(req->channel) || !sg_event_name_valid(req->event) ||
	    (req->id && sg_id_parse(req->id, &seq)))
		return SG_EINVAL;
	sg_channel *c;
	int rc = channel_get(h, req->channel, &c);
	if (rc)
		return rc;
	if (!req->id)
		seq = c->last_seq + 1;
	if (seq <= c->last_seq || seq == UINT64_MAX)
		return SG_EID_STALE;
	char id[24];
	snprintf(id, sizeof(id), "%llu", (unsigned long long)seq);
	sg_msg *m = sg_msg_new(c->name, seq, id, req->event, req->data, req->len, wall_ms());
	if (!m)
		return SG_ENOMEM;
	c->last_seq = seq;
	rc = history_append(h, c, m);
	/* a subscriber may be cut (slow consumer) and leave during fan-out */
	for (size_t i = c->nsubs; i-- > 0;)
		if (i < c->nsubs)
			sg__stream_deliver(c->subs[i], m);
	if (res) {
		memcpy(res->id, id, sizeof(id));
		res->subscribers = c->nsubs;
	}
	sg_msg_unref(m);
	return rc;
}

static void unsubscribe_all(void *hub, sg_stream *s)
{
	(void)hub;
	while (sg__stream_nsubs(s)) {
		sg_subscription *sub = sg__stream_sub_at(s, 0);
		sg_channel *c = sub->channel;
		size_t i = sub->index;
		sg__stream_remove_sub(s, c);
		c->subs[i] = c->subs[--c->nsubs];
		if (i < c->nsubs)
			sg__stream_find_sub(c->subs[i], c)->index = i;
	}
}

int sg_hub_subscribe(sg_hub *h, sg_stream *s, const char *channel, const char *last_id)
{
	uint64_t after = 0;
	if (!sg_channel_name_valid(channel))
		return SG_EINVAL;
	if (last_id && sg_id_parse(last_id, &after))
		return SG_EBADID;
	if (!sg__stream_conn(s))
		return SG_ECLOSED; /* detached: it would never be removed again */
	sg_channel *c;
	int rc = channel_get(h, channel, &c);
	if (rc)
		return rc;
	if (sg__stream_find_sub(s, c))
		return 0;
	if (c->nsubs == c->subs_cap) {
		size_t cap = c->subs_cap ? c->subs_cap * 2 : 4;
		sg_stream **v = realloc(c->subs, cap * sizeof(*v));
		if (!v)
			return SG_ENOMEM;
		c->subs = v;
		c->subs_cap = cap;
	}
	if (sg__stream_add_sub(s, c, c->nsubs))
		return SG_ENOMEM;
	c->subs[c->nsubs++] = s;
	sg_hub_attach(h, s);
	sg__stream_set_last_seq(s, last_id ? after : c->last_seq);
	if (last_id)
		for (size_t i = 0; i < c->hcount; i++)
			if (history_at(c, i)->seq > after)
				sg__stream_deliver(s, history_at(c, i));
	return 0;
}

void sg_hub_attach(sg_hub *h, sg_stream *s)
{
	sg__stream_set_hub(s, h, unsubscribe_all);
}

int sg_stream_subscribe(sg_stream *s, const char *channel, const char *last_event_id)
{
	sg_hub *h = sg__stream_hub(s);
	return h ? sg_hub_subscribe(h, s, channel, last_event_id) : SG_EINVAL;
}

int sg_hub_channel_info(sg_hub *h, const char *channel, sg_channel_info *out)
{
	sg_channel *c = channel_find(h, channel);
	if (!c)
		return SG_ENOTFOUND;
	out->subscribers = c->nsubs;
	out->history_count = c->hcount;
	out->history_bytes = c->hbytes;
	out->first_id = c->hcount ? history_at(c, 0)->seq : 0;
	out->last_id = c->last_seq;
	return 0;
}

/* Unlinks c from its bucket chain and frees it. */
static void channel_remove(sg_hub *h, sg_channel *c)
{
	for (sg_channel **p = &h->buckets[name_hash(c->name) % h->nbuckets]; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			h->nchannels--;
			channel_free(c);
			return;
		}
}

size_t sg_hub_sweep(sg_hub *h, int64_t now_ms)
{
	size_t reclaimed = 0;
	for (size_t b = 0; b < h->nbuckets; b++)
		for (sg_channel *c = h->buckets[b], *next; c; c = next) {
			next = c->next;
			history_evict_expired(h, c, now_ms);
			if (c->nsubs == 0 && c->hcount == 0) {
				channel_remove(h, c);
				reclaimed++;
			}
		}
	return reclaimed;
}

int sg_hub_delete(sg_hub *h, const char *channel, size_t *subscribers)
{
	sg_channel *c = channel_find(h, channel);
	if (!c)
		return SG_ENOTFOUND;
	*subscribers = c->nsubs;
	/* unsubscribe everyone first: closing must not touch the freed channel */
	sg_stream **subs = c->subs;
	size_t n = c->nsubs;
	c->subs = NULL;
	c->nsubs = c->subs_cap = 0;
	for (size_t i = 0; i < n; i++)
		sg__stream_remove_sub(subs[i], c);
	channel_remove(h, c);
	for (size_t i = 0; i < n; i++)
		sg_stream_close(subs[i]);
	free(subs);
	return 0;
}
