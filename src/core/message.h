/*
 * message — one published message: immutable once made, reference-counted.
 * Each transport renders it at most once; the frame is cached here and
 * shared by every subscriber of that transport.
 */
#ifndef SG_CORE_MESSAGE_H
#define SG_CORE_MESSAGE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "frame.h"
#include "id.h"

/* two renderings per transport: plain and tagged with the channel */
#define SG_RENDER_SLOTS 16

struct sg_transport;

/* Owns channel, event, data and the cached frames. */
typedef struct sg_msg {
	atomic_int refs;
	sg_id pos;    /* hub position; zero for a stream's own chunks */
	int64_t time_ms;
	int64_t pub_us; /* sg_mono_us() when made here: delivery lag runs from it */
	char *id;     /* id as the client sees it, or NULL */
	char *channel;
	char *event; /* NULL when none */
	char *data;  /* NUL-terminated, len bytes */
	size_t len;
	sg_frame *frames[SG_RENDER_SLOTS]; /* loop thread only */
} sg_msg;

/* A new message with copies of its fields, one ref. Caller unrefs. */
sg_msg *sg_msg_new(const char *channel, sg_id pos, const char *id, const char *event,
		   const void *data, size_t len, int64_t time_ms);
sg_msg *sg_msg_ref(sg_msg *m);
/* NULL is a no-op. */
void sg_msg_unref(sg_msg *m);
/* The frame for transport t, plain or tagged with the channel, rendered on
 * first use. Borrowed (the message keeps it); NULL if rendering failed.
 * Loop thread only. */
sg_frame *sg_msg_frame(sg_msg *m, const struct sg_transport *t, int tagged);
/* Live message count, for leak checks in tests. */
long sg_msg_live(void);

#endif
