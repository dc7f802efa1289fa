/*
 * admit — admission stages, run in order; the first to answer ends it.
 * Each stage is a small function that reads the request and the
 * connection's context and either lets it pass or fills the answer
 * (mostly a refusal). The stages of their own files are declared in
 * admit.h; the two tiny ones about the connection live here.
 */
#include "admit.h"

#include <string.h>

#include "request.h"

void sg__admit_prepare(sg_server *srv, sg_request *req, const sg_admit_ctx *ctx)
{
	sg__client_resolve(req, &ctx->peer, &srv->group->trusted_proxies, &req->client);
	sg__ip_format(&req->client, req->client_ip);
	req->from_metrics_listener = ctx->from_metrics_listener;
	req->cors = sg__cors_decide(&srv->cfg, req);
}

static int watch_path(const sg_request *req)
{
	return strcmp(req->path, "/healthz") == 0 || strcmp(req->path, "/metrics") == 0;
}

/* Past max_connections only the health and metrics endpoints answer, so a
 * full gateway can still be watched. */
static int connection_limit(sg_server *srv, const sg_request *req, const sg_admit_ctx *ctx,
			    sg_response *resp)
{
	(void)srv;
	if (!ctx->over_limit || watch_path(req))
		return 0;
	sg__response_error(resp, 503, "too_many_connections",
			   "the gateway is at max_connections");
	resp->retry_after = 1;
	return -1;
}

/* metrics_listen serves the watchers' endpoints and nothing else: it is
 * meant for a private address, and publishing through it would bypass
 * what the public port checks. */
static int metrics_port(sg_server *srv, const sg_request *req, const sg_admit_ctx *ctx,
			sg_response *resp)
{
	(void)srv;
	if (!ctx->from_metrics_listener || (watch_path(req) && !req->ws_upgrade))
		return 0;
	sg__response_error(resp, 404, "not_found",
			   "metrics_listen serves /metrics and /healthz only");
	return -1;
}

/* grip_publish_listen serves the GRIP publish API (and /healthz) only:
 * it is the backend's private port, trusted as metrics_listen is. */
static int grip_port(sg_server *srv, const sg_request *req, const sg_admit_ctx *ctx,
		     sg_response *resp)
{
	(void)srv;
	if (!ctx->from_grip_listener || (!req->ws_upgrade && (strcmp(req->path, "/healthz") == 0 ||
							       strcmp(req->path, "/publish/") == 0 ||
							       strcmp(req->path, "/publish") == 0)))
		return 0;
	sg__response_error(resp, 404, "not_found",
			   "grip_publish_listen serves /publish/ and /healthz only");
	return -1;
}

static const sg_admit_stage stages[] = {
	connection_limit,
	metrics_port,
	grip_port,
	sg__admit_ip_limit,
	sg__admit_origin,
	sg__admit_auth,		/* admit_auth.c: the token, and who the request speaks for */
	sg__admit_publish_rate, /* after every stage that may refuse, and after auth: its key
				   is the token's sub; a refusal costs no token */
};

int sg__admit(sg_server *srv, const sg_request *req, const sg_admit_ctx *ctx, sg_response *resp)
{
	for (size_t i = 0; i < sizeof(stages) / sizeof(stages[0]); i++)
		if (stages[i](srv, req, ctx, resp))
			return -1;
	return 0;
}
