/*
 * stream — the object bound to one request: its state machine, its bounded
 * queue of shared frames, its lifecycle hooks and its subscriptions. The
 * public half of its API is in streamgate.h; this header is what the
 * server and the hub use. Never touches a socket: the server drains the
 * queue through the sink it installed.
 */
#ifndef SG_CORE_STREAM_H
#define SG_CORE_STREAM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "frame.h"
#include "id.h"
#include "loop.h"
#include "streamgate.h"
#include "transport.h"

struct sg_msg;
struct sg_channel;

typedef enum sg_stream_state {
	SG_STREAM_NEW,	   /* created; handler running, headers not sent */
	SG_STREAM_OPEN,	   /* headers sent, after_open ran */
	SG_STREAM_CLOSING, /* close asked; queue draining */
	SG_STREAM_CLOSED,  /* ended cleanly; after_close ran */
	SG_STREAM_ERRORED, /* client vanished or was cut; after_close ran */
} sg_stream_state;

typedef enum sg_slow_policy {
	SG_SLOW_DROP_OLDEST, /* drop queued frames, oldest first, and count */
	SG_SLOW_DISCONNECT,  /* cut the client with a reason */
} sg_slow_policy;

/* What the server installs to be told about the stream (loop thread). */
typedef struct sg_stream_sink {
	/* The queue became non-empty. */
	void (*want_write)(void *conn);
	/* End the response: after the queue drains (abort == 0), or now
	 * (abort != 0, reason says why: a WS close reason). */
	void (*end)(void *conn, int abort, const char *reason);
} sg_stream_sink;

typedef struct sg_stream_limits {
	size_t queue_bytes;
	sg_slow_policy policy;
} sg_stream_limits;

/* Counters the server reads into its metrics. */
typedef struct sg_stream_counters {
	atomic_ulong frames_dropped;
	atomic_ulong slow_disconnects;
} sg_stream_counters;

/* Why a stream ended (access log, streams closed by reason). The first
 * cause given wins: a stream cut as a slow client during a shutdown was
 * cut for being slow. */
typedef enum sg_end_reason {
	SG_END_UNSET,	      /* none given yet */
	SG_END_ENDED,	      /* the application or the transport ended it (long-poll answered) */
	SG_END_CLIENT_LEFT,   /* the client hung up, or stopped answering pings */
	SG_END_SLOW,	      /* cut by slow_policy disconnect */
	SG_END_SHUTDOWN,      /* the server stopped or drained */
	SG_END_DELETED,	      /* its channel was deleted */
	SG_END_TOKEN_EXPIRED, /* its token expired */
	SG_END_ERROR,	      /* a protocol error, or the server failed */
	SG_END_REASONS
} sg_end_reason;

/* Names for the reasons ("client_left", ...), static; "" for UNSET. */
const char *sg_end_reason_name(sg_end_reason r);
/* Notes why s is ending unless a cause is already noted (loop thread). */
void sg__stream_set_end_reason(sg_stream *s, sg_end_reason r);
sg_end_reason sg__stream_end_reason(const sg_stream *s);

/* A new stream with one ref (the server's). loop, sink, counters are
 * borrowed and must outlive it. */
sg_stream *sg__stream_new(const sg_transport *t, sg_loop *loop, const sg_stream_sink *sink,
			  void *conn, const sg_stream_limits *lim, sg_stream_counters *ctr);
/* Headers are out: runs after_open hooks. */
void sg__stream_opened(sg_stream *s);
/* The connection is gone (errored != 0: the client vanished or was cut).
 * Runs after_close once, drops subscriptions and the queue, and releases
 * the server's ref. */
void sg__stream_detach(sg_stream *s, int errored);

/* Queue access for the server's writer (loop thread). */
size_t sg__stream_queued(const sg_stream *s);
size_t sg__stream_queued_bytes(const sg_stream *s);
/* The i-th queued frame, borrowed. */
sg_frame *sg__stream_peek(const sg_stream *s, size_t i);
/* Removes the oldest frame and unrefs it. */
void sg__stream_pop(sg_stream *s);
/* Puts an already rendered frame in the queue (takes a ref). */
int sg__stream_push(sg_stream *s, sg_frame *f);

