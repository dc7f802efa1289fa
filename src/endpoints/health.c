/*
 * health — /healthz for load balancers and container checks (/metrics is
 * in metrics.c).
 */
#include <string.h>

#include "server/server.h"

static int health_match(const sg_server *srv, const char *path)
{
	(void)srv;
	return strcmp(path, "/healthz") == 0;
}

static void health_get(sg_server *srv, const sg_request *req, sg_response *r)
{
	(void)srv;
	(void)req;
	sg_buf_puts(&r->body, "{\"status\":\"ok\"}");
}

const sg_endpoint sg_endpoint_health = {
	.name = "health",
	.match = health_match,
	.methods = SG_M_GET,
	.allow = "GET, HEAD, OPTIONS",
	.get = health_get,
};
