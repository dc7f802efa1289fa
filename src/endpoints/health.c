/*
 * health — /healthz for load balancers and container checks (/metrics is
 * in metrics.c).
 */
#include <string.h>

#include "metrics.h"
#include "server/server.h"

static int health_match(const sg_server *srv, const char *path)
{
	(void)srv;
	return strcmp(path, "/healthz") == 0;
}

int sg__brokers_healthy(const sg_group *g)
{
	for (size_t i = 0; i < g->n; i++)
		if (!sg_broker_healthy(g->workers[i]->broker))
			return 0;
	return 1;
}

/* Degraded while a worker's broker cannot reach its store (publishes on
 * it fail): a load balancer then sends clients elsewhere. */
static void health_get(sg_server *srv, const sg_request *req, sg_response *r)
{
	(void)req;
	if (sg__brokers_healthy(srv->group)) {
		sg_buf_puts(&r->body, "{\"status\":\"ok\"}");
		return;
	}
	r->status = 503;
	sg_buf_puts(&r->body, "{\"status\":\"degraded\",\"broker\":\"down\"}");
}

const sg_endpoint sg_endpoint_health = {
	.name = "health",
	.match = health_match,
	.methods = SG_M_GET,
	.allow = "GET, HEAD, OPTIONS",
	.get = health_get,
};
