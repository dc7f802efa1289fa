/*
 * stream_timers — what a stream does besides queueing frames: its loop
 * timers (cancelled when it closes), messages from the client, and the
 * list of channels it is subscribed to (kept for the hub). Loop thread.
 */
#include <stdlib.h>

#include "stream_private.h"

/* ---- subscriptions ---------------------------------------------------- */

void sg__stream_set_hub(sg_stream *s, void *hub, sg_unsubscribe_fn unsubscribe)
{
	s->hub = hub;
	s->unsubscribe = unsubscribe;
}

void *sg__stream_hub(const sg_stream *s)
{
	return s->hub;
}

int sg__stream_add_sub(sg_stream *s, struct sg_channel *c, size_t index)
{
	sg_subscription *v = realloc(s->subs, (s->nsubs + 1) * sizeof(*v));
	if (!v)
		return SG_ENOMEM;
	v[s->nsubs++] = (sg_subscription){.channel = c, .index = index};
	s->subs = v;
	return 0;
}

sg_subscription *sg__stream_find_sub(sg_stream *s, const struct sg_channel *c)
{
	for (size_t i = 0; i < s->nsubs; i++)
		if (s->subs[i].channel == c)
			return &s->subs[i];
	return NULL;
}

void sg__stream_remove_sub(sg_stream *s, const struct sg_channel *c)
{
	sg_subscription *sub = sg__stream_find_sub(s, c);
	if (sub)
		*sub = s->subs[--s->nsubs];
}

size_t sg__stream_nsubs(const sg_stream *s)
{
	return s->nsubs;
}

sg_subscription *sg__stream_sub_at(sg_stream *s, size_t i)
{
	return i < s->nsubs ? &s->subs[i] : NULL;
}

void sg__stream_timers_cancel_all(sg_stream *s)
{
	while (s->timers) {
		stream_timer *t = s->timers;
		s->timers = t->next;
		s->loop->timer_cancel(s->loop, t->t);
		free(t);
	}
}

/* ---- timers and client messages ---------------------------------------- */

static void timer_unlink(sg_stream *s, stream_timer *t)
{
	for (stream_timer **p = &s->timers; *p; p = &(*p)->next)
		if (*p == t) {
			*p = t->next;
			return;
		}
}

static void timer_fired(void *arg)
{
	stream_timer *t = arg;
	sg_stream *s = t->s;
	t->t = NULL;
	sg_stream_ref(s);
	t->fn(s, t->ud);
	/* the callback may have closed the stream, which freed every timer */
	int still_armed = 0;
	for (stream_timer *x = s->timers; x; x = x->next)
		still_armed |= x == t;
	if (still_armed) {
		if (t->period_ms && sg__stream_can_send(s) &&
		    (t->t = s->loop->timer_start(s->loop, t->period_ms, timer_fired, t))) {
			sg_stream_unref(s);
			return;
		}
		timer_unlink(s, t);
		free(t);
	}
	sg_stream_unref(s);
}

static int timer_add(sg_stream *s, unsigned ms, unsigned period, sg_timer_fn fn, void *ud)
{
	if (!s || !fn)
		return SG_EINVAL;
	if (!sg__stream_can_send(s))
		return SG_ECLOSED;
	stream_timer *t = calloc(1, sizeof(*t));
	if (!t)
		return SG_ENOMEM;
	*t = (stream_timer){.s = s, .fn = fn, .ud = ud, .period_ms = period, .next = s->timers};
	t->t = s->loop->timer_start(s->loop, ms, timer_fired, t);
	if (!t->t) {
		free(t);
		return SG_ENOMEM;
	}
	s->timers = t;
	return 0;
}

int sg_stream_after(sg_stream *s, unsigned ms, sg_timer_fn fn, void *ud)
{
	return timer_add(s, ms, 0, fn, ud);
}

int sg_stream_every(sg_stream *s, unsigned ms, sg_timer_fn fn, void *ud)
{
	return timer_add(s, ms, ms ? ms : 1, fn, ud);
}

int sg_stream_on_message(sg_stream *s, sg_message_fn fn, void *ud)
{
	if (!s)
		return SG_EINVAL;
	s->on_message = fn;
	s->on_message_ud = ud;
	return 0;
}

void sg__stream_input(sg_stream *s, const char *data, size_t len)
{
	if (s->on_message && s->conn)
		s->on_message(s, data, len, s->on_message_ud);
}
