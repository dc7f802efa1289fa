/*
 * examples — registers the example endpoints and their shared helper.
 */
#include "examples.h"

#include <stdint.h>
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

void sg_example_ticker(sg_stream *s, const sg_request *req, long def_count, long def_ms,
		       sg_timer_fn tick)
{
	long count = sg_example_arg(req, "count", def_count, 1, 1000000);
	long every = sg_example_arg(req, "interval_ms", def_ms, 1, 60000);
	if (count < 0 || every < 0) {
		sg_stream_fail(s, 400, "bad_argument", "count: 1-1000000, interval_ms: 1-60000");
		return;
	}
	sg_stream_set_user(s, (void *)(intptr_t)count);
	sg_stream_every(s, (unsigned)every, tick, NULL);
}

int sg_example_countdown(sg_stream *s)
{
	intptr_t left = (intptr_t)sg_stream_user(s);
	if (left == 0 || --left > 0) {
		sg_stream_set_user(s, (void *)left);
		return 0;
	}
	sg_stream_close(s);
	return 1;
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
