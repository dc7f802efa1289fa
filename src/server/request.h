/*
 * request — what a handler may read of an HTTP or WebSocket request: a
 * copy of the parsed head (method, decoded path and query, headers) that
 * outlives the bytes it was read from.
 */
#ifndef SG_SERVER_REQUEST_H
#define SG_SERVER_REQUEST_H

#include <stddef.h>

#include "h1_parse.h"
#include "streamgate.h"

#define SG_REQ_ARGS_MAX SG_H1_ARGS_MAX

/* One header, both strings owned by the request's store. */
typedef struct sg_req_header {
	const char *name, *value;
} sg_req_header;

/* Owns path, args, and headers (one block with their strings). */
struct sg_request {
	char method[SG_H1_METHOD_MAX + 1];
	char *path;
	size_t nargs;
	char *args[SG_REQ_ARGS_MAX]; /* "name=value", decoded */
	size_t nheaders;
	sg_req_header *headers;
	int ws_upgrade;
	int minor;		  /* HTTP/1.minor */
	long long content_length; /* -1 when absent */
	int is_json;
	struct sg_principal *principal; /* set by admission: a token's, or NULL (none) */
};

/* A request made from a parsed head (borrowed); caller frees with
 * sg__request_free. NULL with *err set: a bad target (400) or no memory. */
sg_request *sg__request_new(const sg_h1_head *h, sg_h1_error *err);
/* Frees req and all it owns; NULL is a no-op. */
void sg__request_free(sg_request *req);

#endif
