/*
 * upstream — upstream mode's private view: one proxied request to a
 * backend, whose body is parsed into messages and sent to one client's
 * stream (plain), or published into a channel "stream.ID" that clients
 * subscribe to and resume from (durable: durable.c).
 */
#ifndef SG_UPSTREAM_UPSTREAM_H
#define SG_UPSTREAM_UPSTREAM_H

#include "client.h"
#include "grip.h"
#include "parse.h"
#include "server/server.h"

#define SG_UP_ID_LEN 16 /* hex digits of a durable stream's id */
#define SG_UP_CHANNEL_PREFIX "stream."
#define SG_UP_ERROR_BODY_MAX 65536 /* a non-2xx answer passed through, at most */

/* A GRIP hold of one request (grip.c): its instructions and state. */
typedef struct sg_grip_state {
	sg_grip_instr in;
	long long last_us; /* hold-stream: sg_mono_us() of the last write (keep-alive) */
	sg_buf answer;	   /* hold-response: the message that answers */
	unsigned answered : 1;
} sg_grip_state;

/* One proxied request. Owned by its client's stream (plain: freed after
 * the stream closes) or by the worker's durables list (durable: freed
 * when its channel expires, is deleted, or the worker stops). */
typedef struct sg_upstream {
	sg_server *srv;
	const sg_upstream_cfg *cfg; /* borrowed from srv->cfg */
	sg_up_client client;
	sg_stream
	    *s;     /* the client's stream (a ref) until the head went out; plain: until the end */
	int format; /* resolved from the head for auto */
	sg_up_sse sse;
	sg_up_ndjson ndjson;
	int status; /* the upstream's; 0 before its head */
	char content_type[128];
	sg_buf error_body; /* a non-2xx answer's body, bounded */
	sg_grip_state *gs; /* a GRIP hold (owned), or NULL */
	unsigned ended : 1, paused : 1, drain_check : 1, freeing : 1;
	/* a WebSocket's preflight (preflight.c): the upgrade's answer until
	 * sent; parked from a 2xx head until the stream adopts u */
	struct sg_reply *pre;
	unsigned parked : 1, adopted : 1;
	sg_buf early;    /* parked: body bytes that came with the head */
	int parked_done; /* parked: 1 + how the request ended, or 0 */
	/* durable */
	int durable;
	int ephemeral;      /* a plain stream read by long-poll: durable while polled (durable.c) */
	int64_t last_poll;  /* ephemeral: sg_mono_us() of the last poll for it */
	struct sg_timer *idle; /* ephemeral: the check for polls that stopped */
	char id[SG_UP_ID_LEN + 1];
	char channel[sizeof(SG_UP_CHANNEL_PREFIX) + SG_UP_ID_LEN];
	struct sg_timer *ttl;
	struct sg_upstream *prev, *next; /* srv->durables */
} sg_upstream;

/* Where a message of u goes: the client's stream, or the channel. */
void sg__upstream_emit(sg_upstream *u, const char *event, const char *id, const char *data,
                       size_t len);

/* Answers a stream whose head waits (held) with status, ct (static) and
 * body instead (HTTP/1); a WebSocket or HTTP/2 client, whose head is out,
 * gets error_json as an "error" message and the end. Loop thread. */
void sg__upstream_refuse(sg_stream *s, int status, const char *ct, const char *body, size_t len,
                         const char *error_json);
/* The same with the message the others get instead: msg (event, may be
 * NULL), then the end. */
void sg__upstream_answer(sg_stream *s, int status, const char *ct, const char *body, size_t len,
                         const char *event, const char *msg, size_t msglen);

/* upstream_auth.c: the gateway's own token check of cfg->auth; 0 to go
 * on, nonzero with s failed (401/403). */
int sg__upstream_admit(sg_stream *s, const sg_upstream_cfg *cfg);
/* The same for a WebSocket upgrade's preflight: 0, or resp holds the
 * refusal. */
int sg__upstream_admit_request(const sg_server *srv, const sg_request *req,
                               const sg_upstream_cfg *cfg, sg_response *resp);

/* grip.c. Appends the Grip-Sig header line the backend request carries
 * (none without grip_key or with "grip": false). 0 or SG_ENOMEM. */
int sg__grip_request(sg_buf *out, const sg_upstream_cfg *cfg);
/* Reads the head's Grip-* instructions: 1 when u holds its client
 * (u->gs set; hold-stream's head goes out now), 0 when not GRIP. */
int sg__grip_head(sg_upstream *u, const sg_up_head *h);
/* Nonzero while u's body is a hold-response's timeout answer (kept). */
int sg__grip_collects(const sg_upstream *u);
/* The body is complete: the client is held on the channels. */
void sg__grip_hold(sg_upstream *u);
void sg__grip_free(sg_upstream *u);

/* The configured upstream serving path (borrowed from srv), or NULL. */
const sg_upstream_cfg *sg__upstream_for(const sg_server *srv, const char *path);
/* Builds the request to u's backend from req and starts it. 0, or an
 * SG_E* code (out of memory: nothing started, u unchanged). */
int sg__upstream_start(sg_upstream *u, const sg_request *req, int tls);

/* preflight.c: the endpoint's ws_preflight (sg_endpoint). */
void sg__upstream_ws_preflight(sg_server *srv, sg_request *req, sg_response *resp);
/* A 2xx head arrived for a preflight: parks u (its read paused) and lets
 * the upgrade go on. */
void sg__preflight_ready(sg_upstream *u);
/* Answers the upgrade with status, ct (static or u's) and body instead. */
void sg__preflight_refuse(sg_upstream *u, int status, const char *ct, const char *body,
                          size_t len);
/* The request's pre_free: frees u unless a stream adopted it. */
void sg__preflight_free(void *u);

/* durable.c: makes u durable (an id, its channel, listed on srv) and
 * subscribes s to the channel. 0, or nonzero with s failed. An ephemeral
 * u (a plain stream asked by long-poll) also gets an idle check: no poll
 * for 2 x longpoll_timeout_ms cancels the request, and its channel stays
 * only that long after the end. */
int sg__durable_begin(sg_upstream *u, sg_stream *s);
/* The upstream finished (how: "end", or an error JSON already sent). */
void sg__durable_finished(sg_upstream *u);
/* A filter for streams of upstream messages: ends the stream after an
 * "end" or "error" message, and keeps those out of plain text. */
int sg__upstream_end_filter(sg_stream *s, sg_chunk *c, void *ud);
/* Frees u: its client, parsers and refs. */
void sg__upstream_free(sg_upstream *u);
/* Frees every durable stream of srv (the worker stops). */
void sg__durables_free(sg_server *srv);

#endif
