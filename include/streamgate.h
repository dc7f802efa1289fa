/*
 * streamgate.h — the public API of the streamgate gateway library.
 *
 * One header for everything a program embedding the gateway needs: the
 * server, the per-request stream with its lifecycle hooks, and publishing to
 * channels. Every type is opaque. Functions return 0 or a negative SG_E*
 * code. Thread-safety is stated per function; "loop thread" means the thread
 * running sg_server_run().
 */
#ifndef STREAMGATE_H
#define STREAMGATE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SG_VERSION "0.1.0"

/* Error codes: every function that can fail returns 0 or one of these. */
enum sg_error {
	SG_OK = 0,
	SG_EINVAL = -1,	   /* bad argument or malformed input */
	SG_ENOMEM = -2,	   /* allocation failed */
	SG_ECLOSED = -3,   /* the stream is closing or closed */
	SG_ENOTFOUND = -4, /* no such channel, route or key */
	SG_ETOOBIG = -5,   /* over a configured limit */
	SG_EIO = -6,	   /* socket or file error */
	SG_EBADID = -7,	   /* a malformed message id */
};

/* Returns a static English description of an SG_E* code. */
const char *sg_strerror(int err);

typedef struct sg_config sg_config;
typedef struct sg_server sg_server;
typedef struct sg_stream sg_stream;
typedef struct sg_request sg_request;

/* ---- configuration ---------------------------------------------------- */

/* A configuration holding the embedded defaults. Caller frees. */
sg_config *sg_config_new(void);
/* Frees cfg; NULL is a no-op. */
void sg_config_free(sg_config *cfg);
/* Sets one key (see README "Configuration") from its text form. On error
 * writes a one-line reason into err (borrowed, errlen bytes). */
int sg_config_set(sg_config *cfg, const char *key, const char *value, char *err, size_t errlen);
/* Applies a JSON config file. On error, err names the file, line and key. */
int sg_config_load_file(sg_config *cfg, const char *path, char *err, size_t errlen);
/* Applies every STREAMGATE_<KEY> environment variable that is set. */
int sg_config_load_env(sg_config *cfg, char *err, size_t errlen);

/* ---- server ----------------------------------------------------------- */

/* Called on the loop thread for each request routed to the handler. The
 * stream is borrowed: it stays valid until its after_close hooks ran. */
typedef void (*sg_handler_fn)(sg_stream *s, const sg_request *req, void *ud);

/* Creates a server from cfg (copied; cfg may be freed after). Binds the
 * listening socket. Returns NULL and a reason in err on failure. */
sg_server *sg_server_new(const sg_config *cfg, char *err, size_t errlen);
/* Frees srv after sg_server_run() returned; NULL is a no-op. */
void sg_server_free(sg_server *srv);
/* Routes requests whose path equals `path` (or, if it ends in '/', starts
 * with it) to fn. Loop thread or before run. The built-in routes
 * (/channels/, /healthz, static files) are tried after user routes. */
int sg_server_route(sg_server *srv, const char *path, sg_handler_fn fn, void *ud);
/* Serves until sg_server_stop(); returns 0 after a clean shutdown. */
int sg_server_run(sg_server *srv);
/* Asks the server to close every stream and return from run. Safe from any
 * thread and from a signal handler. */
void sg_server_stop(sg_server *srv);
/* The TCP port the server listens on (useful with port 0). */
int sg_server_port(const sg_server *srv);

/* Publishes one message to a channel. Safe from any thread; the id is
 * assigned on the loop thread. event may be NULL. data is copied. */
int sg_server_publish(sg_server *srv, const char *channel, const char *event, const void *data,
		      size_t len);

/* ---- request (borrowed, valid only during the handler call) ----------- */

const char *sg_request_path(const sg_request *req);
const char *sg_request_method(const sg_request *req);
/* Value of a query argument, or NULL. Borrowed. */
const char *sg_request_query(const sg_request *req, const char *name);
/* Value of a header (lower-case name, e.g. "last-event-id"), or NULL. */
const char *sg_request_header(const sg_request *req, const char *name);

