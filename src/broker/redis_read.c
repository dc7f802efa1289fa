/*
 * redis_read — reading channel streams from Redis: a resume waits until
 * its channels are SUBSCRIBEd, then reads them in one atomic script call,
 * so whatever is not in the read arrives live (the hub holds live
 * messages meanwhile and drops what the read had); a catch-up after a
 * reconnect reads every subscribed channel after the last id this node
 * delivered. Also the hub side of live messages. Every entry is checked.
 */
#include "redis_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/message.h"
#include "core/utf8.h"

/* ---- reading streams ----------------------------------------------------------------- */

/* The epoch a reply or message carries: a new one means Redis lost its
 * data and gives ids afresh, perhaps below what this hub holds. */
static void epoch_seen(sg_rbroker *b, const char *epoch, size_t len)
{
	if (len >= sizeof(b->epoch) || (strlen(b->epoch) == len && !memcmp(b->epoch, epoch, len)))
		return;
	memcpy(b->epoch, epoch, len);
	b->epoch[len] = '\0';
	sg_hub_rebase(b->base.hub, (sg_id){0, 0});
}

/* One stream entry [id, [field, value, ...]] of channel as a message (one
 * ref), or NULL when it does not parse. */
static sg_msg *entry_msg(const char *channel, const redisReply *e)
{
	const char *event = NULL, *data = NULL;
	size_t len = 0;
	char id[SG_ID_TEXT_MAX], ev[256];
	sg_id pos;
	if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
	    !sg__redis_is_string(e->element[0]) || e->element[0]->len >= sizeof(id) ||
	    e->element[1]->type != REDIS_REPLY_ARRAY)
		return NULL;
	memcpy(id, e->element[0]->str, e->element[0]->len + 1);
	const redisReply *f = e->element[1];
	for (size_t i = 0; i + 1 < f->elements; i += 2) {
		const redisReply *k = f->element[i], *v = f->element[i + 1];
		if (!sg__redis_is_string(k) || !sg__redis_is_string(v))
			return NULL;
		if (strcmp(k->str, "d") == 0) {
			data = v->str;
			len = v->len;
		} else if (strcmp(k->str, "e") == 0 && v->len < sizeof(ev)) {
			memcpy(ev, v->str, v->len + 1);
			event = ev;
		}
	}
	if (!data || sg_id_parse(id, &pos) || sg_id_is_zero(pos) || !sg_event_name_valid(event) ||
	    !sg_utf8_valid(data, len))
		return NULL;
	return sg_msg_new(channel, pos, id, event, data, len, sg_wall_ms());
}

/* What a read of n channels answered: {epoch, last, gap, entries, ...}.
 * Fills v[i] (msgs: one ref each, caller unrefs with replies_free) and
 * *upto. SG_EIO when it does not parse. */
static int replies_parse(sg_rbroker *b, const redisReply *r, char (*names)[SG_CHANNEL_NAME_MAX + 1],
                         size_t n, sg_replay *v, sg_id *upto)
{
	memset(v, 0, n * sizeof(*v));
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 + 2 * n ||
	    !sg__redis_is_string(r->element[0]) || !sg__redis_is_string(r->element[1]) ||
	    r->element[1]->len >= SG_ID_TEXT_MAX || sg_id_parse(r->element[1]->str, upto))
		return SG_EIO;
	epoch_seen(b, r->element[0]->str, r->element[0]->len);
	for (size_t i = 0; i < n; i++) {
		const redisReply *gap = r->element[2 + 2 * i], *entries = r->element[3 + 2 * i];
		if (!sg__redis_is_string(gap) || entries->type != REDIS_REPLY_ARRAY)
			return SG_EIO;
		v[i].gap = !gap->len                            ? NULL
		           : strcmp(gap->str, "restarted") == 0 ? "restarted"
		           : strcmp(gap->str, "unknown") == 0   ? "unknown"
		                                                : "evicted";
		v[i].msgs = calloc(entries->elements ? entries->elements : 1, sizeof(sg_msg *));
		if (!v[i].msgs)
			return SG_ENOMEM;
		for (size_t k = 0; k < entries->elements; k++) {
			sg_msg *m = entry_msg(names[i], entries->element[k]);
			if (m)
				v[i].msgs[v[i].n++] = m;
		}
	}
	return 0;
}

