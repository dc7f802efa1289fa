/*
 * firehose — rack-stream's example: "Hello", then a chunk every 100 ms, an
 * upcasing before_chunk filter on the live stream, and "Goodbye!" from
 * before_close. ?count=N closes after N chunks (default: never).
 * ?interval_ms=M changes the pace.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "examples.h"

static int upcase(sg_stream *s, sg_chunk *c, void *ud)
{
	(void)s;
	(void)ud;
	size_t len;
	const char *in = sg_chunk_data(c, &len);
	char *up = malloc(len + 1);
	if (!up)
		return 0;
	for (size_t i = 0; i < len; i++)
		up[i] = (char)toupper((unsigned char)in[i]);
	sg_chunk_set_data(c, up, len);
	free(up);
	return 0;
}

static void goodbye(sg_stream *s, void *ud)
{
	(void)ud;
	sg_stream_chunk(s, "Goodbye!", 8);
}

static void tick(sg_stream *s, void *ud)
{
	(void)ud;
	sg_stream_chunk(s, "Chunky Monkey", 13);
	intptr_t left = (intptr_t)sg_stream_user(s);
	if (left > 0 && --left == 0)
		sg_stream_close(s);
	sg_stream_set_user(s, (void *)left);
}

void sg_example_firehose(sg_stream *s, const sg_request *req, void *ud)
{
	(void)ud;
	long count = sg_example_arg(req, "count", 0, 1, 1000000);
	long every = sg_example_arg(req, "interval_ms", 100, 1, 60000);
	if (count < 0 || every < 0) {
		sg_stream_fail(s, 400, "bad_argument", "count: 1-1000000, interval_ms: 1-60000");
		return;
	}
	sg_stream_set_user(s, (void *)(intptr_t)count);
	sg_stream_before_chunk(s, upcase, NULL);
	sg_stream_before_close(s, goodbye, NULL);
	sg_stream_chunk(s, "Hello", 5);
	sg_stream_every(s, (unsigned)every, tick, NULL);
}
