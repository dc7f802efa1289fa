/*
 * stream_hooks — the five lifecycle hook lists of a stream and the chunk
 * a before_chunk filter sees. Loop thread only.
 */
#include <stdlib.h>
#include <string.h>

#include "stream_private.h"

/* ---- hooks ------------------------------------------------------------ */

static int hook_add(sg_stream *s, int kind, hook h)
{
	if (!s || !h.fn.hook)
		return SG_EINVAL;
	hook_list *l = &s->hooks[kind];
	hook *v = realloc(l->v, (l->n + 1) * sizeof(*v));
	if (!v)
		return SG_ENOMEM;
	v[l->n++] = h;
	l->v = v;
	return 0;
}

void sg__stream_hooks_run(sg_stream *s, int kind)
{
	hook_list *l = &s->hooks[kind];
	for (size_t i = 0; i < l->n; i++)
		l->v[i].fn.hook(s, l->v[i].ud);
}

int sg_stream_after_open(sg_stream *s, sg_hook_fn fn, void *ud)
{
	return hook_add(s, HOOK_AFTER_OPEN, (hook){.fn.hook = fn, .ud = ud});
}

int sg_stream_before_chunk(sg_stream *s, sg_filter_fn fn, void *ud)
{
	return hook_add(s, HOOK_BEFORE_CHUNK, (hook){.fn.filter = fn, .ud = ud});
}

int sg_stream_after_chunk(sg_stream *s, sg_hook_fn fn, void *ud)
{
	return hook_add(s, HOOK_AFTER_CHUNK, (hook){.fn.hook = fn, .ud = ud});
}

int sg_stream_before_close(sg_stream *s, sg_hook_fn fn, void *ud)
{
	return hook_add(s, HOOK_BEFORE_CLOSE, (hook){.fn.hook = fn, .ud = ud});
}

int sg_stream_after_close(sg_stream *s, sg_hook_fn fn, void *ud)
{
	return hook_add(s, HOOK_AFTER_CLOSE, (hook){.fn.hook = fn, .ud = ud});
}

/* ---- chunk filters ---------------------------------------------------- */

const void *sg_chunk_data(const sg_chunk *c, size_t *len)
{
	if (len)
		*len = c->len;
	return c->data;
}

const char *sg_chunk_event(const sg_chunk *c)
{
	return c->event;
}

int sg_chunk_set_data(sg_chunk *c, const void *data, size_t len)
{
	char *p = malloc(len + 1);
	if (!p)
		return SG_ENOMEM;
	memcpy(p, data, len);
	p[len] = '\0';
	free(c->owned);
	c->owned = p;
	c->data = p;
	c->len = len;
	return 0;
}

/* Runs the before_chunk chain; nonzero when a filter dropped the chunk. */
int sg__stream_filters_run(sg_stream *s, sg_chunk *c)
{
	hook_list *l = &s->hooks[HOOK_BEFORE_CHUNK];
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].fn.filter(s, c, l->v[i].ud))
			return 1;
	return 0;
}

