/*
 * stream — per-request state machine, bounded frame queue and sending.
 * Hooks live in stream_hooks.c, timers and subscriptions in stream_timers.c.
 *
 * Everything here runs on the loop thread except sg_stream_chunk/event/
 * close and ref/unref, which hop to the loop through sg_loop.post when
 * called from elsewhere. Must not block and must not touch sockets.
 */
#include "stream_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub.h"
#include "message.h"

static atomic_long live_streams;

sg_stream *sg__stream_new(const sg_transport *t, sg_loop *loop, const sg_stream_sink *sink,
			  void *conn, const sg_stream_limits *lim, sg_stream_counters *ctr)
{
	sg_stream *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	atomic_init(&s->refs, 1);
	atomic_init(&s->state, SG_STREAM_NEW);
	s->transport = t;
	s->loop = loop;
	s->sink = sink;
	s->conn = conn;
	s->limits = *lim;
	s->counters = ctr;
	atomic_fetch_add(&live_streams, 1);
	return s;
}

static void queue_clear(sg_stream *s)
{
	while (s->count)
		sg__stream_pop(s);
	free(s->ring);
	s->ring = NULL;
	s->ring_cap = 0;
}

sg_stream *sg_stream_ref(sg_stream *s)
{
	atomic_fetch_add(&s->refs, 1);
	return s;
}

void sg_stream_unref(sg_stream *s)
{
	if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	queue_clear(s);
	sg__stream_held_free(s);
	for (int k = 0; k < HOOK_KINDS; k++)
		free(s->hooks[k].v);
	free(s->subs);
	sg_buf_free(&s->notes);
	free(s->notes_text);
	free(s->fail);
	free(s);
	atomic_fetch_sub(&live_streams, 1);
}

long sg_stream_live(void)
{
	return atomic_load(&live_streams);
}

sg_stream_state sg__stream_state(const sg_stream *s)
{
	return (sg_stream_state)atomic_load(&s->state);
}

int sg_stream_is_closed(const sg_stream *s)
{
	return sg__stream_state(s) >= SG_STREAM_CLOSING;
}

const sg_transport *sg__stream_transport_of(const sg_stream *s)
{
	return s->transport;
}

const char *sg_stream_transport(const sg_stream *s)
{
	return s->transport->name;
}

void *sg__stream_conn(const sg_stream *s)
{
	return s->conn;
}

void sg_stream_set_user(sg_stream *s, void *ud)
{
	s->user = ud;
}

void *sg_stream_user(const sg_stream *s)
{
	return s->user;
}

const char *sg_end_reason_name(sg_end_reason r)
{
	static const char *const names[SG_END_REASONS] = {
		[SG_END_UNSET] = "",
		[SG_END_ENDED] = "ended",
		[SG_END_CLIENT_LEFT] = "client_left",
		[SG_END_SLOW] = "slow_client",
		[SG_END_SHUTDOWN] = "shutdown",
		[SG_END_DELETED] = "deleted",
		[SG_END_TOKEN_EXPIRED] = "token_expired",
		[SG_END_ERROR] = "error",
	};
	return (unsigned)r < SG_END_REASONS ? names[r] : "";
}

void sg__stream_set_end_reason(sg_stream *s, sg_end_reason r)
{
	if (!s->end_reason)
		s->end_reason = (unsigned char)r;
}

sg_end_reason sg__stream_end_reason(const sg_stream *s)
{
	return (sg_end_reason)s->end_reason;
}

/* ---- queue ------------------------------------------------------------ */

size_t sg__stream_queued(const sg_stream *s)
{
	return s->count;
}

size_t sg__stream_queued_bytes(const sg_stream *s)
{
	return s->bytes;
}

sg_frame *sg__stream_peek(const sg_stream *s, size_t i)
{
	return i < s->count ? s->ring[(s->head + i) % s->ring_cap] : NULL;
}

