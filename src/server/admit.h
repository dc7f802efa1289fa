/*
 * admit — the one place a request is let in or turned away before any
 * endpoint sees it, whatever connection carried it: connection limits,
 * the metrics port, Origin and CORS, connections per IP, tokens and the
 * rights they carry, and publish rates.
 */
#ifndef SG_SERVER_ADMIT_H
#define SG_SERVER_ADMIT_H

#include "client_ip.h"
#include "request.h"
#include "server.h"

struct sockaddr_storage;

/* What admission knows of the connection a request came on. */
typedef struct sg_admit_ctx {
	int over_limit;		   /* the connection is past max_connections */
	int over_ip_limit;	   /* its peer was past max_connections_per_ip */
	int from_metrics_listener; /* accepted on metrics_listen: the operator's port */
	int from_grip_listener;	   /* accepted on grip_publish_listen: the backend's port */
	sg_ip peer;		   /* the socket's peer */
	struct sg_principal **principal; /* out: who the request speaks for (the
					    request's own field; auth stage) */
} sg_admit_ctx;

/* Fills what the stages read of req: its client (trusted_proxies), where
 * it came from and its CORS verdict. Before sg__admit. */
void sg__admit_prepare(sg_server *srv, sg_request *req, const sg_admit_ctx *ctx);
/* 0 when req may go on to routing; otherwise resp holds the answer: a
 * refusal, or a whole answer a stage gives itself (a CORS preflight). */
int sg__admit(sg_server *srv, const sg_request *req, const sg_admit_ctx *ctx, sg_response *resp);

/* The stages in files of their own; each returns 0 to let req pass. */
typedef int (*sg_admit_stage)(sg_server *srv, const sg_request *req, const sg_admit_ctx *ctx,
			      sg_response *resp);
int sg__admit_ip_limit(sg_server *srv, const sg_request *req, const sg_admit_ctx *ctx,
		       sg_response *resp); /* admit_ip.c */
int sg__admit_origin(sg_server *srv, const sg_request *req, const sg_admit_ctx *ctx,
		     sg_response *resp); /* admit_cors.c */
int sg__admit_publish_rate(sg_server *srv, const sg_request *req, const sg_admit_ctx *ctx,
			   sg_response *resp); /* admit_rate.c */
int sg__admit_auth(sg_server *srv, const sg_request *req, const sg_admit_ctx *ctx,
		   sg_response *resp); /* admit_auth.c */

/* ---- admit_cors.c ---- */
/* req's CORS verdict under cfg's allowed_origins. */
sg_cors sg__cors_decide(const sg_config *cfg, const sg_request *req);
/* Checks an allowed_origins value: "", "*", or a comma list of
 * scheme://host[:port]. 0, or SG_EINVAL with a reason in err. */
int sg__cors_check(const char *value, char *err, size_t errlen);

/* ---- admit_ip.c: connections per IP, across workers ---- */
typedef struct sg_ip_table sg_ip_table;
typedef struct sg_ip_count sg_ip_count; /* one IP's count; a connection's lease on it */
/* NULL when out of memory. */
sg_ip_table *sg__ip_table_new(void);
/* Frees t; every lease must have been released. NULL is a no-op. */
void sg__ip_table_free(sg_ip_table *t);
/* Counts one more connection from ip, unless ip has max already. 0 and
 * *lease (release it when the connection ends), SG_ETOOBIG, or SG_ENOMEM. */
int sg__ip_acquire(sg_ip_table *t, const sg_ip *ip, size_t max, sg_ip_count **lease);
/* Ends a lease; NULL is a no-op. Any thread. */
void sg__ip_release(sg_ip_table *t, sg_ip_count *lease);

/* ---- admit_rate.c: publish_rate and publish_burst, across workers ---- */
typedef struct sg_rate_table sg_rate_table;
/* NULL when out of memory. */
sg_rate_table *sg__rate_table_new(void);
void sg__rate_table_free(sg_rate_table *t);
/* How many keys the table holds (tests, metrics). */
size_t sg__rate_table_size(sg_rate_table *t);
/* The key a request's publishes are counted under: its client's IP (after
 * trusted_proxies). Borrowed from req. */
const char *sg__rate_key(const sg_request *req);
/* Takes one publish from key's bucket. 0 when it may publish (or
 * publish_rate is 0); otherwise the whole seconds, at least 1, until it
 * may. */
int sg__rate_take(sg_server *srv, const char *key);
/* The same for a publish command on a WebSocket's stream s, under the key
 * its handshake request had. */
int sg__rate_take_stream(sg_server *srv, sg_stream *s);

#endif
