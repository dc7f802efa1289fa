/*
 * delay — async-sinatra's /delay/:n: answers "waited N s" after N seconds
 * (0-60) from a loop timer, so nobody else waits meanwhile.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "examples.h"

static void answer(sg_stream *s, void *ud)
{
	char msg[32];
	int n = snprintf(msg, sizeof(msg), "waited %ld s", (long)(intptr_t)ud);
	sg_stream_chunk(s, msg, (size_t)n);
	sg_stream_close(s);
}

void sg_example_delay(sg_stream *s, const sg_request *req, void *ud)
{
	(void)ud;
	const char *arg = sg_request_path(req) + strlen("/examples/delay/");
	char *end;
	long secs = strtol(arg, &end, 10);
	if (!*arg || *end || secs < 0 || secs > 60) {
		sg_stream_fail(s, 400, "bad_argument", "use /examples/delay/N with N from 0 to 60");
		return;
	}
	sg_stream_after(s, (unsigned)secs * 1000, answer, (void *)(intptr_t)secs);
}
