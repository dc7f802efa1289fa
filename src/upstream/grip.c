/*
 * grip — what an upstream's Grip-* instructions do to the client's stream
 * once the response head says so: hold-stream (the body, then the
 * channels' messages, with Grip-Keep-Alive bytes after N idle seconds)
 * and hold-response (long-poll: the first message on the channels, or the
 * upstream's own answer at Grip-Timeout). And the Grip-Sig the backend
 * request carries. Loop thread; owned by the upstream request (u->gs).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/id.h"
#include "core/message.h"
#include "endpoints/channels.h"
#include "upstream.h"

int sg__grip_request(sg_buf *out, const sg_upstream_cfg *cfg)
{
	if (!cfg->grip || !cfg->grip_key[0])
		return 0;
	return sg_grip_sig_header(out, cfg->grip_key, strlen(cfg->grip_key), sg_wall_ms() / 1000);
}

int sg__grip_head(sg_upstream *u, const sg_up_head *h)
{
	sg_grip_state *gs;
	sg_grip_instr in;
	if (!u->cfg->grip || u->durable || !h->raw)
		return 0; /* the Grip-* headers are dropped, never passed on */
	sg_grip_instr_parse(h->raw, h->raw_len, &in);
	if (in.hold == SG_GRIP_NONE || !in.channels[0] || !(gs = calloc(1, sizeof(*gs))))
		return 0;
	gs->in = in;
	u->gs = gs;
	u->format = SG_UP_TEXT;
	if (gs->in.hold == SG_GRIP_STREAM && u->s) /* the body goes out first */
		sg__stream_unhold(u->s, NULL, 0, (sg_id){0, 0});
	return 1;
}

int sg__grip_collects(const sg_upstream *u)
{
	return u->gs && u->gs->in.hold == SG_GRIP_RESPONSE;
}

/* ---- hold-stream: keep-alive ---------------------------------------------- */

static void wrote(sg_stream *s, void *ud)
{
	(void)s;
	((sg_upstream *)ud)->gs->last_us = sg_mono_us();
}

static void keepalive_tick(sg_stream *s, void *ud)
{
	sg_upstream *u = ud;
	sg_grip_state *gs = u->gs;
	long long every = (long long)gs->in.keepalive_s * 1000000,
	          idle = sg_mono_us() - gs->last_us;
	unsigned next = gs->in.keepalive_s * 1000;
	if (idle >= every - 50000) { /* due (a timer may fire a little early) */
		sg_frame *f = sg_frame_copy(gs->in.keepalive, gs->in.keepalive_len);
		if (f && !sg__stream_queued(s))
			sg__stream_push(s, f);
		sg_frame_unref(f);
		gs->last_us = sg_mono_us();
	} else {
		next = (unsigned)((every - idle) / 1000) + 1;
	}
	sg_stream_after(s, next, keepalive_tick, u);
}

/* ---- hold-response ------------------------------------------------------------- */

static const char *type_of(const sg_upstream *u)
{
	return u->content_type[0] ? u->content_type : "application/octet-stream";
}

/* Answers the held client with status and body: a whole HTTP/1 answer, or
 * (WebSocket, HTTP/2: their head is out) the body as one message and the end. */
static void answer(sg_upstream *u, int status, const char *body, size_t len)
{
	sg__stream_peek_held(u->s, NULL, NULL);
	sg__upstream_answer(u->s, status, type_of(u), body, len, NULL, body, len);
}

static void answer_message(sg_stream *s, void *ud)
{
	sg_upstream *u = ud;
	(void)s;
	answer(u, 200, u->gs->answer.data ? u->gs->answer.data : "", u->gs->answer.len);
}

static void answer_timeout(sg_stream *s, void *ud)
{
	sg_upstream *u = ud;
	(void)s;
	if (u->gs->answered)
		return;
	u->gs->answered = 1;
	answer(u, u->status, u->error_body.data ? u->error_body.data : "", u->error_body.len);
}

/* The first message on the channels answers; the rest are dropped. */
static int response_peek(sg_stream *s, const sg_msg *m, void *ud)
{
	sg_upstream *u = ud;
	if (u->gs->answered)
		return 1;
	u->gs->answered = 1;
	if (sg_buf_append(&u->gs->answer, m->data, m->len) ||
	    sg_stream_after(s, 1, answer_message, u)) /* not from inside the delivery */
		u->gs->answered = 0;
	return 1;
}

/* ---- the hold begins: the upstream's body is complete ------------------------------ */

void sg__grip_hold(sg_upstream *u)
{
	sg_grip_state *gs = u->gs;
	sg_stream *s = u->s;
	sg_client_error e;
	if (!s)
		return;
	if (gs->in.hold == SG_GRIP_RESPONSE) {
		sg__stream_peek_held(s, response_peek, u);
		sg_stream_after(s, gs->in.timeout_s * 1000, answer_timeout, u);
	} else if (strchr(gs->in.channels, ',')) {
		sg__stream_set_tagged(s); /* several channels: frames name theirs */
	}
	/* the backend authorised the client for these channels: no right is asked */
	if (sg__channels_subscribe(s, gs->in.channels, NULL, &e)) {
		char msg[160];
		snprintf(msg, sizeof(msg), "{\"type\":\"error\",\"reason\":\"%s\"}", e.error);
		if (gs->in.hold == SG_GRIP_RESPONSE) {
			gs->answered = 1;
			answer(u, e.status, msg, strlen(msg));
			return;
		}
		sg_stream_event(s, "error", NULL, msg, strlen(msg));
		sg_stream_close(s);
		return;
	}
	if (gs->in.hold == SG_GRIP_STREAM && gs->in.keepalive_s) {
		gs->last_us = sg_mono_us();
		if (!sg_stream_after_chunk(s, wrote, u))
			sg_stream_after(s, gs->in.keepalive_s * 1000, keepalive_tick, u);
	}
}

void sg__grip_free(sg_upstream *u)
{
	if (!u->gs)
		return;
	sg_buf_free(&u->gs->answer);
	free(u->gs);
	u->gs = NULL;
}
