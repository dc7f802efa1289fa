/*
 * stream_hold — a resuming stream's live messages, kept aside while its
 * replay is on its way from a broker that answers later, so the client
 * sees the replay first and each message once. Loop thread only.
 */
#include "stream_private.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "message.h"

/* s's hold state, made on first use; NULL when out of memory (the stream
 * is aborted then: without it a replay could come after live messages). */
static struct stream_held *held(sg_stream *s)
{
	if (!s->held && !(s->held = calloc(1, sizeof(*s->held))))
		sg__stream_abort(s, "out of memory");
	return s->held;
}

void sg__stream_hold(sg_stream *s)
{
	struct stream_held *h = held(s);
	if (h)
		h->holding++;
}

void sg__stream_peek_held(sg_stream *s, sg_held_peek_fn fn, void *ud)
{
	struct stream_held *h = held(s);
	if (h) {
		h->peek = fn;
		h->peek_ud = ud;
	}
}

int sg__stream_head_waits(sg_stream *s)
{
	if (!s->held)
		return 0;
	s->held->head_waits = s->held->holding > 0;
	return s->held->head_waits;
}

int sg__stream_head_waiting(const sg_stream *s)
{
	return s->held && s->held->head_waits;
}

void sg__stream_wake(sg_stream *s)
{
	if (s->conn)
		s->sink->want_write(s->conn);
}

void sg__stream_held_clear(sg_stream *s)
{
	struct stream_held *h = s->held;
	if (!h)
		return;
	for (size_t i = 0; i < h->n; i++)
		sg_msg_unref(h->v[i]);
	free(h->v);
	h->v = NULL;
	h->n = h->cap = h->bytes = 0;
}

void sg__stream_held_free(sg_stream *s)
{
	sg__stream_held_clear(s);
	free(s->held);
	s->held = NULL;
}

int sg__stream_deliver(sg_stream *s, sg_msg *m)
{
	struct stream_held *h = s->held;
	if (!h || !h->holding)
		return sg__stream_deliver_now(s, m);
	if (!sg__stream_can_send(s))
		return SG_ECLOSED;
	if (h->peek && h->peek(s, m, h->peek_ud))
		return 0;
	if (h->bytes + m->len > s->limits.queue_bytes) {
		/* the replay is too slow to come: the client resumes again later */
		atomic_fetch_add(&s->counters->slow_disconnects, 1);
		sg__stream_abort(s, "slow consumer");
		return SG_ECLOSED;
	}
	if (sg_array_room(&h->v, h->n, &h->cap, sizeof(*h->v), 8))
		return SG_ENOMEM;
	h->v[h->n++] = sg_msg_ref(m);
	h->bytes += m->len;
	return 0;
}

static int resumed(const sg_msg *m, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(m->channel, names[i]) == 0)
			return 1;
	return 0;
}

void sg__stream_unhold(sg_stream *s, const char *const *names, size_t n, sg_id replayed)
{
	struct stream_held *h = s->held;
	size_t keep = 0;
	if (!h || !h->holding)
		return;
	for (size_t i = 0; i < h->n; i++) {
		sg_msg *m = h->v[i];
		if (resumed(m, names, n) && sg_id_cmp(m->pos, replayed) <= 0) {
			h->bytes -= m->len; /* the replay had it */
			sg_msg_unref(m);
		} else {
			h->v[keep++] = m;
		}
	}
	h->n = keep;
	if (--h->holding)
		return;
	if (h->head_waits && s->conn) /* even with nothing to send */
		s->sink->want_write(s->conn);
	h->head_waits = 0;
	sg_msg **v = h->v;
	size_t nv = h->n;
	h->v = NULL;
	h->n = h->cap = h->bytes = 0;
	for (size_t i = 0; i < nv; i++) {
		sg__stream_deliver_now(s, v[i]);
		sg_msg_unref(v[i]);
	}
	free(v);
}
