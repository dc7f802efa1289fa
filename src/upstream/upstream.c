/*
 * upstream — the endpoint of upstream mode: a request on a configured
 * path is proxied to its backend with the client (client.c); the answer's
 * head decides between passing an error through and streaming; the body
 * is parsed by format and each message goes to the client's stream as a
 * channel message would, so every transport renders it. Never blocks:
 * everything runs from the worker's loop.
 */
#include "upstream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/utf8.h"
#include "endpoints/channels.h"
#include "server/conn.h"
#include "server/request.h"
#include "server/respond.h"

/* The configured upstream serving path, or NULL. */
const sg_upstream_cfg *sg__upstream_for(const sg_server *srv, const char *path)
{
	for (size_t i = 0; i < srv->cfg.nupstreams; i++) {
		const sg_upstream_cfg *u = &srv->cfg.upstreams[i];
		if (u->prefix ? strncmp(path, u->path, strlen(u->path)) == 0
		              : strcmp(path, u->path) == 0)
			return u;
	}
	return NULL;
}

static int upstream_match(const sg_server *srv, const char *path)
{
	return sg__upstream_for(srv, path) != NULL;
}

/* ---- the request to the backend ------------------------------------------ */

/* Adds the client's headers named in list ("A, B") that it sent. */
static int forward_headers(sg_buf *out, const sg_request *req, const char *list)
{
	int rc = 0;
	for (const char *p = list; *p;) {
		char name[64];
		size_t skip = strspn(p, " ,"), n;
		p += skip;
		n = strcspn(p, " ,");
		if (n && n < sizeof(name) && !(n == 8 && strncasecmp(p, "grip-sig", 8) == 0)) {
			/* a client's Grip-Sig never reaches the backend */
			memcpy(name, p, n);
			name[n] = '\0';
			const char *v = sg_request_header(req, name);
			if (v)
				rc |= sg_buf_printf(out, "%s: %s\r\n", name, v);
		}
		p += n;
	}
	return rc;
}

/* The whole request: method, target unchanged, Host, forwarded headers,
 * X-Forwarded-*, and the body. One request per connection. */
static int request_build(sg_buf *out, const sg_upstream_cfg *cfg, const sg_request *req, int tls)
{
	const char *method = strcmp(req->method, "POST") == 0 ? "POST" : "GET";
	int rc =
	    sg_buf_printf(out, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, req->target, cfg->host);
	rc |= forward_headers(out, req, cfg->forward_headers);
	rc |= sg_buf_printf(out, "X-Forwarded-For: %s\r\nX-Forwarded-Proto: %s\r\n",
	                    sg__client_ip(req), tls ? "https" : "http");
	rc |= sg__grip_request(out, cfg);
	if (req->body)
		rc |= sg_buf_printf(out, "Content-Length: %zu\r\n", req->body_len);
	rc |= sg_buf_puts(out, "Connection: close\r\n\r\n");
	if (req->body)
		rc |= sg_buf_append(out, req->body, req->body_len);
	return rc ? SG_ENOMEM : 0;
}

/* ---- messages ------------------------------------------------------------ */

/* Reads on once the client's queue is below half of queue_bytes. */
static void drain_check(sg_stream *s, void *ud)
{
	sg_upstream *u = ud;
	u->drain_check = 0;
	if (!u->paused || u->freeing)
		return;
	if (sg__stream_queued_bytes(s) * 2 <= u->srv->cfg.queue_bytes) {
		u->paused = 0;
		sg_up_client_pause(&u->client, 0);
	} else if (!sg_stream_after(s, 10, drain_check, u)) {
		u->drain_check = 1;
	}
}

/* A slow client pauses a plain upstream's read (a durable one reads at
 * its own pace into the channel's history). */
static void backpressure(sg_upstream *u)
{
	if (u->durable || !u->s || u->paused ||
	    sg__stream_queued_bytes(u->s) * 2 <= u->srv->cfg.queue_bytes)
		return;
	u->paused = 1;
	sg_up_client_pause(&u->client, 1);
	if (!u->drain_check && !sg_stream_after(u->s, 10, drain_check, u))
		u->drain_check = 1;
}

static void published(void *ud, const sg_publish_result *res, const sg_client_error *e)
{
	(void)ud;
	(void)res;
	(void)e; /* a broker that cannot take it: the message is lost, as a publish's would be */
}

