/*
 * redis — the Redis broker's connections: one for commands (the script),
 * one for SUBSCRIBE, both hiredis async contexts on the worker's libev
 * loop. hiredis 0.14 has no timeouts, so a watchdog timer gives connects,
 * commands and subscriptions redis_timeout_ms each and pings an idle
 * connection; anything wrong drops both connections, fails what waits
 * (503 to publishers, a cut to resuming streams) and reconnects with
 * backoff. Once back, every locally subscribed channel is SUBSCRIBEd again
 * and re-read from the last id this node delivered (redis_ops.c), so what
 * other nodes published meanwhile is not lost. Nothing here blocks: the
 * host is resolved once, when the broker is made, before the loop runs.
 */
#include "redis_private.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/adapters/libev.h>

#define BACKOFF_MAX_S 2.0

static void connect_now(sg_rbroker *b);

void sg__redis_key(const sg_rbroker *b, const char *kind, const char *channel, char *out,
                   size_t cap)
{
	snprintf(out, cap, "%s%s%s", b->prefix, kind, channel ? channel : "");
}

/* ---- deadlines ------------------------------------------------------------ */

static void sent_push(sg_rbroker *b)
{
	if (b->nsent == b->sent_cap) {
		size_t cap = b->sent_cap ? b->sent_cap * 2 : 64;
		double *v = malloc(cap * sizeof(*v));
		if (!v)
			return; /* that command goes without a deadline of its own */
		for (size_t i = 0; i < b->nsent; i++)
			v[i] = b->sent[(b->sent_head + i) % b->sent_cap];
		free(b->sent);
		b->sent = v;
		b->sent_cap = cap;
		b->sent_head = 0;
	}
	b->sent[(b->sent_head + b->nsent++) % b->sent_cap] = ev_now(b->loop);
}

void sg__redis_replied(sg_rbroker *b)
{
	if (!b->nsent)
		return;
	b->sent_head = (b->sent_head + 1) % b->sent_cap;
	b->nsent--;
}

/* ---- sending ---------------------------------------------------------------- */

int sg__redis_send(sg_rbroker *b, redisCallbackFn *fn, void *priv, int argc, const char **argv,
                   const size_t *lens)
{
	if (!b->cmd || redisAsyncCommandArgv(b->cmd, fn, priv, argc, argv, lens) != REDIS_OK)
		return SG_EIO;
	sent_push(b);
	return 0;
}

int sg__redis_script(sg_rbroker *b, redisCallbackFn *fn, void *priv, int nkeys, int argc,
                     const char **argv, const size_t *lens)
{
	return sg__redis_script_as(b, "EVALSHA", fn, priv, nkeys, argc, argv, lens);
}

int sg__redis_script_as(sg_rbroker *b, const char *how, redisCallbackFn *fn, void *priv, int nkeys,
                        int argc, const char **argv, const size_t *lens)
{
	const char **v = malloc(((size_t)argc + 3) * sizeof(*v));
	size_t *l = malloc(((size_t)argc + 3) * sizeof(*l));
	char numkeys[16];
	int rc = SG_ENOMEM;
	if (v && l) {
		int eval = strcmp(how, "EVAL") == 0;
		snprintf(numkeys, sizeof(numkeys), "%d", nkeys);
		v[0] = how;
		v[1] = eval ? sg__redis_lua : b->sha;
		v[2] = numkeys;
		for (int i = 0; i < 3; i++)
			l[i] = strlen(v[i]);
		for (int i = 0; i < argc; i++) {
			v[3 + i] = argv[i];
			l[3 + i] = lens ? lens[i] : strlen(argv[i]);
		}
		rc = sg__redis_send(b, fn, priv, argc + 3, v, l);
	}
	free(v);
	free(l);
	return rc;
}

/* ---- going down and coming back ---------------------------------------------- */

static void retry_later(sg_rbroker *b)
{
	ev_timer_stop(b->loop, &b->retry);
	ev_timer_set(&b->retry, b->backoff_s, 0.);
	ev_timer_start(b->loop, &b->retry);
	b->backoff_s = b->backoff_s * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S : b->backoff_s * 2;
}

static void live_clear(sg_rbroker *b)
{
	while (b->live) {
		sg_rlive *l = b->live;
		b->live = l->next;
		free(l);
	}
	b->live_tail = NULL;
	b->nlive = 0;
}

/* Drops both connections: hiredis calls every pending callback with no
 * reply (the operations fail with SG_EIO), and a free from inside one of
 * its callbacks is deferred by hiredis until that callback returns. */
