/*
 * streamgate/stream.h — the per-request stream: lifecycle hooks, chunk/close from any thread, timers.
 * Part of the public API; include <streamgate.h> for all of it.
 */
#ifndef STREAMGATE_STREAM_H
#define STREAMGATE_STREAM_H

#include "streamgate/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One chunk as seen by before_chunk filters (borrowed, valid during the
 * filter call). A filter may replace its data or return nonzero to drop it. */
typedef struct sg_chunk sg_chunk;
/* The chunk's bytes and length (borrowed). */
const void *sg_chunk_data(const sg_chunk *c, size_t *len);
/* Its event name or NULL (borrowed). */
const char *sg_chunk_event(const sg_chunk *c);
/* Replaces its bytes with a copy of data (data stays the caller's). */
int sg_chunk_set_data(sg_chunk *c, const void *data, size_t len);

typedef void (*sg_hook_fn)(sg_stream *s, void *ud);
typedef int (*sg_filter_fn)(sg_stream *s, sg_chunk *c, void *ud);

/* Hooks, called on the loop thread in the order they were added. Register
 * them in the handler (or any time on the loop thread). ud is borrowed: it
 * must live until after_close, the place to free it. */
int sg_stream_after_open(sg_stream *s, sg_hook_fn fn, void *ud);
int sg_stream_before_chunk(sg_stream *s, sg_filter_fn fn, void *ud);
int sg_stream_after_chunk(sg_stream *s, sg_hook_fn fn, void *ud);
int sg_stream_before_close(sg_stream *s, sg_hook_fn fn, void *ud);
/* Called exactly once per stream, also when the client vanished. */
int sg_stream_after_close(sg_stream *s, sg_hook_fn fn, void *ud);

/* Sends bytes to the client, rendered by the stream's transport; data is
 * copied (borrowed for the call). Safe from any thread while the caller
 * holds a reference (the handler's call counts as one); SG_ECLOSED once
 * closing, and nothing is sent. */
int sg_stream_chunk(sg_stream *s, const void *data, size_t len);
/* Like sg_stream_chunk with an event name (SSE `event:`) and id, both
 * copied; either may be NULL; neither may hold a line break (SG_EINVAL). */
int sg_stream_event(sg_stream *s, const char *event, const char *id, const void *data, size_t len);
/* Runs before_close hooks, flushes what is queued and ends the response.
 * Safe from any thread; closing twice is a no-op. */
int sg_stream_close(sg_stream *s);
/* Refuses the request from inside its handler, before anything was sent:
 * the client gets `status` and a JSON body {"error","detail"} (a WebSocket
 * client: close code 1008 with the error as reason). error and detail are
 * copied. Returns 0, SG_EINVAL, SG_ECLOSED (too late) or SG_ENOMEM. Loop
 * thread. */
int sg_stream_fail(sg_stream *s, int status, const char *error, const char *detail);
/* Subscribes the stream to a channel, or to several: "a,b,c" (at most 16).
 * With last_event_id (NULL: none) the history after that id is queued
 * first, merged in id order, then live messages follow with no gap and no
 * duplicate; where the history cannot vouch for everything after that id a
 * "gap" control message comes first. SG_EINVAL for a bad channel name,
 * SG_EBADID for a malformed id, SG_ETOOBIG past 16 channels or
 * max_channels. Loop thread. */
int sg_stream_subscribe(sg_stream *s, const char *channel, const char *last_event_id);

/* Rights of the client behind s (its token's "streamgate" claim, or the
 * anonymous_* settings without one: README "Security"), for a handler
 * that subscribes or publishes on its clients' behalf, as the built-in
 * endpoints do. authorize_subscribe returns 0 when allowed; otherwise it
 * refuses the stream as they do (401, or 403 naming the channel; a
 * WebSocket: close 1008) and returns SG_EACCES: call it in the handler.
 * may_publish is nonzero when allowed. Loop thread. */
int sg_stream_authorize_subscribe(sg_stream *s, const char *channel);
int sg_stream_may_publish(const sg_stream *s, const char *channel);

/* Timers owned by the stream, run on the loop thread: once after `ms`, or
 * every `ms` until the stream closes. Cancelled when the stream closes;
 * SG_ECLOSED on a closing stream. ud is borrowed. Loop thread. */
typedef void (*sg_timer_fn)(sg_stream *s, void *ud);
int sg_stream_after(sg_stream *s, unsigned ms, sg_timer_fn fn, void *ud);
int sg_stream_every(sg_stream *s, unsigned ms, sg_timer_fn fn, void *ud);

/* Called on the loop thread for each whole message a WebSocket client
 * sends (data borrowed, NUL-terminated, len bytes): always UTF-8 text (a
 * binary message closes 1003, text that is not UTF-8 1007, before any hook
 * sees it). Other transports have no client messages. Loop thread. */
typedef void (*sg_message_fn)(sg_stream *s, const char *data, size_t len, void *ud);
int sg_stream_on_message(sg_stream *s, sg_message_fn fn, void *ud);
/* Nonzero when the len bytes at p (borrowed) are UTF-8 (RFC 3629): what a
 * message must be to be published (sg_server_publish of bytes from
 * elsewhere). */
int sg_utf8_valid(const void *p, size_t len);

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
