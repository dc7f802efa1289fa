/*
 * metrics_stream — GET /metrics/stream: the figures of /metrics as one JSON
 * object a second (README "GET /metrics/stream"), on any transport; the
 * dashboard (www/dashboard.html) reads it with EventSource. Admin only, as
 * /metrics. It renders what metrics.c sums and counts nothing itself.
 */
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "server/rights.h"

#define PATH "/metrics/stream"
#define INTERVAL_MS 1000
#define INTERVAL_MS_MIN 100
#define INTERVAL_MS_MAX 60000

static int metrics_stream_match(const sg_server *srv, const char *path)
{
	(void)srv;
	return strcmp(path, PATH) == 0;
}

/* ?interval_ms=N of req (borrowed), within the bounds; -1 when malformed
 * or out of them. */
static long interval_of(const sg_request *req)
{
	const char *v = sg_request_query(req, "interval_ms");
	char *end;
	if (!v)
		return INTERVAL_MS;
	long n = strtol(v, &end, 10);
	return !*v || *end || n < INTERVAL_MS_MIN || n > INTERVAL_MS_MAX ? -1 : n;
}

/* One snapshot to s; ud is the worker (borrowed). A snapshot that cannot
 * be rendered is skipped: the next one says everything again. */
static void send_snapshot(sg_stream *s, void *ud)
{
	sg_buf b = {0};
	if (sg__metrics_json(ud, &b) == 0)
		sg_stream_chunk(s, b.data, b.len);
	sg_buf_free(&b);
}

/* The stream handler: s and req are borrowed, ud is the worker (borrowed).
 * The right is asked before the arguments are read. */
static void metrics_stream_open(sg_stream *s, const sg_request *req, void *ud)
{
	const char *error;
	char detail[200];
	int status = sg__stream_authorize(s, SG_RIGHT_ADMIN, NULL, "read " PATH, &error, detail,
					  sizeof(detail));
	long every = interval_of(req);
	if (status) {
		sg_stream_fail(s, status, error, detail);
	} else if (every < 0) {
		sg_stream_fail(s, 400, "bad_argument", "interval_ms is a number of ms, 100-60000");
	} else {
		send_snapshot(s, ud); /* at once: a dashboard has something to draw */
		sg_stream_every(s, (unsigned)every, send_snapshot, ud);
	}
}

const sg_endpoint sg_endpoint_metrics_stream = {
	.name = "metrics_stream",
	.match = metrics_stream_match,
	.methods = SG_M_GET,
	.allow = "GET, HEAD, OPTIONS",
	.stream = metrics_stream_open,
};
