/*
 * config — the settings table and its three sources: a JSON file
 * (jansson), STREAMGATE_* environment variables and flags.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admit.h"
#include "broker/redis_url.h"
#include "client_ip.h"

typedef enum { KEY_TEXT, KEY_SIZE, KEY_POLICY } key_kind;

typedef struct key_spec {
	const char *name;
	key_kind kind;
	int live; /* a reload applies it to a running server */
	size_t offset, size; /* TEXT: buffer size */
	size_t min, max;     /* SIZE bounds */
	const char *def;
	const char *help;
	int (*check)(const char *value, char *err, size_t errlen); /* TEXT: NULL, any */
} key_spec;

/* RESTART_ keys are read once, when the server starts; the others a
 * reload (SIGHUP, sg_server_reload) applies to the running server. */
#define TEXT(f, d, h) {#f, KEY_TEXT, 1, offsetof(sg_config, f), sizeof(((sg_config *)0)->f), 0, 0, d, h, NULL}
#define SIZE(f, lo, hi, d, h) {#f, KEY_SIZE, 1, offsetof(sg_config, f), 0, lo, hi, d, h, NULL}
#define RESTART_TEXT(f, d, h) {#f, KEY_TEXT, 0, offsetof(sg_config, f), sizeof(((sg_config *)0)->f), 0, 0, d, h, NULL}
#define RESTART_SIZE(f, lo, hi, d, h) {#f, KEY_SIZE, 0, offsetof(sg_config, f), 0, lo, hi, d, h, NULL}
#define CHECKED_TEXT(f, check, d, h) {#f, KEY_TEXT, 0, offsetof(sg_config, f), sizeof(((sg_config *)0)->f), 0, 0, d, h, check}

/* trusted_proxies: a list sg__cidr_list_parse takes. */
static int proxies_check(const char *value, char *err, size_t errlen)
{
	sg_cidr_list l;
	int rc = sg__cidr_list_parse(value, &l, err, errlen);
	sg__cidr_list_free(&l);
	return rc;
}

/* metrics_listen, grip_publish_listen: "" or HOST:PORT. */
static int address_check(const char *value, char *err, size_t errlen)
{
	const char *colon = strrchr(value, ':');
	char *end;
	long port = colon ? strtol(colon + 1, &end, 10) : -1;
	if (!*value || (colon && colon > value && colon[1] && !*end && port >= 0 && port <= 65535))
		return 0;
	snprintf(err, errlen, "expected HOST:PORT (like 127.0.0.1:9100) or \"\", got \"%.60s\"", value);
	return SG_EINVAL;
}

/* broker: one of the two there are. */
static int broker_check(const char *value, char *err, size_t errlen)
{
	if (strcmp(value, "memory") == 0 || strcmp(value, "redis") == 0)
		return 0;
	snprintf(err, errlen, "expected memory or redis, got \"%.32s\"", value);
	return SG_EINVAL;
}

/* redis_url: parsed as the broker will (its errors never show a password). */
static int redis_url_check(const char *value, char *err, size_t errlen)
{
	sg_redis_url u;
	char why[400];
	if (!sg_redis_url_parse(value, &u, why, sizeof(why)))
		return 0;
	const char *says = strncmp(why, "redis_url: ", 11) == 0 ? why + 11 : why; /* named once */
	snprintf(err, errlen, "%s", says);
	return SG_EINVAL;
}

/* access_log_format: json or combined. */
static int log_format_check(const char *value, char *err, size_t errlen)
{
	if (strcmp(value, "json") == 0 || strcmp(value, "combined") == 0)
		return 0;
	snprintf(err, errlen, "expected json or combined, got \"%.60s\"", value);
	return SG_EINVAL;
}

