/*
 * redis_ops — the Redis broker's operations: publish, info and remove run
 * the script (redis.lua) and complete when Redis answers (a NOSCRIPT, after
 * Redis lost its script cache, is retried once with EVAL). Every reply is
 * checked before use. Reads live in redis_read.c. With wait_replicas a
 * publish's WAIT goes right behind its script (WAIT covers every write
 * sent before it on the connection), so both answers come in one round
 * trip; the publish completes with the last of them.
 */
#include "redis_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ID_DIGITS_MAX 1000000000000000ull /* ids the script's doubles hold exactly */

/* One script call on its way; owns its copies of what it sends. */
typedef struct rop {
	sg_rbroker *b;
	void (*finish)(struct rop *op, int rc, const redisReply *r); /* frees op */
	int retried, nkeys, argc;
	int waits;     /* WAITs sent and not answered yet */
	int wait_lost; /* a WAIT could not be sent: the publish fails */
	int script_done, script_rc; /* the script's outcome, once it came */
	const char *argv[10];
	size_t lens[10];
	char meta[96], stream[256], pubchan[256], count[24], age[24];
	char channel[SG_CHANNEL_NAME_MAX + 1];
	char want[SG_ID_TEXT_MAX];
	char *event, *data;
	size_t subscribers;    /* local, when the operation started */
	sg_publish_result res; /* a publish waiting for its replicas */
	union {
		sg_broker_published_fn published;
		sg_broker_info_fn info;
		sg_broker_removed_fn removed;
	} done;
	void *ud;
} rop;

static void op_free(rop *op)
{
	free(op->event);
	free(op->data);
	free(op);
}

static int wait_send(rop *op);

static void on_script(redisAsyncContext *ac, void *reply, void *priv)
{
	(void)ac;
	rop *op = priv;
	const redisReply *r = reply;
	sg__redis_replied(op->b);
	if (!r) {
		op->finish(op, SG_EIO, NULL);
		return;
	}
	if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0 && !op->retried) {
		op->retried = 1; /* Redis restarted and lost its script cache */
		if (sg__redis_script_as(op->b, "EVAL", on_script, op, op->nkeys, op->argc, op->argv,
		                        op->lens))
			op->finish(op, SG_EIO, NULL);
		else if (op->waits)
			wait_send(op); /* the WAIT already out came before this EVAL */
		return;
	}
	op->finish(op, 0, r);
}

/* A new op on channel (valid) with the meta and stream keys. */
static rop *op_new(sg_rbroker *b, const char *channel, const char *mode)
{
	rop *op = calloc(1, sizeof(*op));
	if (!op)
		return NULL;
	op->b = b;
	snprintf(op->channel, sizeof(op->channel), "%s", channel);
	sg__redis_key(b, "meta", NULL, op->meta, sizeof(op->meta));
	sg__redis_key(b, "s:", channel, op->stream, sizeof(op->stream));
	sg__redis_key(b, "c:", channel, op->pubchan, sizeof(op->pubchan));
	op->nkeys = 2;
	op->argv[0] = op->meta;
	op->argv[1] = op->stream;
	op->argv[2] = mode;
	op->argc = 3;
	return op;
}

static int op_send(rop *op)
{
	for (int i = 0; i < op->argc; i++)
		if (!op->lens[i])
			op->lens[i] = strlen(op->argv[i]);
	return sg__redis_script(op->b, on_script, op, op->nkeys, op->argc, op->argv, op->lens);
}

/* ---- publish ------------------------------------------------------------------- */

/* The publish's answer: the script's outcome, then its WAIT's, if any. */
static void publish_done(rop *op, int rc)
{
	op->done.published(op->ud, rc, rc ? NULL : &op->res);
	op_free(op);
}

/* WAIT's answer: how many replicas have every write before it. Only the
 * last WAIT out counts (after a NOSCRIPT the first one came before the
 * EVAL); the publish completes here once the script has answered too. */
