/*
 * message — immutable refcounted message with a per-transport frame cache.
 */
#include "message.h"

#include <stdlib.h>
#include <string.h>

#include "transport.h"

static atomic_long live_msgs;

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

sg_msg *sg_msg_new(const char *channel, sg_id pos, const char *id, const char *event,
		   const void *data, size_t len, int64_t time_ms)
{
	sg_msg *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	atomic_init(&m->refs, 1);
	m->pos = pos;
	m->time_ms = time_ms;
	m->pub_us = sg_mono_us();
	m->channel = strdup(channel ? channel : "");
	m->id = dup_or_null(id);
	m->event = dup_or_null(event);
	m->data = malloc(len + 1);
	if (!m->channel || (id && !m->id) || (event && !m->event) || !m->data) {
		free(m->channel);
		free(m->id);
		free(m->event);
		free(m->data);
		free(m);
		return NULL;
	}
	if (len)
		memcpy(m->data, data, len);
	m->data[len] = '\0';
	m->len = len;
	atomic_fetch_add(&live_msgs, 1);
	return m;
}

sg_msg *sg_msg_ref(sg_msg *m)
{
	atomic_fetch_add(&m->refs, 1);
	return m;
}

void sg_msg_unref(sg_msg *m)
{
	if (!m || atomic_fetch_sub(&m->refs, 1) != 1)
		return;
	for (int i = 0; i < SG_RENDER_SLOTS; i++)
		sg_frame_unref(m->frames[i]);
	free(m->channel);
	free(m->id);
	free(m->event);
	free(m->data);
	free(m);
	atomic_fetch_sub(&live_msgs, 1);
}

sg_frame *sg_msg_frame(sg_msg *m, const sg_transport *t, int tagged)
{
	int slot = t->slot * 2 + (tagged != 0);
	if (!m->frames[slot] && (m->frames[slot] = t->render(m, tagged)))
		m->frames[slot]->pub_us = m->pub_us;
	return m->frames[slot];
}

long sg_msg_live(void)
{
	return atomic_load(&live_msgs);
}
