/*
 * request — what a handler may read of an HTTP or WebSocket request: a
 * copy of the parsed head (method, decoded path and query, headers) that
 * outlives the bytes it was read from.
 */
#ifndef SG_SERVER_REQUEST_H
#define SG_SERVER_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "client_ip.h"
#include "h1_parse.h"
#include "streamgate.h"

#define SG_REQ_ARGS_MAX SG_H1_ARGS_MAX

/* One header, both strings owned by the request's store. */
typedef struct sg_req_header {
	const char *name, *value;
} sg_req_header;

/* What CORS lets a browser page on another origin read of the answer
 * (admit_cors.c decides it, respond.c writes it). */
typedef enum sg_cors_mode {
	SG_CORS_NONE,	/* no Access-Control-Allow-Origin */
	SG_CORS_ANY,	/* "*", never with credentials */
	SG_CORS_ORIGIN, /* the Origin itself, with credentials */
} sg_cors_mode;

/* Small enough to copy into every answer's wire options. */
typedef struct sg_cors {
	unsigned char mode;	  /* sg_cors_mode */
	unsigned char vary;	  /* allowed_origins names origins: Vary: Origin */
	unsigned char refused;	  /* an Origin that may not use the gateway */
	unsigned char origin_len; /* SG_CORS_ORIGIN: origin[0..origin_len) */
	const char *origin; /* inside the worker's cfg.allowed_origins (a restart key: it
			       stays as long as the worker) */
} sg_cors;

/* Owns path, args, and headers (one block with their strings). */
struct sg_request {
	char method[SG_H1_METHOD_MAX + 1];
	char *target; /* as it came, "/path?query", undecoded */
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
	/* filled by sg__admit_prepare before any admission stage runs */
	sg_ip client;			/* the socket's peer, or X-Forwarded-For's client */
	char client_ip[SG_IP_TEXT_MAX]; /* client as text */
	int from_metrics_listener;	/* came on metrics_listen: the operator's port, where
					   /metrics needs no admin right */
	sg_cors cors;
	int64_t start_us; /* sg_mono_us() when its head was read: the access log's duration */
	char *body;	  /* a POST body read for a stream (sg_endpoint.post_streams), or NULL */
	size_t body_len;
	/* an endpoint's work begun before the stream opens (ws_preflight),
	 * owned: freed with the request by pre_free unless the stream took it */
	void *pre;
	void (*pre_free)(void *pre);
};

/* A request made from a parsed head (borrowed); caller frees with
 * sg__request_free. NULL with *err set: a bad target (400) or no memory. */
sg_request *sg__request_new(const sg_h1_head *h, sg_h1_error *err);
/* The client's address as text (after trusted_proxies), for rate keys and
 * logs; borrowed from req. */
const char *sg__client_ip(const sg_request *req);
/* Frees req and all it owns; NULL is a no-op. */
void sg__request_free(sg_request *req);

#endif
