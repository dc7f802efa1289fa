/*
 * durable — durable upstream streams: the upstream's messages are
 * published into a channel "stream.ID", so history, resume (Last-Event-ID),
 * the workers' bus and Redis apply unchanged. A client leaving does not
 * cancel the upstream request; DELETE /streams/ID does; a finished stream
 * stays replayable for durable_ttl_ms, then its channel is deleted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "core/list.h"
#include "endpoints/channels.h"
#include "server/conn.h"
#include "server/reply.h"
#include "server/respond.h"
#include "upstream.h"

#define STREAMS_PREFIX "/streams/"

static void random_id(char out[SG_UP_ID_LEN + 1])
{
	unsigned char b[SG_UP_ID_LEN / 2];
	static const char hex[] = "0123456789abcdef";
	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) /* never short for 8 bytes */
		memset(b, 0, sizeof(b));
	for (size_t i = 0; i < sizeof(b); i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[SG_UP_ID_LEN] = '\0';
}

#define ABANDONED_JSON "{\"type\":\"end\",\"reason\":\"abandoned\"}"

/* An ephemeral stream's idle window: polls wait at most longpoll_timeout_ms. */
static uint64_t idle_ms(const sg_server *srv)
{
	return 2 * (uint64_t)srv->cfg.longpoll_timeout_ms;
}

static void idle_check(void *arg);

static void idle_watch(sg_upstream *u)
{
	sg_server *srv = u->srv;
	if (!u->last_poll)
		u->last_poll = sg_mono_us();
	u->idle = srv->loop.timer_start(&srv->loop, srv->cfg.longpoll_timeout_ms, idle_check, u);
}

/* Ends u's upstream request now (the backend sees it closed), with
 * json as the channel's last message. */
static void durable_cancel(sg_upstream *u, const char *json)
{
	sg_up_client_close(&u->client);
	u->ended = 1;
	sg__upstream_emit(u, "end", NULL, json, strlen(json));
	sg__durable_finished(u);
}

/* Nobody polled for idle_ms: the upstream request is not kept for no one. */
static void idle_check(void *arg)
{
	sg_upstream *u = arg;
	u->idle = NULL;
	if (u->ended || u->freeing)
		return;
	if ((uint64_t)(sg_mono_us() - u->last_poll) / 1000 >= idle_ms(u->srv))
		durable_cancel(u, ABANDONED_JSON);
	else
		idle_watch(u);
}

int sg__durable_begin(sg_upstream *u, sg_stream *s)
{
	char json[64];
	sg_client_error e;
	sg_conn *c = sg__stream_conn(s);
	u->durable = 1;
	random_id(u->id);
	snprintf(u->channel, sizeof(u->channel), SG_UP_CHANNEL_PREFIX "%s", u->id);
	if (c && sg_buf_printf(&c->head_fields, "stream-id: %s\r\n", u->id)) {
		sg_stream_fail(s, 503, "out_of_memory", "cannot start the stream");
		return -1;
	}
	if (sg__channels_subscribe(s, u->channel, NULL, &e)) {
		sg_stream_fail(s, e.status, e.error, e.detail);
		return -1;
	}
	SG_LIST_PUSH(u->srv->durables, u, prev, next);
	if (u->ephemeral)
		idle_watch(u);
	/* the channel's first message: it exists (for GET /streams/ID) from now */
	int n = snprintf(json, sizeof(json), "{\"type\":\"stream\",\"id\":\"%s\"}", u->id);
	sg__upstream_emit(u, "stream", NULL, json, (size_t)n);
	return 0;
}

static void removed(void *ud, int rc, size_t subscribers)
{
	(void)ud;
	(void)rc;
	(void)subscribers;
}

/* Deletes u's channel and frees u. */
static void durable_drop(sg_upstream *u)
{
	sg_server *srv = u->srv;
	srv->loop.timer_cancel(&srv->loop, u->ttl);
	srv->loop.timer_cancel(&srv->loop, u->idle);
	u->ttl = u->idle = NULL;
	SG_LIST_UNLINK(srv->durables, u, prev, next);
	sg_broker_remove(srv->broker, u->channel, removed, NULL);
	sg__upstream_free(u);
}

static void ttl_expired(void *arg)
{
	sg_upstream *u = arg;
	u->ttl = NULL;
	durable_drop(u);
}