static void teardown(sg_rbroker *b)
{
	redisAsyncContext *cmd = b->cmd, *sub = b->sub, *sentinel = b->sentinel;
	b->cmd = b->sub = b->sentinel = NULL;
	sg__redis_set_state(b, SG_REDIS_DOWN);
	b->meta_ok = b->sub_ok = b->catching_up = b->recatch = 0;
	if (cmd)
		redisAsyncFree(cmd);
	if (sub)
		redisAsyncFree(sub);
	if (sentinel)
		redisAsyncFree(sentinel);
	b->nsent = b->sent_head = 0;
	sg_rchans_reset(&b->chans);
	sg__redis_reads_fail(b);
	live_clear(b);
}

/* Says why Redis is down on stderr, once per reason while it stays down
 * (a retry that fails the same way adds no line); log_level 0 silences it. */
static void log_down(sg_rbroker *b, const char *why)
{
	if (!b->log_level || !strcmp(b->why, why))
		return;
	snprintf(b->why, sizeof(b->why), "%s", why);
	if (b->nsentinels)
		fprintf(stderr,
		        "streamgate: redis (primary \"%s\" through the sentinels): %s; publishes get "
		        "503 until it is back\n",
		        b->master, why);
	else
		fprintf(stderr, "streamgate: redis %s:%d: %s; publishes get 503 until it is back\n",
		        b->ip, b->port, why);
}

void sg__redis_fail(sg_rbroker *b, const char *why)
{
	if (b->state == SG_REDIS_DOWN)
		return;
	log_down(b, why);
	teardown(b);
	retry_later(b);
}

static void on_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	connect_now(SG_CONTAINER_OF_REDIS(w, retry));
}

/* A connection hiredis dropped (error or EOF) or we freed. */
static void on_disconnect(const redisAsyncContext *ac, int status)
{
	(void)status;
	sg_rbroker *b = ac->data;
	if (ac == b->cmd)
		b->cmd = NULL; /* hiredis frees it after this returns */
	else if (ac == b->sub)
		b->sub = NULL;
	else if (ac == b->sentinel)
		b->sentinel = NULL;
	else
		return; /* one we dropped ourselves */
	sg__redis_fail(b, "connection lost");
}

static void on_connect(const redisAsyncContext *ac, int status)
{
	if (status == REDIS_OK)
		return;
	sg_rbroker *b = ac->data;
	if (ac == b->cmd)
		b->cmd = NULL; /* hiredis frees a context whose connect failed */
	else if (ac == b->sub)
		b->sub = NULL;
	else if (ac == b->sentinel)
		b->sentinel = NULL;
	else
		return;
	sg__redis_fail(b, "cannot connect");
}

/* ---- the connection's first commands ------------------------------------------ */

/* Up when the script is loaded and the epoch known, the SUBSCRIBE side
 * answers and every wanted channel is subscribed: then catch up. */
void sg__redis_maybe_up(sg_rbroker *b)
{
	if (b->state != SG_REDIS_CONNECTING || !b->meta_ok || !b->sub_ok || b->chans.inflight ||
	    b->catching_up)
		return;
	sg__redis_catch_up(b);
}

static int reply_ok(const redisReply *r)
{
	return r && r->type != REDIS_REPLY_ERROR;
}

static void on_meta(redisAsyncContext *ac, void *reply, void *priv)
{
	(void)ac;
	sg_rbroker *b = priv;
	redisReply *r = reply;
	sg__redis_replied(b);
	if (!r)
		return;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING || r->element[0]->len >= sizeof(b->epoch) ||
	    r->element[1]->type != REDIS_REPLY_STRING) {
		sg__redis_fail(b, "bad meta reply");
		return;
	}
	sg_id last;
	if (!b->epoch[0]) { /* first contact: the hub takes Redis's ids from here */
		if (sg_id_parse(r->element[1]->str, &last)) {
			sg__redis_fail(b, "bad last id");
			return;
		}
		memcpy(b->epoch, r->element[0]->str, r->element[0]->len);
		b->epoch[r->element[0]->len] = '\0';
		sg_hub_rebase(b->base.hub, last);
	}
	b->meta_ok = 1;
	sg__redis_maybe_up(b);
}

static void on_script_loaded(redisAsyncContext *ac, void *reply, void *priv)
{
	(void)ac;
	sg_rbroker *b = priv;
	redisReply *r = reply;
	sg__redis_replied(b);
	if (!r)
		return;
	if (r->type != REDIS_REPLY_STRING || r->len >= sizeof(b->sha)) {
		sg__redis_fail(b, "SCRIPT LOAD failed");
		return;
	}
	memcpy(b->sha, r->str, r->len);
	b->sha[r->len] = '\0';
	char meta[128];
	sg__redis_key(b, "meta", NULL, meta, sizeof(meta));
	const char *argv[] = {meta, "meta"};
	if (sg__redis_script(b, on_meta, b, 1, 2, argv, NULL))
		sg__redis_fail(b, "cannot send");
}