void sg__upstream_emit(sg_upstream *u, const char *event, const char *id, const char *data,
                       size_t len)
{
	if (!sg_utf8_valid(data, len)) {
		atomic_fetch_add(&u->srv->upstream_malformed, 1);
		return;
	}
	if (u->durable) {
		sg_publish_req p = {
		    .channel = u->channel, .event = event, .data = data, .len = len};
		sg__channels_publish(u->srv, &p, published, NULL);
	} else if (u->s) {
		sg_stream_event(u->s, event, id, data, len);
	}
}

static void on_message(void *ud, const char *event, const char *id, const char *data, size_t len)
{
	sg__upstream_emit(ud, event, id, data, len);
}

/* ---- the client's callbacks ------------------------------------------------ */

/* An error before the stream began: plain HTTP/1 clients get it as the
 * answer; others (WebSocket, HTTP/2: their head is out) an error message. */
void sg__upstream_refuse(sg_stream *s, int status, const char *ct, const char *body, size_t len,
                         const char *error_json)
{
	sg__upstream_answer(s, status, ct, body, len, "error", error_json, strlen(error_json));
}

void sg__upstream_answer(sg_stream *s, int status, const char *ct, const char *body, size_t len,
                         const char *event, const char *msg, size_t msglen)
{
	sg_response *r = calloc(1, sizeof(*r));
	if (r) {
		sg__response_init(r);
		r->status = status;
		r->content_type = ct;
		if (sg_buf_append(&r->body, body, len) || sg__conn_answer_late(s, r)) {
			sg__response_free(r);
			free(r);
			r = NULL;
		}
	}
	if (!r) {
		sg__stream_unhold(s, NULL, 0, (sg_id){0, 0});
		sg_stream_event(s, event, NULL, msg, msglen);
		sg_stream_close(s);
	}
}

static void answer_error(sg_upstream *u, int status, const char *ct, const char *body, size_t len,
                         const char *error_json)
{
	if (u->pre)
		sg__preflight_refuse(u, status, ct, body, len);
	else if (u->s)
		sg__upstream_refuse(u->s, status, ct, body, len, error_json);
}

static void json_error(sg_upstream *u, int status, const char *error, const char *detail)
{
	char body[512];
	int n =
	    snprintf(body, sizeof(body), "{\"error\":\"%s\",\"detail\":\"%s\",\"upstream\":\"%s\"}",
	             error, detail, u->cfg->url);
	char msg[256];
	snprintf(msg, sizeof(msg), "{\"type\":\"error\",\"reason\":\"%s\"}", error);
	answer_error(u, status, "application/json", body, (size_t)n, msg);
}

static const char *type_of(const char *ct)
{
	return ct && *ct ? ct : "application/octet-stream";
}

/* The stream's head may go out: it shows the upstream's stream. */
static void began(sg_upstream *u)
{
	if (!u->s)
		return;
	sg__stream_unhold(u->s, NULL, 0, (sg_id){0, 0});
	if (u->durable) { /* from now on the channel carries it */
		sg_stream_unref(u->s);
		u->s = NULL;
	}
}

static void on_head(void *ud, const sg_up_head *h)
{
	sg_upstream *u = ud;
	u->status = h->status;
	snprintf(u->content_type, sizeof(u->content_type), "%s",
	         h->content_type ? h->content_type : "");
	if (h->status < 200 || h->status > 299)
		return; /* its body is read, then passed through */
	if (!u->ephemeral && sg__grip_head(u, h)) {
		/* GRIP: held on channels once the body is in (grip.c); a
		 * WebSocket gets its 101 first */
		if (u->pre)
			sg__preflight_ready(u);
		return;
	}
	u->format =
	    u->cfg->format == SG_UP_AUTO ? (int)sg_up_format_of(h->content_type) : u->cfg->format;
	if (u->pre)
		return sg__preflight_ready(u); /* the WebSocket's 101 first */
	began(u);
}

