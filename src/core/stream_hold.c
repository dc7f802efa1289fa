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

void sg__stream_hold(sg_stream *s)
{
	s->holding++;
}

void sg__stream_peek_held(sg_stream *s, sg_held_peek_fn fn, void *ud)
{
	s->held_peek = fn;
	s->held_peek_ud = ud;
}

int sg__stream_head_waits(sg_stream *s)
{
	s->head_waits = s->holding > 0;
	return s->head_waits;
}

void sg__stream_wake(sg_stream *s)
{
	if (s->conn)
		s->sink->want_write(s->conn);
}

void sg__stream_held_clear(sg_stream *s)
{
	for (size_t i = 0; i < s->nheld; i++)
		sg_msg_unref(s->held[i]);
	free(s->held);
	s->held = NULL;
	s->nheld = s->held_cap = s->held_bytes = 0;
}

int sg__stream_deliver(sg_stream *s, sg_msg *m)
{
	if (!s->holding)
		return sg__stream_deliver_now(s, m);
	if (!sg__stream_can_send(s))
		return SG_ECLOSED;
	if (s->held_peek && s->held_peek(s, m, s->held_peek_ud))
		return 0;
	if (s->held_bytes + m->len > s->limits.queue_bytes) {
		/* the replay is too slow to come: the client resumes again later */
		atomic_fetch_add(&s->counters->slow_disconnects, 1);
		sg__stream_abort(s, "slow consumer");
		return SG_ECLOSED;
	}
	if (sg_array_room(&s->held, s->nheld, &s->held_cap, sizeof(*s->held), 8))
		return SG_ENOMEM;
	s->held[s->nheld++] = sg_msg_ref(m);
	s->held_bytes += m->len;
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
	size_t keep = 0;
	if (!s->holding)
		return;
	for (size_t i = 0; i < s->nheld; i++) {
		sg_msg *m = s->held[i];
		if (resumed(m, names, n) && sg_id_cmp(m->pos, replayed) <= 0) {
			s->held_bytes -= m->len; /* the replay had it */
			sg_msg_unref(m);
		} else {
			s->held[keep++] = m;
		}
	}
	s->nheld = keep;
	if (--s->holding)
		return;
	if (s->head_waits && s->conn) /* even with nothing to send */
		s->sink->want_write(s->conn);
	s->head_waits = 0;
	sg_msg **v = s->held;
	size_t nv = s->nheld;
	s->held = NULL;
	s->nheld = s->held_cap = s->held_bytes = 0;
	for (size_t i = 0; i < nv; i++) {
		sg__stream_deliver_now(s, v[i]);
		sg_msg_unref(v[i]);
	}
	free(v);
}
