/*
 * metrics — what /metrics counts, for the endpoints that show it another
 * way (GET /metrics/stream, the dashboard's feed) and for /healthz. One
 * place sums the workers' counters; the others only render.
 */
#ifndef SG_ENDPOINTS_METRICS_H
#define SG_ENDPOINTS_METRICS_H

#include "core/buf.h"
#include "server/server.h"

/* Nonzero when every worker's broker reaches its store (health.c). */
int sg__brokers_healthy(const sg_group *g);
/* Appends to out one JSON object holding the figures of /metrics, summed
 * over the workers (README "GET /metrics/stream"); delivery lag p50/p99
 * over the time since the last snapshot this worker made, null when
 * nothing was delivered meanwhile. srv's loop thread. 0, or SG_ENOMEM. */
int sg__metrics_json(sg_server *srv, sg_buf *out);
/* Appends ,"key":[...] with the top limit channels by subscribers, every
 * worker's merged (channel_stats.c). srv's loop thread. 0, or SG_ENOMEM. */
int sg__channels_top_json(sg_server *srv, const char *key, size_t limit, sg_buf *out);

#endif
