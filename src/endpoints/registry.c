/*
 * registry — the built-in endpoints in the order a path is tried. Static
 * files come last: they answer only for files that exist.
 */
#include "server/server.h"

static const sg_endpoint *const builtin[] = {
	&sg_endpoint_grip_publish, /* /publish/ only: before the upstreams, whose prefixes may cover it */
	&sg_endpoint_upstream, /* configured paths first: nothing when none are */
	&sg_endpoint_health,
	&sg_endpoint_metrics,
	&sg_endpoint_metrics_stream,
	&sg_endpoint_channel_stats,
	&sg_endpoint_channel_info,
	&sg_endpoint_channels,
	&sg_endpoint_streams,
	&sg_endpoint_ticket,
	&sg_endpoint_static,
};

const sg_endpoint *sg__endpoint_for(const sg_server *srv, const char *path)
{
	for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++)
		if (builtin[i]->match(srv, path))
			return builtin[i];
	return NULL;
}