static void on_data(void *ud, const char *p, size_t n)
{
	sg_upstream *u = ud;
	unsigned long before;
	if (u->parked) { /* the bytes that came with the head (the read is paused) */
		sg_buf_append(&u->early, p, n);
		return;
	}
	if (u->status < 200 || u->status > 299 || sg__grip_collects(u)) {
		size_t room = SG_UP_ERROR_BODY_MAX - u->error_body.len;
		sg_buf_append(&u->error_body, p, n < room ? n : room);
		return;
	}
	if (u->format == SG_UP_SSE) {
		before = u->sse.malformed;
		sg_up_sse_feed(&u->sse, p, n, on_message, u);
		atomic_fetch_add(&u->srv->upstream_malformed, u->sse.malformed - before);
	} else if (u->format == SG_UP_NDJSON) {
		before = u->ndjson.malformed;
		sg_up_ndjson_feed(&u->ndjson, p, n, on_message, u);
		atomic_fetch_add(&u->srv->upstream_malformed, u->ndjson.malformed - before);
	} else {
		sg__upstream_emit(u, NULL, NULL, p, n);
	}
	backpressure(u);
}

#define END_JSON "{\"type\":\"end\"}"
#define CLOSED_JSON "{\"type\":\"error\",\"reason\":\"upstream_closed\"}"

static void on_done(void *ud, sg_up_end how)
{
	sg_upstream *u = ud;
	u->ended = 1;
	if (u->parked) { /* told once a stream adopts u */
		u->parked_done = 1 + (int)how;
		return;
	}
	if (how == SG_UP_UNREACHABLE && !u->status)
		json_error(u, 502, "upstream_unreachable",
		           "the upstream refused or could not be reached");
	else if (how == SG_UP_TIMEOUT)
		json_error(u, 504, "upstream_timeout",
		           "no response head within upstream_timeout_ms");
	else if (how == SG_UP_TLS)
		json_error(u, 502, "upstream_tls", u->client.why);
	else if (how == SG_UP_BAD_HEAD)
		json_error(u, 502, "bad_upstream_response",
		           "the upstream's response head is malformed or too big");
	else if (u->status < 200 || u->status > 299) {
		char msg[96];
		snprintf(msg, sizeof(msg),
		         "{\"type\":\"error\",\"reason\":\"upstream_status\",\"status\":%d}",
		         u->status);
		answer_error(u, u->status, type_of(u->content_type),
		             u->error_body.data ? u->error_body.data : "", u->error_body.len, msg);
	} else if (u->gs && how == SG_UP_COMPLETE) {
		sg__grip_hold(u);
	} else if (sg__grip_collects(u)) {
		json_error(u, 502, "upstream_closed",
		           "the upstream's answer to a GRIP hold was cut");
	} else {
		if (u->format == SG_UP_NDJSON)
			sg_up_ndjson_finish(&u->ndjson, on_message, u);
		if (how == SG_UP_COMPLETE)
			sg__upstream_emit(u, "end", NULL, END_JSON, strlen(END_JSON));
		else
			sg__upstream_emit(u, "error", NULL, CLOSED_JSON, strlen(CLOSED_JSON));
	}
	if (u->durable && u->s) { /* an error answered the client: the channel has nothing */
		sg_stream_unref(u->s);
		u->s = NULL;
	}
	if (u->durable)
		sg__durable_finished(u);
}

static const sg_up_client_cb client_cb = {on_head, on_data, on_done};

/* ---- lifetime --------------------------------------------------------------- */

static void free_task(void *arg)
{
	sg_upstream *u = arg;
	sg_up_client_close(&u->client);
	sg_up_sse_free(&u->sse);
	sg_up_ndjson_free(&u->ndjson);
	sg_buf_free(&u->error_body);
	sg__grip_free(u);
	sg_buf_free(&u->early);
	if (u->s)
		sg_stream_unref(u->s);
	free(u);
}

void sg__upstream_free(sg_upstream *u)
{
	if (!u || u->freeing)
		return;
	u->freeing = 1;
	sg_up_client_close(&u->client); /* no callback from now on */
	/* never inside the client's or the stream's own callback */
	if (u->srv->loop.post(&u->srv->loop, free_task, u))
		free_task(u);
}

/* A plain upstream's client left (or the stream ended): the request ends too. */
static void client_gone(sg_stream *s, void *ud)
{
	(void)s;
	sg__upstream_free(ud);
}

static void end_now(sg_stream *s, void *ud)
{
	(void)ud;
	sg_stream_close(s);
}

