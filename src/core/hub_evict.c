/*
 * hub_evict — the hub's idle order and eviction at max_channels. Channels
 * without local subscribers sit on a list, least recently active first
 * (activity: a publish, a subscriber coming or going), so making room is
 * O(1): evict the head. A channel another hub has subscribers for (the
 * elsewhere hook) is moved aside to a held list instead, and rejoins on its
 * next activity or at the sweep. It must not scan the channels.
 */
#include <stdatomic.h>

#include "hub_private.h"
#include "core/list.h"

static sg_channel_list *list_of(sg_hub *h, sg_idle_list which)
{
	return which == SG_IDLE_HELD ? &h->held : &h->idle;
}

void sg__hub_idle_unlink(sg_hub *h, sg_channel *c)
{
	if (c->idle == SG_IDLE_NONE)
		return;
	sg_channel_list *l = list_of(h, c->idle);
	SG_DLIST_UNLINK(l->head, l->tail, c, idle_prev, idle_next);
	c->idle = SG_IDLE_NONE;
}

/* Appends c (on no list) to the list which. */
static void idle_append(sg_hub *h, sg_channel *c, sg_idle_list which)
{
	sg_channel_list *l = list_of(h, which);
	c->idle = which;
	SG_DLIST_APPEND(l->head, l->tail, c, idle_prev, idle_next);
}

void sg__hub_idle_touch(sg_hub *h, sg_channel *c)
{
	sg__hub_idle_unlink(h, c);
	if (c->nsubs == 0)
		idle_append(h, c, SG_IDLE_EVICTABLE);
}

static int subscribed_elsewhere(const sg_hub *h, const sg_channel *c)
{
	return h->hooks.elsewhere && h->hooks.elsewhere(h->hooks.ud, c->name);
}

void sg__hub_idle_recheck(sg_hub *h, sg_channel *c)
{
	if (c->idle == SG_IDLE_HELD && !subscribed_elsewhere(h, c)) {
		sg__hub_idle_unlink(h, c);
		idle_append(h, c, SG_IDLE_EVICTABLE);
	}
}

/* The least recently active channel with no subscriber anywhere, or NULL.
 * Each channel it passes over goes to the held list: it is looked at again
 * only after an activity or a sweep, so the work is paid by those. */
static sg_channel *eviction_candidate(sg_hub *h)
{
	sg_channel *c;
	while ((c = h->idle.head) && subscribed_elsewhere(h, c)) {
		sg__hub_idle_unlink(h, c);
		idle_append(h, c, SG_IDLE_HELD);
	}
	return c;
}

int sg__hub_make_room(sg_hub *h)
{
	while (h->lim.max_channels && h->nchannels >= h->lim.max_channels) {
		sg_channel *c = eviction_candidate(h);
		if (!c)
			return SG_ETOOBIG;
		sg__hub_channel_remove(h, c);
		atomic_fetch_add_explicit(&h->channels_evicted, 1, memory_order_relaxed);
	}
	return 0;
}

unsigned long sg_hub_channels_evicted(const sg_hub *h)
{
	return atomic_load_explicit(&h->channels_evicted, memory_order_relaxed);
}
