/*
 * health — what /metrics counts, for the endpoints that show it another
 * way (GET /metrics/stream). One place sums the workers' counters; the
 * others only render.
 */
#ifndef SG_ENDPOINTS_HEALTH_H
#define SG_ENDPOINTS_HEALTH_H

#include "core/buf.h"
#include "server/server.h"

/* Appends to out (the caller's; srv is borrowed) one JSON object holding the figures of
 * /metrics, summed over the workers (README "GET /metrics/stream").
 * Fields that nothing counts yet are null, never left out, so a reader
 * can tell "not counted" from zero. 0, or SG_ENOMEM. Any thread. */
int sg__metrics_json(const sg_server *srv, sg_buf *out);

#endif
