/*
 * clock — the Real-time Rack talk's example: the time (UTC, HH:MM:SS)
 * every second, 20 times, then close. ?count= and ?interval_ms= change
 * the defaults.
 */
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
	sg_example_countdown(s);
}

void sg_example_clock(sg_stream *s, const sg_request *req, void *ud)
{
	(void)ud;
	sg_example_ticker(s, req, 20, 1000, tell_time);
}
