/*
 * metrics — /metrics in Prometheus' text format (0.0.4): every family with
 * # HELP and # TYPE, every worker's counters summed at scrape time (each
 * worker writes only its own, so the hot path takes no lock). Labels are
 * bounded sets only (transport, reason, worker): never a channel name,
 * since channels are unbounded; per-channel figures are GET /channels.
 */
#include <string.h>

#include "core/frame.h"
#include "core/message.h"
#include "core/transport.h"
#include "server/access_log.h"
#include "server/admit.h"
#include "server/rights.h"
#include "server/server.h"

/* The transports /metrics names, each always (at 0 too). */
static const sg_transport *const transports[] = {
    &sg_transport_chunked,  &sg_transport_sse,    &sg_transport_ws,
    &sg_transport_longpoll, &sg_transport_ndjson,
};
#define NTRANSPORTS (sizeof(transports) / sizeof(transports[0]))

static int metrics_match(const sg_server *srv, const char *path)
{
	(void)srv;
	return strcmp(path, "/metrics") == 0;
}

static void family(sg_buf *b, const char *name, const char *type, const char *help)
{
	sg_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One unlabelled sample with its family lines. */
static void scalar(sg_buf *b, const char *name, const char *type, const char *help,
                   unsigned long long v)
{
	family(b, name, type, help);
	sg_buf_printf(b, "%s %llu\n", name, v);
}

/* Sums one counter of every worker's obs (off: its offset in sg_obs). */
static unsigned long long sum_obs(const sg_group *g, size_t off)
{
	/* relaxed: each is written by one loop thread; a scrape may be a write behind */
	unsigned long long t = 0;
	for (size_t i = 0; i < g->n; i++)
		t += atomic_load_explicit((atomic_ulong *)((char *)&g->workers[i]->obs + off),
		                          memory_order_relaxed);
	return t;
}

/* The offset of field[i] in sg_obs, field an array of atomic_ulong. */
#define OBS_AT(field, i) (offsetof(sg_obs, field) + (size_t)(i) * sizeof(atomic_ulong))

static void by_transport(sg_buf *b, const sg_group *g)
{
	family(b, "streamgate_connections_by_transport", "gauge",
	       "Streams open now, by transport (HTTP/2 streams under their transport).");
	for (size_t i = 0; i < NTRANSPORTS; i++) {
		int s = transports[i]->slot;
		/* closed first: opened, read after it, can only be as large or more */
		unsigned long long closed = sum_obs(g, OBS_AT(closed, s));
		sg_buf_printf(b, "streamgate_connections_by_transport{transport=\"%s\"} %llu\n",
		              transports[i]->name, sum_obs(g, OBS_AT(opened, s)) - closed);
	}
	family(b, "streamgate_connections_opened_total", "counter",
	       "Streams opened since start, by transport.");
	for (size_t i = 0; i < NTRANSPORTS; i++)
		sg_buf_printf(b, "streamgate_connections_opened_total{transport=\"%s\"} %llu\n",
		              transports[i]->name, sum_obs(g, OBS_AT(opened, transports[i]->slot)));
	family(b, "streamgate_messages_delivered_total", "counter",
	       "Messages written to clients, by transport (heartbeats and control frames not "
	       "counted).");
	for (size_t i = 0; i < NTRANSPORTS; i++)
		sg_buf_printf(b, "streamgate_messages_delivered_total{transport=\"%s\"} %llu\n",
		              transports[i]->name,
		              sum_obs(g, OBS_AT(delivered, transports[i]->slot)));
	family(b, "streamgate_streams_closed_total", "counter",
	       "Streams ended since start, by reason: ended, client_left, slow_client, shutdown, "
	       "deleted, token_expired, error.");
	for (int r = SG_END_UNSET + 1; r < SG_END_REASONS; r++)
		sg_buf_printf(b, "streamgate_streams_closed_total{reason=\"%s\"} %llu\n",
		              sg_end_reason_name((sg_end_reason)r), sum_obs(g, OBS_AT(ended, r)));
}

/* A histogram summed over the workers (hist: its offset in sg_obs). */
static void histogram(sg_buf *b, const sg_group *g, const char *name, const char *help, size_t hist,
                      const sg_obs_bounds *bounds)
{
	unsigned long long cum = 0;
	family(b, name, "histogram", help);
	for (int i = 0; i <= bounds->n; i++) {
		cum += sum_obs(g, hist + offsetof(sg_obs_hist, bucket) +
		                      (size_t)i * sizeof(atomic_ulong));
		if (i < bounds->n)
			sg_buf_printf(b, "%s_bucket{le=\"%.6g\"} %llu\n", name,
			              (double)bounds->le_us[i] / 1e6, cum);
		else
			sg_buf_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n", name, cum);
	}
	unsigned long long sum = 0;
	for (size_t i = 0; i < g->n; i++)
		sum += atomic_load_explicit((atomic_ullong *)((char *)&g->workers[i]->obs + hist +
		                                              offsetof(sg_obs_hist, sum_us)),
		                            memory_order_relaxed);
	sg_buf_printf(b, "%s_sum %.6f\n%s_count %llu\n", name, (double)sum / 1e6, name,
	              sum_obs(g, hist + offsetof(sg_obs_hist, count)));
}

/* The counters kept before this file had labels; their names stay. */
static void basics(sg_buf *b, sg_server *srv)
{
	const sg_group *g = srv->group;
	unsigned long long conns = 0, published = 0, dropped = 0, slow = 0, evicted = 0, pings = 0;
	for (size_t i = 0; i < g->n; i++) {
		sg_server *w = g->workers[i];
		conns += atomic_load(&w->connections);
		published += atomic_load(&w->published);
		dropped += atomic_load(&w->counters.frames_dropped);
		slow += atomic_load(&w->counters.slow_disconnects);
		evicted += sg_hub_channels_evicted(w->hub);
		pings += atomic_load(&w->ws_ping_timeouts);
	}
	scalar(b, "streamgate_connections", "gauge", "Streams open now, every transport.", conns);
	scalar(b, "streamgate_channels", "gauge",
	       "Channels held by the hub of the worker that answered.",
	       sg_hub_channel_count(srv->hub));
	scalar(b, "streamgate_messages_published_total", "counter", "Messages published.",
	       published);
	scalar(b, "streamgate_frames_dropped_total", "counter",
	       "Queued frames dropped by slow_policy drop_oldest.", dropped);
	scalar(b, "streamgate_slow_disconnects_total", "counter",
	       "Clients cut by slow_policy disconnect.", slow);
	scalar(b, "streamgate_channels_evicted_total", "counter",
	       "Channels evicted to make room at max_channels.", evicted);
	scalar(b, "streamgate_ws_ping_timeouts_total", "counter",
	       "WebSockets closed for not answering a ping.", pings);
	scalar(b, "streamgate_messages_live", "gauge", "Messages in memory (history and queues).",
	       (unsigned long long)sg_msg_live());
	scalar(b, "streamgate_frames_live", "gauge", "Rendered frames in memory.",
	       (unsigned long long)sg_frame_live());
	scalar(b, "streamgate_workers", "gauge", "Service loops.", g->n);
	scalar(b, "streamgate_open_connections", "gauge",
	       "Client sockets open now (streaming or not), every worker's.",
	       atomic_load(&g->sockets));
	scalar(b, "streamgate_rate_limited_total", "counter", "Publishes refused by publish_rate.",
	       atomic_load(&g->rate_limited));
	scalar(b, "streamgate_rate_limit_keys", "gauge", "Clients publish_rate tracks now.",
	       sg__rate_table_size(g->rates));
	scalar(b, "streamgate_ip_limit_refused_total", "counter",
	       "Connections refused by max_connections_per_ip.", atomic_load(&g->ip_refused));
	family(b, "streamgate_worker_connections", "gauge", "Streams open now, by worker.");
	for (size_t i = 0; i < g->n; i++)
		sg_buf_printf(b, "streamgate_worker_connections{worker=\"%zu\"} %zu\n", i,
		              atomic_load(&g->workers[i]->connections));
}

static void metrics_get(sg_server *srv, const sg_request *req, sg_response *r)
{
	/* admin tokens, or every request on a trusted listener (metrics_listen) */
	if (sg__authorize(srv, req, SG_RIGHT_ADMIN, NULL, "read /metrics", r))
		return;
	const sg_group *g = srv->group;
	r->content_type = "text/plain; version=0.0.4";
	basics(&r->body, srv);
	by_transport(&r->body, g);
	histogram(
	    &r->body, g, "streamgate_delivery_lag_seconds",
	    "Time from a message's publish (on this node) to the write of its first byte to a "
	    "client; replays from history count with their age.",
	    offsetof(sg_obs, lag), &sg_obs_lag_bounds);
	histogram(&r->body, g, "streamgate_stream_duration_seconds",
	          "How long streams lasted, observed when they end.", offsetof(sg_obs, duration),
	          &sg_obs_duration_bounds);
	/* memory and workers cannot be down; the redis broker reports its link */
	scalar(&r->body, "streamgate_broker_up", "gauge",
	       "1 while the broker can carry messages (memory and workers: always).", 1);
	scalar(&r->body, "streamgate_access_log_dropped_total", "counter",
	       "Access log lines dropped because the writer's queue was full.",
	       sg__access_log_dropped(g->access_log));
}

const sg_endpoint sg_endpoint_metrics = {
    .name = "metrics",
    .match = metrics_match,
    .methods = SG_M_GET,
    .allow = "GET, HEAD, OPTIONS",
    .get = metrics_get,
};
