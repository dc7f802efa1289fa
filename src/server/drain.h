/*
 * drain — rolling restarts (drain_ms): once the listeners are closed, the
 * worker's streams are asked to reconnect elsewhere a few at a time,
 * spread evenly over drain_ms so a fleet's clients do not all come back at
 * once: a WebSocket gets close 1012 (service restart), an SSE stream a
 * retry: hint then a clean end, chunked, ndjson and long-poll a clean end.
 */
#ifndef SG_SERVER_DRAIN_H
#define SG_SERVER_DRAIN_H

#include "server.h"

/* Starts srv's drain (its loop thread, listeners already stopped). 0, or
 * SG_ENOMEM: then the caller ends every stream at once, as without drain_ms. */
int sg__drain_begin(sg_server *srv);
/* Stops and frees srv's drain; NULL drain: no-op. */
void sg__drain_free(sg_server *srv);
/* The SSE retry: hint a drain sends, in ms: a tenth of drain_ms, kept
 * within 100..1000 (soon enough to keep the gap short, late enough that
 * the load balancer has seen the listener go). */
unsigned sg__drain_retry_ms(const sg_server *srv);

#endif