void sg__durable_finished(sg_upstream *u)
{
	sg_server *srv = u->srv;
	if (u->ttl || u->freeing)
		return;
	srv->loop.timer_cancel(&srv->loop, u->idle);
	u->idle = NULL;
	u->ttl = srv->loop.timer_start(&srv->loop,
	                               u->ephemeral ? idle_ms(srv) : srv->cfg.durable_ttl_ms,
	                               ttl_expired, u);
}

void sg__durables_free(sg_server *srv)
{
	while (srv->durables) {
		sg_upstream *u = srv->durables;
		srv->loop.timer_cancel(&srv->loop, u->ttl);
		srv->loop.timer_cancel(&srv->loop, u->idle);
		u->ttl = u->idle = NULL;
		SG_LIST_UNLINK(srv->durables, u, prev, next);
		sg__upstream_free(u);
	}
}

/* ---- /streams/ID ------------------------------------------------------------ */

static int streams_match(const sg_server *srv, const char *path)
{
	(void)srv;
	return strncmp(path, STREAMS_PREFIX, strlen(STREAMS_PREFIX)) == 0;
}

/* The id in path, or NULL when it is not SG_UP_ID_LEN hex digits. */
static const char *id_of(const char *path)
{
	const char *id = path + strlen(STREAMS_PREFIX);
	if (strlen(id) != SG_UP_ID_LEN || strspn(id, "0123456789abcdef") != SG_UP_ID_LEN)
		return NULL;
	return id;
}

/* A resume waiting for the broker to say whether its channel exists. */
typedef struct resume_ctx {
	sg_stream *s; /* a ref */
	char channel[sizeof(SG_UP_CHANNEL_PREFIX) + SG_UP_ID_LEN];
	char last[SG_ID_TEXT_MAX];
	int has_last;
} resume_ctx;

static void json_refuse(sg_stream *s, int status, const char *error, const char *detail)
{
	sg_response tmp;
	char msg[128];
	sg__response_init(&tmp);
	sg__response_error(&tmp, status, error, detail);
	snprintf(msg, sizeof(msg), "{\"type\":\"error\",\"reason\":\"%s\"}", error);
	sg__upstream_refuse(s, status, "application/json", tmp.body.data, tmp.body.len, msg);
	sg__response_free(&tmp);
}

static void resume_checked(void *ud, int rc, const sg_channel_info *ci)
{
	resume_ctx *r = ud;
	sg_stream *s = r->s;
	sg_client_error e;
	(void)ci;
	if (sg__stream_state(s) >= SG_STREAM_CLOSING) {
		/* the client left first */
	} else if (rc == SG_EIO) {
		json_refuse(s, 503, "broker_unavailable", "the broker cannot be reached");
	} else if (rc) {
		json_refuse(s, 404, "no_such_stream",
		            "no stream with this id, or it expired (durable_ttl_ms)");
	} else if (sg__channels_subscribe(s, r->channel, r->has_last ? r->last : NULL, &e)) {
		json_refuse(s, e.status, e.error, e.detail);
	} else {
		sg__stream_unhold(s, NULL, 0, (sg_id){0, 0});
	}
	sg_stream_unref(s);
	free(r);
}

/* A read of stream id, for the worker that may run it. */
typedef struct poll_note {
	sg_server *worker;
	char id[SG_UP_ID_LEN + 1];
} poll_note;

static void poll_noted(void *arg)
{
	poll_note *n = arg;
	for (sg_upstream *u = n->worker->durables; u; u = u->next)
		if (strcmp(u->id, n->id) == 0)
			u->last_poll = sg_mono_us();
	free(n);
}

/* Tells every worker that id is read (an ephemeral stream goes on while
 * polled; it runs on one worker, the poll may land on any). */
static void polled(sg_server *srv, const char *id)
{
	sg_group *g = srv->group;
	for (size_t i = 0; i < g->n; i++) {
		poll_note *n = malloc(sizeof(*n));
		if (n)
			*n = (poll_note){.worker = g->workers[i]};
		if (n)
			memcpy(n->id, id, sizeof(n->id));
		if (n && g->workers[i]->loop.post(&g->workers[i]->loop, poll_noted, n))
			free(n);
	}
}

/* GET /streams/ID, any transport: the channel from Last-Event-ID on, once
 * the broker said it exists (the head waits for that). */
