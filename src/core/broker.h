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

/* Completions: each operation calls its callback exactly once, on the
 * loop thread, at once (memory, workers) or when the store answers (also
 * with an error when the broker is freed first). What the callback is
 * given is borrowed for the call. rc as the sg_hub_* function it mirrors,
 * or SG_EIO when the store is unreachable. */
/* publish: stored, but fewer replicas than asked acknowledged it in time */
#define SG_EREPLICAS (-101)

typedef void (*sg_broker_published_fn)(void *ud, int rc, const sg_publish_result *res);
typedef void (*sg_broker_info_fn)(void *ud, int rc, const sg_channel_info *info);
typedef void (*sg_broker_removed_fn)(void *ud, int rc, size_t subscribers);

typedef struct sg_broker_ops {
	const char *name;
	/* Publishes req (borrowed for the call: the broker copies what it
	 * keeps). Loop thread. Errors as sg_hub_publish. */
	void (*publish)(sg_broker *b, const sg_publish_req *req, sg_broker_published_fn done,
			void *ud);
	/* What channel holds, everywhere: as sg_hub_channel_info. */
	void (*info)(sg_broker *b, const char *channel, sg_broker_info_fn done, void *ud);
	/* Deletes channel everywhere: as sg_hub_delete. */
	void (*remove)(sg_broker *b, const char *channel, sg_broker_removed_fn done, void *ud);
	/* Nonzero while the store can be reached (/healthz). NULL: always.
	 * Any thread. */
	int (*healthy)(const sg_broker *b);
	/* Frees the broker; NULL-safe. Pending operations complete first,
	 * with an error. */
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

/* Subscribing goes through the hub: a broker that keeps history or
 * carries messages elsewhere sets the hub's hooks (subscribers, history). */

static inline void sg_broker_publish(sg_broker *b, const sg_publish_req *req,
				     sg_broker_published_fn done, void *ud)
{
	b->ops->publish(b, req, done, ud);
}

static inline void sg_broker_info(sg_broker *b, const char *channel, sg_broker_info_fn done,
				  void *ud)
{
	b->ops->info(b, channel, done, ud);
}

static inline void sg_broker_remove(sg_broker *b, const char *channel, sg_broker_removed_fn done,
				    void *ud)
{
	b->ops->remove(b, channel, done, ud);
}

static inline int sg_broker_healthy(const sg_broker *b)
{
	return !b->ops->healthy || b->ops->healthy(b);
}

#endif