/* ---- stream ----------------------------------------------------------- */

/* One chunk as seen by before_chunk filters. A filter may replace data
 * (sg_chunk_set_data copies) or return nonzero to drop the chunk. */
typedef struct sg_chunk sg_chunk;
const void *sg_chunk_data(const sg_chunk *c, size_t *len);
const char *sg_chunk_event(const sg_chunk *c);
int sg_chunk_set_data(sg_chunk *c, const void *data, size_t len);

typedef void (*sg_hook_fn)(sg_stream *s, void *ud);
typedef int (*sg_filter_fn)(sg_stream *s, sg_chunk *c, void *ud);

/* Hooks, called on the loop thread in the order they were added. Register
 * them in the handler (or any time on the loop thread). */
int sg_stream_after_open(sg_stream *s, sg_hook_fn fn, void *ud);
int sg_stream_before_chunk(sg_stream *s, sg_filter_fn fn, void *ud);
int sg_stream_after_chunk(sg_stream *s, sg_hook_fn fn, void *ud);
int sg_stream_before_close(sg_stream *s, sg_hook_fn fn, void *ud);
/* Called exactly once per stream, also when the client vanished. */
int sg_stream_after_close(sg_stream *s, sg_hook_fn fn, void *ud);

/* Sends bytes to the client, rendered by the stream's transport. Safe from
 * any thread while the caller holds a reference; SG_ECLOSED once closing. */
int sg_stream_chunk(sg_stream *s, const void *data, size_t len);
/* Like sg_stream_chunk with an event name (SSE `event:`) and id; either may
 * be NULL. */
int sg_stream_event(sg_stream *s, const char *event, const char *id, const void *data, size_t len);
/* Runs before_close hooks, flushes what is queued and ends the response.
 * Safe from any thread; closing twice is a no-op. */
int sg_stream_close(sg_stream *s);
/* Refuses the request from inside its handler, before anything was sent:
 * the client gets `status` and a JSON body {"error","detail"} (a WebSocket
 * client: close code 1008 with the error as reason). Loop thread. */
int sg_stream_fail(sg_stream *s, int status, const char *error, const char *detail);
/* Subscribes the stream to a channel (loop thread). With last_event_id
 * (NULL: none) the history after that id is queued first, then live
 * messages follow with no gap. SG_EINVAL for a bad channel name,
 * SG_EBADID for a malformed id. */
int sg_stream_subscribe(sg_stream *s, const char *channel, const char *last_event_id);

/* Timers owned by the stream, run on the loop thread: once after `ms`, or
 * every `ms` until the stream closes. Cancelled when the stream closes.
 * Loop thread. */
typedef void (*sg_timer_fn)(sg_stream *s, void *ud);
int sg_stream_after(sg_stream *s, unsigned ms, sg_timer_fn fn, void *ud);
int sg_stream_every(sg_stream *s, unsigned ms, sg_timer_fn fn, void *ud);

/* Called on the loop thread for each whole message a WebSocket client
 * sends (data borrowed, NUL-terminated, len bytes). Other transports have
 * no client messages. Loop thread. */
typedef void (*sg_message_fn)(sg_stream *s, const char *data, size_t len, void *ud);
int sg_stream_on_message(sg_stream *s, sg_message_fn fn, void *ud);

/* Takes a reference so the handle outlives the request (for other threads);
 * each ref needs one sg_stream_unref. Both are thread-safe. */
sg_stream *sg_stream_ref(sg_stream *s);
void sg_stream_unref(sg_stream *s);

/* Per-stream user data (loop thread or with a ref). Borrowed. */
void sg_stream_set_user(sg_stream *s, void *ud);
void *sg_stream_user(const sg_stream *s);
/* The transport's name: "chunked", "sse", "ws", "longpoll" or "ndjson". */
const char *sg_stream_transport(const sg_stream *s);
/* Nonzero once the stream is closing or closed. Thread-safe. */
int sg_stream_is_closed(const sg_stream *s);

#ifdef __cplusplus
}
#endif
#endif
