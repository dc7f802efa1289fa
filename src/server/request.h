/*
 * request — what a handler may read of an HTTP or WebSocket request,
 * copied out of libwebsockets' header table so it outlives it.
 */
#ifndef SG_SERVER_REQUEST_H
#define SG_SERVER_REQUEST_H

#include <stddef.h>

#include "streamgate.h"

struct lws;

#define SG_REQ_ARGS_MAX 16
#define SG_REQ_HEADERS_MAX 16

struct sg_request {
	struct lws *wsi; /* NULL once headers are gone */
	char method[8];
	char *path;
	size_t nargs;
	char *args[SG_REQ_ARGS_MAX]; /* "name=value", url-decoded */
	size_t nheaders;
	char *headers[SG_REQ_HEADERS_MAX]; /* "name:value" fetched so far */
	int ws_upgrade;
	long long content_length; /* -1 when absent */
	int is_json;
};

/* Fills req from wsi's headers. Returns 0, SG_EINVAL (no method/URI) or
 * SG_ETOOBIG (too many or too long query arguments). Caller frees with
 * sg__request_clear. */
int sg__request_init(sg_request *req, struct lws *wsi, int ws_upgrade);
void sg__request_clear(sg_request *req);

#endif
