/*
 * transport — how one stream is rendered on the wire, as a table of
 * functions. A transport turns a message into a frame and says what goes
 * before, between and after frames; the server (the only code that touches
 * sockets) puts those bytes on the connection. A new transport is one file
 * in src/transport/ and one line in the registry.
 */
#ifndef SG_CORE_TRANSPORT_H
#define SG_CORE_TRANSPORT_H

#include "buf.h"
#include "frame.h"

struct sg_msg;

/* How the server carries a transport's frames. */
typedef enum sg_wire {
	SG_WIRE_HTTP_STREAM,  /* one endless HTTP response body */
	SG_WIRE_HTTP_ONESHOT, /* one response holding a batch, then done */
	SG_WIRE_WEBSOCKET,    /* one WebSocket text message per frame */
} sg_wire;

/* What negotiation looks at; all fields borrowed from the request. */
typedef struct sg_negotiation {
	const char *forced; /* ?transport= value, or NULL */
	const char *accept; /* Accept header, or NULL */
	int ws_upgrade;	    /* the request asks for a WebSocket upgrade */
} sg_negotiation;

/* Settings a transport may render into its prelude. */
typedef struct sg_transport_opts {
	unsigned sse_retry_ms; /* 0: no retry: line */
} sg_transport_opts;

typedef struct sg_transport {
	const char *name;
	int slot; /* 0..7: where its frames sit in a message's cache */
	sg_wire wire;
	const char *content_type;
	/* Nonzero when this transport suits the request without ?transport=. */
	int (*accepts)(const sg_negotiation *n);
	/* The frame for one message, one ref (caller unrefs), or NULL. Tagged:
	 * the frame says the message's channel (a JSON envelope). */
	sg_frame *(*render)(const struct sg_msg *m, int tagged);
	/* A control message (kind "gap", "subscribed", "error", ...) whose JSON
	 * is json, one ref; NULL when the transport cannot carry one in this
	 * mode (then only a response header can say it). */
	sg_frame *(*control)(const char *kind, const char *json, int tagged);
	/* Bytes sent once after the headers (may append nothing). */
	int (*prelude)(sg_buf *out, const struct sg_transport_opts *o);
	/* Bytes that keep an idle stream alive, or NULL (WebSocket pings are
	 * the server's). */
	const char *heartbeat;
	/* ONESHOT only: what opens, separates and closes a batch of frames. */
	const char *batch_open, *batch_sep, *batch_close;
} sg_transport;

extern const sg_transport sg_transport_chunked;
extern const sg_transport sg_transport_sse;
extern const sg_transport sg_transport_ws;
extern const sg_transport sg_transport_longpoll;
extern const sg_transport sg_transport_ndjson;

/* The transport named `name`, or NULL. */
const sg_transport *sg_transport_find(const char *name);
/* Picks the transport for a request: a forced name wins, else the first
 * registered transport whose accepts() says yes. Returns 0, or SG_EINVAL
 * with a reason in *why (static string) for an unknown or impossible
 * choice. */
int sg_transport_negotiate(const sg_negotiation *n, const sg_transport **out, const char **why);
/* A prelude of no bytes, for transports that need none. */
int sg_transport_no_prelude(sg_buf *out, const sg_transport_opts *o);
/* Comma-separated names, for error messages. */
const char *sg_transport_names(void);
/* accepts() of a transport chosen only by ?transport=. */
int sg_transport_only_forced(const sg_negotiation *n);

#endif
