/*
 * redis_private — the Redis broker's insides, shared by redis.c (the two
 * connections, their state, deadlines and reconnects, live messages) and
 * redis_ops.c (publish, info, remove, resume reads, catch-up). Nothing
 * else includes it; hiredis stays in these files.
 */
#ifndef SG_BROKER_REDIS_PRIVATE_H
#define SG_BROKER_REDIS_PRIVATE_H

#include <ev.h>
#include <hiredis/async.h>
#include <stdatomic.h>
#include <stddef.h>

#include "core/broker.h"
#include "redis.h"
#include "redis_state.h"
#include "redis_url.h"

#define SG_REDIS_SENTINELS_MAX 8 /* redis_sentinels asked in turn */

typedef enum {
	SG_REDIS_DOWN,       /* waiting to reconnect */
	SG_REDIS_CONNECTING, /* connecting, loading the script, subscribing, catching up */
	SG_REDIS_UP,
} sg_redis_state;

/* A resume waiting for its channels' SUBSCRIBE to be confirmed, then for
 * its read. Owns the hub's resume handle until it completes it. */
typedef struct sg_rread {
	struct sg_rread *next;
	sg_resume *r;
	int live; /* a subscribe without an id (see sg_hub_resume_live) */
	sg_id after;
	size_t n;
	char names[SG_SUBSCRIBE_MAX][SG_CHANNEL_NAME_MAX + 1];
} sg_rread;

/* A live message that came while a catch-up read was out. */
typedef struct sg_rlive {
	struct sg_rlive *next;
	size_t len;
	char channel[SG_CHANNEL_NAME_MAX + 1];
	char payload[];
} sg_rlive;

/* One worker's Redis broker; base first. */
typedef struct sg_rbroker {
	sg_broker base;
	struct ev_loop *loop; /* borrowed: the worker's */
	sg_redis_url url;
	char ip[64]; /* host resolved once, at creation, or the primary a sentinel named */
	int port;
	/* Sentinel (redis_sentinel.c): where to ask for the primary */
	char sentinel_ip[SG_REDIS_SENTINELS_MAX][64];
	int sentinel_port[SG_REDIS_SENTINELS_MAX];
	size_t nsentinels, sentinel_next;
	char master[128];
	char sentinel_password[256];
	int log_level;	/* 0: say nothing on stderr */
	char why[96];	/* why it went down, once said; "" while up */
	redisAsyncContext *sentinel; /* the sentinel asked, then SUBSCRIBEd to +switch-master */
	char prefix[64];
	size_t timeout_ms;
	size_t wait_replicas;         /* WAIT for this many after each publish (0: none) */
	redisAsyncContext *cmd, *sub; /* NULL while down */
	sg_redis_state state;
	atomic_int up; /* state == UP, for /healthz on any worker's thread */
	unsigned meta_ok : 1, sub_ok : 1, catching_up : 1, recatch : 1;
	char sha[48];   /* the script's, once loaded */
	char epoch[64]; /* the epoch this node knows; "" before the first */
	ev_timer retry, watchdog;
	double backoff_s;
	double connect_since, sub_since, last_ping;
	double *sent; /* send times of the commands awaiting replies, oldest first */
	size_t sent_head, nsent, sent_cap;
	sg_rchans chans;
	sg_rread *reads;
	sg_rlive *live, *live_tail;
	size_t nlive;
} sg_rbroker;

#define SG_CONTAINER_OF_REDIS(p, member)                                                           \
	((sg_rbroker *)(void *)((char *)(p)-offsetof(sg_rbroker, member)))

#define SG_REDIS_BACKOFF_MIN_S 0.1 /* the first reconnect waits this long, then doubles */

#define SG_REDIS_DATA_MAX ((size_t)1 << 30) /* a message from Redis larger is refused */

/* A reply that carries text. */
static inline int sg__redis_is_string(const redisReply *r)
{
	return r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS;
}

/* The script (redis.lua, made into a C string by the build). */
extern const char sg__redis_lua[];

