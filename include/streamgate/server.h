/*
 * streamgate/server.h — the server: create, route, run, stop, publish. Thread-safety per function.
 * Part of the public API; include <streamgate.h> for all of it.
 */
#ifndef STREAMGATE_SERVER_H
#define STREAMGATE_SERVER_H

#include "streamgate/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Called on the loop thread for each request routed to the handler. The
 * stream is borrowed: it stays valid until its after_close hooks ran. */
typedef void (*sg_handler_fn)(sg_stream *s, const sg_request *req, void *ud);

/* Creates a server from cfg (copied; cfg may be freed after). Binds the
 * listening socket. Caller frees with sg_server_free. Returns NULL and a
 * reason in err (borrowed, errlen bytes) on failure. */
sg_server *sg_server_new(const sg_config *cfg, char *err, size_t errlen);
/* Frees srv after sg_server_run() returned; NULL is a no-op. */
void sg_server_free(sg_server *srv);
/* Routes requests whose path equals `path` (or, if it ends in '/', starts
 * with it) to fn; path is copied, ud borrowed for the server's life. Before
 * run (with one worker, also on the loop thread). With several workers fn
 * runs on each worker's thread, so concurrently. The built-in routes
 * (/channels/, /healthz, static files) are tried after user routes. */
int sg_server_route(sg_server *srv, const char *path, sg_handler_fn fn, void *ud);
/* Serves until sg_server_stop(); returns 0 after a clean shutdown. With
 * the `workers` setting above 1, runs the first worker on the calling
 * thread and one thread for each other worker, and joins them. SG_EIO when
 * a worker thread could not start (the others are stopped). */
int sg_server_run(sg_server *srv);
/* Asks the server to close every stream and return from run. Safe from any
 * thread and from a signal handler. */
void sg_server_stop(sg_server *srv);
/* Applies cfg's settings that can change while the server runs (limits,
 * history bounds, timers, log level, ws_publish: see README "Reloading")
 * to every worker, each on its own loop; cfg is copied. Open streams keep
 * the queue bound and slow policy they started with. Settings read only at
 * start (listen, www, max_header_bytes, max_connections, examples,
 * workers) are ignored. Any thread: from another thread it returns once
 * every running worker applied them (at most ~5 s); on a loop thread it
 * applies that worker's at once and does not wait for the others.
 * SG_ECLOSED when a worker has stopped for good, SG_ENOMEM. */
int sg_server_reload(sg_server *srv, const sg_config *cfg);
/* The TCP port the server listens on (useful with port 0). */
int sg_server_port(const sg_server *srv);
/* The port the HTTPS listener (tls_listen) is bound to, or 0 without one. */
int sg_server_tls_port(const sg_server *srv);

/* Publishes one message to a channel. Safe from any thread; the id is
 * assigned on the loop thread (by Redis with broker redis, later). channel,
 * event (may be NULL) and data are copied. SG_EINVAL for a bad channel
 * name, SG_ECLOSED once stopped; a failure after it was handed on (Redis
 * unreachable) is not reported: the message is then not counted in
 * streamgate_messages_published_total. */
int sg_server_publish(sg_server *srv, const char *channel, const char *event, const void *data,
		      size_t len);
/* Nonzero when the `ws_publish` setting lets WebSocket clients publish to
 * channel (srv and channel borrowed): for a handler that publishes what
 * its clients send, as the built-in channel commands do. Any thread. */
int sg_server_ws_may_publish(const sg_server *srv, const char *channel);

#ifdef __cplusplus
}
#endif
#endif