void sg__stream_pop(sg_stream *s)
{
	if (!s->count)
		return;
	sg_frame *f = s->ring[s->head];
	s->head = (s->head + 1) % s->ring_cap;
	s->count--;
	s->bytes -= f->len;
	sg_frame_unref(f);
}

static int ring_grow(sg_stream *s)
{
	size_t cap = s->ring_cap ? s->ring_cap * 2 : 8;
	sg_frame **r = malloc(cap * sizeof(*r));
	if (!r)
		return SG_ENOMEM;
	for (size_t i = 0; i < s->count; i++)
		r[i] = s->ring[(s->head + i) % s->ring_cap];
	free(s->ring);
	s->ring = r;
	s->ring_cap = cap;
	s->head = 0;
	return 0;
}

/* Applies the slow-consumer policy; nonzero when the frame must not be
 * queued (the client was cut). */
static int make_room(sg_stream *s, size_t need)
{
	if (s->bytes + need <= s->limits.queue_bytes || s->count == 0)
		return 0;
	if (s->limits.policy == SG_SLOW_DISCONNECT) {
		sg__stream_set_end_reason(s, SG_END_SLOW);
		atomic_fetch_add(&s->counters->slow_disconnects, 1);
		sg__stream_abort(s, "slow consumer");
		return 1;
	}
	while (s->count && s->bytes + need > s->limits.queue_bytes) {
		sg__stream_pop(s);
		atomic_fetch_add(&s->counters->frames_dropped, 1);
	}
	return 0;
}

int sg__stream_push(sg_stream *s, sg_frame *f)
{
	if (!s->conn)
		return SG_ECLOSED;
	if (make_room(s, f->len))
		return SG_ECLOSED;
	if (s->count == s->ring_cap && ring_grow(s))
		return SG_ENOMEM;
	s->ring[(s->head + s->count) % s->ring_cap] = sg_frame_ref(f);
	s->count++;
	s->bytes += f->len;
	if (s->count == 1)
		s->sink->want_write(s->conn);
	return 0;
}

void sg__stream_abort(sg_stream *s, const char *reason)
{
	atomic_store(&s->state, SG_STREAM_CLOSING);
	while (s->count) /* nothing more will be written: free it now */
		sg__stream_pop(s);
	sg__stream_held_clear(s);
	if (s->conn)
		s->sink->end(s->conn, 1, reason);
}

/* ---- sending ---------------------------------------------------------- */

int sg__stream_can_send(const sg_stream *s)
{
	sg_stream_state st = sg__stream_state(s);
	return s->conn && (st <= SG_STREAM_OPEN || (st == SG_STREAM_CLOSING && s->in_before_close));
}

/* Renders m through the filters into a frame of this stream's own.
 * Returns 1 when a filter dropped it. */
static int deliver_filtered(sg_stream *s, sg_msg *m)
{
	sg_chunk c = {.data = m->data, .len = m->len, .event = m->event};
	int rc = 1;
	if (!sg__stream_filters_run(s, &c)) {
		sg_msg *own = m;
		if (c.owned && (own = sg_msg_new(m->channel, m->pos, m->id, m->event, c.data,
						 c.len, m->time_ms)))
			own->pub_us = m->pub_us;
		sg_frame *f = own ? s->transport->render(own, s->tagged) : NULL;
		if (f)
			f->pub_us = m->pub_us;
		rc = f ? sg__stream_push(s, f) : SG_ENOMEM;
		sg_frame_unref(f);
		if (own != m)
			sg_msg_unref(own);
	}
	free(c.owned);
	return rc;
}

int sg__stream_deliver_now(sg_stream *s, sg_msg *m)
{
	if (!sg__stream_can_send(s))
		return SG_ECLOSED;
	int rc;
	if (s->hooks[HOOK_BEFORE_CHUNK].n) {
		rc = deliver_filtered(s, m);
	} else {
		sg_frame *f = sg_msg_frame(m, s->transport, s->tagged);
		rc = f ? sg__stream_push(s, f) : SG_ENOMEM;
	}
	if (rc == 1)
		return 0; /* dropped by a filter: nothing was queued */
	if (rc == 0) {
		if (!sg_id_is_zero(m->pos))
			s->last = m->pos;
		sg__stream_hooks_run(s, HOOK_AFTER_CHUNK);
	}
	return rc;
}

