/*
 * rights — answering "may it?" for endpoints, the refusals that go with a
 * "no", the end of a stream whose token expires, a WebSocket's refresh, and
 * the secure-by-default rule at start. Tokens themselves are auth/'s.
 */
#include "rights.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "auth/patterns.h"
#include "request.h"
#include "websocket.h"

#define EXPIRED_JSON "{\"type\":\"error\",\"reason\":\"token_expired\"}"
#define CLOSE_TOKEN_EXPIRED 4001

static int auth_on(const sg_server *srv)
{
	return sg_auth_enabled(srv->group->auth);
}

/* The patterns a client without a token holds for right: the setting, or
 * when unset everything without auth and nothing with it. NULL: none. */
static const char *anonymous_list(const sg_server *srv, sg_right right)
{
	const char *set = right == SG_RIGHT_SUBSCRIBE ? srv->cfg.anonymous_subscribe
						      : srv->cfg.anonymous_publish;
	if (!*set)
		return auth_on(srv) ? NULL : "*";
	return strcmp(set, "none") == 0 ? NULL : set;
}

const sg_principal *sg__request_principal(const sg_request *req)
{
	return req->principal;
}

const char *sg__principal_sub(const sg_request *req)
{
	const sg_principal *p = req->principal;
	return p && !p->invalid && p->sub[0] ? p->sub : NULL;
}

int sg__may(const sg_server *srv, const sg_principal *p, sg_right right, const char *channel)
{
	if (p)
		return sg_principal_may(p, right, channel);
	if (right == SG_RIGHT_ADMIN) { /* without auth: whoever may publish anywhere, as before */
		const char *pub = anonymous_list(srv, SG_RIGHT_PUBLISH);
		return !auth_on(srv) && pub && strcmp(pub, "*") == 0;
	}
	return sg_patterns_match(anonymous_list(srv, right), channel);
}

int sg__may_admin(const sg_server *srv, const sg_request *req)
{
	return sg__may(srv, req->principal, SG_RIGHT_ADMIN, NULL);
}

/* The refusal of action to p: its status, error and detail. */
static int refusal(const sg_server *srv, const sg_principal *p, const char *action,
		   const char **error, char *detail, size_t len)
{
	if (p && p->invalid) {
		*error = "invalid_token";
		snprintf(detail, len, "%s", p->invalid);
		return 401;
	}
	if (!p && auth_on(srv)) {
		*error = "token_required";
		snprintf(detail, len, "a token is needed to %s", action);
		return 401;
	}
	*error = "forbidden";
	snprintf(detail, len, "not allowed to %s", action);
	return 403;
}

int sg__authorize(const sg_server *srv, const sg_request *req, sg_right right,
		  const char *channel, const char *action, sg_response *resp)
{
	const char *error;
	char detail[200];
	if (sg__may(srv, req->principal, right, channel))
		return 0;
	int status = refusal(srv, req->principal, action, &error, detail, sizeof(detail));
	sg__response_error(resp, status, error, detail);
	return -1;
}

int sg__stream_authorize(const sg_stream *s, sg_right right, const char *channel,
			 const char *action, const char **error, char *detail, size_t len)
{
	sg_conn *c = sg__stream_conn(s);
	if (!c) { /* ended: nothing more is allowed */
		*error = "forbidden";
		snprintf(detail, len, "the stream has ended");
		return 403;
	}
	if (sg__may(c->srv, c->principal, right, channel))
		return 0;
	return refusal(c->srv, c->principal, action, error, detail, len);
}

int sg_stream_authorize_subscribe(sg_stream *s, const char *channel)
{
	char action[SG_CHANNEL_NAME_MAX + 40], detail[200];
	const char *error;
	if (!s || !channel)
		return SG_EINVAL;
	snprintf(action, sizeof(action), "subscribe to channel %.128s", channel);
	int status = sg__stream_authorize(s, SG_RIGHT_SUBSCRIBE, channel, action, &error, detail,
					  sizeof(detail));
	if (!status)
		return 0;
	sg_stream_fail(s, status, error, detail);
	return SG_EACCES;
}

int sg_stream_may_publish(const sg_stream *s, const char *channel)
{
	sg_conn *c = s && channel ? sg__stream_conn(s) : NULL;
	return c && sg__may(c->srv, c->principal, SG_RIGHT_PUBLISH, channel);
}

/* ---- expiry on a live stream ------------------------------------------ */

/* The token behind the stream expired: a control message, then a clean
 * end (a WebSocket: close 4001 token_expired once the queue drained). */
static void token_expired(void *arg)
{
	sg_conn *c = arg;
	sg_stream *s = c->stream;
	c->expiry = NULL;
	if (!s || c->aborting || c->ending || sg_stream_is_closed(s))
		return;
	sg__stream_set_end_reason(s, SG_END_TOKEN_EXPIRED);
	sg__stream_control(s, "error", EXPIRED_JSON, NULL);
	if (c->is_ws) {
		sg__ws_set_close(c, CLOSE_TOKEN_EXPIRED, "token_expired");
	}
	sg_stream_close(s);
}

