/*
 * server — private view of the server object shared by the server/ files
 * and the built-in endpoints. Only the server .c files include libwebsockets.
 */
#ifndef SG_SERVER_SERVER_H
#define SG_SERVER_SERVER_H

#include <pthread.h>
#include <stdatomic.h>

#include "client_ip.h"
#include "config.h"
#include "obs.h"
#include "core/broker.h"
#include "core/buf.h"
#include "core/hub.h"
#include "core/loop.h"
#include "core/message.h"
#include "core/stream.h"
#include "streamgate.h"

struct lws_context;
struct lws_vhost;
struct sg_conn;
struct sg_h1;
struct sg_ws_pending;

/* A complete (non-streaming) answer an endpoint gives. Owns body. */
typedef struct sg_response {
	int status;
	const char *content_type; /* static */
	sg_buf body;
	const char *allow;    /* Allow header for 405, static */
	char file[1024];      /* when set, serve this file instead of body */
	char last_event_id[SG_ID_TEXT_MAX];
	const char *gap; /* X-Streamgate-Gap header, borrowed, or NULL */
	int retry_after; /* seconds for a Retry-After header; 0: none */
	const char *www_authenticate; /* WWW-Authenticate header (401), static, or NULL */
	sg_buf headers;	 /* more header lines, "name: value\r\n" each */
	struct sg_reply *deferred; /* set by sg__response_defer: the answer comes later */
} sg_response;

#define SG_M_GET 1u
#define SG_M_POST 2u
#define SG_M_DELETE 4u
#define SG_M_OPTIONS 8u

/* A built-in endpoint: what a path does, by method. Static tables. */
typedef struct sg_endpoint {
	const char *name;
	int (*match)(const sg_server *srv, const char *path);
	unsigned methods;
	const char *allow;
	/* GET that streams (any transport); NULL when get answers at once. */
	sg_handler_fn stream;
	/* GET answered at once. */
	void (*get)(sg_server *srv, const sg_request *req, sg_response *resp);
	/* POST with the whole body (borrowed). */
	void (*post)(sg_server *srv, const sg_request *req, const char *body, size_t len,
		     sg_response *resp);
	/* DELETE. */
	void (*del)(sg_server *srv, const sg_request *req, sg_response *resp);
	/* Nonzero: a POST's body is read into the request (req->body), then
	 * the request streams through `stream` as a GET does. */
	int post_streams;
	/* A WebSocket upgrade on this path, before its 101 (NULL: none). resp
	 * may be deferred (sg__response_defer); an answer with status 101 lets
	 * the upgrade go on, any other refuses it as that HTTP answer. */
	void (*ws_preflight)(sg_server *srv, sg_request *req, sg_response *resp);
} sg_endpoint;

extern const sg_endpoint sg_endpoint_channels;
extern const sg_endpoint sg_endpoint_channel_info;
extern const sg_endpoint sg_endpoint_health;
extern const sg_endpoint sg_endpoint_metrics;
extern const sg_endpoint sg_endpoint_metrics_stream;
extern const sg_endpoint sg_endpoint_static;
extern const sg_endpoint sg_endpoint_ticket;
extern const sg_endpoint sg_endpoint_channel_stats;
extern const sg_endpoint sg_endpoint_upstream;
extern const sg_endpoint sg_endpoint_streams;
extern const sg_endpoint sg_endpoint_grip_publish;

/* A user route registered with sg_server_route. Owns path. */
typedef struct sg_route {
	char *path;
	int prefix;
	sg_handler_fn fn;
	void *ud;
	struct sg_route *next;
} sg_route;

typedef struct sg_task {
	sg_task_fn fn;
	void *arg;
	struct sg_task *next;
} sg_task;

struct sg_listener;

/* The workers of one gateway: each a loop on a thread of its own with its
 * own lws context, listening socket (same port), hub and connections.
 * workers[0] is the handle sg_server_new returned; it runs on the thread
 * that calls sg_server_run and owns the user routes. */
typedef struct sg_group {
	size_t n;
	sg_server **workers;
	sg_bus *bus; /* NULL with one worker: the memory broker suffices */
	pthread_t *threads;
	atomic_size_t sockets; /* open client connections, every worker's */
	struct sg_auth *auth;  /* tokens and tickets, every worker's (auth/auth.h) */
	sg_cidr_list trusted_proxies; /* parsed once: a restart key */
	struct sg_ip_table *ips;      /* connections per IP (max_connections_per_ip) */
	struct sg_rate_table *rates;  /* publish_rate buckets */
	atomic_ulong rate_limited;    /* publishes refused by publish_rate */
	atomic_ulong ip_refused;      /* connections refused by max_connections_per_ip */
	struct sg_tls_ctx *tls; /* the certificate new handshakes use; NULL without tls_listen */
	struct ssl_ctx_st *up_tls[SG_UPSTREAMS_MAX]; /* each https upstream's (client_tls.c) */
	struct sg_access_log *access_log; /* NULL without access_log */
	struct sg_chan_snaps *chan_snaps;  /* GET /channels: each worker's top channels */
} sg_group;

