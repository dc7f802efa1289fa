/*
 * examples — registers the example endpoints and their shared helper.
 */
#include "examples.h"

#include <stdlib.h>

long sg_example_arg(const sg_request *req, const char *name, long def, long lo, long hi)
{
	const char *v = sg_request_query(req, name);
	if (!v)
		return def;
	char *end;
	long n = strtol(v, &end, 10);
	return (!*v || *end || n < lo || n > hi) ? -1 : n;
}

int sg_examples_register(sg_server *srv)
{
	int rc = sg_server_route(srv, "/examples/firehose", sg_example_firehose, NULL);
	if (!rc)
		rc = sg_server_route(srv, "/examples/clock", sg_example_clock, NULL);
	if (!rc)
		rc = sg_server_route(srv, "/examples/delay/", sg_example_delay, NULL);
	if (!rc)
		rc = sg_server_route(srv, "/examples/chat/", sg_example_chat, srv);
	return rc;
}