/* (Re)arms c's expiry for its principal's exp (plus the leeway tokens get). */
static void expiry_arm(sg_conn *c)
{
	sg_server *srv = c->srv;
	srv->loop.timer_cancel(&srv->loop, c->expiry);
	c->expiry = NULL;
	if (!c->principal || !c->principal->exp_ms)
		return;
	long long ms = c->principal->exp_ms + (long long)srv->cfg.auth_jwt_leeway_ms - sg_wall_ms();
	c->expiry = srv->loop.timer_start(&srv->loop, ms > 0 ? (uint64_t)ms : 0, token_expired, c);
}

void sg__rights_bind(sg_conn *c)
{
	if (!c->req || !c->req->principal)
		return;
	c->principal = c->req->principal;
	c->req->principal = NULL;
	expiry_arm(c);
}

int sg__rights_refresh(sg_stream *s, const char *token, const char **detail,
		       long long *expires_in_ms)
{
	sg_conn *c = sg__stream_conn(s);
	if (!c) {
		*detail = "the stream has ended";
		return SG_EINVAL;
	}
	long long now = sg_wall_ms();
	sg_principal *p = sg_auth_verify(c->srv->group->auth, token, strlen(token), now, detail);
	if (!p)
		return SG_EINVAL;
	sg_principal_free(c->principal);
	c->principal = p;
	expiry_arm(c);
	*expires_in_ms = p->exp_ms ? p->exp_ms - now : -1;
	return 0;
}

/* ---- settings ------------------------------------------------------------ */

static int loopback(const char *host)
{
	return strncmp(host, "127.", 4) == 0 || strcmp(host, "localhost") == 0 ||
	       strcmp(host, "::1") == 0 || strcmp(host, "[::1]") == 0;
}

int sg__rights_exposure_check(const sg_config *cfg, const char *key, const char *host, char *err,
			      size_t errlen)
{
	if (loopback(host) || cfg->auth_jwt_alg[0] || cfg->anonymous_publish[0])
		return 0;
	snprintf(err, errlen,
		 "%s %s is not a loopback address and no authentication is configured: set "
		 "auth_jwt_alg and its key, or set anonymous_publish explicitly (\"*\" lets anyone "
		 "publish, \"none\" nobody; README \"Security\")",
		 key, *host ? host : "(all interfaces)");
	return SG_EINVAL;
}

/* Nonzero for an address no one outside the machine's networks reaches:
 * loopback, RFC 1918 IPv4, IPv6 unique-local (fc00::/7) or link-local. */
static int private_address(const char *host)
{
	unsigned char a[16];
	char h[64];
	size_t n = strlen(host);
	if (loopback(host))
		return 1;
	if (n >= 2 && n < sizeof(h) && host[0] == '[' && host[n - 1] == ']') {
		memcpy(h, host + 1, n - 2);
		h[n - 2] = 0;
		host = h;
	}
	if (inet_pton(AF_INET, host, a) == 1)
		return a[0] == 10 || (a[0] == 172 && (a[1] & 0xf0) == 16) ||
		       (a[0] == 192 && a[1] == 168);
	if (inet_pton(AF_INET6, host, a) == 1)
		return (a[0] & 0xfe) == 0xfc || (a[0] == 0xfe && (a[1] & 0xc0) == 0x80);
	return 0;
}

int sg__rights_trusted_check(const char *key, const char *host, char *err, size_t errlen)
{
	if (private_address(host))
		return 0;
	snprintf(err, errlen,
		 "%s %s would let anyone who reaches it publish without a token: bind it to a "
		 "loopback or private address (10/8, 172.16/12, 192.168/16, fc00::/7)",
		 key, *host ? host : "(all interfaces)");
	return SG_EINVAL;
}

static int anonymous_check(const sg_config *cfg, char *err, size_t errlen)
{
	const char *names[] = {"anonymous_subscribe", "anonymous_publish"};
	const char *values[] = {cfg->anonymous_subscribe, cfg->anonymous_publish};
	for (int i = 0; i < 2; i++) {
		char why[160];
		sg_buf b = SG_BUF_INIT;
		int rc = *values[i] ? sg_patterns_parse(values[i], &b, why, sizeof(why)) : 0;
		sg_buf_free(&b);
		if (rc) {
			snprintf(err, errlen, "%s: %s", names[i], why);
			return SG_EINVAL;
		}
	}
	return 0;
}

static sg_auth_settings auth_settings(const sg_config *cfg)
{
	return (sg_auth_settings){.alg = cfg->auth_jwt_alg, .key = cfg->auth_jwt_key,
				  .key_file = cfg->auth_jwt_key_file,
				  .issuer = cfg->auth_jwt_issuer, .audience = cfg->auth_jwt_audience,
				  .leeway_ms = (long long)cfg->auth_jwt_leeway_ms,
				  .ticket_max = cfg->auth_ticket_max};
}

sg_auth *sg__rights_auth_new(const sg_config *cfg, char *err, size_t errlen)
{
	sg_auth_settings s = auth_settings(cfg);
	return anonymous_check(cfg, err, errlen) ? NULL : sg_auth_new(&s, err, errlen);
}

int sg__rights_auth_reload(sg_auth *a, const sg_config *cfg, char *err, size_t errlen)
{
	sg_auth_settings s = auth_settings(cfg);
	int rc = anonymous_check(cfg, err, errlen);
	return rc ? rc : sg_auth_reload(a, &s, err, errlen);
}
