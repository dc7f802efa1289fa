/*
 * registry — the list of transports, in negotiation order. Adding a
 * transport is one line here.
 */
#include <string.h>

#include "core/transport.h"
#include "streamgate.h"

static const sg_transport *const registry[] = {
	&sg_transport_ws,	&sg_transport_sse,    &sg_transport_longpoll,
	&sg_transport_ndjson, &sg_transport_chunked, /* chunked accepts all: last */
};

#define REGISTRY_LEN (sizeof(registry) / sizeof(registry[0]))

const sg_transport *sg_transport_find(const char *name)
{
	for (size_t i = 0; i < REGISTRY_LEN; i++)
		if (strcmp(registry[i]->name, name) == 0)
			return registry[i];
	return NULL;
}

int sg_transport_no_prelude(sg_buf *out, const sg_transport_opts *o)
{
	(void)out;
	(void)o;
	return 0;
}

const char *sg_transport_names(void)
{
	return "chunked, sse, ws, longpoll, ndjson";
}

int sg_transport_only_forced(const sg_negotiation *n)
{
	(void)n;
	return 0;
}

int sg_transport_negotiate(const sg_negotiation *n, const sg_transport **out, const char **why)
{
	*out = NULL;
	if (n->forced && *n->forced) {
		const sg_transport *t = sg_transport_find(n->forced);
		if (!t) {
			*why = "unknown transport; use one of: chunked, sse, ws, longpoll, ndjson";
			return SG_EINVAL;
		}
		if ((t->wire == SG_WIRE_WEBSOCKET) != (n->ws_upgrade != 0)) {
			*why = n->ws_upgrade ? "a WebSocket upgrade can only use transport=ws"
					     : "transport=ws needs a WebSocket upgrade request";
			return SG_EINVAL;
		}
		*out = t;
		return 0;
	}
	for (size_t i = 0; i < REGISTRY_LEN; i++)
		if (registry[i]->accepts(n)) {
			*out = registry[i];
			return 0;
		}
	*why = "no transport accepts this request";
	return SG_EINVAL;
}