static const key_spec keys[] = {
	RESTART_TEXT(listen, "127.0.0.1:8080", "address and port to listen on (port 0: any free port)"),
	RESTART_TEXT(www, "www", "directory of static files served at /"),
	TEXT(ws_publish, "*", "channels WebSocket clients may publish to: *, none (empty), or a comma list of names and prefixes ending in *"),
	SIZE(max_body_bytes, 1, 1 << 30, "1048576", "largest POST body (413 above)"),
	RESTART_SIZE(max_header_bytes, 1024, 65535, "8192", "largest request header block (431 above)"),
	SIZE(max_url_bytes, 64, 65535, "4096", "longest request line, URL included (414 above)"),
	SIZE(max_connections, 16, 1000000, "20000", "client connections open at once, all workers together (503 above)"),
	SIZE(max_ws_message_bytes, 16, 1 << 30, "65536", "largest WebSocket message from a client"),
	SIZE(queue_bytes, 1024, (size_t)1 << 34, "1048576", "bytes queued per client before the slow-client policy applies"),
	{"slow_policy", KEY_POLICY, 1, offsetof(sg_config, slow_policy), 0, 0, 0, "drop_oldest",
	 "drop_oldest or disconnect: what happens to a client whose queue is full", NULL},
	SIZE(history_count, 0, 10000000, "1000", "messages kept per channel for resume"),
	SIZE(history_bytes, 0, (size_t)1 << 34, "4194304", "payload bytes kept per channel"),
	SIZE(history_age_ms, 0, (size_t)1 << 40, "3600000", "oldest message kept for resume, in ms (0: no age bound)"),
	SIZE(max_channels, 1, 100000000, "100000", "channels held at once"),
	SIZE(heartbeat_ms, 0, 3600000, "15000", "idle streams get a heartbeat this often (0: never)"),
	SIZE(ws_ping_timeout_ms, 0, 3600000, "30000", "how long a pinged WebSocket client has to answer with a pong before it is closed (0: never)"),
	SIZE(sse_retry_ms, 0, 3600000, "0", "SSE retry: sent to browsers (0: none, the browser's default)"),
	SIZE(longpoll_timeout_ms, 100, 3600000, "30000", "how long a long-poll waits before answering []"),
	SIZE(body_timeout_ms, 100, 3600000, "10000", "how long a request head, a request body or a fragmented WebSocket message may take to arrive"),
	SIZE(write_delay_ms, 0, 1000, "0", "the least time between two write passes of a loop, so several messages go out in one write; a message waits at most this long (0: each loop turn writes what it queued)"),
	SIZE(write_delay_auto_ms, 0, 1000, "150", "after a write pass to n >= 2000 connections, the next waits n x 30 us, at most this long, so a large fan-out sends several messages in one write (0: never)"),
	SIZE(keepalive_timeout_ms, 100, 3600000, "15000", "how long an idle kept-alive HTTP connection stays open"),
	SIZE(shutdown_grace_ms, 0, 60000, "2000", "how long shutdown waits for clients to drain"),
	SIZE(log_level, 0, 4, "1", "0 quiet, 1 errors, 2 warnings, 3 notices, 4 info"),
	RESTART_SIZE(examples, 0, 1, "1", "1 serves the example endpoints under /examples/, 0 does not"),
	RESTART_SIZE(workers, 0, 64, "1", "service loops, each on a thread of its own sharing the port (0: one per CPU core)"),
	/* authentication: README "Security" */
	RESTART_TEXT(auth_jwt_alg, "", "JWT algorithm tokens must use: HS256/384/512, RS256/384/512, ES256/384/512 (empty: no authentication)"),
	TEXT(auth_jwt_key, "", "the HS secret"),
	TEXT(auth_jwt_key_file, "", "PEM public key file for RS and ES (read at start and on reload)"),
	TEXT(auth_jwt_issuer, "", "required iss claim (empty: any)"),
	TEXT(auth_jwt_audience, "", "required aud claim (empty: any)"),
	SIZE(auth_jwt_leeway_ms, 0, 3600000, "0", "clock skew allowed on exp, nbf and iat"),
	TEXT(auth_cookie, "", "name of a cookie holding the token (empty: none)"),
	TEXT(anonymous_subscribe, "", "channels clients without a token may subscribe to: patterns, or none (empty: all without auth_jwt_alg, none with it)"),
	TEXT(anonymous_publish, "", "channels clients without a token may publish to: patterns, or none (empty: all without auth_jwt_alg, none with it)"),
	SIZE(auth_ticket_ttl_ms, 1000, 3600000, "30000", "how long a ticket from POST /auth/ticket stays usable"),
	RESTART_SIZE(auth_ticket_max, 1, 1000000, "10000", "tickets held at once, every worker's (503 above)"),
	CHECKED_TEXT(allowed_origins, sg__cors_check, "", "origins whose pages may use the gateway besides its own: a comma list of scheme://host[:port], or * (any, never with credentials)"),
	SIZE(publish_rate, 0, 1000000, "0", "publishes a second per client, HTTP and WebSocket (0: no limit)"),
	SIZE(publish_burst, 0, 1000000, "0", "publishes a client may make at once before publish_rate applies (0: publish_rate, at least 1)"),
	SIZE(max_connections_per_ip, 0, 1000000, "0", "connections open at once from one address, all workers together (429 above; 0: no limit)"),
	CHECKED_TEXT(trusted_proxies, proxies_check, "", "proxies whose X-Forwarded-For is believed: a comma list of addresses and CIDRs (IPv4 and IPv6)"),
	CHECKED_TEXT(metrics_listen, address_check, "", "a second address (HOST:PORT) serving only /metrics and /healthz, e.g. 127.0.0.1:9100 (\"\": none)"),
	CHECKED_TEXT(grip_publish_listen, address_check, "", "an address (HOST:PORT) serving only the GRIP publish API POST /publish/ and /healthz, like Pushpin's port 5561, e.g. 127.0.0.1:5561 (\"\": none)"),
	RESTART_TEXT(tls_listen, "", "address and port of the HTTPS listener (HTTP/2 and HTTP/1.1; empty: none)"),
	TEXT(tls_cert, "", "PEM certificate chain for tls_listen (re-read on SIGHUP)"),
	TEXT(tls_key, "", "PEM private key for tls_listen (re-read on SIGHUP)"),
	CHECKED_TEXT(broker, broker_check, "memory", "memory (one node) or redis (nodes sharing one Redis: see README \"Scale-out with Redis\")"),
	CHECKED_TEXT(redis_url, redis_url_check, "redis://127.0.0.1:6379/0", "the Redis of broker redis: redis://[:password@]host:port/db"),
	RESTART_TEXT(redis_prefix, "sg:", "prefix of every Redis key and channel streamgate uses"),
	RESTART_TEXT(redis_sentinels, "", "broker redis: sentinels that name the primary, host:port comma-separated (empty: redis_url's host)"),
	RESTART_TEXT(redis_master, "mymaster", "broker redis: the name the sentinels know the primary by"),
	RESTART_TEXT(redis_sentinel_password, "", "broker redis: the password of the sentinels (their requirepass; empty: none); redis_url's is the primary's"),
	RESTART_SIZE(redis_wait_replicas, 0, 100, "0", "broker redis: a publish is answered once this many replicas have it too (WAIT; 0: when the primary has it)"),
	SIZE(redis_timeout_ms, 10, 600000, "2000", "how long a Redis connect or command may take before it counts as failed (an HTTP answer waiting for the broker gets 504 after twice this)"),
	RESTART_TEXT(access_log, "", "file for one line per request and per stream end, - for stderr (empty: none); reopened on SIGHUP"),
	CHECKED_TEXT(access_log_format, log_format_check, "json", "json or combined (Apache/nginx combined, then transport, duration, messages, reason)"),
	SIZE(upstream_timeout_ms, 10, 3600000, "10000", "upstream mode: how long an upstream has to send its response head, connect and TLS handshake included (504 after)"),
	SIZE(durable_ttl_ms, 0, (size_t)1 << 40, "300000", "upstream mode: how long a finished durable stream stays replayable before its channel is deleted"),
	SIZE(drain_ms, 0, 600000, "0", "on SIGTERM, close the listeners and ask streaming clients to reconnect elsewhere over this long before exiting (0: end every stream at once)"),
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* "max-body-bytes" and "MAX_BODY_BYTES" both name max_body_bytes. */
static const key_spec *key_find(const char *name)
{
	char norm[64];
	size_t n = strlen(name);
	if (n >= sizeof(norm))
		return NULL;
	for (size_t i = 0; i <= n; i++)
		norm[i] = name[i] == '-' ? '_' : (char)tolower((unsigned char)name[i]);
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].name, norm) == 0)
			return &keys[i];
	return NULL;
}