sg_id sg__stream_last(const sg_stream *s)
{
	return s->last;
}

void sg__stream_set_last(sg_stream *s, sg_id id)
{
	if (sg_id_cmp(id, s->last) > 0)
		s->last = id;
}

void sg__stream_reset_last(sg_stream *s, sg_id id)
{
	s->last = id;
}

void sg__stream_set_tagged(sg_stream *s)
{
	s->tagged = 1;
}

int sg__stream_tagged(const sg_stream *s)
{
	return s->tagged;
}

/* Writes the header for when notes were left out: the whole notes kept
 * that fit beside the entry "*; truncated=N" (N: every note left out). */
static int notes_truncate(sg_stream *s)
{
	size_t len = s->notes.len, left = s->notes_left;
	char tail[48];
	for (;;) {
		int n = snprintf(tail, sizeof(tail), "%s*; truncated=%zu", len ? ", " : "", left);
		if (len + (size_t)n <= SG_GAP_HEADER_MAX || !len)
			break;
		size_t cut = len; /* drop the last whole note */
		while (cut > 1 && !(s->notes.data[cut - 2] == ',' && s->notes.data[cut - 1] == ' '))
			cut--;
		len = cut > 1 ? cut - 2 : 0;
		left++;
	}
	if (!s->notes_text && !(s->notes_text = malloc(SG_GAP_HEADER_MAX + 1)))
		return SG_ENOMEM;
	memcpy(s->notes_text, s->notes.data ? s->notes.data : "", len);
	snprintf(s->notes_text + len, SG_GAP_HEADER_MAX + 1 - len, "%s", tail);
	return 0;
}

/* Keeps note (borrowed) for the header while the notes fit whole in
 * SG_GAP_HEADER_MAX; once one does not, it and the later ones are counted. */
static int notes_add(sg_stream *s, const char *note)
{
	size_t sep = s->notes.len ? 2 : 0;
	if (!s->notes_left && s->notes.len + sep + strlen(note) <= SG_GAP_HEADER_MAX) {
		if ((sep && sg_buf_puts(&s->notes, ", ")) || sg_buf_puts(&s->notes, note))
			return SG_ENOMEM;
		return 0;
	}
	s->notes_left++;
	return notes_truncate(s);
}

int sg__stream_control(sg_stream *s, const char *kind, const char *json, const char *note)
{
	if (!s->conn)
		return SG_ECLOSED;
	/* a one-shot answer's head goes out with it: a replay that came late
	 * (a networked broker's) still gets its note in the header */
	int head_to_come = sg__stream_state(s) == SG_STREAM_NEW || sg__stream_head_waiting(s) ||
			   s->transport->wire == SG_WIRE_HTTP_ONESHOT;
	if (note && head_to_come && notes_add(s, note))
		return SG_ENOMEM;
	sg_frame *f = s->transport->control(kind, json, s->tagged);
	if (!f)
		return 0;
	int rc = sg__stream_push(s, f);
	sg_frame_unref(f);
	return rc;
}

const char *sg__stream_notes(const sg_stream *s)
{
	if (s->notes_left && s->notes_text)
		return s->notes_text;
	return s->notes.len ? s->notes.data : NULL;
}

int sg_stream_fail(sg_stream *s, int status, const char *error, const char *detail)
{
	if (!s || status < 400 || status > 599 || !error)
		return SG_EINVAL;
	if (sg__stream_state(s) != SG_STREAM_NEW)
		return SG_ECLOSED;
	if (!s->fail && !(s->fail = malloc(sizeof(*s->fail))))
		return SG_ENOMEM;
	s->fail->status = status;
	snprintf(s->fail->error, sizeof(s->fail->error), "%s", error);
	snprintf(s->fail->detail, sizeof(s->fail->detail), "%s", detail ? detail : "");
	atomic_store(&s->state, SG_STREAM_CLOSING);
	return 0;
}

