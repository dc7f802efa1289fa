/*
 * config — every setting of the gateway, its default, its limits and its
 * text form, in one table that drives the JSON file, STREAMGATE_* variables,
 * command-line flags and the README's list of keys.
 */
#ifndef SG_SERVER_CONFIG_H
#define SG_SERVER_CONFIG_H

#include <stddef.h>
#include <sys/socket.h>

#include "core/stream.h"
#include "streamgate.h"

#define SG_UPSTREAMS_MAX 32
#define SG_UP_FORWARD_DEFAULT "Authorization, Cookie, Content-Type, Accept-Language, X-Request-Id"

/* One entry of "upstreams": where a path's requests are proxied. */
typedef struct sg_upstream_cfg {
	char path[256];	 /* "/v1/" for "/v1/STAR" (prefix), or an exact path */
	int prefix;
	char url[256];	 /* as written */
	char host[128];	 /* the Host header: "127.0.0.1:9000" */
	struct sockaddr_storage addr; /* numeric, resolved when the config is read */
	socklen_t addrlen;
	int format; /* sg_up_format */
	int durable;
	char forward_headers[512]; /* comma list of request headers passed on */
	int grip;		   /* nonzero (default): Grip-* instructions are followed */
	char grip_key[256];	   /* signs Grip-Sig; "": no Grip-Sig */
	int auth;		   /* sg_up_auth: the gateway's own token check */
	char channel[256];	   /* auth "require": the subscribe right asked for ("": any token) */
	int tls;                   /* https:// */
	int tls_verify;            /* check the certificate (default 1) */
	char tls_ca_file[512];     /* PEM CAs instead of the system's; "" for those */
	char tls_server_name[256]; /* SNI and verification; the url's host by default */
} sg_upstream_cfg;

/* What the gateway checks of a token before calling an upstream. */
typedef enum sg_up_auth {
	SG_UP_AUTH_PASS,    /* a token that fails is refused (401); none or valid goes on */
	SG_UP_AUTH_REQUIRE, /* a valid token (with the subscribe right to channel) or 401/403 */
	SG_UP_AUTH_OFF,     /* no check: whatever the client sent goes on */
} sg_up_auth;

struct sg_config {
	char listen[128];
	char www[512];
	char ws_publish[512];
	size_t max_body_bytes;
	size_t max_header_bytes;
	size_t max_url_bytes;
	size_t max_connections;
	size_t max_ws_message_bytes;
	size_t queue_bytes;
	int slow_policy; /* sg_slow_policy */
	size_t history_count;
	size_t history_bytes;
	size_t history_age_ms;
	size_t max_channels;
	size_t heartbeat_ms;
	size_t ws_ping_timeout_ms;
	size_t sse_retry_ms;
	size_t longpoll_timeout_ms;
	size_t body_timeout_ms;
	size_t keepalive_timeout_ms;
	size_t write_delay_ms;
	size_t write_delay_auto_ms;
	size_t shutdown_grace_ms;
	size_t log_level;
	size_t examples;
	size_t workers;
	/* authentication (README "Security") */
	char auth_jwt_alg[16];
	char auth_jwt_key[512];
	char auth_jwt_key_file[512];
	char auth_jwt_issuer[256];
	char auth_jwt_audience[256];
	size_t auth_jwt_leeway_ms;
	char auth_cookie[64];
	char anonymous_subscribe[1024];
	char anonymous_publish[1024];
	size_t auth_ticket_ttl_ms;
	size_t auth_ticket_max;
	char allowed_origins[1024];
	size_t publish_rate;
	size_t publish_burst;
	size_t max_connections_per_ip;
	char trusted_proxies[1024];
	char metrics_listen[128];
	char grip_publish_listen[128]; /* "": none; serves POST /publish/ and /healthz */
	char tls_listen[128]; /* "": no HTTPS port */
	char tls_cert[512];
	char tls_key[512];
	char broker[16];       /* memory | redis */
	char redis_url[512];
	char redis_prefix[64];
	size_t redis_timeout_ms;
	size_t redis_wait_replicas;
	char redis_sentinels[512];
	char redis_master[128];
	char redis_sentinel_password[256];
	/* operations (README "Access log", "Rolling restarts") */
	char access_log[512];	     /* "": none; "-": stderr */
	char access_log_format[16]; /* json or combined */
	size_t drain_ms;
	/* upstream mode (README "Upstream mode"): read from the JSON file only */
	size_t upstream_timeout_ms;
	size_t durable_ttl_ms;
	size_t nupstreams;
	sg_upstream_cfg upstreams[SG_UPSTREAMS_MAX];
};

/* Writes the host part of cfg->listen into host (hostlen bytes) and its
 * port into *port. SG_EINVAL when malformed. */
int sg__config_listen_split(const sg_config *cfg, char *host, size_t hostlen, int *port);
/* The same for any HOST:PORT address. */
int sg__config_addr_split(const char *addr, char *host, size_t hostlen, int *port);
/* Prints one line per key ("  --key VALUE  help (default: x)") to f. */
void sg__config_usage(void *file);
/* The line of the config file path where key is set, 0 when it is not
 * (or the file cannot be read): for messages naming file, line and key. */
int sg__config_file_line(const char *path, const char *key);
/* Nonzero when key (with '-' or '_') names a setting. */
int sg__config_has_key(const char *key);
/* Copies into dst every setting of src that can change while the server
 * runs (all but listen, www, max_header_bytes, max_connections, examples,
 * workers, allowed_origins, trusted_proxies and metrics_listen). */
void sg__config_apply_live(sg_config *dst, const sg_config *src);
/* Puts into names (static strings, at most max) the keys that differ
 * between running and next but only take effect at a restart; returns
 * how many. */
/* Reads the "upstreams" list (a jansson json_t, borrowed) into cfg. 0,
 * or SG_EINVAL with err naming the entry and field at fault. */
int sg__config_upstreams(sg_config *cfg, const void *list, char *err, size_t errlen);
size_t sg__config_restart_keys(const sg_config *running, const sg_config *next,
			       const char **names, size_t max);

#endif
