/*
 * memory — the embedded broker: one process, nothing to install. Publishing
 * is delivery to the local hub, which keeps the history.
 */
#include <stdlib.h>

#include "core/broker.h"

static int memory_publish(sg_broker *b, const sg_publish_req *req, sg_publish_result *res)
{
	return sg_hub_publish(b->hub, req, res);
}

static int memory_info(sg_broker *b, const char *channel, sg_channel_info *out)
{
	return sg_hub_channel_info(b->hub, channel, out);
}

static int memory_remove(sg_broker *b, const char *channel, size_t *subscribers)
{
	return sg_hub_delete(b->hub, channel, subscribers);
}

static void memory_free(sg_broker *b)
{
	free(b);
}

static const sg_broker_ops memory_ops = {
	.name = "memory",
	.publish = memory_publish,
	.info = memory_info,
	.remove = memory_remove,
	.free = memory_free,
};

sg_broker *sg_broker_memory_new(sg_hub *hub)
{
	sg_broker *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->ops = &memory_ops;
	b->hub = hub;
	return b;
}