/* Replies that must simply not be errors (AUTH, SELECT). */
static void on_setup(redisAsyncContext *ac, void *reply, void *priv)
{
	(void)ac;
	sg_rbroker *b = priv;
	sg__redis_replied(b);
	if (reply && !reply_ok(reply))
		sg__redis_fail(b, "AUTH or SELECT refused");
}

static void on_sub_ready(redisAsyncContext *ac, void *reply, void *priv)
{
	(void)ac;
	sg_rbroker *b = priv;
	if (!reply)
		return;
	if (!reply_ok(reply)) {
		sg__redis_fail(b, "AUTH refused");
		return;
	}
	if (((redisReply *)reply)->type == REDIS_REPLY_STATUS &&
	    strcmp(((redisReply *)reply)->str, "PONG") != 0)
		return; /* AUTH's OK: PING's PONG comes next */
	b->sub_ok = 1;
	b->sub_since = ev_now(b->loop);
	sg_rchans_each(&b->chans, sg__redis_subscribe_one, b);
	sg__redis_maybe_up(b);
}

/* AUTH (when the URL has a password) on ac with fn(priv) for the reply. */
static void send_auth(sg_rbroker *b, redisAsyncContext *ac, redisCallbackFn *fn, int counted)
{
	if (!b->url.password[0])
		return;
	const char *argv[] = {"AUTH", b->url.user, b->url.password};
	const char **v = b->url.user[0] ? argv : (const char *[]){"AUTH", b->url.password};
	redisAsyncCommandArgv(ac, fn, b, b->url.user[0] ? 3 : 2, v, NULL);
	if (counted)
		sent_push(b);
}

void sg__redis_attach(sg_rbroker *b, redisAsyncContext *ac)
{
	ac->data = b;
	redisLibevAttach(b->loop, ac);
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
}

static redisAsyncContext *open_one(sg_rbroker *b)
{
	redisAsyncContext *ac = redisAsyncConnect(b->ip, b->port);
	if (!ac)
		return NULL;
	if (ac->err) {
		redisAsyncFree(ac);
		return NULL;
	}
	sg__redis_attach(b, ac);
	return ac;
}

/* A primary a sentinel named must say it is one (a stale answer, or a
 * demoted one, is not). */
static void on_role(redisAsyncContext *ac, void *reply, void *priv)
{
	(void)ac;
	sg_rbroker *b = priv;
	redisReply *r = reply;
	sg__redis_replied(b);
	if (r && (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
	          !sg__redis_is_string(r->element[0]) || strcmp(r->element[0]->str, "master") != 0))
		sg__redis_fail(b, "not a primary");
}

void sg__redis_open(sg_rbroker *b)
{
	if (!(b->cmd = open_one(b)) || !(b->sub = open_one(b))) {
		sg__redis_fail(b, "cannot connect");
		return;
	}
	char db[16];
	snprintf(db, sizeof(db), "%d", b->url.db);
	send_auth(b, b->cmd, on_setup, 1);
	if (b->nsentinels)
		sg__redis_send(b, on_role, b, 1, (const char *[]){"ROLE"}, NULL);
	/* named for CLIENT LIST: which node holds which connection */
	char name[64];
	snprintf(name, sizeof(name), "streamgate-%ld-cmd", (long)getpid());
	sg__redis_send(b, on_setup, b, 3, (const char *[]){"CLIENT", "SETNAME", name}, NULL);
	sg__redis_send(b, on_setup, b, 2, (const char *[]){"SELECT", db}, NULL);
	sg__redis_send(b, on_script_loaded, b, 3, (const char *[]){"SCRIPT", "LOAD", sg__redis_lua},
	               NULL);
	send_auth(b, b->sub, on_sub_ready, 0);
	snprintf(name, sizeof(name), "streamgate-%ld-sub", (long)getpid());
	redisAsyncCommandArgv(b->sub, on_sub_ready, b, 3,
	                      (const char *[]){"CLIENT", "SETNAME", name}, NULL);
	redisAsyncCommand(b->sub, on_sub_ready, b, "PING");
}

static void connect_now(sg_rbroker *b)
{
	if (b->state != SG_REDIS_DOWN)
		return;
	sg__redis_set_state(b, SG_REDIS_CONNECTING);
	b->connect_since = ev_now(b->loop);
	if (b->nsentinels)
		sg__redis_discover(b);
	else
		sg__redis_open(b);
}

/* ---- the watchdog ---------------------------------------------------------- */

