/*
 * frame — shared rendered bytes with headroom for in-place wire framing.
 */
#include "frame.h"

#include <stdlib.h>
#include <string.h>

static atomic_long live_frames;

sg_frame *sg_frame_new(size_t len)
{
	sg_frame *f = malloc(sizeof(*f) + SG_FRAME_HEADROOM + len + SG_FRAME_TAILROOM);
	if (!f)
		return NULL;
	atomic_init(&f->refs, 1);
	f->len = len;
	f->pub_us = 0;
	atomic_fetch_add(&live_frames, 1);
	return f;
}

sg_frame *sg_frame_copy(const void *p, size_t len)
{
	sg_frame *f = sg_frame_new(len);
	if (f && len)
		memcpy(sg_frame_data(f), p, len);
	return f;
}

sg_frame *sg_frame_ref(sg_frame *f)
{
	atomic_fetch_add(&f->refs, 1);
	return f;
}

void sg_frame_unref(sg_frame *f)
{
	if (!f || atomic_fetch_sub(&f->refs, 1) != 1)
		return;
	atomic_fetch_sub(&live_frames, 1);
	free(f);
}

long sg_frame_live(void)
{
	return atomic_load(&live_frames);
}
