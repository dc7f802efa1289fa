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
	/* Publishes req (borrowed); fills res. Loop thread. */
	int (*publish)(sg_broker *b, const sg_publish_req *req, sg_publish_result *res);
	/* Frees the broker; NULL-safe. */
	void (*free)(sg_broker *b);
} sg_broker_ops;

struct sg_broker {
	const sg_broker_ops *ops;
	sg_hub *hub; /* borrowed: the hub deliveries go to */
};

/* The in-process broker over hub (borrowed). Caller frees via ops->free. */
sg_broker *sg_broker_memory_new(sg_hub *hub);

static inline int sg_broker_publish(sg_broker *b, const sg_publish_req *req,
				    sg_publish_result *res)
{
	return b->ops->publish(b, req, res);
}

#endif