static void streams_resume(sg_stream *s, const sg_request *req, void *ud)
{
	sg_server *srv = ud;
	const char *id = id_of(req->path);
	const char *last = sg_request_header(req, "last-event-id");
	char channel[sizeof(SG_UP_CHANNEL_PREFIX) + SG_UP_ID_LEN];
	if (!id) {
		sg_stream_fail(s, 404, "no_such_stream", "a stream id is 16 hex digits");
		return;
	}
	if (!last)
		last = sg_request_query(req, "last_event_id");
	snprintf(channel, sizeof(channel), SG_UP_CHANNEL_PREFIX "%s", id);
	if (sg_stream_authorize_subscribe(s, channel))
		return;
	polled(srv, id);
	resume_ctx *r = calloc(1, sizeof(*r));
	if (!r || (last && strlen(last) >= sizeof(r->last))) {
		free(r);
		sg_stream_fail(s, r ? 503 : 400, r ? "out_of_memory" : "bad_last_event_id",
		               r ? "cannot resume now"
		                 : "last_event_id must be a message id: MS-SEQ, or 0");
		return;
	}
	sg_stream_before_chunk(s, sg__upstream_end_filter, NULL);
	memcpy(r->channel, channel, sizeof(channel));
	if ((r->has_last = last != NULL))
		strcpy(r->last, last);
	r->s = sg_stream_ref(s);
	sg__stream_hold(s);
	sg_broker_info(srv->broker, channel, resume_checked, r);
}

/* A DELETE asks every worker (the stream runs on one of them). */
typedef struct delete_op {
	sg_server *origin;
	sg_reply *r;
	char id[SG_UP_ID_LEN + 1];
	size_t pending;
	int found;
} delete_op;

typedef struct delete_task {
	delete_op *op;
	sg_server *worker;
	int found;
} delete_task;

#define DELETED_JSON "{\"type\":\"end\",\"reason\":\"deleted\"}"

/* On worker: aborts the stream id if it runs here (1), else 0. */
static int durable_delete(sg_server *worker, const char *id)
{
	for (sg_upstream *u = worker->durables; u; u = u->next) {
		if (strcmp(u->id, id) != 0)
			continue;
		if (u->ended) { /* finished: delete means gone now */
			durable_drop(u);
			return 1;
		}
		durable_cancel(u, DELETED_JSON); /* the upstream sees its request closed */
		return 1;
	}
	return 0;
}

static void delete_tally(void *arg)
{
	delete_task *t = arg;
	delete_op *op = t->op;
	op->found |= t->found;
	free(t);
	if (--op->pending)
		return;
	sg_response *r = &op->r->resp;
	if (op->found)
		sg_buf_printf(&r->body, "{\"stream\":\"%s\",\"deleted\":true}", op->id);
	else
		sg__response_error(r, 404, "no_such_stream", "no stream runs with this id");
	sg__reply_send(op->r);
	free(op);
}

static void delete_on_worker(void *arg)
{
	delete_task *t = arg;
	t->found = durable_delete(t->worker, t->op->id);
	if (t->op->origin->loop.post(&t->op->origin->loop, delete_tally, t))
		free(t); /* the origin stopped: nobody waits */
}

static void streams_delete(sg_server *srv, const sg_request *req, sg_response *resp)
{
	const char *id = id_of(req->path);
	sg_group *g = srv->group;
	if (!id)
		return sg__response_error(resp, 404, "no_such_stream",
		                          "a stream id is 16 hex digits");
	delete_op *op = calloc(1, sizeof(*op));
	if (!op || !(op->r = sg__response_defer(resp))) {
		free(op);
		return sg__response_error(resp, 503, "out_of_memory", "cannot delete now");
	}
	op->origin = srv;
	memcpy(op->id, id, sizeof(op->id));
	op->pending = g->n + 1; /* one more: this function's own, released last */
	for (size_t i = 0; i < g->n; i++) {
		delete_task *t = calloc(1, sizeof(*t));
		if (t)
			*t = (delete_task){op, g->workers[i], 0};
		if (!t || g->workers[i]->loop.post(&g->workers[i]->loop, delete_on_worker, t)) {
			free(t);
			op->pending--;
		}
	}
	delete_task *self = calloc(1, sizeof(*self));
	if (self) {
		*self = (delete_task){op, srv, 0};
		delete_tally(self);
	} else if (!--op->pending) { /* cannot happen with a task still out */
		sg__reply_send(op->r);
		free(op);
	}
}

const sg_endpoint sg_endpoint_streams = {
    .name = "streams",
    .match = streams_match,
    .methods = SG_M_GET | SG_M_DELETE,
    .allow = "GET, HEAD, DELETE, OPTIONS",
    .stream = streams_resume,
    .del = streams_delete,
};
