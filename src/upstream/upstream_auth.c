/*
 * upstream_auth — the gateway's own token check before an upstream is
 * called, as each upstream's "auth" says: pass (a token that fails is
 * refused, none or a valid one goes on for the upstream to judge),
 * require (a valid token, with the subscribe right to "channel" when
 * set) or off (nothing checked: the upstream sees whatever came).
 */
#include <stdio.h>

#include "auth/principal.h"
#include "server/conn.h"
#include "server/rights.h"
#include "upstream.h"

int sg__upstream_admit(sg_stream *s, const sg_upstream_cfg *cfg)
{
	const sg_conn *c = sg__stream_conn(s);
	const sg_principal *p = c ? c->principal : NULL;
	char action[600], detail[200];
	const char *error;
	int status;
	if (cfg->auth == SG_UP_AUTH_OFF)
		return 0;
	if (p && p->invalid) {
		/* refused here, as the channels refuse it: the upstream never sees it */
		sg_stream_fail(s, 401, "invalid_token", p->invalid);
		return -1;
	}
	if (cfg->auth != SG_UP_AUTH_REQUIRE)
		return 0;
	if (!cfg->channel[0]) {
		if (p)
			return 0;
		sg_stream_fail(s, 401, "token_required",
		               "this upstream needs a valid token (Authorization: Bearer, "
		               "?access_token= or the auth cookie)");
		return -1;
	}
	snprintf(action, sizeof(action), "reach %s (the subscribe right to channel %s)", cfg->path,
	         cfg->channel);
	status = sg__stream_authorize(s, SG_RIGHT_SUBSCRIBE, cfg->channel, action, &error, detail,
	                              sizeof(detail));
	if (!status)
		return 0;
	sg_stream_fail(s, status, error, detail);
	return -1;
}