int sg__upstream_end_filter(sg_stream *s, sg_chunk *c, void *ud)
{
	(void)ud;
	const char *ev = sg_chunk_event(c);
	if (!ev ||
	    (strcmp(ev, "end") != 0 && strcmp(ev, "error") != 0 && strcmp(ev, "stream") != 0))
		return 0;
	if (strcmp(ev, "stream") != 0)
		sg_stream_after(s, 1, end_now, NULL); /* once this one is queued */
	/* plain text carries the upstream's bytes only */
	const sg_transport *t = sg__stream_transport_of(s);
	return strcmp(t->name, "chunked") == 0 && !sg__stream_tagged(s);
}

int sg__upstream_start(sg_upstream *u, const sg_request *req, int tls)
{
	sg_server *srv = u->srv;
	sg_buf out = SG_BUF_INIT;
	if (request_build(&out, u->cfg, req, tls)) {
		sg_buf_free(&out);
		return SG_ENOMEM;
	}
	sg_up_target to = {(const struct sockaddr *)&u->cfg->addr, u->cfg->addrlen,
	                   srv->group->up_tls[u->cfg - srv->cfg.upstreams],
	                   u->cfg->tls_server_name};
	if (sg_up_client_start(&u->client, srv->evloop, &to, &out,
	                       (unsigned)srv->cfg.upstream_timeout_ms, &client_cb, u))
		on_done(u, SG_UP_UNREACHABLE);
	return 0;
}

/* s takes u: its messages, its end. 0, or nonzero with s failed. */
static int attach(sg_upstream *u, sg_stream *s)
{
	u->s = sg_stream_ref(s);
	sg_stream_before_chunk(s, sg__upstream_end_filter, NULL);
	return u->cfg->durable || u->ephemeral ? sg__durable_begin(u, s)
	                                       : sg_stream_after_close(s, client_gone, u);
}

/* A WebSocket's stream takes the request its preflight started: the
 * upstream's head came (the 101 went out on it), its read was paused. */
static void adopt(sg_upstream *u, sg_stream *s)
{
	u->adopted = 1;
	if (attach(u, s)) {
		sg__upstream_free(u);
		return;
	}
	if (sg__grip_collects(u))
		sg__stream_hold(s); /* a GRIP response hold: held until its answer */
	else
		began(u);
	u->parked = 0;
	sg_buf early = u->early;
	u->early = (sg_buf)SG_BUF_INIT;
	if (early.len)
		on_data(u, early.data, early.len);
	sg_buf_free(&early);
	if (u->parked_done)
		on_done(u, (sg_up_end)(u->parked_done - 1));
	else if (!u->paused)
		sg_up_client_pause(&u->client, 0);
}

static void upstream_open(sg_stream *s, const sg_request *req, void *ud)
{
	sg_server *srv = ud;
	const sg_conn *c = sg__stream_conn(s);
	if (req->pre && req->pre_free == sg__preflight_free && !((sg_upstream *)req->pre)->adopted)
		return adopt(req->pre, s); /* admitted in its preflight */
	if (sg__upstream_admit(s, sg__upstream_for(srv, req->path)))
		return; /* the upstream's "auth" refused it */
	sg_upstream *u = calloc(1, sizeof(*u));
	if (!u) {
		sg_stream_fail(s, 503, "out_of_memory", "cannot proxy the request");
		return;
	}
	u->srv = srv;
	u->cfg = sg__upstream_for(srv, req->path);
	/* long-poll ends each answer with a batch: a plain stream is kept for
	 * the next poll (GET /streams/ID) as an ephemeral durable one */
	u->ephemeral = !u->cfg->durable && sg__stream_transport_of(s)->wire == SG_WIRE_HTTP_ONESHOT;
	sg__stream_hold(s); /* the head (and the durable's first message) waits for the upstream's */
	if (attach(u, s)) {
		sg__stream_unhold(s, NULL, 0, (sg_id){0, 0});
		free_task(u);
		return;
	}
	if (sg__upstream_start(u, req, c && (c->via_h2 || c->via_tls)))
		on_done(u, SG_UP_UNREACHABLE); /* out of memory: as unreachable, 502 */
}

const sg_endpoint sg_endpoint_upstream = {
    .name = "upstream",
    .match = upstream_match,
    .methods = SG_M_GET | SG_M_POST,
    .allow = "GET, HEAD, POST, OPTIONS",
    .stream = upstream_open,
    .post_streams = 1,
    .ws_preflight = sg__upstream_ws_preflight,
};
