/*
 * hub — channels, subscribers, history and fan-out. Publishing renders
 * nothing itself: each subscriber queues the message's shared frame for its
 * transport, so N subscribers cost N queue appends.
 */
#include "hub_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "message.h"
#include "stream.h"

static int64_t hub_now(const sg_hub *h)
{
	return h->lim.clock_ms ? h->lim.clock_ms() : sg_wall_ms();
}

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
	h->start = h->last = h->floor = (sg_id){(uint64_t)hub_now(h), 0};
	return h;
}

sg_msg *sg__hub_history_at(const sg_channel *c, size_t i)
{
	return c->hist[(c->hhead + i) % c->hcap];
}

static void history_evict_oldest(sg_channel *c)
{
	sg_msg *m = c->hist[c->hhead];
	c->floor = m->pos;
	c->evicted = 1;
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
	while (c->hcount && now_ms - sg__hub_history_at(c, 0)->time_ms > (int64_t)h->lim.history_age_ms)
		history_evict_oldest(c);
}

static void channel_free(sg_channel *c)
{
	while (c->hcount)
		history_evict_oldest(c);
	free(c->hist);
	free(c->subs);
	free(c->seen);
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

static size_t name_hash(const char *s)
{
	size_t h = 5381;
	while (*s)
		h = h * 33 + (unsigned char)*s++;
	return h;
}

sg_channel *sg__hub_channel_find(const sg_hub *h, const char *name)
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
	sg_channel *c = *out = sg__hub_channel_find(h, name);
	if (c)
		return 0;
	int rc = sg__hub_make_room(h);
	if (rc)
		return rc;
	c = calloc(1, sizeof(*c));
	if (!c || !(c->name = strdup(name))) {
		free(c);
		return SG_ENOMEM;
	}
	c->floor = h->floor; /* before it, this name may have lost messages */
	size_t b = name_hash(name) % h->nbuckets;
	c->next = h->buckets[b];
	h->buckets[b] = c;
	h->nchannels++;
	sg__hub_idle_touch(h, c);
	*out = c;
	return 0;
}

size_t sg_hub_channel_count(const sg_hub *h)
{
	return h->nchannels;
}

/* Evicts c's oldest messages until it is within the count and bytes bounds
 * (one message may pass history_bytes alone). */
static void history_evict_over(const sg_hub *h, sg_channel *c)
{
	while (c->hcount > h->lim.history_count ||
	       (c->hcount > 1 && c->hbytes > h->lim.history_bytes))
		history_evict_oldest(c);
}

void sg_hub_set_limits(sg_hub *h, const sg_hub_limits *lim)
{
	int64_t (*clock_ms)(void) = h->lim.clock_ms;
	h->lim = *lim;
	h->lim.clock_ms = clock_ms;
	int64_t now = hub_now(h);
	for (size_t b = 0; b < h->nbuckets; b++)
		for (sg_channel *c = h->buckets[b]; c; c = c->next) {
			history_evict_over(h, c);
			history_evict_expired(h, c, now);
		}
}

/* Appends m to history (takes a ref), then evicts down to the bounds. */
static int history_append(sg_hub *h, sg_channel *c, sg_msg *m)
{
	if (h->lim.history_count == 0) { /* kept nowhere: lost to a resume */
		c->floor = m->pos;
		c->evicted = 1;
		return 0;
	}
	if (c->hcount == c->hcap) {
		size_t cap = c->hcap ? c->hcap * 2 : 16;
		sg_msg **v = malloc(cap * sizeof(*v));
		if (!v)
			return SG_ENOMEM;
		for (size_t i = 0; i < c->hcount; i++)
			v[i] = sg__hub_history_at(c, i);
		free(c->hist);
		c->hist = v;
		c->hcap = cap;
		c->hhead = 0;
	}
	c->hist[(c->hhead + c->hcount) % c->hcap] = sg_msg_ref(m);
	c->hcount++;
	c->hbytes += m->len;
	history_evict_over(h, c);
	history_evict_expired(h, c, m->time_ms);
	return 0;
}

/* Counts a publish at now_ms in c's rate window; a window closes at the
 * first publish a second or more after it opened. */
static void rate_count(sg_channel *c, int64_t now_ms)
{
	int64_t span = now_ms - c->win_start_ms;
	if (span >= 1000) {
		c->rate = span < 2000 ? (float)c->win_count * 1000.0f / (float)span : 0.0f;
		c->win_start_ms = now_ms;
		c->win_count = 0;
	}
	c->win_count++;
	c->published++;
}

void sg_hub_each_channel(sg_hub *h, int64_t now_ms, void (*fn)(void *ud, const sg_channel_stat *st),
			 void *ud)
{
	for (size_t b = 0; b < h->nbuckets; b++)
		for (sg_channel *c = h->buckets[b]; c; c = c->next) {
			int64_t span = now_ms - c->win_start_ms;
			sg_channel_stat st = {.name = c->name,
					      .subscribers = c->nsubs,
					      .published = c->published,
					      .rate = span < 2000 ? c->rate : 0.0};
			fn(ud, &st);
		}
}