/* One worker (with one worker, the whole server). */
struct sg_server {
	sg_loop loop; /* first: the core's view of our loop */
	sg_group *group;
	sg_config cfg;
	struct lws_context *ctx;
	struct lws_vhost *vhost; /* where WebSocket connections go */
	int port;
	pthread_t loop_thread;	 /* meaningful once loop_started */
	atomic_int loop_started; /* set by the loop thread after loop_thread */

	sg_hub *hub;
	sg_broker *broker;
	sg_route *routes; /* workers[0]'s serve every worker */
	sg_stream_limits stream_limits;
	sg_stream_counters counters;
	atomic_ulong published;
	atomic_ulong ws_ping_timeouts; /* WebSockets closed for not answering a ping */
	atomic_size_t connections;
	int listen_fd; /* -1 with listen: "" */
	struct sg_listener *listener;
	int metrics_fd; /* metrics_listen's socket, or -1 */
	struct sg_listener *metrics_listener;
	int grip_fd; /* grip_publish_listen's socket, or -1 */
	struct sg_listener *grip_listener;
	int tls_fd; /* -1 without tls_listen */
	int tls_port;
	struct sg_listener *tls_listener;
	struct sg_tls *tlss; /* every TLS connection of this worker */

	pthread_mutex_t tasks_lock;
	sg_task *tasks_head, *tasks_tail;
	int tasks_closed;

	atomic_int stop_asked;
	int shutting_down;
	long long shutdown_deadline_us;
	struct sg_conn *conns; /* streaming connections */
	struct sg_h1 *h1s;     /* every HTTP/1 connection */
	struct sg_conn *dirty; /* connections with frames to write this turn */
	struct sg_conn *dirty_urgent; /* with answers to send: never held */
	struct sg_ws_pending *ws_pending; /* upgrades handed to lws */

	unsigned char *scratch; /* write coalescing buffer, LWS_PRE headroom */
	size_t scratch_cap;
	sg_frame *preludes[SG_RENDER_SLOTS];
	sg_frame *heartbeats[SG_RENDER_SLOTS];
	struct sg_housekeeping *housekeeping; /* timers of the server's own */
	struct ev_loop *evloop;		      /* the loop lws runs on */
	void *foreign_loops[1];
	struct sg_writer *writer;	      /* the write pass, once per loop turn */
	long long last_heartbeat_us;
	sg_obs obs;	      /* this worker's counters for /metrics */
	int64_t write_now_us; /* sg_mono_us() at the start of the write pass */
	struct sg_drain *drain; /* drain_ms: the streams still to be asked to leave */
	struct sg_upstream *durables; /* upstream mode: this worker's durable streams */
	atomic_ulong upstream_malformed; /* SSE/NDJSON lines from upstreams skipped */
};

/* Worker index of group, listening on listen_fd and tls_fd (either may
 * be -1; closed with it). NULL on failure: what was made is freed with
 * the group (server.c). */
sg_server *sg__worker_new(const sg_config *cfg, sg_group *group, size_t index, int listen_fd,
			  int tls_fd, char *err, size_t errlen);
/* The start-up checks of sg_server_new that need no socket (group.c): the
 * listening addresses and what they resolve to, secure-by-default, auth and
 * its key files, anonymous_*, trusted_proxies, the TLS certificate and key.
 * 0, or an SG_E* code with err naming the setting at fault. */
int sg__server_check(const sg_config *cfg, char *err, size_t errlen);
/* Stops and frees one worker of a group being freed (group.c). */
void sg__worker_free(sg_server *srv);
/* libwebsockets' log mask for a log_level setting. */
int sg__server_log_mask(size_t level);
/* Renders each transport's prelude with srv's settings into out (caller
 * unrefs; NULL where a transport has none). SG_ENOMEM: nothing is kept. */
int sg__server_preludes_render(const sg_server *srv, sg_frame *out[SG_RENDER_SLOTS]);
/* The hub's bounds in cfg. */
sg_hub_limits sg__server_hub_limits(const sg_config *cfg);
/* Sets srv->loop's operations: posting, on_loop, timers (loop.c). */
void sg__server_loop_init(sg_server *srv);
/* Runs posted tasks (loop thread). */
void sg__server_run_tasks(sg_server *srv);
/* Writes a JSON error response {"error","detail"} into resp. */
void sg__response_error(sg_response *resp, int status, const char *error, const char *detail);
/* The built-in endpoint owning path, or NULL (404). */
const sg_endpoint *sg__endpoint_for(const sg_server *srv, const char *path);

#endif
