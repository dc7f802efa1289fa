/*
 * admit — the one place a request is let in or turned away before any
 * endpoint sees it, whatever connection carried it: connection limits now;
 * origin checks, tokens and rates are stages to come here too.
 */
#ifndef SG_SERVER_ADMIT_H
#define SG_SERVER_ADMIT_H

#include "server.h"

struct sockaddr_storage;

/* What admission knows of the connection a request came on. */
typedef struct sg_admit_ctx {
	int over_limit; /* the connection is past max_connections */
	const struct sockaddr_storage *peer; /* the client's address (borrowed) */
	int secure;			     /* it came over TLS */
} sg_admit_ctx;

/* 0 when req may go on to routing; otherwise resp holds the refusal. */
int sg__admit(sg_server *srv, const sg_request *req, const sg_admit_ctx *ctx, sg_response *resp);

#endif