int sg_hub_publish(sg_hub *h, const sg_publish_req *req, sg_publish_result *res)
{
	sg_id pos;
	if (!sg_channel_name_valid(req->channel) || !sg_event_name_valid(req->event))
		return SG_EINVAL;
	int rc = sg_id_accept(req->id, h->last, (uint64_t)hub_now(h), &pos);
	return rc ? rc : sg_hub_publish_at(h, req, pos, res);
}

int sg_hub_publish_at(sg_hub *h, const sg_publish_req *req, sg_id pos, sg_publish_result *res)
{
	int64_t now = hub_now(h);
	sg_channel *c;
	if (!sg_channel_name_valid(req->channel) || !sg_event_name_valid(req->event))
		return SG_EINVAL;
	if (sg_id_cmp(pos, h->last) <= 0)
		return SG_EID_STALE;
	int rc = channel_get(h, req->channel, &c);
	if (rc)
		return rc;
	char id[SG_ID_TEXT_MAX];
	sg_id_format(pos, id);
	sg_msg *m = sg_msg_new(c->name, pos, id, req->event, req->data, req->len, now);
	if (!m)
		return SG_ENOMEM;
	h->last = c->last = pos;
	rate_count(c, now);
	sg__hub_idle_touch(h, c);
	rc = history_append(h, c, m);
	/* a subscriber may be cut (slow consumer) and leave during fan-out */
	for (size_t i = c->nsubs; i-- > 0;)
		if (i < c->nsubs && sg_id_cmp(pos, c->seen[i]) > 0)
			sg__stream_deliver(c->subs[i], m);
	if (res) {
		memcpy(res->id, id, sizeof(id));
		res->subscribers = c->nsubs;
	}
	sg_msg_unref(m);
	return rc;
}

/* Removes s from c's subscribers; the last one moved keeps its index. */
static void subscribers_changed(const sg_hub *h, const sg_channel *c, long delta)
{
	if (h->hooks.subscribers)
		h->hooks.subscribers(h->hooks.ud, c->name, delta);
}

static void subscription_drop(sg_hub *h, sg_stream *s, sg_channel *c)
{
	size_t i = sg__stream_find_sub(s, c)->index;
	sg__stream_remove_sub(s, c);
	subscribers_changed(h, c, -1);
	c->subs[i] = c->subs[--c->nsubs];
	c->seen[i] = c->seen[c->nsubs];
	if (i < c->nsubs)
		sg__stream_find_sub(c->subs[i], c)->index = i;
	sg__hub_idle_touch(h, c);
}

static void unsubscribe_all(void *hub, sg_stream *s)
{
	while (sg__stream_nsubs(s))
		subscription_drop(hub, s, sg__stream_sub_at(s, 0)->channel);
}

const char *sg_hub_channel_name(const struct sg_channel *c)
{
	return c->name;
}

int sg_hub_unsubscribe(sg_hub *h, sg_stream *s, const char *channel)
{
	sg_channel *c = sg__hub_channel_find(h, channel);
	if (!c || !sg__stream_find_sub(s, c))
		return SG_ENOTFOUND;
	subscription_drop(h, s, c);
	return 0;
}

/* Adds s to c's subscribers (not yet subscribed). */
static int subscription_add(sg_hub *h, sg_stream *s, sg_channel *c)
{
	if (sg_array_room(&c->subs, c->nsubs, &c->subs_cap, sizeof(*c->subs), 4) ||
	    sg_array_room(&c->seen, c->nsubs, &c->seen_cap, sizeof(*c->seen), 4) ||
	    sg__stream_add_sub(s, c, c->nsubs))
		return SG_ENOMEM;
	c->seen[c->nsubs] = (sg_id){0, 0};
	c->subs[c->nsubs++] = s;
	sg__hub_idle_touch(h, c);
	subscribers_changed(h, c, 1);
	return 0;
}

int sg_hub_subscribe_many(sg_hub *h, sg_stream *s, const char *const *names, size_t n,
			  const char *last_id)
{
	sg_id after;
	sg_channel *cs[SG_SUBSCRIBE_MAX];
	size_t fresh = 0;
	if (n > SG_SUBSCRIBE_MAX)
		return SG_ETOOBIG;
	for (size_t k = 0; k < n; k++)
		if (!sg_channel_name_valid(names[k]))
			return SG_EINVAL;
	if (last_id && sg_id_parse(last_id, &after))
		return SG_EBADID;
	if (!sg__stream_conn(s))
		return SG_ECLOSED; /* detached: it would never be removed again */
	if (h->hooks.sync)
		h->hooks.sync(h->hooks.ud);
	for (size_t k = 0; k < n; k++) {
		sg_channel *c;
		int rc = channel_get(h, names[k], &c);
		if (!rc && sg__stream_find_sub(s, c))
			continue;
		if (!rc && sg__stream_nsubs(s) >= SG_SUBSCRIBE_MAX)
			rc = SG_ETOOBIG;
		if (!rc && !(rc = subscription_add(h, s, c)))
			cs[fresh++] = c;
		if (rc) { /* all or nothing */
			while (fresh)
				subscription_drop(h, s, cs[--fresh]);
			return rc;
		}
	}
	sg_hub_attach(h, s);
	sg__stream_set_last(s, last_id ? after : h->last);
	/* a broker that answers later makes even a live subscribe a read
	 * from this hub's last id: what is published once this returns is
	 * the client's, though the broker's own subscription is not yet
	 * confirmed */
	int rc = last_id || (h->hooks.history && fresh) ? sg__hub_resume_start(h, s, cs, fresh, last_id)
							 : 0;
	while (rc && fresh)
		subscription_drop(h, s, cs[--fresh]);
	return rc;
}

