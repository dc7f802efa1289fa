/*
 * h1 — the HTTP/1 engine: every accepted connection starts here. It reads
 * and frames requests itself (h1_parse.c), answers them, carries streamed
 * responses, and hands WebSocket upgrades over to libwebsockets. Owning the
 * framing is what keeps pipelined, smuggled, oversized and slow requests
 * from reaching a parser that mishandles them.
 */
#ifndef SG_SERVER_H1_H
#define SG_SERVER_H1_H

#include "server.h"

/* Sets up the engine's per-worker watchers (loop thread, before run).
 * Returns 0 or SG_ENOMEM. */
int sg__h1_start(sg_server *srv);
/* Closes every HTTP/1 connection and frees the watchers. */
void sg__h1_stop(sg_server *srv);
/* Takes an accepted socket (non-blocking). Closes it when over the limits. */
void sg__h1_adopt(sg_server *srv, int fd);
/* Shutdown began: idle connections close now, busy ones after their
 * answer. */
void sg__h1_shutdown(sg_server *srv);

#endif
