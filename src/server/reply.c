/*
 * reply — the handle between an endpoint answering later and the
 * connection waiting for it (see reply.h). Loop thread only.
 */
#include "reply.h"

#include <stdlib.h>

#include "respond.h"

sg_reply *sg__response_defer(sg_response *resp)
{
	sg_reply *r = calloc(1, sizeof(*r));
	if (!r) {
		sg__response_error(resp, 503, "out_of_memory", "cannot wait for the answer");
		return NULL;
	}
	sg__response_init(&r->resp);
	resp->deferred = r;
	return r;
}

static void reply_free(sg_reply *r)
{
	sg__response_free(&r->resp);
	free(r);
}

void sg__reply_send(sg_reply *r)
{
	r->sent = 1;
	if (r->abandoned)
		reply_free(r);
	else if (r->owner)
		r->arrived(r->owner);
}

int sg__reply_attach(sg_reply *r, void *owner, sg_reply_arrived_fn arrived)
{
	r->owner = owner;
	r->arrived = arrived;
	return r->sent;
}

void sg__reply_take(sg_reply *r, sg_response *out)
{
	*out = r->resp;
	free(r);
}

void sg__reply_abandon(sg_reply *r)
{
	if (!r)
		return;
	r->owner = NULL;
	r->abandoned = 1;
	if (r->sent)
		reply_free(r);
}
