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
#include "metrics.h"
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

/* The counters kept before this file had labels, every worker's summed. */
typedef struct totals {
	unsigned long long conns, published, dropped, slow, evicted, pings, up_malformed;
} totals;

static totals sum_workers(const sg_group *g)
{
	totals t = {0};
	for (size_t i = 0; i < g->n; i++) {
		sg_server *w = g->workers[i];
		t.conns += atomic_load(&w->connections);
		t.published += atomic_load(&w->published);
		t.dropped += atomic_load(&w->counters.frames_dropped);
		t.slow += atomic_load(&w->counters.slow_disconnects);
		t.evicted += sg_hub_channels_evicted(w->hub);
		t.pings += atomic_load(&w->ws_ping_timeouts);
		t.up_malformed += atomic_load(&w->upstream_malformed);
	}
	return t;
}

/* Those counters; their names stay. */
static void basics(sg_buf *b, sg_server *srv)
{
	const sg_group *g = srv->group;
	totals t = sum_workers(g);
	scalar(b, "streamgate_connections", "gauge", "Streams open now, every transport.", t.conns);
	scalar(b, "streamgate_channels", "gauge",
	       "Channels held by the hub of the worker that answered.",
	       sg_hub_channel_count(srv->hub));
	scalar(b, "streamgate_messages_published_total", "counter", "Messages published.",
	       t.published);
	scalar(b, "streamgate_frames_dropped_total", "counter",
	       "Queued frames dropped by slow_policy drop_oldest.", t.dropped);
	scalar(b, "streamgate_slow_disconnects_total", "counter",
	       "Clients cut by slow_policy disconnect.", t.slow);
	scalar(b, "streamgate_channels_evicted_total", "counter",
	       "Channels evicted to make room at max_channels.", t.evicted);
	scalar(b, "streamgate_ws_ping_timeouts_total", "counter",
	       "WebSockets closed for not answering a ping.", t.pings);
	scalar(b, "streamgate_upstream_malformed_total", "counter",
	       "Upstream SSE or NDJSON lines (and non-UTF-8 messages) skipped.", t.up_malformed);
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
	scalar(&r->body, "streamgate_broker_up", "gauge",
	       "1 while every worker's broker can carry messages (memory and workers: always; "
	       "redis: while Redis answers).",
	       (unsigned long long)sg__brokers_healthy(g));
	scalar(&r->body, "streamgate_write_passes_total", "counter",
	       "Write passes that wrote streams (each writes every stream with frames queued, one "
	       "send per connection).",
	       sum_obs(g, offsetof(sg_obs, write_passes)));
	scalar(&r->body, "streamgate_write_holds_total", "counter",
	       "Write passes put off by write_delay_ms, or by write_delay_auto_ms after a pass to "
	       "2,000 connections or more.",
	       sum_obs(g, offsetof(sg_obs, write_holds)));
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

/* ---- the same figures as JSON (GET /metrics/stream) --------------------- */

/* The delivery lag histogram summed over the workers, cumulative. */
static void lag_buckets(const sg_group *g, unsigned long long *cum)
{
	for (int i = 0; i <= sg_obs_lag_bounds.n; i++)
		cum[i] = sum_obs(g, offsetof(sg_obs, lag) + offsetof(sg_obs_hist, bucket) +
		                        (size_t)i * sizeof(atomic_ulong));
}

/* The bound (ms) of the bucket holding quantile q of the counts d[]. */
static double quantile_ms(const unsigned long long *d, unsigned long long total, double q)
{
	unsigned long long want = (unsigned long long)(q * (double)total + 0.5), seen = 0;
	int last = sg_obs_lag_bounds.n - 1;
	for (int i = 0; i < sg_obs_lag_bounds.n; i++) {
		seen += d[i];
		if (seen >= want && seen)
			return (double)sg_obs_lag_bounds.le_us[i] / 1000.0;
	}
	return (double)sg_obs_lag_bounds.le_us[last] / 1000.0; /* past the last bound */
}

/* Each worker's last snapshot of the lag histogram: a dashboard sees the
 * lag of the last interval, not since start. Loop threads only. */
static _Thread_local unsigned long long lag_seen[SG_OBS_BUCKETS + 1];

static void lag_json(const sg_group *g, sg_buf *out)
{
	unsigned long long now[SG_OBS_BUCKETS + 1], d[SG_OBS_BUCKETS + 1], total = 0;
	lag_buckets(g, now);
	for (int i = 0; i <= sg_obs_lag_bounds.n; i++) {
		d[i] = now[i] - lag_seen[i];
		total += d[i];
		lag_seen[i] = now[i];
	}
	if (!total) {
		sg_buf_puts(out, ",\"delivery_lag_ms\":null");
		return;
	}
	sg_buf_printf(out, ",\"delivery_lag_ms\":{\"p50\":%.3f,\"p99\":%.3f}",
	              quantile_ms(d, total, 0.5), quantile_ms(d, total, 0.99));
}

int sg__metrics_json(sg_server *srv, sg_buf *out)
{
	const sg_group *g = srv->group;
	totals t = sum_workers(g);
	int rc = sg_buf_printf(
	    out,
	    "{\"time_ms\":%lld,\"workers\":%zu,\"connections\":%llu,\"open_connections\":%zu,"
	    "\"channels\":%zu,\"published_total\":%llu,\"frames_dropped_total\":%llu,"
	    "\"slow_disconnects_total\":%llu,\"channels_evicted_total\":%llu,"
	    "\"ws_ping_timeouts_total\":%llu,\"rate_limited_total\":%lu,"
	    "\"ip_limit_refused_total\":%lu,\"messages_live\":%ld,\"frames_live\":%ld",
	    (long long)sg_wall_ms(), g->n, t.conns, atomic_load(&g->sockets),
	    sg_hub_channel_count(srv->hub), t.published, t.dropped, t.slow, t.evicted, t.pings,
	    atomic_load(&g->rate_limited), atomic_load(&g->ip_refused), sg_msg_live(),
	    sg_frame_live());
	unsigned long long delivered = 0;
	rc |= sg_buf_puts(out, ",\"connections_by_transport\":{");
	for (size_t i = 0; i < NTRANSPORTS; i++) {
		int s = transports[i]->slot;
		unsigned long long closed = sum_obs(g, OBS_AT(closed, s));
		rc |= sg_buf_printf(out, "%s\"%s\":%llu", i ? "," : "", transports[i]->name,
		                    sum_obs(g, OBS_AT(opened, s)) - closed);
		delivered += sum_obs(g, OBS_AT(delivered, s));
	}
	rc |= sg_buf_printf(out, "},\"delivered_total\":%llu", delivered);
	lag_json(g, out);
	rc |= sg__channels_top_json(srv, "top_channels", 10, out);
	rc |= sg_buf_puts(out, "}");
	return rc ? SG_ENOMEM : 0;
}
