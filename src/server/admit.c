/*
 * admit — admission stages, run in order; the first to refuse answers.
 * Each stage is a small function that reads the request and the
 * connection's context and either lets it pass or fills the refusal.
 */
#include "admit.h"

#include <string.h>

#include "request.h"

typedef int (*sg_admit_stage)(sg_server *srv, const sg_request *req, const sg_admit_ctx *ctx,
			      sg_response *resp);

/* Past max_connections only the health and metrics endpoints answer, so a
 * full gateway can still be watched. */
static int connection_limit(sg_server *srv, const sg_request *req, const sg_admit_ctx *ctx,
			    sg_response *resp)
{
	(void)srv;
	if (!ctx->over_limit || strcmp(req->path, "/healthz") == 0 ||
	    strcmp(req->path, "/metrics") == 0)
		return 0;
	sg__response_error(resp, 503, "too_many_connections",
			   "the gateway is at max_connections");
	resp->retry_after = 1;
	return -1;
}

static const sg_admit_stage stages[] = {
	connection_limit,
	sg__admit_auth, /* admit_auth.c: the token, and who the request speaks for */
};

int sg__admit(sg_server *srv, const sg_request *req, const sg_admit_ctx *ctx, sg_response *resp)
{
	for (size_t i = 0; i < sizeof(stages) / sizeof(stages[0]); i++)
		if (stages[i](srv, req, ctx, resp))
			return -1;
	return 0;
}
