/*
 * ticket — POST /auth/ticket: a verified token (Authorization, cookie or
 * ?access_token=) buys a one-time ticket with its rights, for a URL a
 * browser opens without headers (?ticket= on a WebSocket or EventSource).
 * Answers {"ticket":"…","expires_in":SECONDS}. The ticket is never logged.
 */
#include <string.h>

#include "auth/auth.h"
#include "server/request.h"
#include "server/rights.h"

static int ticket_match(const sg_server *srv, const char *path)
{
	(void)srv;
	return strcmp(path, "/auth/ticket") == 0;
}

static void ticket_post(sg_server *srv, const sg_request *req, const char *body, size_t len,
			sg_response *r)
{
	(void)body;
	(void)len;
	const sg_principal *p = sg__request_principal(req);
	char ticket[SG_TICKET_TEXT];
	if (!sg_auth_enabled(srv->group->auth)) {
		sg__response_error(r, 404, "not_found", "no authentication is configured (auth_jwt_alg)");
		return;
	}
	if (!p || p->invalid) {
		sg__authorize(srv, req, SG_RIGHT_ADMIN, NULL, "get a ticket", r); /* the 401 */
		return;
	}
	if (p->from_ticket) {
		sg__response_error(r, 403, "forbidden", "a ticket cannot buy another ticket");
		return;
	}
	int rc = sg_tickets_issue(sg_auth_tickets(srv->group->auth), p, sg_wall_ms(),
				  (long long)srv->cfg.auth_ticket_ttl_ms, ticket);
	if (rc == SG_ETOOBIG) {
		sg__response_error(r, 503, "too_many_tickets", "auth_ticket_max tickets are live");
		r->retry_after = 1;
		return;
	}
	if (rc) {
		sg__response_error(r, 503, "no_ticket", "cannot make a ticket now");
		return;
	}
	sg_buf_printf(&r->body, "{\"ticket\":\"%s\",\"expires_in\":%zu}", ticket,
		      srv->cfg.auth_ticket_ttl_ms / 1000);
}

const sg_endpoint sg_endpoint_ticket = {
	.name = "ticket",
	.match = ticket_match,
	.methods = SG_M_POST,
	.allow = "POST, OPTIONS",
	.post = ticket_post,
};
