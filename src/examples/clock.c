/*
 * clock — the Real-time Rack talk's example: the time (UTC, HH:MM:SS)
 * every second, 20 times, then close. ?count= and ?interval_ms= change
 * the defaults.
 */
#include <stdint.h>
#include <time.h>

#include "examples.h"

static void tell_time(sg_stream *s, void *ud)
{
	(void)ud;
	char now[16];
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	size_t n = strftime(now, sizeof(now), "%H:%M:%S", &tm);
	sg_stream_chunk(s, now, n);
	intptr_t left = (intptr_t)sg_stream_user(s) - 1;
	sg_stream_set_user(s, (void *)left);
	if (left == 0)
		sg_stream_close(s);
}

void sg_example_clock(sg_stream *s, const sg_request *req, void *ud)
{
	(void)ud;
	long count = sg_example_arg(req, "count", 20, 1, 100000);
	long every = sg_example_arg(req, "interval_ms", 1000, 1, 60000);
	if (count < 0 || every < 0) {
		sg_stream_fail(s, 400, "bad_argument", "count: 1-100000, interval_ms: 1-60000");
		return;
	}
	sg_stream_set_user(s, (void *)(intptr_t)count);
	sg_stream_every(s, (unsigned)every, tell_time, NULL);
}
