/*
 * rights — what endpoints ask before they act: "may the client behind
 * this request (or stream) subscribe to, publish to, or administer X?".
 * The answer comes from the principal admission attached (auth/principal.h)
 * or, without a token, from the anonymous_* settings. Endpoints never see
 * a token; refusals are the same 401/403 everywhere (README "Security").
 */
#ifndef SG_SERVER_RIGHTS_H
#define SG_SERVER_RIGHTS_H

#include "auth/auth.h"
#include "conn.h"

/* Who req speaks for (borrowed): NULL when it carried no token. */
const sg_principal *sg__request_principal(const sg_request *req);
/* The verified token's sub (borrowed), or NULL: no token, an invalid one,
 * or a token without sub. What a rate limiter keys on before the IP. */
const char *sg__principal_sub(const sg_request *req);
/* Nonzero when p (NULL: anonymous) holds right on channel on srv. */
int sg__may(const sg_server *srv, const sg_principal *p, sg_right right, const char *channel);
/* Nonzero when req may read admin endpoints (/metrics): an admin token,
 * a trusted listener (metrics_listen), or, on a gateway without auth,
 * anyone when anonymous_publish is "*" (the default there). */
int sg__may_admin(const sg_server *srv, const sg_request *req);

/* 0 when req holds right on channel (NULL for admin endpoints); otherwise
 * resp holds the refusal for action ("publish to channel x"): 401 without
 * a token or with an invalid one, 403 with a token that lacks the right. */
int sg__authorize(const sg_server *srv, const sg_request *req, sg_right right,
		  const char *channel, const char *action, sg_response *resp);
/* The same for a stream (its rights move from the request to the
 * connection when it opens): 0, or the refusal's status, error (static)
 * and detail (written into detail, len bytes). */
int sg__stream_authorize(const sg_stream *s, sg_right right, const char *channel,
			 const char *action, const char **error, char *detail, size_t len);

/* Gives c the rights of its request (taken from c->req) and arms the end
 * of the stream when they expire. */
void sg__rights_bind(sg_conn *c);
/* WebSocket "refresh": verifies token (borrowed) and, when valid, makes
 * its rights the stream's and moves the expiry. 0, or SG_EINVAL with
 * *detail (static) naming the failed check (the old rights stay). */
int sg__rights_refresh(sg_stream *s, const char *token, const char **detail,
		       long long *expires_in_ms);

/* Secure by default: SG_EINVAL with err set when host (a listen address)
 * is not loopback and cfg neither configures auth nor sets
 * anonymous_publish explicitly. */
int sg__rights_exposure_check(const sg_config *cfg, const char *key, const char *host, char *err,
			      size_t errlen);
/* A trusted listener (grip_publish_listen: publishing with no token)
 * must be on a loopback or private address (host as resolved): SG_EINVAL
 * with err set otherwise, "all interfaces" included. */
int sg__rights_trusted_check(const char *key, const char *host, char *err, size_t errlen);
/* The group's auth for cfg, after checking the anonymous_* settings.
 * Caller frees; NULL with err set. */
sg_auth *sg__rights_auth_new(const sg_config *cfg, char *err, size_t errlen);
/* Applies cfg's key, claim rules and anonymous_* to a (a reload, any
 * thread). SG_EINVAL/SG_EIO with err set: nothing changed. */
int sg__rights_auth_reload(sg_auth *a, const sg_config *cfg, char *err, size_t errlen);

#endif