static void replies_free(sg_replay *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < v[i].n; k++)
			sg_msg_unref(v[i].msgs[k]);
		free(v[i].msgs);
	}
}

/* ---- resumes -------------------------------------------------------------------------- */

/* A read on its way: the resume's, or (r NULL) the broker's catch-up. */
typedef struct rreading {
	sg_rbroker *b;
	sg_rread *rd;
	char (*names)[SG_CHANNEL_NAME_MAX + 1];
	size_t n;
} rreading;

static void read_free(rreading *rr)
{
	free(rr->names);
	free(rr->rd);
	free(rr);
}

static void resume_read(redisAsyncContext *ac, void *reply, void *priv);
static void catch_up_read(redisAsyncContext *ac, void *reply, void *priv);

/* Sends the read script over rr's channels after `after`, epoch "" (the
 * ids decide) or the one this node knows (a catch-up); a live subscribe's
 * read only goes back 2 x redis_timeout_ms (by Redis's clock). */
static int read_send(rreading *rr, const char *epoch, sg_id after, redisCallbackFn *fn,
		     const char *how)
{
	sg_rbroker *b = rr->b;
	char meta[96], from[SG_ID_TEXT_MAX], recent[24] = "";
	size_t argc = rr->n + 5;
	const char **argv = calloc(argc, sizeof(*argv));
	char *keys = calloc(rr->n ? rr->n : 1, 256);
	int rc = SG_ENOMEM;
	if (argv && keys) {
		sg__redis_key(b, "meta", NULL, meta, sizeof(meta));
		sg_id_format(after, from);
		argv[0] = meta;
		for (size_t i = 0; i < rr->n; i++) {
			sg__redis_key(b, "s:", rr->names[i], keys + i * 256, 256);
			argv[1 + i] = keys + i * 256;
		}
		argv[rr->n + 1] = "read";
		argv[rr->n + 2] = epoch;
		argv[rr->n + 3] = from;
		/* a live subscribe reads from this node's last id, which an idle
		 * node may have had for long: only the last moments count */
		if (rr->rd && rr->rd->live)
			snprintf(recent, sizeof(recent), "%zu", 2 * b->timeout_ms);
		argv[rr->n + 4] = recent;
		rc = sg__redis_script_as(b, how, fn, rr, (int)rr->n + 1, (int)argc, argv, NULL);
	}
	free(argv);
	free(keys);
	return rc;
}

static void resume_read(redisAsyncContext *ac, void *reply, void *priv)
{
	(void)ac;
	rreading *rr = priv;
	const redisReply *r = reply;
	sg_replay v[SG_SUBSCRIBE_MAX];
	sg_id upto = {0, 0};
	sg__redis_replied(rr->b);
	if (r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0 &&
	    read_send(rr, "", rr->rd->after, resume_read, "EVAL") == 0)
		return;
	int rc = r ? replies_parse(rr->b, r, rr->names, rr->n, v, &upto) : SG_EIO;
	sg_hub_resume_done(rr->rd->r, rc, v, upto);
	if (r)
		replies_free(v, rr->n);
	read_free(rr);
}

/* Sends rd's read (its channels are subscribed); completes it on failure. */
static void resume_send(sg_rbroker *b, sg_rread *rd)
{
	rreading *rr = calloc(1, sizeof(*rr));
	if (rr && (rr->names = calloc(rd->n, sizeof(*rr->names)))) {
		rr->b = b;
		rr->rd = rd;
		rr->n = rd->n;
		memcpy(rr->names, rd->names, rd->n * sizeof(*rr->names));
		if (read_send(rr, "", rd->after, resume_read, "EVALSHA") == 0)
			return;
		rr->rd = NULL;
	}
	if (rr)
		read_free(rr);
	sg_hub_resume_done(rd->r, SG_EIO, NULL, (sg_id){0, 0});
	free(rd);
}

