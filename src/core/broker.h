/*
 * broker — where published messages travel. The memory broker hands them
 * straight to this process's hub; a networked broker (redis) would carry
 * them between gateway nodes and feed each node's hub. One seam, several
 * stores, as nchan's src/store/.
 */
#ifndef SG_CORE_BROKER_H
#define SG_CORE_BROKER_H

#include "hub.h"

typedef struct sg_broker sg_broker;

typedef struct sg_broker_ops {
	const char *name;
	/* Publishes req (borrowed); fills res (may be NULL). Loop thread.
	 * Errors as sg_hub_publish. */
	int (*publish)(sg_broker *b, const sg_publish_req *req, sg_publish_result *res);
	/* What channel holds, everywhere: as sg_hub_channel_info. */
	int (*info)(sg_broker *b, const char *channel, sg_channel_info *out);
	/* Deletes channel everywhere: as sg_hub_delete. */
	int (*remove)(sg_broker *b, const char *channel, size_t *subscribers);
	/* Frees the broker; NULL-safe. */
	void (*free)(sg_broker *b);
} sg_broker_ops;

struct sg_broker {
	const sg_broker_ops *ops;
	sg_hub *hub; /* borrowed: the hub deliveries go to */
};

/* The in-process broker over hub (borrowed). Caller frees via ops->free. */
sg_broker *sg_broker_memory_new(sg_hub *hub);

/* Several workers in one process, each with its own loop and hub: a bus
 * they share gives ids in one order and carries every publish and delete
 * to every hub, and counts subscribers across them. Make the bus, then one
 * broker per worker (hub and loop borrowed; the broker sets the hub's
 * hooks); free the brokers, then the bus. */
typedef struct sg_bus sg_bus;
sg_bus *sg_bus_new(void);
void sg_bus_free(sg_bus *bus);
struct sg_loop;
sg_broker *sg_broker_workers_new(sg_bus *bus, sg_hub *hub, struct sg_loop *loop);

static inline int sg_broker_publish(sg_broker *b, const sg_publish_req *req,
				    sg_publish_result *res)
{
	return b->ops->publish(b, req, res);
}

static inline int sg_broker_info(sg_broker *b, const char *channel, sg_channel_info *out)
{
	return b->ops->info(b, channel, out);
}

static inline int sg_broker_remove(sg_broker *b, const char *channel, size_t *subscribers)
{
	return b->ops->remove(b, channel, subscribers);
}

#endif
