/*
 * memory — the embedded broker: one process, nothing to install. Publishing
 * is delivery to the local hub, which keeps the history; every operation
 * completes at once.
 */
#include <stdlib.h>

#include "core/broker.h"

static void memory_publish(sg_broker *b, const sg_publish_req *req, sg_broker_published_fn done,
			   void *ud)
{
	sg_publish_result res;
	int rc = sg_hub_publish(b->hub, req, &res);
	done(ud, rc, rc ? NULL : &res);
}

static void memory_info(sg_broker *b, const char *channel, sg_broker_info_fn done, void *ud)
{
	sg_channel_info ci;
	int rc = sg_hub_channel_info(b->hub, channel, &ci);
	done(ud, rc, rc ? NULL : &ci);
}

static void memory_remove(sg_broker *b, const char *channel, sg_broker_removed_fn done, void *ud)
{
	size_t n = 0;
	int rc = sg_hub_delete(b->hub, channel, &n);
	done(ud, rc, n);
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