int sg__stream_failure(const sg_stream *s, const char **error, const char **detail)
{
	*error = s->fail ? s->fail->error : "";
	*detail = s->fail ? s->fail->detail : "";
	return s->fail ? s->fail->status : 0;
}

/* A chunk waiting to cross to the loop thread; owns m and a stream ref. */
typedef struct chunk_task {
	sg_stream *s;
	sg_msg *m;
} chunk_task;

static void chunk_on_loop(void *arg)
{
	chunk_task *t = arg;
	sg__stream_deliver(t->s, t->m);
	sg_msg_unref(t->m);
	sg_stream_unref(t->s);
	free(t);
}

int sg_stream_event(sg_stream *s, const char *event, const char *id, const void *data, size_t len)
{
	if (!s || (!data && len) || !sg_event_name_valid(event) || !sg_event_name_valid(id))
		return SG_EINVAL;
	int on_loop = s->loop->on_loop(s->loop);
	if (!on_loop && sg_stream_is_closed(s))
		return SG_ECLOSED;
	if (on_loop && !sg__stream_can_send(s))
		return SG_ECLOSED;
	sg_msg *m = sg_msg_new("", (sg_id){0, 0}, id, event, data, len, sg_wall_ms());
	if (!m)
		return SG_ENOMEM;
	if (on_loop) {
		int rc = sg__stream_deliver(s, m);
		sg_msg_unref(m);
		return rc;
	}
	chunk_task *t = malloc(sizeof(*t));
	if (!t) {
		sg_msg_unref(m);
		return SG_ENOMEM;
	}
	t->s = sg_stream_ref(s);
	t->m = m;
	int rc = s->loop->post(s->loop, chunk_on_loop, t);
	if (rc) {
		sg_msg_unref(m);
		sg_stream_unref(s);
		free(t);
	}
	return rc;
}

int sg_stream_chunk(sg_stream *s, const void *data, size_t len)
{
	return sg_stream_event(s, NULL, NULL, data, len);
}

/* ---- lifecycle -------------------------------------------------------- */

void sg__stream_opened(sg_stream *s)
{
	int expected = SG_STREAM_NEW;
	if (atomic_compare_exchange_strong(&s->state, &expected, SG_STREAM_OPEN))
		sg__stream_hooks_run(s, HOOK_AFTER_OPEN);
}

static void close_on_loop(void *arg)
{
	sg_stream *s = arg;
	int st = atomic_load(&s->state);
	if (st < SG_STREAM_CLOSING && s->conn) {
		atomic_store(&s->state, SG_STREAM_CLOSING);
		s->in_before_close = 1;
		sg__stream_hooks_run(s, HOOK_BEFORE_CLOSE);
		s->in_before_close = 0;
		sg__stream_timers_cancel_all(s);
		if (s->conn)
			s->sink->end(s->conn, 0, NULL);
	}
	sg_stream_unref(s);
}

int sg_stream_close(sg_stream *s)
{
	if (!s)
		return SG_EINVAL;
	if (sg_stream_is_closed(s))
		return 0;
	sg_stream_ref(s);
	if (s->loop->on_loop(s->loop)) {
		close_on_loop(s);
		return 0;
	}
	int rc = s->loop->post(s->loop, close_on_loop, s);
	if (rc)
		sg_stream_unref(s);
	return rc;
}

void sg__stream_detach(sg_stream *s, int errored)
{
	if (!s->conn)
		return;
	s->conn = NULL;
	sg__stream_timers_cancel_all(s);
	atomic_store(&s->state, errored ? SG_STREAM_ERRORED : SG_STREAM_CLOSED);
	if (s->unsubscribe)
		s->unsubscribe(s->hub, s);
	queue_clear(s);
	sg__stream_held_clear(s);
	sg__stream_hooks_run(s, HOOK_AFTER_CLOSE);
	sg_stream_unref(s);
}

