/*
 * server — one worker: the libwebsockets context, its one service loop and
 * clean shutdown. Requests are dispatched to http.c and websocket.c;
 * group.c makes the workers and what they share; loop.c is the loop as the
 * core sees it (posted tasks, timers).
 */
#include "server.h"
#include "upstream/upstream.h"

#include <ev.h>
#include <libwebsockets.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <time.h>

#include "admit.h"
#include "broker/redis.h"
#include "conn.h"
#include "h1.h"
#include "listen.h"
#include "drain.h"
#include "chan_stats.h"
#include "rights.h"
#include "tls.h"
#include "websocket.h"

#define SCRATCH_BYTES (64 * 1024)

/* The server's own timers. The tick stays on lws' sorted list: it is what
 * re-arms lws' one libev timer every second (see loop.c's timers). */
struct sg_housekeeping {
	lws_sorted_usec_list_t sul; /* once a second */
	ev_timer shutdown;	    /* while shutting down */
	sg_server *srv;
	int running; /* sg_server_run is in its loop */
};


/* ---- libwebsockets callback ------------------------------------------- */

static void stop_if_asked(sg_server *srv);

static int sg_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		       size_t len)
{
	sg_server *srv = lws_context_user(lws_get_context(wsi));
	sg_conn *c = user;
	switch (reason) {
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		sg__server_run_tasks(srv);
		stop_if_asked(srv);
		return 0;
	case LWS_CALLBACK_WSI_CREATE: /* every lws connection is a socket of ours */
		atomic_fetch_add(&srv->group->sockets, 1);
		return 0;
	case LWS_CALLBACK_WSI_DESTROY:
		atomic_fetch_sub(&srv->group->sockets, 1);
		sg__ws_destroyed(srv, wsi);
		return 0;
	case LWS_CALLBACK_HTTP: /* only upgrades reach lws: h1.c answers the rest */
		return -1;
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return sg__ws_filter(srv, wsi);
	case LWS_CALLBACK_ESTABLISHED:
		c->wsi = wsi;
		c->srv = srv;
		c->is_ws = 1;
		return sg__ws_established(c);
	case LWS_CALLBACK_RECEIVE:
		return sg__ws_receive(c, in, len);
	case LWS_CALLBACK_RECEIVE_PONG:
		if (c && c->srv)
			sg__ws_pong(c);
		return 0;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		return sg__ws_peer_close(c, in, len);
	case LWS_CALLBACK_WS_SERVER_DROP_PROTOCOL:
		sg__ws_dropping(wsi, c);
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return sg__ws_writeable(c);
	case LWS_CALLBACK_CLOSED:
		if (c && c->srv)
			sg__conn_release(c, 1);
		return 0;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
	/* a small receive buffer (client messages are reassembled whole in
	 * wsmsg) keeps an idle WebSocket small; tx_packet_size lets one write
	 * hold a whole batch (lws caps a send at rx_buffer_size otherwise and
	 * copies the rest for later) */
	{"streamgate", sg_callback, sizeof(sg_ws_conn), 128, 0, NULL, SCRATCH_BYTES + 64},
	{NULL, NULL, 0, 0, 0, NULL, 0},
};

/* ---- lifecycle -------------------------------------------------------- */

int sg__server_log_mask(size_t level)
{
	static const int masks[] = {0, LLL_ERR, LLL_ERR | LLL_WARN,
				    LLL_ERR | LLL_WARN | LLL_NOTICE,
				    LLL_ERR | LLL_WARN | LLL_NOTICE | LLL_INFO};
	return masks[level < 4 ? level : 4];
}

static const sg_transport *const all_transports[] = {&sg_transport_chunked, &sg_transport_sse,
						     &sg_transport_ws, &sg_transport_longpoll,
						     &sg_transport_ndjson};
#define NTRANSPORTS (sizeof(all_transports) / sizeof(all_transports[0]))

int sg__server_preludes_render(const sg_server *srv, sg_frame *out[SG_RENDER_SLOTS])
{
	sg_transport_opts opts = {.sse_retry_ms = (unsigned)srv->cfg.sse_retry_ms};
	memset(out, 0, SG_RENDER_SLOTS * sizeof(*out));
	for (size_t i = 0; i < NTRANSPORTS; i++) {
		sg_buf b = SG_BUF_INIT;
		int rc = all_transports[i]->prelude(&b, &opts);
		if (!rc && b.len && !(out[all_transports[i]->slot] = sg_frame_copy(b.data, b.len)))
			rc = SG_ENOMEM;
		sg_buf_free(&b);
		if (rc) {
			for (int j = 0; j < SG_RENDER_SLOTS; j++)
				sg_frame_unref(out[j]);
			return SG_ENOMEM;
		}
	}
	return 0;
}

static int make_preludes(sg_server *srv)
{
	for (size_t i = 0; i < NTRANSPORTS; i++) {
		const sg_transport *t = all_transports[i];
		if (t->heartbeat &&
		    !(srv->heartbeats[t->slot] = sg_frame_copy(t->heartbeat, strlen(t->heartbeat))))
			return SG_ENOMEM;
	}
	return sg__server_preludes_render(srv, srv->preludes);
}

static int context_create(sg_server *srv, char *err, size_t errlen)
{
	lws_set_log_level(sg__server_log_mask(srv->cfg.log_level), NULL);
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN_SERVER; /* listen.c accepts for it */
	info.protocols = protocols;
	info.user = srv;
	/* lws on a libev loop of ours (epoll): a pass of the loop costs what
	 * is active, not every idle connection as poll() would */
	srv->evloop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
	if (!srv->evloop) {
		snprintf(err, errlen, "cannot create the event loop");
		return SG_EIO;
	}
	srv->foreign_loops[0] = srv->evloop;
	info.foreign_loops = srv->foreign_loops;
	/* no LWS_SERVER_OPTION_VALIDATE_UTF8: websocket.c checks text messages
	 * and close reasons itself, to answer 1007 where lws only hangs up */
	info.options = LWS_SERVER_OPTION_DISABLE_IPV6 | LWS_SERVER_OPTION_LIBEV;
	info.max_http_header_data = (unsigned short)srv->cfg.max_header_bytes;
	/* No fd_limit_per_thread: below the process's RLIMIT_NOFILE, lws 4.1
	 * marks its fd table "unrelated to ulimit" and finds a connection by
	 * scanning the whole table on every event (wsi_from_fd). Sized by the
	 * ulimit, the lookup is an index. Our own limit is max_connections. */
	info.timeout_secs = 10;
	srv->ctx = lws_create_context(&info);
	srv->vhost = srv->ctx ? lws_get_vhost_by_name(srv->ctx, "default") : NULL;
	if (!srv->vhost) {
		snprintf(err, errlen, "cannot start libwebsockets");
		return SG_EIO;
	}
	if (sg__conn_writer_start(srv) ||
	    (srv->listen_fd >= 0 && !(srv->listener = sg__listen_start(srv, srv->listen_fd, 0))) ||
	    (srv->tls_fd >= 0 &&
	     !(srv->tls_listener = sg__listen_start(srv, srv->tls_fd, SG_LISTEN_TLS)))) {
		snprintf(err, errlen, "out of memory");
		return SG_ENOMEM;
	}
	return 0;
}

sg_hub_limits sg__server_hub_limits(const sg_config *cfg)
{
	return (sg_hub_limits){.history_count = cfg->history_count,
			       .history_bytes = cfg->history_bytes,
			       .history_age_ms = cfg->history_age_ms,
			       .max_channels = cfg->max_channels};
}

/* The worker's broker, on its loop: redis when configured (each worker
 * has its own connections), else the workers' bus or, alone, memory. */
static int broker_create(sg_server *srv, char *err, size_t errlen)
{
	if (strcmp(srv->cfg.broker, "redis") == 0) {
		sg_redis_opts o = {.url = srv->cfg.redis_url, .prefix = srv->cfg.redis_prefix,
				   .timeout_ms = srv->cfg.redis_timeout_ms,
				   .wait_replicas = srv->cfg.redis_wait_replicas,
				   .sentinels = srv->cfg.redis_sentinels,
				   .master = srv->cfg.redis_master,
				   .sentinel_password = srv->cfg.redis_sentinel_password,
				   .log_level = (int)srv->cfg.log_level};
		srv->broker = sg_broker_redis_new(srv->hub, srv->evloop, &o, err, errlen);
		return srv->broker ? 0 : SG_EINVAL;
	}
	if (strcmp(srv->cfg.broker, "memory") != 0) {
		snprintf(err, errlen, "broker: expected memory or redis, got \"%.32s\"",
			 srv->cfg.broker);
		return SG_EINVAL;
	}
	srv->broker = srv->group->bus
			  ? sg_broker_workers_new(srv->group->bus, srv->hub, &srv->loop)
			  : sg_broker_memory_new(srv->hub);
	if (!srv->broker)
		snprintf(err, errlen, "out of memory");
	return srv->broker ? 0 : SG_ENOMEM;
}

sg_server *sg__worker_new(const sg_config *cfg, sg_group *group, size_t index,
			     int listen_fd, int tls_fd, char *err, size_t errlen)
{
	sg_server *srv = calloc(1, sizeof(*srv));
	if (!srv) {
		if (listen_fd >= 0)
			close(listen_fd);
		if (tls_fd >= 0)
			close(tls_fd);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	sg__server_loop_init(srv);
	srv->group = group;
	group->workers[index] = srv;
	srv->cfg = *cfg;
	srv->listen_fd = listen_fd;
	srv->metrics_fd = -1;
	srv->grip_fd = -1;
	srv->tls_fd = tls_fd;
	pthread_mutex_init(&srv->tasks_lock, NULL);
	srv->stream_limits.queue_bytes = cfg->queue_bytes;
	srv->stream_limits.policy = (sg_slow_policy)cfg->slow_policy;
	sg_hub_limits hl = sg__server_hub_limits(cfg);
	srv->hub = sg_hub_new(&hl);
	srv->scratch_cap = SCRATCH_BYTES;
	srv->housekeeping = calloc(1, sizeof(*srv->housekeeping));
	if (srv->housekeeping)
		srv->housekeeping->srv = srv;
	srv->scratch = malloc(LWS_PRE + SCRATCH_BYTES + 32);
	if (!srv->hub || !srv->scratch || !srv->housekeeping || make_preludes(srv)) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (context_create(srv, err, errlen))
		return NULL;
	return broker_create(srv, err, errlen) ? NULL : srv;
}

/* Once a second: expire history, reclaim idle channels, and give streams
 * that wrote nothing since the last heartbeat one. */
static void housekeeping(lws_sorted_usec_list_t *sul)
{
	sg_server *srv = lws_container_of(sul, struct sg_housekeeping, sul)->srv;
	long long now = lws_now_usecs();
	sg_hub_sweep(srv->hub, sg_wall_ms());
	sg__chan_snaps_tick(srv);
	if (srv->cfg.heartbeat_ms &&
	    now - srv->last_heartbeat_us >= (long long)srv->cfg.heartbeat_ms * 1000) {
		srv->last_heartbeat_us = now;
		for (sg_conn *c = srv->conns; c; c = c->next)
			sg__conn_heartbeat(c);
	}
	lws_sul_schedule(srv->ctx, 0, sul, housekeeping, LWS_US_PER_SEC);
}

/* While shutting down: leave the loop once every stream has ended, or at
 * the deadline. */
static void shutdown_watch(struct ev_loop *evloop, ev_timer *w, int revents)
{
	(void)revents;
	sg_server *srv = lws_container_of(w, struct sg_housekeeping, shutdown)->srv;
	if ((!srv->conns && !srv->h1s) || lws_now_usecs() >= srv->shutdown_deadline_us)
		ev_break(evloop, EVBREAK_ALL);
}

/* drain_ms: the listening sockets go now, not at exit, so that new
 * connections are refused and the load balancer sends them elsewhere. */
static void listeners_close(sg_server *srv)
{
	int *fds[] = {&srv->listen_fd, &srv->metrics_fd, &srv->grip_fd, &srv->tls_fd};
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (*fds[i] >= 0) {
			close(*fds[i]);
			*fds[i] = -1;
		}
}

static void shutdown_begin(sg_server *srv)
{
	sg__server_run_tasks(srv); /* chunks posted before the stop come first */
	sg__listen_stop(srv->listener); /* nothing new while draining */
	srv->listener = NULL;
	sg__listen_stop(srv->metrics_listener);
	srv->metrics_listener = NULL;
	sg__listen_stop(srv->grip_listener);
	srv->grip_listener = NULL;
	sg__listen_stop(srv->tls_listener);
	srv->tls_listener = NULL;
	srv->shutting_down = 1;
	srv->shutdown_deadline_us =
		lws_now_usecs() + (long long)(srv->cfg.shutdown_grace_ms + srv->cfg.drain_ms) * 1000;
	if (srv->cfg.drain_ms)
		listeners_close(srv);
	if (!srv->cfg.drain_ms || sg__drain_begin(srv))
		for (sg_conn *c = srv->conns, *next; c; c = next) {
			next = c->next;
			sg_stream_close(c->stream);
		}
	sg__h1_shutdown(srv);
	sg__tls_shutdown(srv);
	ev_timer_init(&srv->housekeeping->shutdown, shutdown_watch, 0.0, 0.02); /* now, then every 20 ms */
	ev_timer_start(srv->evloop, &srv->housekeeping->shutdown);
}

/* Runs on the loop: a stop asked from anywhere (a signal handler too) is
 * seen here, after lws_cancel_service() woke the loop. */
static void stop_if_asked(sg_server *srv)
{
	if (atomic_load(&srv->stop_asked) && !srv->shutting_down && srv->housekeeping->running)
		shutdown_begin(srv);
}

/* Serves srv's loop until its shutdown ends (its own thread). */
static void worker_run(sg_server *srv)
{
	struct sg_housekeeping *hk = srv->housekeeping;
	srv->loop_thread = pthread_self();
	atomic_store(&srv->loop_started, 1); /* after loop_thread: on_loop reads both */
	srv->last_heartbeat_us = lws_now_usecs();
	hk->running = 1;
	lws_sul_schedule(srv->ctx, 0, &hk->sul, housekeeping, LWS_US_PER_SEC);
	stop_if_asked(srv);
	ev_run(srv->evloop, 0); /* until shutdown_watch breaks it */
	hk->running = 0;
	ev_timer_stop(srv->evloop, &hk->shutdown);
	sg__drain_free(srv);
	lws_sul_cancel(&hk->sul);
}

static void *worker_thread(void *arg)
{
	worker_run(arg);
	return NULL;
}

int sg_server_run(sg_server *srv)
{
	sg_group *g = srv->group;
	size_t started = 1;
	while (started < g->n &&
	       pthread_create(&g->threads[started], NULL, worker_thread, g->workers[started]) == 0)
		started++;
	if (started < g->n)
		sg_server_stop(srv); /* no thread for every worker: stop the others */
	worker_run(g->workers[0]);
	for (size_t i = 1; i < started; i++)
		pthread_join(g->threads[i], NULL);
	return started < g->n ? SG_EIO : 0;
}

void sg_server_stop(sg_server *srv)
{
	for (size_t i = 0; i < srv->group->n; i++) {
		sg_server *w = srv->group->workers[i];
		atomic_store(&w->stop_asked, 1);
		lws_cancel_service(w->ctx);
	}
}

int sg_server_port(const sg_server *srv)
{
	return srv->port;
}

int sg_server_tls_port(const sg_server *srv)
{
	return srv->tls_port;
}

void sg__worker_free(sg_server *srv)
{
	sg__listen_stop(srv->listener); /* uses the loop: before it goes */
	sg__listen_stop(srv->metrics_listener);
	sg__listen_stop(srv->grip_listener);
	sg__listen_stop(srv->tls_listener);
	sg__tls_stop(srv);
	sg__h1_stop(srv);
	if (srv->ctx)
		lws_context_destroy(srv->ctx); /* closes every WebSocket */
	sg__conn_writer_stop(srv);
	sg__ws_pending_free(srv);
	sg__durables_free(srv);
	pthread_mutex_lock(&srv->tasks_lock);
	srv->tasks_closed = 1;
	pthread_mutex_unlock(&srv->tasks_lock);
	sg__server_run_tasks(srv);
	if (srv->broker) /* before the loop: a networked one has watchers on it */
		srv->broker->ops->free(srv->broker);
	if (srv->evloop)
		ev_loop_destroy(srv->evloop);
	if (srv->listen_fd >= 0)
		close(srv->listen_fd);
	if (srv->metrics_fd >= 0)
		close(srv->metrics_fd);
	if (srv->grip_fd >= 0)
		close(srv->grip_fd);
	if (srv->tls_fd >= 0)
		close(srv->tls_fd);
	free(srv->housekeeping);
	sg_hub_free(srv->hub);
	while (srv->routes) {
		sg_route *r = srv->routes;
		srv->routes = r->next;
		free(r->path);
		free(r);
	}
	for (int i = 0; i < SG_RENDER_SLOTS; i++) {
		sg_frame_unref(srv->preludes[i]);
		sg_frame_unref(srv->heartbeats[i]);
	}
	free(srv->scratch);
	pthread_mutex_destroy(&srv->tasks_lock);
	free(srv);
}

int sg_server_route(sg_server *srv, const char *path, sg_handler_fn fn, void *ud)
{
	if (!srv || !path || path[0] != '/' || !fn)
		return SG_EINVAL;
	sg_route *r = calloc(1, sizeof(*r));
	if (!r || !(r->path = strdup(path))) {
		free(r);
		return SG_ENOMEM;
	}
	size_t n = strlen(path);
	r->prefix = path[n - 1] == '/';
	r->fn = fn;
	r->ud = ud;
	sg_route **tail = &srv->routes;
	while (*tail)
		tail = &(*tail)->next;
	*tail = r;
	return 0;
}

/* ---- publishing from any thread --------------------------------------- */

typedef struct publish_task {
	sg_server *srv;
	char *event;
	size_t len;
	char channel[SG_CHANNEL_NAME_MAX + 1];
	char data[];
} publish_task;

static void published_from_c(void *srv, int rc, const sg_publish_result *res)
{
	(void)res;
	if (rc == 0)
		atomic_fetch_add(&((sg_server *)srv)->published, 1);
}

static void publish_on_loop(void *arg)
{
	publish_task *t = arg;
	sg_publish_req req = {.channel = t->channel, .event = t->event, .data = t->data,
			      .len = t->len};
	/* the broker copies what it keeps: the task can go at once */
	sg_broker_publish(t->srv->broker, &req, published_from_c, t->srv);
	free(t->event);
	free(t);
}

int sg_server_publish(sg_server *srv, const char *channel, const char *event, const void *data,
		      size_t len)
{
	if (!srv || !channel || !sg_channel_name_valid(channel) || (!data && len))
		return SG_EINVAL;
	publish_task *t = malloc(sizeof(*t) + len + 1);
	if (!t)
		return SG_ENOMEM;
	t->srv = srv;
	t->len = len;
	strcpy(t->channel, channel);
	if (len)
		memcpy(t->data, data, len);
	t->data[len] = '\0';
	t->event = event ? strdup(event) : NULL;
	if (srv->loop.on_loop(&srv->loop)) {
		publish_on_loop(t);
		return 0;
	}
	int rc = srv->loop.post(&srv->loop, publish_on_loop, t);
	if (rc) {
		free(t->event);
		free(t);
	}
	return rc;
}

const char *sg_strerror(int err)
{
	switch (err) {
	case SG_OK:
		return "ok";
	case SG_EINVAL:
		return "invalid argument";
	case SG_ENOMEM:
		return "out of memory";
	case SG_ECLOSED:
		return "stream closed";
	case SG_ENOTFOUND:
		return "not found";
	case SG_ETOOBIG:
		return "over a configured limit";
	case SG_EIO:
		return "input/output error";
	case SG_EBADID:
		return "malformed message id";
	case SG_EACCES:
		return "not allowed";
	default:
		return "unknown error";
	}
}