static void on_wait(redisAsyncContext *ac, void *reply, void *priv)
{
	(void)ac;
	rop *op = priv;
	const redisReply *r = reply;
	sg__redis_replied(op->b);
	if (--op->waits > 0 || !op->script_done)
		return;
	int rc = op->script_rc                                           ? op->script_rc
	         : !r || r->type != REDIS_REPLY_INTEGER                  ? SG_EIO
	         : (unsigned long long)r->integer < op->b->wait_replicas ? SG_EREPLICAS
	                                                                 : 0;
	publish_done(op, rc);
}

/* Sends WAIT for the replicas behind the publish's script; the wait is
 * half the command deadline, so a slow replica is an answer (not enough
 * replicas), not a lost connection. */
static int wait_send(rop *op)
{
	char n[24], ms[24];
	snprintf(n, sizeof(n), "%zu", op->b->wait_replicas);
	snprintf(ms, sizeof(ms), "%zu", op->b->timeout_ms / 2 ? op->b->timeout_ms / 2 : 1);
	int rc = sg__redis_send(op->b, on_wait, op, 3, (const char *[]){"WAIT", n, ms}, NULL);
	if (rc)
		op->wait_lost = 1;
	else
		op->waits++;
	return rc;
}

static void published(rop *op, int rc, const redisReply *r)
{
	sg_publish_result *res = &op->res;
	if (!rc && r->type == REDIS_REPLY_ERROR)
		rc = strstr(r->str, "STALE")   ? SG_EID_STALE
		     : strstr(r->str, "BADID") ? SG_EINVAL
		                               : SG_EIO;
	else if (!rc &&
	         (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	          !sg__redis_is_string(r->element[0]) || r->element[0]->len >= sizeof(res->id)))
		rc = SG_EIO;
	if (!rc && op->wait_lost)
		rc = SG_EIO; /* no WAIT went: not known to be on the replicas */
	if (!rc) {
		memcpy(res->id, r->element[0]->str, r->element[0]->len);
		res->id[r->element[0]->len] = '\0';
		res->subscribers = sg_hub_subscribers(op->b->base.hub, op->channel);
	}
	op->script_done = 1;
	op->script_rc = rc;
	if (!op->waits)
		publish_done(op, rc);
	/* else: answered with its WAIT's reply, next on the connection */
}

/* A wanted id the script can take: parses, above zero, exact in a double. */
static int wanted_id(const char *want, char *out)
{
	sg_id id;
	if (sg_id_parse(want, &id))
		return SG_EINVAL;
	if (sg_id_is_zero(id))
		return SG_EID_STALE;
	if (id.ms >= ID_DIGITS_MAX || id.seq >= ID_DIGITS_MAX)
		return SG_EINVAL;
	sg_id_format(id, out);
	return 0;
}

static void redis_publish(sg_broker *base, const sg_publish_req *req, sg_broker_published_fn done,
                          void *ud)
{
	sg_rbroker *b = (sg_rbroker *)base;
	char want[SG_ID_TEXT_MAX] = "";
	int rc = 0;
	rop *op = NULL;
	if (!sg_channel_name_valid(req->channel) || !sg_event_name_valid(req->event) ||
	    req->len >= SG_REDIS_DATA_MAX)
		rc = SG_EINVAL;
	else if (req->id)
		rc = wanted_id(req->id, want);
	if (!rc && b->state != SG_REDIS_UP)
		rc = SG_EIO;
	if (!rc && !(op = op_new(b, req->channel, "pub")))
		rc = SG_ENOMEM;
	if (!rc && (!(op->data = malloc(req->len + 1)) ||
	            !(op->event = strdup(req->event ? req->event : ""))))
		rc = SG_ENOMEM;
	if (rc) {
		if (op)
			op_free(op);
		done(ud, rc, NULL);
		return;
	}
	sg_hub_limits lim = sg_hub_get_limits(b->base.hub);
	if (req->len)
		memcpy(op->data, req->data, req->len);
	op->data[req->len] = '\0';
	snprintf(op->want, sizeof(op->want), "%s", want);
	snprintf(op->count, sizeof(op->count), "%zu", lim.history_count);
	snprintf(op->age, sizeof(op->age), "%llu", (unsigned long long)lim.history_age_ms);
	const char *args[] = {op->pubchan, op->event, op->data, op->count, op->age, op->want};
	for (int i = 0; i < 6; i++)
		op->argv[op->argc++] = args[i];
	op->lens[5] = req->len; /* the data: bytes, not a C string */
	op->finish = published;
	op->done.published = done;
	op->ud = ud;
	if (op_send(op))
		published(op, SG_EIO, NULL);
	else if (b->wait_replicas)
		wait_send(op); /* if it cannot go, the publish fails (wait_lost) */
}

