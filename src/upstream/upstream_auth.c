/*
 * upstream_auth — the gateway's own token check before an upstream is
 * called, as each upstream's "auth" says: pass (a token that fails is
 * refused, none or a valid one goes on for the upstream to judge),
 * require (a valid token, with the subscribe right to "channel" when
 * set) or off (nothing checked: the upstream sees whatever came).
 * Streams are checked when they open; a WebSocket upgrade is checked in
 * its preflight, before the upstream is called and before the 101.
 */
#include <stdio.h>

#include "auth/principal.h"
#include "server/conn.h"
#include "server/rights.h"
#include "upstream.h"

enum { ADMIT, REFUSE, ASK_RIGHT };

/* What cfg->auth decides of p alone; REFUSE fills status/error/detail. */
static int precheck(const sg_upstream_cfg *cfg, const sg_principal *p, int *status,
                    const char **error, const char **detail)
{
	if (cfg->auth == SG_UP_AUTH_OFF)
		return ADMIT;
	if (p && p->invalid) {
		/* refused here, as the channels refuse it: the upstream never sees it */
		*status = 401, *error = "invalid_token", *detail = p->invalid;
		return REFUSE;
	}
	if (cfg->auth != SG_UP_AUTH_REQUIRE)
		return ADMIT;
	if (cfg->channel[0])
		return ASK_RIGHT;
	if (p)
		return ADMIT;
	*status = 401, *error = "token_required";
	*detail = "this upstream needs a valid token (Authorization: Bearer, "
	          "?access_token= or the auth cookie)";
	return REFUSE;
}

static void action_of(const sg_upstream_cfg *cfg, char *action, size_t len)
{
	snprintf(action, len, "reach %s (the subscribe right to channel %s)", cfg->path,
	         cfg->channel);
}

int sg__upstream_admit(sg_stream *s, const sg_upstream_cfg *cfg)
{
	const sg_conn *c = sg__stream_conn(s);
	char action[600], detail[200];
	const char *error, *why;
	int status = 0;
	switch (precheck(cfg, c ? c->principal : NULL, &status, &error, &why)) {
	case ADMIT:
		return 0;
	case REFUSE:
		sg_stream_fail(s, status, error, why);
		return -1;
	}
	action_of(cfg, action, sizeof(action));
	status = sg__stream_authorize(s, SG_RIGHT_SUBSCRIBE, cfg->channel, action, &error, detail,
	                              sizeof(detail));
	if (!status)
		return 0;
	sg_stream_fail(s, status, error, detail);
	return -1;
}

int sg__upstream_admit_request(const sg_server *srv, const sg_request *req,
                               const sg_upstream_cfg *cfg, sg_response *resp)
{
	char action[600];
	const char *error, *why;
	int status = 0;
	switch (precheck(cfg, sg__request_principal(req), &status, &error, &why)) {
	case ADMIT:
		return 0;
	case REFUSE:
		sg__response_error(resp, status, error, why);
		return -1;
	}
	action_of(cfg, action, sizeof(action));
	return sg__authorize(srv, req, SG_RIGHT_SUBSCRIBE, cfg->channel, action, resp);
}
