/*
 * redis_state — the subscription table and the payload parser of the
 * Redis broker (see redis_state.h). Plain C: no hiredis, no loop.
 */
#include "redis_state.h"

#include <stdlib.h>
#include <string.h>

#include "streamgate.h"

static sg_rchan **slot(sg_rchans *t, const char *name)
{
	size_t h = 5381;
	for (const char *p = name; *p; p++)
		h = h * 33 + (unsigned char)*p;
	sg_rchan **c = &t->buckets[h % SG_RCHAN_BUCKETS];
	while (*c && strcmp((*c)->name, name) != 0)
		c = &(*c)->next;
	return c;
}

sg_rchan *sg_rchans_get(sg_rchans *t, const char *name, int create)
{
	sg_rchan **s = slot(t, name);
	if (*s || !create)
		return *s;
	sg_rchan *c = calloc(1, sizeof(*c) + strlen(name) + 1);
	if (!c)
		return NULL;
	strcpy(c->name, name);
	*s = c;
	t->n++;
	return c;
}

sg_rch_action sg_rchans_next(sg_rchans *t, sg_rchan *c, int connected)
{
	if (c->inflight)
		return SG_RCH_NONE;
	int want = c->local > 0;
	if (connected && want && !c->on) {
		c->inflight = 1;
		t->inflight++;
		return SG_RCH_SUBSCRIBE;
	}
	if (connected && !want && c->on) {
		c->inflight = 1;
		t->inflight++;
		return SG_RCH_UNSUBSCRIBE;
	}
	if (!want && !c->on) { /* nobody wants it and Redis does not send it */
		sg_rchan **s = slot(t, c->name);
		*s = c->next;
		free(c);
		t->n--;
	}
	return SG_RCH_NONE;
}

void sg_rchans_answered(sg_rchans *t, sg_rchan *c, int subscribed)
{
	if (c->inflight) {
		c->inflight = 0;
		t->inflight--;
	}
	c->on = subscribed != 0;
}

void sg_rchans_each(sg_rchans *t, void (*fn)(void *ud, sg_rchan *c), void *ud)
{
	for (size_t b = 0; b < SG_RCHAN_BUCKETS; b++)
		for (sg_rchan *c = t->buckets[b], *next; c; c = next) {
			next = c->next;
			fn(ud, c);
		}
}

void sg_rchans_reset(sg_rchans *t)
{
	for (size_t b = 0; b < SG_RCHAN_BUCKETS; b++)
		for (sg_rchan *c = t->buckets[b]; c; c = c->next)
			c->on = c->inflight = 0;
	t->inflight = 0;
}

void sg_rchans_free(sg_rchans *t)
{
	for (size_t b = 0; b < SG_RCHAN_BUCKETS; b++)
		while (t->buckets[b]) {
			sg_rchan *c = t->buckets[b];
			t->buckets[b] = c->next;
			free(c);
		}
	t->n = t->inflight = 0;
}

/* The line at *p (up to '\n', which must be there) into [*line, *len);
 * moves *p past it. Nonzero when there is no '\n' before end. */
static int line(const char **p, const char *end, const char **l, size_t *len)
{
	const char *nl = memchr(*p, '\n', (size_t)(end - *p));
	if (!nl)
		return 1;
	*l = *p;
	*len = (size_t)(nl - *p);
	*p = nl + 1;
	return 0;
}

int sg_redis_payload_parse(const char *p, size_t n, sg_redis_payload *out)
{
	const char *end = p + n, *kind, *id, *event;
	size_t kind_len, id_len, event_len;
	memset(out, 0, sizeof(*out));
	if (line(&p, end, &kind, &kind_len) || kind_len != 1 || (*kind != 'm' && *kind != 'd') ||
	    line(&p, end, &out->epoch, &out->epoch_len) || !out->epoch_len ||
	    line(&p, end, &id, &id_len) || line(&p, end, &event, &event_len))
		return SG_EINVAL;
	out->kind = *kind;
	out->data = p;
	out->len = (size_t)(end - p);
	if (out->kind == 'd')
		return id_len || event_len || out->len ? SG_EINVAL : 0;
	if (id_len >= sizeof(out->id) || event_len >= sizeof(out->event) ||
	    memchr(event, '\r', event_len))
		return SG_EINVAL;
	memcpy(out->id, id, id_len);
	memcpy(out->event, event, event_len);
	if (sg_id_parse(out->id, &out->pos) || sg_id_is_zero(out->pos))
		return SG_EINVAL;
	return 0;
}