/* redis.c */
/* Moves b to state st. */
void sg__redis_set_state(sg_rbroker *b, sg_redis_state st);
/* ops->healthy and ops->free. */
int sg__redis_healthy(const sg_broker *b);
void sg__redis_free(sg_broker *b);
/* Catches up once the connection is ready (script, epoch, SUBSCRIBEs). */
void sg__redis_maybe_up(sg_rbroker *b);
/* A catch-up read was applied: the live messages queued meanwhile go to
 * the hub and the broker is up. */
void sg__redis_caught_up(sg_rbroker *b);
/* Sends a command on the command connection with fn(priv) for its reply;
 * SG_EIO when down (fn is not called). */
int sg__redis_send(sg_rbroker *b, redisCallbackFn *fn, void *priv, int argc, const char **argv,
                   const size_t *lens);
/* Runs the script: argv[0..] after "EVALSHA sha numkeys"; NOSCRIPT is
 * retried with EVAL by the caller's reply handler (sg__redis_noscript). */
int sg__redis_script(sg_rbroker *b, redisCallbackFn *fn, void *priv, int nkeys, int argc,
                     const char **argv, const size_t *lens);
/* The same with how "EVALSHA" or "EVAL" (the whole script: after a
 * NOSCRIPT, when Redis lost its script cache). */
int sg__redis_script_as(sg_rbroker *b, const char *how, redisCallbackFn *fn, void *priv, int nkeys,
                        int argc, const char **argv, const size_t *lens);
/* Marks one reply of the command connection as come (its deadline). */
void sg__redis_replied(sg_rbroker *b);
/* Something is wrong with Redis (an error reply where none should be, a
 * reply that does not parse): drop both connections and reconnect. */
void sg__redis_fail(sg_rbroker *b, const char *why);
/* The name of key kind ("meta", "s:" channel, "c:" channel) with the
 * prefix, into out (cap bytes). */
void sg__redis_key(const sg_rbroker *b, const char *kind, const char *channel, char *out,
                   size_t cap);
/* Applies a live payload for channel to the hub (or queues it while a
 * catch-up is out). */
void sg__redis_live(sg_rbroker *b, const char *channel, const char *payload, size_t len);

/* Resolves host (once, at creation) into ip. SG_EINVAL with err. */
int sg__redis_resolve(const char *host, char *ip, size_t cap, char *err, size_t errlen);
/* Opens the command and SUBSCRIBE connections to b->ip:b->port and sends
 * their first commands. */
void sg__redis_open(sg_rbroker *b);
/* Sets up ac (hiredis) on b's loop with b's connect callbacks. */
void sg__redis_attach(sg_rbroker *b, redisAsyncContext *ac);

/* redis_sentinel.c */
/* Resolves list "host:port,..." into b's sentinels. SG_EINVAL with err. */
int sg__redis_sentinels_parse(sg_rbroker *b, const char *list, char *err, size_t errlen);
/* Asks the next sentinel for the primary, then opens the connections to
 * it (sg__redis_open) and follows +switch-master. */
void sg__redis_discover(sg_rbroker *b);

/* redis_sub.c */
/* Sends what channel c needs (sg_rchans_each callback, ud the broker). */
void sg__redis_subscribe_one(void *ud, sg_rchan *c);
/* The hub's subscribers hook. */
void sg__redis_on_subscribers(void *ud, const char *channel, long delta);

/* redis_ops.c */
extern const sg_broker_ops sg__redis_ops;
/* The history hook: resume reads. */
void sg__redis_history(void *ud, sg_resume *r, const char *const *names, size_t n, sg_id after);
/* Sends the reads whose channels are all subscribed now. */
void sg__redis_reads_kick(sg_rbroker *b);
/* Completes every waiting read with SG_EIO (the connection went). */
void sg__redis_reads_fail(sg_rbroker *b);
/* Reads every subscribed channel after the hub's last id, applies it,
 * then the live messages that came meanwhile; the broker is up after. */
void sg__redis_catch_up(sg_rbroker *b);
/* Applies a queued or live message (payload parsed) to the hub. */
void sg__redis_apply(sg_rbroker *b, const char *channel, const sg_redis_payload *m);

#endif
