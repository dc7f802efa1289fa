/*
 * hub_resume — subscribing from a last id: the replay, from this hub's own
 * history or, through the history hook, from a broker that answers later
 * (the stream holds live messages meanwhile and drops what the replay
 * had, and later copies of it by id), and the gap signal when the source
 * cannot vouch for everything after the id.
 */
#include "hub_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "message.h"
#include "stream.h"

/* Why resuming c from `after` may have lost messages, or NULL if it did
 * not: the history holds everything after it. */
static const char *resume_gap(const sg_hub *h, const sg_channel *c, sg_id after)
{
	if (sg_id_is_zero(after)) /* "everything you have": only evictions count */
		return c->evicted ? "evicted" : NULL;
	if (sg_id_cmp(after, h->last) > 0)
		return "unknown";
	if (sg_id_cmp(after, c->floor) >= 0)
		return NULL;
	return sg_id_cmp(after, h->start) < 0 ? "restarted" : "evicted";
}

/* Tells s that resuming channel from last_id has a gap, before the
 * replay; first is the replay's first message or NULL. */
static void signal_gap(sg_stream *s, const char *channel, const char *last_id, const char *why,
                       const sg_msg *first)
{
	sg_buf json = SG_BUF_INIT, note = SG_BUF_INIT;
	sg_buf_puts(&json, "{\"type\":\"gap\",\"channel\":\"");
	sg_buf_puts(&json, channel); /* names need no JSON escaping */
	sg_buf_printf(&json, "\",\"last_event_id\":\"%s\",\"first_id\":", last_id);
	sg_buf_printf(&json, first ? "\"%s\"" : "%snull", first ? first->id : "");
	sg_buf_printf(&json, ",\"reason\":\"%s\"}", why);
	sg_buf_printf(&note, "%s; reason=%s; first_id=%s", channel, why,
	              first ? first->id : "none");
	if (json.data && note.data)
		sg__stream_control(s, "gap", json.data, note.data);
	sg_buf_free(&json);
	sg_buf_free(&note);
}

struct sg_resume {
	sg_hub *h;
	sg_stream *s; /* a ref */
	int live;     /* no id asked: only what came since the subscribe */
	sg_id after;
	char last_id[SG_ID_TEXT_MAX];
	size_t n;
	char names[SG_SUBSCRIBE_MAX][SG_CHANNEL_NAME_MAX + 1];
};

/* Queues every channel's replay merged in id order, so the client's last
 * id stays a true position in all of them. */
static void replay_merged(sg_stream *s, const sg_replay *v, size_t n)
{
	size_t next[SG_SUBSCRIBE_MAX] = {0};
	for (;;) {
		size_t best = n;
		for (size_t k = 0; k < n; k++)
			if (next[k] < v[k].n &&
			    (best == n ||
			     sg_id_cmp(v[k].msgs[next[k]]->pos, v[best].msgs[next[best]]->pos) < 0))
				best = k;
		if (best == n)
			return;
		sg__stream_deliver_now(s, v[best].msgs[next[best]++]);
	}
}

int sg_hub_resume_live(const sg_resume *r)
{
	return r->live;
}

void sg_hub_resume_done(sg_resume *r, int rc, const sg_replay *v, sg_id upto)
{
	sg_stream *s = r->s;
	const char *names[SG_SUBSCRIBE_MAX];
	for (size_t k = 0; k < r->n; k++)
		names[k] = r->names[k];
	if (rc && !r->live) {
		sg__stream_abort(s, "history unavailable");
	} else if (r->live) {
		/* the client asked for nothing old: only what a channel got
		 * between the subscribe and the broker's, where no gap says the
		 * broker cannot vouch for it */
		for (size_t k = 0; !rc && k < r->n; k++)
			if (!v[k].gap)
				replay_merged(s, &v[k], 1);
	} else {
		for (size_t k = 0; k < r->n; k++)
			if (v[k].gap) {
				signal_gap(s, names[k], r->last_id, v[k].gap,
				           v[k].n ? v[k].msgs[0] : NULL);
				sg__stream_reset_last(s, upto); /* the replay moves it on */
			}
		replay_merged(s, v, r->n);
	}
	sg__stream_unhold(s, names, r->n, upto);
	for (size_t k = 0; !rc && k < r->n; k++) { /* and what comes late */
		sg_channel *c = sg__hub_channel_find(r->h, names[k]);
		sg_subscription *sub = c && sg__stream_conn(s) ? sg__stream_find_sub(s, c) : NULL;
		if (sub && sg_id_cmp(upto, c->seen[sub->index]) > 0)
			c->seen[sub->index] = upto;
	}
	sg_stream_unref(s);
	free(r);
}

/* The hub's own history as a replay source: what c holds after `after`
 * (all of it after a gap), into *out with msgs in the caller's buffer. */
static void history_after(const sg_hub *h, const sg_channel *c, sg_id after, sg_msg **buf,
                          sg_replay *out)
{
	size_t i = 0;
	out->gap = resume_gap(h, c, after);
	while (!out->gap && i < c->hcount && sg_id_cmp(sg__hub_history_at(c, i)->pos, after) <= 0)
		i++;
	out->msgs = buf;
	out->n = 0;
	for (; i < c->hcount; i++)
		buf[out->n++] = sg__hub_history_at(c, i);
}

static void local_history(sg_hub *h, sg_resume *r, sg_channel **cs)
{
	sg_replay v[SG_SUBSCRIBE_MAX];
	size_t total = 0;
	for (size_t k = 0; k < r->n; k++)
		total += cs[k]->hcount;
	sg_msg **buf = malloc((total ? total : 1) * sizeof(*buf));
	if (!buf) {
		sg_hub_resume_done(r, SG_ENOMEM, NULL, h->last);
		return;
	}
	for (size_t k = 0, used = 0; k < r->n; used += v[k].n, k++)
		history_after(h, cs[k], r->after, buf + used, &v[k]);
	sg_hub_resume_done(r, 0, v, h->last);
	free(buf);
}

/* Replays what s missed on cs[0..n) after last_id: from this hub's history,
 * or through the history hook when a broker keeps it elsewhere. Live
 * messages wait meanwhile. */
int sg__hub_resume_start(sg_hub *h, sg_stream *s, sg_channel **cs, size_t n, const char *last_id)
{
	sg_resume *r = calloc(1, sizeof(*r));
	if (!r)
		return SG_ENOMEM;
	r->h = h;
	r->s = sg_stream_ref(s);
	r->live = !last_id;
	if (last_id)
		sg_id_parse(last_id, &r->after);
	else
		r->after = h->last;
	sg_id_format(r->after, r->last_id);
	r->n = n;
	const char *names[SG_SUBSCRIBE_MAX];
	for (size_t k = 0; k < n; k++) {
		strcpy(r->names[k], cs[k]->name); /* valid names fit */
		names[k] = r->names[k];
	}
	sg__stream_hold(s);
	if (h->hooks.history)
		h->hooks.history(h->hooks.ud, r, names, n, r->after);
	else
		local_history(h, r, cs);
	return 0;
}

void sg_hub_gap(sg_hub *h, const char *channel, const char *why)
{
	sg_channel *c = sg__hub_channel_find(h, channel);
	for (size_t i = 0; c && i < c->nsubs; i++) {
		char last[SG_ID_TEXT_MAX];
		sg_id_format(sg__stream_last(c->subs[i]), last);
		signal_gap(c->subs[i], channel, last, why, NULL);
	}
}