/* Delivers a published message (loop thread): runs filters, queues the
 * transport's frame (shared when there are no filters), after_chunk. */
int sg__stream_deliver(sg_stream *s, struct sg_msg *m);

/* Replays arrive later than live messages from a networked broker: while
 * a stream holds (one hold per resume on its way), deliveries wait in
 * order; the replay is queued with deliver_now. unhold ends one hold:
 * held messages of the resumed channels (names, n) at or below replayed
 * (what the replay held) are dropped, and when no hold is left the rest
 * is delivered. A held backlog over queue_bytes cuts the stream. */
void sg__stream_hold(sg_stream *s);
/* Sees each message delivered while s holds, before it is kept: nonzero
 * drops it (a GRIP response hold takes the first as its answer). */
typedef int (*sg_held_peek_fn)(sg_stream *s, const struct sg_msg *m, void *ud);
void sg__stream_peek_held(sg_stream *s, sg_held_peek_fn fn, void *ud);
int sg__stream_deliver_now(sg_stream *s, struct sg_msg *m);
void sg__stream_unhold(sg_stream *s, const char *const *names, size_t n, sg_id replayed);
/* Nonzero while a replay is on its way: the server then waits with the
 * response head, which the replay's gap notes still reach, and is told
 * (want_write) when the replay is in. */
int sg__stream_head_waits(sg_stream *s);
/* Asks s's connection for a write pass (its sink's want_write). */
void sg__stream_wake(sg_stream *s);
/* Ends the response now with reason (a WebSocket close reason). */
void sg__stream_abort(sg_stream *s, const char *reason);

sg_stream_state sg__stream_state(const sg_stream *s);
/* The position of the last channel message queued (the long-poll cursor);
 * set_last only moves it forward. */
sg_id sg__stream_last(const sg_stream *s);
void sg__stream_set_last(sg_stream *s, sg_id id);
/* Puts the cursor at id, back too (after a gap the client goes on from
 * where the hub is, not from an id it does not know). */
void sg__stream_reset_last(sg_stream *s, sg_id id);
/* From now on frames name their channel (several channels, or asked). */
void sg__stream_set_tagged(sg_stream *s);
int sg__stream_tagged(const sg_stream *s);
/* Queues a control message (kind, JSON) if the transport can carry one;
 * before the headers are out, note (may be NULL) is also kept for a
 * response header. */
int sg__stream_control(sg_stream *s, const char *kind, const char *json, const char *note);
#define SG_GAP_HEADER_MAX 512
/* The notes kept for the header, "a, b", or NULL: at most
 * SG_GAP_HEADER_MAX bytes of whole notes; when some did not fit the last
 * entry is "*; truncated=N", N the notes left out (the body's control
 * messages have them all). */
const char *sg__stream_notes(const sg_stream *s);
/* The status set by sg_stream_fail (0 when none) and its error and detail
 * (borrowed). */
int sg__stream_failure(const sg_stream *s, const char **error, const char **detail);
const sg_transport *sg__stream_transport_of(const sg_stream *s);
void *sg__stream_conn(const sg_stream *s);

/* Subscriptions, kept by the stream for the hub (loop thread). */
typedef struct sg_subscription {
	struct sg_channel *channel;
	size_t index; /* position in the channel's subscriber array */
} sg_subscription;
int sg__stream_add_sub(sg_stream *s, struct sg_channel *c, size_t index);
sg_subscription *sg__stream_find_sub(sg_stream *s, const struct sg_channel *c);
void sg__stream_remove_sub(sg_stream *s, const struct sg_channel *c);
size_t sg__stream_nsubs(const sg_stream *s);
sg_subscription *sg__stream_sub_at(sg_stream *s, size_t i);
/* Who drops the stream's subscriptions when it detaches. */
typedef void (*sg_unsubscribe_fn)(void *hub, sg_stream *s);
void sg__stream_set_hub(sg_stream *s, void *hub, sg_unsubscribe_fn unsubscribe);
void *sg__stream_hub(const sg_stream *s);

/* A whole message from the client (WebSocket): to the on_message hook. */
void sg__stream_input(sg_stream *s, const char *data, size_t len);

/* Live stream count, for leak checks in tests. */
long sg_stream_live(void);

#endif
