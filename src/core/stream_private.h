/*
 * stream_private — the stream object's insides, shared by the files that
 * implement it (stream.c, stream_hooks.c, stream_timers.c) and nobody else.
 */
#ifndef SG_CORE_STREAM_PRIVATE_H
#define SG_CORE_STREAM_PRIVATE_H

#include "stream.h"

typedef struct hook {
	union {
		sg_hook_fn hook;
		sg_filter_fn filter;
	} fn;
	void *ud;
} hook;

typedef struct hook_list {
	hook *v;
	size_t n;
} hook_list;

enum { HOOK_AFTER_OPEN, HOOK_BEFORE_CHUNK, HOOK_AFTER_CHUNK, HOOK_BEFORE_CLOSE, HOOK_AFTER_CLOSE, HOOK_KINDS };

struct sg_stream {
	atomic_int refs;
	atomic_int state;
	const sg_transport *transport;
	sg_loop *loop;
	const sg_stream_sink *sink;
	void *conn; /* NULL once detached */
	sg_stream_limits limits;
	sg_stream_counters *counters;

	sg_frame **ring; /* queue: count frames from head, ring_cap slots */
	size_t ring_cap, head, count, bytes;

	hook_list hooks[HOOK_KINDS];
	int in_before_close;
	unsigned char end_reason; /* sg_end_reason */
	void *user;

	struct stream_failure *fail; /* set by sg_stream_fail; NULL: none */
	sg_id last;	  /* position of the last channel message queued */
	int tagged;	  /* frames name their channel (JSON envelopes) */
	sg_buf notes;	  /* control notes kept whole for the header: "a, b" */
	size_t notes_left; /* notes that did not fit in SG_GAP_HEADER_MAX */
	char *notes_text;  /* the header when some did not (SG_GAP_HEADER_MAX + 1) */

	void *hub;
	sg_unsubscribe_fn unsubscribe;
	sg_subscription *subs;
	size_t nsubs;

	struct stream_held *held; /* a resume's or a hold's state: NULL until one */

	struct stream_timer *timers; /* armed timers, a list */
	sg_message_fn on_message;
	void *on_message_ud;
};

/* What sg_stream_fail said; rare, so kept apart from every stream. */
typedef struct stream_failure {
	int status;
	char error[32];
	char detail[160];
} stream_failure;

/* A timer of the stream's; owns nothing but the loop's timer handle. */
typedef struct stream_timer {
	sg_stream *s;
	sg_timer_fn fn;
	void *ud;
	unsigned period_ms; /* 0: once */
	sg_timer *t;
	struct stream_timer *next;
} stream_timer;

struct sg_chunk {
	const char *data;
	size_t len;
	char *owned; /* set when a filter replaced the data */
	const char *event;
};


/* Runs the hooks of one kind in the order they were added. */
void sg__stream_hooks_run(sg_stream *s, int kind);
/* Runs the before_chunk chain; nonzero when a filter dropped the chunk. */
int sg__stream_filters_run(sg_stream *s, sg_chunk *c);
/* Nonzero while chunks may still be queued. */
int sg__stream_can_send(const sg_stream *s);
/* Live messages that wait while a replay is on its way (stream_hold.c),
 * a ref on each. Allocated by the first hold or peek, so a stream that
 * never resumes (nearly all idle ones) does not carry it. */
struct stream_held {
	struct sg_msg **v;
	size_t n, cap, bytes;
	int holding;	      /* resumes still waiting for their replay */
	int head_waits;	      /* the server holds the head until they are in */
	sg_held_peek_fn peek; /* sees each message before it is held, or NULL */
	void *peek_ud;
};

/* Drops every held message (the stream is going). */
void sg__stream_held_clear(sg_stream *s);
/* Frees the hold state (the stream is freed). */
void sg__stream_held_free(sg_stream *s);
/* Nonzero while the head waits for a replay (sg__stream_head_waits). */
int sg__stream_head_waiting(const sg_stream *s);
/* Cancels and frees every timer of s. */
void sg__stream_timers_cancel_all(sg_stream *s);

#endif
