/*
 * reply — an answer that comes later. An endpoint whose answer waits for
 * the broker defers its response and gets a handle; the engine attaches
 * the connection to it. Whichever side finishes last frees it, so a
 * client that leaves (or times out) before the broker answers leaves a
 * handle with no connection, never a dangling pointer.
 */
#ifndef SG_SERVER_REPLY_H
#define SG_SERVER_REPLY_H

#include "server.h"

typedef struct sg_reply sg_reply;

/* Tells the engine the answer arrived; owner as attached. Runs on the
 * loop thread, from any depth of the call stack: it must only note it. */
typedef void (*sg_reply_arrived_fn)(void *owner);

struct sg_reply {
	sg_response resp; /* the answer, filled by the endpoint */
	sg_reply_arrived_fn arrived;
	void *owner; /* the waiting connection; NULL before attach or once gone */
	unsigned sent : 1, abandoned : 1;
};

/* Endpoint side. Defers resp (in the engine's hands) and returns the
 * handle to answer through, or NULL (out of memory: resp holds a 503). */
sg_reply *sg__response_defer(sg_response *resp);
/* The answer in r->resp is complete: the engine sends it, or it is
 * dropped when the client is gone. r must not be used after. */
void sg__reply_send(sg_reply *r);

/* Engine side. Attaches owner to r: 1 when the answer is already there
 * (take it with sg__reply_take now), 0 when arrived(owner) will say so. */
int sg__reply_attach(sg_reply *r, void *owner, sg_reply_arrived_fn arrived);
/* Moves the answer into out and frees r. */
void sg__reply_take(sg_reply *r, sg_response *out);
/* The connection stops waiting (it left, timed out or the server stops):
 * r is freed now if answered, else when it is. NULL is a no-op. */
void sg__reply_abandon(sg_reply *r);

#endif
