/*
 * channel_stats — GET /channels?limit=N (admin right): the top N channels
 * by subscribers and by publish rate, and totals, as JSON. Per-channel
 * figures live here, never in /metrics: channels are unbounded. The
 * figures come from every worker's snapshot (server/chan_stats.c).
 */
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "server/chan_stats.h"
#include "server/rights.h"
#include "server/server.h"

#define LIMIT_DEFAULT 20

static int rank_subs(const void *a, const void *b)
{
	const sg_chan_entry *x = a, *y = b;
	if (x->subscribers != y->subscribers)
		return x->subscribers < y->subscribers ? 1 : -1;
	return strcmp(x->name, y->name);
}

static int rank_rate(const void *a, const void *b)
{
	const sg_chan_entry *x = a, *y = b;
	if (x->rate != y->rate)
		return x->rate < y->rate ? 1 : -1;
	return strcmp(x->name, y->name);
}

static void list_json(sg_buf *b, const char *key, sg_chan_merged *m,
                      int (*rank)(const void *, const void *), size_t limit)
{
	if (m->n)
		qsort(m->v, m->n, sizeof(*m->v), rank);
	sg_buf_printf(b, ",\"%s\":[", key);
	for (size_t i = 0; i < m->n && i < limit; i++)
		sg_buf_printf(b,
		              "%s{\"channel\":\"%s\",\"subscribers\":%zu,\"published\":%llu,"
		              "\"publish_rate\":%.3f}",
		              i ? "," : "", m->v[i].name, m->v[i].subscribers,
		              (unsigned long long)m->v[i].published, m->v[i].rate);
	sg_buf_puts(b, "]");
}

int sg__channels_top_json(sg_server *srv, const char *key, size_t limit, sg_buf *out)
{
	sg__chan_snaps_want(srv);
	sg_chan_merged m;
	if (sg__chan_snaps_merge(srv->group->chan_snaps, &m))
		return SG_ENOMEM;
	list_json(out, key, &m, rank_subs, limit);
	free(m.v);
	return 0;
}

/* ?limit=: 1..SG_CHAN_TOP_MAX, digits only; 0 when bad. */
static size_t limit_of(const sg_request *req)
{
	const char *q = sg_request_query(req, "limit");
	if (!q)
		return LIMIT_DEFAULT;
	size_t n = 0, len = strlen(q);
	if (!len || len > 4 || strspn(q, "0123456789") != len)
		return 0;
	n = (size_t)atoi(q);
	return n >= 1 && n <= SG_CHAN_TOP_MAX ? n : 0;
}

static int stats_match(const sg_server *srv, const char *path)
{
	(void)srv;
	return strcmp(path, "/channels") == 0;
}

static void stats_get(sg_server *srv, const sg_request *req, sg_response *r)
{
	if (sg__authorize(srv, req, SG_RIGHT_ADMIN, NULL, "read /channels", r))
		return;
	size_t limit = limit_of(req);
	if (!limit)
		return sg__response_error(r, 400, "bad_limit",
		                          "limit is a whole number from 1 to 1000");
	sg__chan_snaps_want(srv);
	sg_chan_merged m;
	if (sg__chan_snaps_merge(srv->group->chan_snaps, &m))
		return sg__response_error(r, 503, "out_of_memory", "cannot gather the channels");
	sg_buf_printf(&r->body,
	              "{\"channels\":%zu,\"subscribers\":%zu,\"publish_rate\":%.3f,\"limit\":%zu",
	              m.channels, m.subscribers, m.rate, limit);
	list_json(&r->body, "by_subscribers", &m, rank_subs, limit);
	list_json(&r->body, "by_publish_rate", &m, rank_rate, limit);
	sg_buf_puts(&r->body, "}");
	free(m.v);
}

const sg_endpoint sg_endpoint_channel_stats = {
    .name = "channel_stats",
    .match = stats_match,
    .methods = SG_M_GET,
    .allow = "GET, HEAD, OPTIONS",
    .get = stats_get,
};
