/*
 * frame — rendered bytes, reference-counted, shared by every queue that
 * carries them. A frame is built once per message and transport; writing it
 * to many clients costs a pointer and a ref each, never a copy.
 *
 * Each frame keeps SG_FRAME_HEADROOM bytes before and SG_FRAME_TAILROOM
 * bytes after its payload so the server can put wire framing (a WebSocket
 * header, an HTTP chunk size line) around it in place. Those bytes are the
 * same for every reader of the same frame, so one thread may rewrite them.
 */
#ifndef SG_CORE_FRAME_H
#define SG_CORE_FRAME_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define SG_FRAME_HEADROOM 32
#define SG_FRAME_TAILROOM 8

typedef struct sg_frame {
	atomic_int refs;
	size_t len;
	int64_t pub_us; /* sg_mono_us() of the message's publish; 0: not a message
			   (prelude, heartbeat, control): not a delivery */
	unsigned char mem[]; /* HEADROOM + len + TAILROOM */
} sg_frame;

/* A frame of `len` uninitialised payload bytes, one ref. Caller unrefs. */
sg_frame *sg_frame_new(size_t len);
/* A frame holding a copy of p, one ref. Caller unrefs. */
sg_frame *sg_frame_copy(const void *p, size_t len);
/* Takes a ref; returns f. */
sg_frame *sg_frame_ref(sg_frame *f);
/* Drops a ref; frees at zero. NULL is a no-op. */
void sg_frame_unref(sg_frame *f);

static inline unsigned char *sg_frame_data(sg_frame *f)
{
	return f->mem + SG_FRAME_HEADROOM;
}

/* Live frame count, for leak checks in tests (debug builds count). */
long sg_frame_live(void);

#endif