int sg__config_has_key(const char *key)
{
	return key_find(key) != NULL;
}

static int key_set(sg_config *cfg, const key_spec *k, const char *v, char *err, size_t errlen)
{
	char *field = (char *)cfg + k->offset;
	if (k->kind == KEY_TEXT) {
		if (strlen(v) >= k->size) {
			snprintf(err, errlen, "%s: value longer than %zu bytes", k->name, k->size - 1);
			return SG_EINVAL;
		}
		if (k->check && k->check(v, err, errlen)) {
			char why[256];
			snprintf(why, sizeof(why), "%s", err);
			snprintf(err, errlen, "%s: %.200s", k->name, why); /* bounded for -Wformat-truncation at -O3 */
			return SG_EINVAL;
		}
		strcpy(field, v);
		return 0;
	}
	if (k->kind == KEY_POLICY) {
		if (strcmp(v, "drop_oldest") == 0)
			*(int *)field = SG_SLOW_DROP_OLDEST;
		else if (strcmp(v, "disconnect") == 0)
			*(int *)field = SG_SLOW_DISCONNECT;
		else {
			snprintf(err, errlen, "%s: expected drop_oldest or disconnect, got \"%s\"",
				 k->name, v);
			return SG_EINVAL;
		}
		return 0;
	}
	errno = 0;
	char *end;
	unsigned long long n = strtoull(v, &end, 10);
	if (!*v || *end || errno || v[0] == '-' || n < k->min || n > k->max) {
		snprintf(err, errlen, "%s: expected a whole number from %zu to %zu, got \"%s\"",
			 k->name, k->min, k->max, v);
		return SG_EINVAL;
	}
	*(size_t *)field = (size_t)n;
	return 0;
}

