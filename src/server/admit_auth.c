/*
 * admit_auth — the admission stage that finds a request's token and says
 * who it speaks for. Sources, first found wins: Authorization: Bearer, the
 * cookie named by auth_cookie, ?access_token=, ?ticket=. A bad token does
 * not refuse the request here: it becomes a principal without rights, so
 * /healthz and static files still answer, and whatever needs a right gets
 * 401 invalid_token saying which check failed. Tokens are never logged.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "admit.h"
#include "auth/auth.h"
#include "request.h"

/* Where a token was found: bytes borrowed from the request. */
typedef struct token_ref {
	const char *p;
	size_t len;
	int is_ticket;
} token_ref;

static int from_authorization(const sg_request *req, token_ref *t)
{
	const char *h = sg_request_header(req, "authorization");
	if (!h || strncasecmp(h, "bearer ", 7) != 0)
		return 0; /* another scheme is not ours to judge */
	h += 7;
	while (*h == ' ')
		h++;
	size_t n = strlen(h);
	while (n && h[n - 1] == ' ')
		n--;
	*t = (token_ref){h, n, 0};
	return 1;
}

/* "a=1; NAME=value; b=2": the first cookie named name. */
static int from_cookie(const sg_request *req, const char *name, token_ref *t)
{
	size_t nlen = strlen(name);
	if (!nlen)
		return 0;
	for (size_t i = 0; i < req->nheaders; i++) {
		if (strcasecmp(req->headers[i].name, "cookie") != 0)
			continue;
		for (const char *p = req->headers[i].value; *p;) {
			while (*p == ' ' || *p == ';')
				p++;
			size_t n = strcspn(p, ";");
			if (n > nlen && memcmp(p, name, nlen) == 0 && p[nlen] == '=') {
				const char *v = p + nlen + 1;
				size_t vlen = n - nlen - 1;
				if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"')
					v++, vlen -= 2; /* a quoted cookie-value */
				*t = (token_ref){v, vlen, 0};
				return 1;
			}
			p += n;
		}
	}
	return 0;
}

static int find_token(const sg_server *srv, const sg_request *req, token_ref *t)
{
	const char *q;
	if (from_authorization(req, t) || from_cookie(req, srv->cfg.auth_cookie, t))
		return 1;
	if ((q = sg_request_query(req, "access_token"))) {
		*t = (token_ref){q, strlen(q), 0};
		return 1;
	}
	if ((q = sg_request_query(req, "ticket"))) {
		*t = (token_ref){q, strlen(q), 1};
		return 1;
	}
	return 0;
}

/* The principal a ticket stands for, or an invalid one saying why. */
static sg_principal *ticket_principal(sg_server *srv, const token_ref *t, long long now)
{
	char text[SG_TICKET_TEXT];
	sg_principal *p = NULL;
	if (t->len == SG_TICKET_TEXT - 1) {
		memcpy(text, t->p, t->len);
		text[t->len] = '\0';
		p = sg_tickets_take(sg_auth_tickets(srv->group->auth), text, now);
	}
	if (!p)
		return sg_principal_invalid("unknown, already used or expired ticket");
	if (p->exp_ms && now >= p->exp_ms + (long long)srv->cfg.auth_jwt_leeway_ms) {
		sg_principal_free(p);
		return sg_principal_invalid("the token behind the ticket has expired (exp)");
	}
	return p;
}

int sg__admit_auth(sg_server *srv, const sg_request *req, const sg_admit_ctx *ctx,
		   sg_response *resp)
{
	token_ref t;
	sg_principal *p = NULL;
	const char *detail;
	if (!ctx->principal)
		return 0; /* a caller that keeps no rights: anonymous */
	long long now = sg_wall_ms();
	if (ctx->from_metrics_listener || ctx->from_grip_listener)
		p = sg_principal_trusted();
	else if (!sg_auth_enabled(srv->group->auth) || !find_token(srv, req, &t))
		return 0; /* anonymous: the anonymous_* settings */
	else if (t.is_ticket)
		p = ticket_principal(srv, &t, now);
	else if (!(p = sg_auth_verify(srv->group->auth, t.p, t.len, now, &detail)))
		p = sg_principal_invalid(detail);
	if (!p) {
		sg__response_error(resp, 503, "out_of_memory", "cannot hold the request's rights");
		return -1;
	}
	sg_principal_free(*ctx->principal);
	*ctx->principal = p;
	return 0;
}
