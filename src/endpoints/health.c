/*
 * health — /healthz for load balancers and container checks, and /metrics
 * in Prometheus' text format.
 */
#include <string.h>

#include "core/frame.h"
#include "core/message.h"
#include "health.h"
#include "server/rights.h"
#include "server/admit.h"
#include "server/server.h"

static int health_match(const sg_server *srv, const char *path)
{
	(void)srv;
	return strcmp(path, "/healthz") == 0;
}

/* Nonzero when every worker's broker reaches its store. */
static int brokers_healthy(const sg_group *g)
{
	for (size_t i = 0; i < g->n; i++)
		if (!sg_broker_healthy(g->workers[i]->broker))
			return 0;
	return 1;
}

/* Degraded while a worker's broker cannot reach its store (publishes on
 * it fail): a load balancer then sends clients elsewhere. */
static void health_get(sg_server *srv, const sg_request *req, sg_response *r)
{
	(void)req;
	if (brokers_healthy(srv->group)) {
		sg_buf_puts(&r->body, "{\"status\":\"ok\"}");
		return;
	}
	r->status = 503;
	sg_buf_puts(&r->body, "{\"status\":\"degraded\",\"broker\":\"down\"}");
}

const sg_endpoint sg_endpoint_health = {
	.name = "health",
	.match = health_match,
	.methods = SG_M_GET,
	.allow = "GET, HEAD, OPTIONS",
	.get = health_get,
};

static int metrics_match(const sg_server *srv, const char *path)
{
	(void)srv;
	return strcmp(path, "/metrics") == 0;
}

/* The counters of every worker, summed. */
typedef struct totals {
	size_t connections;
	unsigned long published, dropped, slow, evicted, ping_timeouts;
} totals;

static totals sum_workers(const sg_group *g)
{
	totals t = {0};
	for (size_t i = 0; i < g->n; i++) {
		sg_server *w = g->workers[i];
		t.connections += atomic_load(&w->connections);
		t.published += atomic_load(&w->published);
		t.dropped += atomic_load(&w->counters.frames_dropped);
		t.slow += atomic_load(&w->counters.slow_disconnects);
		t.evicted += sg_hub_channels_evicted(w->hub);
		t.ping_timeouts += atomic_load(&w->ws_ping_timeouts);
	}
	return t;
}

static void metrics_get(sg_server *srv, const sg_request *req, sg_response *r)
{
	/* admin tokens, or every request on a trusted listener (metrics_listen) */
	if (sg__authorize(srv, req, SG_RIGHT_ADMIN, NULL, "read /metrics", r))
		return;
	totals t = sum_workers(srv->group);
	r->content_type = "text/plain; version=0.0.4";
	sg_buf_printf(&r->body,
		      "# TYPE streamgate_connections gauge\n"
		      "streamgate_connections %zu\n"
		      "# TYPE streamgate_channels gauge\n"
		      "streamgate_channels %zu\n"
		      "# TYPE streamgate_messages_published_total counter\n"
		      "streamgate_messages_published_total %lu\n"
		      "# TYPE streamgate_frames_dropped_total counter\n"
		      "streamgate_frames_dropped_total %lu\n"
		      "# TYPE streamgate_slow_disconnects_total counter\n"
		      "streamgate_slow_disconnects_total %lu\n"
		      "# TYPE streamgate_channels_evicted_total counter\n"
		      "streamgate_channels_evicted_total %lu\n"
		      "# TYPE streamgate_ws_ping_timeouts_total counter\n"
		      "streamgate_ws_ping_timeouts_total %lu\n"
		      "# TYPE streamgate_messages_live gauge\n"
		      "streamgate_messages_live %ld\n"
		      "# TYPE streamgate_frames_live gauge\n"
		      "streamgate_frames_live %ld\n"
		      "# TYPE streamgate_workers gauge\n"
		      "streamgate_workers %zu\n",
		      t.connections, sg_hub_channel_count(srv->hub), t.published, t.dropped,
		      t.slow, t.evicted, t.ping_timeouts, sg_msg_live(), sg_frame_live(), srv->group->n);
	sg_buf_printf(&r->body,
		      "# TYPE streamgate_broker_up gauge\n"
		      "streamgate_broker_up %d\n",
		      brokers_healthy(srv->group));
	sg_buf_printf(&r->body,
		      "# TYPE streamgate_open_connections gauge\n"
		      "streamgate_open_connections %zu\n",
		      atomic_load(&srv->group->sockets));
	sg_buf_printf(&r->body,
		      "# TYPE streamgate_rate_limited_total counter\n"
		      "streamgate_rate_limited_total %lu\n"
		      "# TYPE streamgate_rate_limit_keys gauge\n"
		      "streamgate_rate_limit_keys %zu\n"
		      "# TYPE streamgate_ip_limit_refused_total counter\n"
		      "streamgate_ip_limit_refused_total %lu\n",
		      atomic_load(&srv->group->rate_limited), sg__rate_table_size(srv->group->rates),
		      atomic_load(&srv->group->ip_refused));
	sg_buf_puts(&r->body, "# TYPE streamgate_worker_connections gauge\n");
	for (size_t i = 0; i < srv->group->n; i++)
		sg_buf_printf(&r->body, "streamgate_worker_connections{worker=\"%zu\"} %zu\n", i,
			      atomic_load(&srv->group->workers[i]->connections));
}

const sg_endpoint sg_endpoint_metrics = {
	.name = "metrics",
	.match = metrics_match,
	.methods = SG_M_GET,
	.allow = "GET, HEAD, OPTIONS",
	.get = metrics_get,
};

int sg__metrics_json(const sg_server *srv, sg_buf *out)
{
	const sg_group *g = srv->group;
	totals t = sum_workers(g);
	/* connections_by_transport, delivered_total, delivery_lag_ms and
	 * top_channels wait for counters of their own (README "GET
	 * /metrics/stream" gives the shape each will have) */
	return sg_buf_printf(
		out,
		"{\"time_ms\":%lld,\"workers\":%zu,\"connections\":%zu,\"open_connections\":%zu,"
		"\"channels\":%zu,\"published_total\":%lu,\"frames_dropped_total\":%lu,"
		"\"slow_disconnects_total\":%lu,\"channels_evicted_total\":%lu,"
		"\"ws_ping_timeouts_total\":%lu,\"rate_limited_total\":%lu,"
		"\"ip_limit_refused_total\":%lu,\"messages_live\":%ld,\"frames_live\":%ld,"
		"\"connections_by_transport\":null,\"delivered_total\":null,"
		"\"delivery_lag_ms\":null,\"top_channels\":null}",
		(long long)sg_wall_ms(), g->n, t.connections, atomic_load(&g->sockets),
		sg_hub_channel_count(srv->hub), t.published, t.dropped, t.slow, t.evicted,
		t.ping_timeouts, atomic_load(&g->rate_limited), atomic_load(&g->ip_refused),
		sg_msg_live(), sg_frame_live());
}