sg_config *sg_config_new(void)
{
	sg_config *cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		return NULL;
	char err[256];
	for (size_t i = 0; i < NKEYS; i++)
		if (key_set(cfg, &keys[i], keys[i].def, err, sizeof(err)))
			abort(); /* a default that does not parse is a programmer error */
	return cfg;
}

void sg_config_free(sg_config *cfg)
{
	free(cfg);
}

int sg_config_set(sg_config *cfg, const char *key, const char *value, char *err, size_t errlen)
{
	const key_spec *k = key_find(key);
	if (!k) {
		snprintf(err, errlen, "unknown key \"%s\"", key);
		return SG_ENOTFOUND;
	}
	return key_set(cfg, k, value, err, errlen);
}

/* The line of the first `"key"` in text[0..len), 0 when it is not
 * there: jansson keeps no positions for object members, so the text is
 * searched for the key's spelling. */
static int line_of_key(const char *text, size_t len, const char *key)
{
	char quoted[80];
	int n = snprintf(quoted, sizeof(quoted), "\"%s\"", key);
	size_t qn = n < (int)sizeof(quoted) ? (size_t)n : sizeof(quoted) - 1;
	int line = 1;
	for (size_t i = 0; i + qn <= len; i++) {
		if (memcmp(text + i, quoted, qn) == 0)
			return line;
		line += text[i] == '\n';
	}
	return 0;
}

static int value_text(json_t *v, char *out, size_t outlen)
{
	if (json_is_string(v))
		return snprintf(out, outlen, "%s", json_string_value(v)) >= (int)outlen;
	if (json_is_boolean(v))
		return snprintf(out, outlen, "%d", json_is_true(v)) >= (int)outlen;
	if (json_is_integer(v))
		return snprintf(out, outlen, "%lld", (long long)json_integer_value(v)) >= (int)outlen;
	return 1;
}

/* The whole file, NUL-terminated, its length in *len. Caller frees. */
static char *read_file(const char *path, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	sg_buf b = SG_BUF_INIT;
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (sg_buf_append(&b, chunk, n)) {
			sg_buf_free(&b);
			b.data = NULL;
			break;
		}
	fclose(f);
	if (!b.data && !err[0])
		snprintf(err, errlen, "%s: empty or unreadable", path);
	*len = b.len;
	return b.data;
}