/* 1 when every channel of names is subscribed, 0 while one waits for its
 * SUBSCRIBE, -1 when one is wanted by nobody any more (its streams left). */
static int channels_ready(sg_rbroker *b, const char *const *names, size_t n)
{
	int ready = 1;
	for (size_t i = 0; i < n; i++) {
		sg_rchan *c = sg_rchans_get(&b->chans, names[i], 0);
		if (!c || c->local <= 0)
			return -1;
		if (!c->on)
			ready = 0;
	}
	return ready;
}

static int read_ready(sg_rbroker *b, const sg_rread *rd)
{
	const char *names[SG_SUBSCRIBE_MAX];
	for (size_t i = 0; i < rd->n; i++)
		names[i] = rd->names[i];
	return channels_ready(b, names, rd->n);
}

void sg__redis_reads_kick(sg_rbroker *b)
{
	if (b->state != SG_REDIS_UP)
		return;
	for (sg_rread **p = &b->reads; *p;) {
		sg_rread *rd = *p;
		int ready = read_ready(b, rd);
		if (!ready) {
			p = &rd->next;
			continue;
		}
		*p = rd->next;
		if (ready > 0) {
			resume_send(b, rd);
		} else { /* its stream is gone: nobody to replay to */
			sg_hub_resume_done(rd->r, SG_ECLOSED, NULL, (sg_id){0, 0});
			free(rd);
		}
	}
}

void sg__redis_reads_fail(sg_rbroker *b)
{
	while (b->reads) {
		sg_rread *rd = b->reads;
		b->reads = rd->next;
		sg_hub_resume_done(rd->r, SG_EIO, NULL, (sg_id){0, 0});
		free(rd);
	}
}

void sg__redis_history(void *ud, sg_resume *r, const char *const *names, size_t n, sg_id after)
{
	sg_rbroker *b = ud;
	/* while connecting (a node that just started, or a reconnect under
	 * way) the read waits for the connection, which is up or failed
	 * within redis_timeout_ms: a failure cuts it in sg__redis_reads_fail */
	sg_rread *rd = b->state != SG_REDIS_DOWN ? calloc(1, sizeof(*rd)) : NULL;
	if (!rd) { /* Redis is away: a resume is cut, the client comes back later */
		sg_hub_resume_done(r, SG_EIO, NULL, (sg_id){0, 0});
		return;
	}
	if (sg_hub_resume_live(r) && channels_ready(b, names, n) > 0) {
		/* this node gets the channels already: nothing to read */
		sg_replay none[SG_SUBSCRIBE_MAX] = {{0}};
		free(rd);
		sg_hub_resume_done(r, 0, none, (sg_id){0, 0});
		return;
	}
	rd->r = r;
	rd->live = sg_hub_resume_live(r);
	rd->after = after;
	rd->n = n;
	for (size_t i = 0; i < n; i++)
		snprintf(rd->names[i], sizeof(rd->names[i]), "%s", names[i]);
	rd->next = b->reads;
	b->reads = rd;
	sg__redis_reads_kick(b); /* at once when every channel was subscribed before */
}

/* ---- catching up ---------------------------------------------------------------------- */

typedef struct catch_list {
	char (*names)[SG_CHANNEL_NAME_MAX + 1];
	size_t n;
} catch_list;

static void add_subscribed(void *ud, sg_rchan *c)
{
	catch_list *l = ud;
	if (c->on)
		snprintf(l->names[l->n++], SG_CHANNEL_NAME_MAX + 1, "%s", c->name);
}

