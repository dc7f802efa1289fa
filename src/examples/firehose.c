/*
 * firehose — rack-stream's example: "Hello", then a chunk every 100 ms, an
 * upcasing before_chunk filter on the live stream, and "Goodbye!" from
 * before_close. ?count=N closes after N chunks (default: never).
 * ?interval_ms=M changes the pace.
 */
#include <ctype.h>
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
	sg_example_countdown(s);
}

void sg_example_firehose(sg_stream *s, const sg_request *req, void *ud)
{
	(void)ud;
	sg_stream_before_chunk(s, upcase, NULL);
	sg_stream_before_close(s, goodbye, NULL);
	sg_stream_chunk(s, "Hello", 5);
	sg_example_ticker(s, req, 0, 100, tick);
}