static void on_watchdog(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)revents;
	sg_rbroker *b = SG_CONTAINER_OF_REDIS(w, watchdog);
	double now = ev_now(loop), limit = (double)b->timeout_ms / 1000.0;
	if (b->state == SG_REDIS_DOWN)
		return;
	if (b->state == SG_REDIS_CONNECTING && now - b->connect_since > limit * 2) {
		sg__redis_fail(b, "connect timed out");
		return;
	}
	if (b->nsent && now - b->sent[b->sent_head] > limit) {
		sg__redis_fail(b, "command timed out");
		return;
	}
	if (b->chans.inflight && now - b->sub_since > limit) {
		sg__redis_fail(b, "SUBSCRIBE timed out");
		return;
	}
	if (b->state == SG_REDIS_UP && !b->nsent && now - b->last_ping > limit / 2) {
		b->last_ping = now; /* an idle Redis that stopped answering is found too */
		sg__redis_send(b, on_setup, b, 1, (const char *[]){"PING"}, NULL);
	}
}

/* ---- the broker ------------------------------------------------------------- */

int sg__redis_resolve(const char *host, char *ip, size_t cap, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res;
	int rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc) {
		snprintf(err, errlen, "redis: cannot resolve \"%s\": %s", host, gai_strerror(rc));
		return SG_EINVAL;
	}
	inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)res->ai_addr)->sin_addr, ip,
	          (socklen_t)cap);
	freeaddrinfo(res);
	return 0;
}

void sg__redis_set_state(sg_rbroker *b, sg_redis_state st)
{
	if (st == SG_REDIS_UP && b->why[0]) {
		if (b->log_level)
			fprintf(stderr, "streamgate: redis %s:%d: up again\n", b->ip, b->port);
		b->why[0] = '\0';
	}
	b->state = st;
	atomic_store(&b->up, st == SG_REDIS_UP);
}

int sg__redis_healthy(const sg_broker *base)
{
	return atomic_load(&((sg_rbroker *)base)->up);
}

void sg__redis_free(sg_broker *base)
{
	sg_rbroker *b = (sg_rbroker *)base;
	if (!b)
		return;
	sg_hub_set_hooks(b->base.hub, NULL);
	ev_timer_stop(b->loop, &b->retry);
	ev_timer_stop(b->loop, &b->watchdog);
	teardown(b);
	sg_rchans_free(&b->chans);
	free(b->sent);
	free(b);
}

sg_broker *sg_broker_redis_new(sg_hub *hub, struct ev_loop *loop, const sg_redis_opts *o, char *err,
                               size_t errlen)
{
	sg_rbroker *b = calloc(1, sizeof(*b));
	if (!b) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	int sentinels = o->sentinels && *o->sentinels;
	if (sg_redis_url_parse(o->url, &b->url, err, errlen) ||
	    (sentinels ? sg__redis_sentinels_parse(b, o->sentinels, err, errlen)
	               : sg__redis_resolve(b->url.host, b->ip, sizeof(b->ip), err, errlen))) {
		free(b);
		return NULL;
	}
	b->port = b->url.port;
	snprintf(b->master, sizeof(b->master), "%s", o->master ? o->master : "mymaster");
	if (o->sentinel_password && strlen(o->sentinel_password) >= sizeof(b->sentinel_password)) {
		snprintf(err, errlen, "redis_sentinel_password: at most %zu bytes",
		         sizeof(b->sentinel_password) - 1);
		free(b);
		return NULL;
	}
	snprintf(b->sentinel_password, sizeof(b->sentinel_password), "%s",
	         o->sentinel_password ? o->sentinel_password : "");
	if (strlen(o->prefix) >= sizeof(b->prefix) - 8) {
		snprintf(err, errlen, "redis_prefix: at most %zu bytes", sizeof(b->prefix) - 9);
		free(b);
		return NULL;
	}
	strcpy(b->prefix, o->prefix);
	b->base.ops = &sg__redis_ops;
	b->base.hub = hub;
	b->loop = loop;
	b->timeout_ms = o->timeout_ms;
	b->wait_replicas = o->wait_replicas;
	b->log_level = o->log_level;
	b->backoff_s = SG_REDIS_BACKOFF_MIN_S;
	ev_init(&b->retry, on_retry);
	double tick = (double)o->timeout_ms / 4000.0;
	ev_timer_init(&b->watchdog, on_watchdog, tick, tick);
	ev_timer_start(loop, &b->watchdog);
	sg_hub_set_hooks(hub, &(sg_hub_hooks){.subscribers = sg__redis_on_subscribers,
	                                      .history = sg__redis_history,
	                                      .ud = b});
	connect_now(b);
	return &b->base;
}