/* ---- info and remove ------------------------------------------------------------ */

static sg_id reply_id(const redisReply *r)
{
	sg_id id = {0, 0};
	if (sg__redis_is_string(r) && r->len < SG_ID_TEXT_MAX)
		sg_id_parse(r->str, &id);
	return id;
}

static void info_done(rop *op, int rc, const redisReply *r)
{
	sg_channel_info ci = {.subscribers = sg_hub_subscribers(op->b->base.hub, op->channel)};
	if (!rc && (r->type != REDIS_REPLY_ARRAY || r->elements != 5 ||
	            r->element[0]->type != REDIS_REPLY_INTEGER ||
	            r->element[1]->type != REDIS_REPLY_INTEGER ||
	            r->element[4]->type != REDIS_REPLY_INTEGER))
		rc = SG_EIO;
	if (!rc && !r->element[0]->integer && !ci.subscribers)
		rc = SG_ENOTFOUND;
	if (!rc) {
		ci.history_count = (size_t)r->element[1]->integer;
		ci.first_id = reply_id(r->element[2]);
		ci.last_id = reply_id(r->element[3]);
		ci.history_bytes = (size_t)r->element[4]->integer;
	}
	op->done.info(op->ud, rc, rc ? NULL : &ci);
	op_free(op);
}

static void redis_info(sg_broker *base, const char *channel, sg_broker_info_fn done, void *ud)
{
	sg_rbroker *b = (sg_rbroker *)base;
	rop *op;
	if (!sg_channel_name_valid(channel)) {
		done(ud, SG_ENOTFOUND, NULL);
		return;
	}
	if (b->state != SG_REDIS_UP || !(op = op_new(b, channel, "info"))) {
		done(ud, SG_EIO, NULL);
		return;
	}
	op->finish = info_done;
	op->done.info = done;
	op->ud = ud;
	if (op_send(op))
		info_done(op, SG_EIO, NULL);
}

static void removed(rop *op, int rc, const redisReply *r)
{
	if (!rc && (r->type != REDIS_REPLY_ARRAY || r->elements != 1 ||
	            r->element[0]->type != REDIS_REPLY_INTEGER))
		rc = SG_EIO;
	if (!rc) {
		size_t here;
		/* this node's subscribers go now; other nodes' when the
		 * deletion reaches them through PUBLISH */
		int known = sg_hub_delete(op->b->base.hub, op->channel, &here) == 0;
		if (!r->element[0]->integer && !known && !op->subscribers)
			rc = SG_ENOTFOUND;
	}
	op->done.removed(op->ud, rc, op->subscribers);
	op_free(op);
}

static void redis_remove(sg_broker *base, const char *channel, sg_broker_removed_fn done, void *ud)
{
	sg_rbroker *b = (sg_rbroker *)base;
	rop *op;
	if (!sg_channel_name_valid(channel)) {
		done(ud, SG_ENOTFOUND, 0);
		return;
	}
	if (b->state != SG_REDIS_UP || !(op = op_new(b, channel, "del"))) {
		done(ud, SG_EIO, 0);
		return;
	}
	op->argv[op->argc++] = op->pubchan;
	op->subscribers = sg_hub_subscribers(b->base.hub, channel);
	op->finish = removed;
	op->done.removed = done;
	op->ud = ud;
	if (op_send(op))
		removed(op, SG_EIO, NULL);
}

const sg_broker_ops sg__redis_ops = {
    .name = "redis",
    .publish = redis_publish,
    .info = redis_info,
    .remove = redis_remove,
    .healthy = sg__redis_healthy,
    .free = sg__redis_free,
};
