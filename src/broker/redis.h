/*
 * redis — the broker for several gateway nodes on one Redis (see README
 * "Scale-out with Redis"): hiredis on the worker's libev loop, two
 * connections per worker (commands, and SUBSCRIBE).
 */
#ifndef SG_BROKER_REDIS_H
#define SG_BROKER_REDIS_H

#include <stddef.h>

#include "core/broker.h"

struct ev_loop;

typedef struct sg_redis_opts {
	const char *url;       /* redis://[[user]:password@]host[:port][/db] */
	const char *prefix;    /* of every key and pubsub channel */
	size_t timeout_ms;     /* connects and commands */
	size_t wait_replicas;  /* a publish waits for this many replicas (WAIT) */
	const char *sentinels; /* "host:port,..." ("" or NULL: none): the primary comes from them */
	const char *master;    /* the name the sentinels know the primary by */
	const char *sentinel_password; /* AUTH to the sentinels ("" or NULL: none) */
	int log_level;                 /* 0: quiet; else an outage's reason goes to stderr */
} sg_redis_opts;

/* A Redis broker for hub on loop (both borrowed, loop thread). Resolves
 * the host now (once, before the loop runs) and starts connecting. NULL
 * with a reason in err when the URL or host is bad. Caller frees via
 * ops->free (before the loop is destroyed). */
sg_broker *sg_broker_redis_new(sg_hub *hub, struct ev_loop *loop, const sg_redis_opts *o, char *err,
                               size_t errlen);

#endif