static int by_pos(const void *a, const void *b)
{
	return sg_id_cmp((*(sg_msg *const *)a)->pos, (*(sg_msg *const *)b)->pos);
}

/* Feeds what a catch-up read found to the hub, all channels merged in id
 * order (the hub drops what it had); a gap is told to the subscribers. */
static void catch_up_apply(sg_rbroker *b, rreading *rr, const redisReply *r)
{
	sg_replay *v = calloc(rr->n ? rr->n : 1, sizeof(*v));
	sg_id upto;
	size_t total = 0;
	if (!v || replies_parse(b, r, rr->names, rr->n, v, &upto)) {
		if (v)
			replies_free(v, rr->n);
		free(v);
		sg__redis_fail(b, "bad catch-up reply");
		return;
	}
	for (size_t i = 0; i < rr->n; i++)
		total += v[i].n;
	sg_msg **all = malloc((total ? total : 1) * sizeof(*all));
	for (size_t i = 0, k = 0; all && i < rr->n; i++) {
		if (v[i].gap)
			sg_hub_gap(b->base.hub, rr->names[i], v[i].gap);
		for (size_t j = 0; j < v[i].n; j++)
			all[k++] = v[i].msgs[j];
	}
	if (all) {
		qsort(all, total, sizeof(*all), by_pos);
		for (size_t k = 0; k < total; k++) {
			sg_publish_req req = {.channel = all[k]->channel,
			                      .event = all[k]->event,
			                      .data = all[k]->data,
			                      .len = all[k]->len};
			sg_hub_publish_at(b->base.hub, &req, all[k]->pos, NULL);
		}
	}
	free(all);
	replies_free(v, rr->n);
	free(v);
	sg__redis_caught_up(b);
}

static void catch_up_read(redisAsyncContext *ac, void *reply, void *priv)
{
	(void)ac;
	rreading *rr = priv;
	const redisReply *r = reply;
	sg__redis_replied(rr->b);
	if (r && r->type == REDIS_REPLY_ERROR) {
		sg__redis_fail(rr->b, "catch-up refused");
	} else if (r) {
		catch_up_apply(rr->b, rr, r);
	}
	read_free(rr);
}

void sg__redis_catch_up(sg_rbroker *b)
{
	catch_list l = {calloc(b->chans.n ? b->chans.n : 1, sizeof(*l.names)), 0};
	rreading *rr = l.names ? calloc(1, sizeof(*rr)) : NULL;
	if (!rr) {
		free(l.names);
		sg__redis_fail(b, "out of memory");
		return;
	}
	sg_rchans_each(&b->chans, add_subscribed, &l);
	b->catching_up = 1;
	if (!l.n) {
		free(l.names);
		free(rr);
		sg__redis_caught_up(b);
		return;
	}
	rr->b = b;
	rr->names = l.names;
	rr->n = l.n;
	if (read_send(rr, b->epoch, sg_hub_last(b->base.hub), catch_up_read, "EVALSHA")) {
		read_free(rr);
		sg__redis_fail(b, "cannot send");
	}
}

/* ---- live messages ---------------------------------------------------------------------- */

void sg__redis_apply(sg_rbroker *b, const char *channel, const sg_redis_payload *m)
{
	if (!sg_channel_name_valid(channel))
		return;
	epoch_seen(b, m->epoch, m->epoch_len);
	if (m->kind == 'd') { /* deleted through another node */
		size_t gone;
		sg_hub_delete(b->base.hub, channel, &gone);
		return;
	}
	if (m->len >= SG_REDIS_DATA_MAX || !sg_utf8_valid(m->data, m->len))
		return;
	sg_publish_req req = {.channel = channel,
	                      .event = m->event[0] ? m->event : NULL,
	                      .data = m->data,
	                      .len = m->len};
	sg_hub_publish_at(b->base.hub, &req, m->pos, NULL); /* SG_EID_STALE: had it */
}