int sg_hub_subscribe(sg_hub *h, sg_stream *s, const char *channel, const char *last_id)
{
	return sg_hub_subscribe_many(h, s, &channel, 1, last_id);
}

void sg_hub_attach(sg_hub *h, sg_stream *s)
{
	sg__stream_set_hub(s, h, unsubscribe_all);
}

int sg_stream_subscribe(sg_stream *s, const char *channels, const char *last_event_id)
{
	sg_hub *h = sg__stream_hub(s);
	char list[SG_SUBSCRIBE_MAX * (SG_CHANNEL_NAME_MAX + 1)];
	const char *names[SG_SUBSCRIBE_MAX];
	size_t n = 0;
	if (!h || !channels)
		return SG_EINVAL;
	if (strlen(channels) >= sizeof(list))
		return SG_ETOOBIG;
	strcpy(list, channels);
	for (char *save, *p = strtok_r(list, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
		if (n == SG_SUBSCRIBE_MAX)
			return SG_ETOOBIG;
		names[n++] = p;
	}
	if (n == 0 || channels[0] == ',' || strstr(channels, ",,") ||
	    channels[strlen(channels) - 1] == ',')
		return SG_EINVAL;
	return sg_hub_subscribe_many(h, s, names, n, last_event_id);
}

int sg_hub_channel_info(sg_hub *h, const char *channel, sg_channel_info *out)
{
	sg_channel *c = sg__hub_channel_find(h, channel);
	if (!c)
		return SG_ENOTFOUND;
	out->subscribers = c->nsubs;
	out->history_count = c->hcount;
	out->history_bytes = c->hbytes;
	out->first_id = c->hcount ? sg__hub_history_at(c, 0)->pos : (sg_id){0, 0};
	out->last_id = c->last;
	return 0;
}

void sg__hub_channel_remove(sg_hub *h, sg_channel *c)
{
	/* its name may come back, without what it held */
	if (sg_id_cmp(c->last, h->floor) > 0)
		h->floor = c->last;
	sg__hub_idle_unlink(h, c);
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
			if (c->nsubs == 0 && c->hcount == 0 &&
			    !(h->hooks.elsewhere && h->hooks.elsewhere(h->hooks.ud, c->name))) {
				sg__hub_channel_remove(h, c);
				reclaimed++;
			} else {
				sg__hub_idle_recheck(h, c);
			}
		}
	return reclaimed;
}

int sg_hub_delete(sg_hub *h, const char *channel, size_t *subscribers)
{
	sg_channel *c = sg__hub_channel_find(h, channel);
	if (!c)
		return SG_ENOTFOUND;
	*subscribers = c->nsubs;
	/* unsubscribe everyone first: closing must not touch the freed channel */
	sg_stream **subs = c->subs;
	size_t n = c->nsubs;
	free(c->seen);
	c->seen = NULL;
	c->seen_cap = 0;
	c->subs = NULL;
	c->nsubs = c->subs_cap = 0;
	for (size_t i = 0; i < n; i++)
		sg__stream_remove_sub(subs[i], c);
	if (n)
		subscribers_changed(h, c, -(long)n);
	sg__hub_channel_remove(h, c);
	for (size_t i = 0; i < n; i++) {
		sg__stream_set_end_reason(subs[i], SG_END_DELETED);
		sg_stream_close(subs[i]);
	}
	free(subs);
	return 0;
}

int sg_hub_make_room(sg_hub *h, const char *channel)
{
	return sg__hub_channel_find(h, channel) ? 0 : sg__hub_make_room(h);
}

sg_id sg_hub_last(const sg_hub *h)
{
	return h->last;
}

void sg_hub_lost(sg_hub *h, sg_id id)
{
	if (sg_id_cmp(id, h->last) > 0)
		h->last = id;
	h->floor = h->last; /* a channel made from now on vouches from here */
}

sg_hub_limits sg_hub_get_limits(const sg_hub *h)
{
	return h->lim;
}

size_t sg_hub_subscribers(const sg_hub *h, const char *channel)
{
	const sg_channel *c = sg__hub_channel_find(h, channel);
	return c ? c->nsubs : 0;
}

void sg_hub_rebase(sg_hub *h, sg_id last)
{
	h->last = h->floor = last;
	if (sg_id_cmp(h->start, last) > 0)
		h->start = last;
}

void sg_hub_set_hooks(sg_hub *h, const sg_hub_hooks *hooks)
{
	h->hooks = hooks ? *hooks : (sg_hub_hooks){0};
}