int sg_config_load_text(sg_config *cfg, const char *text, size_t len, const char *name,
			char *err, size_t errlen)
{
	err[0] = '\0';
	json_error_t je;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	int rc = 0;
	if (!root) {
		snprintf(err, errlen, "%s:%d: invalid JSON: %s", name, je.line, je.text);
		rc = SG_EINVAL;
	} else if (!json_is_object(root)) {
		snprintf(err, errlen, "%s:1: the config must be a JSON object", name);
		rc = SG_EINVAL;
	} else {
		const char *key;
		json_t *v;
		json_object_foreach(root, key, v)
		{
			char val[600], why[300];
			const key_spec *k = key_find(key);
			if (strcmp(key, "upstreams") == 0) {
				if (!sg__config_upstreams(cfg, v, why, sizeof(why)))
					continue;
			} else if (!k || strchr(key, '-'))
				snprintf(why, sizeof(why), "unknown key \"%s\"", key);
			else if (value_text(v, val, sizeof(val)))
				snprintf(why, sizeof(why), "%s: expected a string, a number or a boolean", key);
			else if (key_set(cfg, k, val, why, sizeof(why)) == 0)
				continue;
			int line = line_of_key(text, len, key);
			snprintf(err, errlen, "%s:%d: %s", name, line ? line : 1, why);
			rc = SG_EINVAL;
			break;
		}
	}
	json_decref(root);
	return rc;
}

int sg_config_load_file(sg_config *cfg, const char *path, char *err, size_t errlen)
{
	err[0] = '\0';
	size_t len;
	char *text = read_file(path, &len, err, errlen);
	if (!text)
		return SG_EIO;
	int rc = sg_config_load_text(cfg, text, len, path, err, errlen);
	free(text);
	return rc;
}

int sg__config_file_line(const char *path, const char *key)
{
	char err[512] = "";
	size_t len;
	char *text = read_file(path, &len, err, sizeof(err));
	int line = text ? line_of_key(text, len, key) : 0;
	free(text);
	return line;
}

int sg_config_load_env(sg_config *cfg, char *err, size_t errlen)
{
	for (size_t i = 0; i < NKEYS; i++) {
		char var[80], why[300];
		int n = snprintf(var, sizeof(var), "STREAMGATE_%s", keys[i].name);
		for (int j = 11; j < n; j++)
			var[j] = (char)toupper((unsigned char)var[j]);
		const char *v = getenv(var);
		if (v && key_set(cfg, &keys[i], v, why, sizeof(why))) {
			snprintf(err, errlen, "%s: %s", var, why);
			return SG_EINVAL;
		}
	}
	return 0;
}

int sg__config_addr_split(const char *addr, char *host, size_t hostlen, int *port)
{
	const char *colon = strrchr(addr, ':');
	if (!colon || (size_t)(colon - addr) >= hostlen)
		return SG_EINVAL;
	char *end;
	long p = strtol(colon + 1, &end, 10);
	if (!colon[1] || *end || p < 0 || p > 65535)
		return SG_EINVAL;
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	*port = (int)p;
	return 0;
}

int sg__config_listen_split(const sg_config *cfg, char *host, size_t hostlen, int *port)
{
	return sg__config_addr_split(cfg->listen, host, hostlen, port);
}

void sg__config_usage(void *file)
{
	for (size_t i = 0; i < NKEYS; i++) {
		char flag[64];
		size_t n = strlen(keys[i].name);
		for (size_t j = 0; j <= n; j++)
			flag[j] = keys[i].name[j] == '_' ? '-' : keys[i].name[j];
		fprintf(file, "  --%-22s %s (default: %s)\n", flag, keys[i].help, keys[i].def);
	}
}

/* Nonzero when a and b hold the same value for k. */
static int key_equal(const key_spec *k, const sg_config *a, const sg_config *b)
{
	const char *fa = (const char *)a + k->offset, *fb = (const char *)b + k->offset;
	if (k->kind == KEY_TEXT)
		return strcmp(fa, fb) == 0;
	if (k->kind == KEY_POLICY)
		return *(const int *)fa == *(const int *)fb;
	return *(const size_t *)fa == *(const size_t *)fb;
}

void sg__config_apply_live(sg_config *dst, const sg_config *src)
{
	for (size_t i = 0; i < NKEYS; i++) {
		const key_spec *k = &keys[i];
		size_t n = k->kind == KEY_TEXT ? k->size : k->kind == KEY_POLICY ? sizeof(int) : sizeof(size_t);
		if (k->live)
			memcpy((char *)dst + k->offset, (const char *)src + k->offset, n);
	}
}

size_t sg__config_restart_keys(const sg_config *running, const sg_config *next,
			       const char **names, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < NKEYS; i++)
		if (!keys[i].live && !key_equal(&keys[i], running, next) && n < max)
			names[n++] = keys[i].name;
	return n;
}
