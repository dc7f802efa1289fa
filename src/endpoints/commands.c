/*
 * commands — what a WebSocket client of /channels/ may send: JSON
 * {"type":"subscribe"|"unsubscribe"|"publish", ...}. Each gets one JSON
 * reply on the same socket, an acknowledgement or an error, echoing the
 * client's "ref". Subscribing and publishing need the stream's rights
 * (its token's, or anonymous_*; README "Security"), and publishing the
 * ws_publish setting too. {"type":"refresh","token":...} replaces the
 * token behind the socket before it expires.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channels.h"
#include "core/json.h"
#include "server/rights.h"
#include "server/admit.h"

/* Sends {"type":TYPE,<fields>,"ref":REF} to s. fields may be "". */
static void reply(sg_stream *s, const sg_json_command *cmd, const char *type, const char *fields)
{
	sg_buf b = SG_BUF_INIT;
	sg_buf_printf(&b, "{\"type\":\"%s\"%s%s", type, *fields ? "," : "", fields);
	if (cmd->ref)
		sg_buf_printf(&b, ",\"ref\":%s", cmd->ref);
	sg_buf_puts(&b, "}");
	if (b.data)
		sg__stream_control(s, type, b.data, NULL);
	sg_buf_free(&b);
}

static void reply_error(sg_stream *s, const sg_json_command *cmd, const char *error,
			const char *detail)
{
	sg_buf f = SG_BUF_INIT;
	sg_buf_printf(&f, "\"error\":\"%s\",\"detail\":", error);
	if (sg_json_quote(&f, detail, strlen(detail)))
		sg_buf_puts(&f, "\"(detail not valid UTF-8)\""); /* as the HTTP side says it */
	reply(s, cmd, "error", f.data ? f.data : "");
	sg_buf_free(&f);
}

/* Sends {"type":TYPE,"channel":NAME<more>} — names are checked before and
 * need no escaping. more may be "". */
static void reply_channel(sg_stream *s, const sg_json_command *cmd, const char *type,
			  const char *more)
{
	sg_buf f = SG_BUF_INIT;
	sg_buf_printf(&f, "\"channel\":\"%s\"%s", cmd->channel, more);
	reply(s, cmd, type, f.data ? f.data : "");
	sg_buf_free(&f);
}

/* Nonzero when ws_publish ("*", "", or a comma list of names and
 * prefixes ending in '*') allows publishing to channel. */
static int publish_allowed(const char *rule, const char *channel)
{
	char list[sizeof(((sg_config *)0)->ws_publish)];
	snprintf(list, sizeof(list), "%s", rule);
	for (char *save, *p = strtok_r(list, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
		size_t n = strlen(p);
		if (n && p[n - 1] == '*' ? strncmp(channel, p, n - 1) == 0 : strcmp(channel, p) == 0)
			return 1;
	}
	return 0;
}

int sg_server_ws_may_publish(const sg_server *srv, const char *channel)
{
	return srv && channel && publish_allowed(srv->cfg.ws_publish, channel);
}

/* Nonzero (and the error replied) unless s holds right on the command's
 * channel; verb: "subscribe to" or "publish to". */
static int refused(sg_stream *s, const sg_json_command *cmd, sg_right right, const char *verb)
{
	char action[SG_CHANNEL_NAME_MAX + 40], detail[200];
	const char *error;
	snprintf(action, sizeof(action), "%s channel %s", verb, cmd->channel);
	if (!sg__stream_authorize(s, right, cmd->channel, action, &error, detail, sizeof(detail)))
		return 0;
	reply_error(s, cmd, error, detail);
	return 1;
}

static void do_subscribe(sg_stream *s, const sg_json_command *cmd)
{
	sg_client_error e;
	if (refused(s, cmd, SG_RIGHT_SUBSCRIBE, "subscribe to"))
		return;
	if (sg__stream_nsubs(s) >= SG_CHANNELS_PER_STREAM) {
		reply_error(s, cmd, "too_many_subscriptions", "at most 16 channels a connection");
		return;
	}
	if (sg__stream_nsubs(s) >= 1)
		sg__stream_set_tagged(s); /* several channels: say which */
	if (sg__channels_subscribe(s, cmd->channel, cmd->last_event_id, &e)) {
		reply_error(s, cmd, e.error, e.detail);
		return;
	}
	reply_channel(s, cmd, "subscribed", "");
}

static void do_unsubscribe(sg_stream *s, sg_server *srv, const sg_json_command *cmd)
{
	if (sg_hub_unsubscribe(srv->hub, s, cmd->channel)) {
		reply_error(s, cmd, "not_subscribed", "this socket is not subscribed to that channel");
		return;
	}
	reply_channel(s, cmd, "unsubscribed", "");
}

/* publish_rate, as for an HTTP publish: over it, an error reply with the
 * seconds to wait, and the socket stays open. */
static int rate_limited(sg_stream *s, sg_server *srv, const sg_json_command *cmd)
{
	int wait = sg__rate_take_stream(srv, s);
	if (!wait)
		return 0;
	char fields[160];
	snprintf(fields, sizeof(fields),
		 "\"error\":\"rate_limited\",\"detail\":\"this client publishes faster than "
		 "publish_rate allows\",\"retry_after\":%d",
		 wait);
	reply(s, cmd, "error", fields);
	return 1;
}

/* A WebSocket publish on its way: the command (its ref and channel for
 * the reply) and a ref on the stream, which may have ended meanwhile. */
typedef struct ws_publishing {
	sg_stream *s;
	sg_json_command cmd;
} ws_publishing;

static void ws_published(void *ud, const sg_publish_result *res, const sg_client_error *e)
{
	ws_publishing *w = ud;
	char more[SG_ID_TEXT_MAX + 48];
	if (!sg__stream_conn(w->s)) {
		/* the client left: nobody to tell */
	} else if (e) {
		reply_error(w->s, &w->cmd, e->error, e->detail);
	} else {
		snprintf(more, sizeof(more), ",\"id\":\"%s\",\"subscribers\":%zu", res->id,
			 res->subscribers);
		reply_channel(w->s, &w->cmd, "published", more);
	}
	sg_stream_unref(w->s);
	sg_json_command_free(&w->cmd);
	free(w);
}

/* Takes cmd's fields (cmd is left empty) when the publish starts. */
static void do_publish(sg_stream *s, sg_server *srv, sg_json_command *cmd)
{
	sg_publish_req p = {.channel = cmd->channel, .event = cmd->event, .data = cmd->data,
			    .len = cmd->len};
	sg_client_error e;
	ws_publishing *w;
	if (!cmd->data) {
		reply_error(s, cmd, "bad_command", "publish needs \"data\"");
		return;
	}
	if (refused(s, cmd, SG_RIGHT_PUBLISH, "publish to"))
		return;
	if (!sg_server_ws_may_publish(srv, cmd->channel)) {
		reply_error(s, cmd, "forbidden", "this server does not let WebSocket clients "
						 "publish to that channel (ws_publish)");
		return;
	}
	if (rate_limited(s, srv, cmd))
		return;
	if (sg__channels_publish_check(&p, &e)) {
		reply_error(s, cmd, e.error, e.detail);
		return;
	}
	if (!(w = malloc(sizeof(*w)))) {
		reply_error(s, cmd, "out_of_memory", "cannot publish");
		return;
	}
	w->s = sg_stream_ref(s);
	w->cmd = *cmd;
	*cmd = (sg_json_command){0};
	sg__channels_publish(srv, &p, ws_published, w);
}

/* After a refresh: the channels the new rights do not cover are left,
 * each said with {"type":"unsubscribed","channel":NAME,"reason":"forbidden"}. */
static void drop_forbidden(sg_stream *s, sg_server *srv)
{
	for (size_t i = sg__stream_nsubs(s); i-- > 0;) {
		char name[SG_CHANNEL_NAME_MAX + 1], detail[8];
		const char *error;
		snprintf(name, sizeof(name), "%s", sg_hub_channel_name(sg__stream_sub_at(s, i)->channel));
		if (!sg__stream_authorize(s, SG_RIGHT_SUBSCRIBE, name, "", &error, detail, sizeof(detail)) ||
		    sg_hub_unsubscribe(srv->hub, s, name))
			continue;
		char json[SG_CHANNEL_NAME_MAX + 64];
		snprintf(json, sizeof(json),
			 "{\"type\":\"unsubscribed\",\"channel\":\"%s\",\"reason\":\"forbidden\"}", name);
		sg__stream_control(s, "unsubscribed", json, NULL);
	}
}

/* A new token for the socket: its rights replace the old ones (channels
 * they do not cover are left), and the stream ends when it expires
 * instead. An invalid one is an error reply; the old token still holds
 * until its own expiry. */
static void do_refresh(sg_stream *s, sg_server *srv, const sg_json_command *cmd)
{
	const char *detail;
	long long expires_in;
	if (!cmd->token) {
		reply_error(s, cmd, "bad_command", "refresh needs \"token\"");
		return;
	}
	if (sg__rights_refresh(s, cmd->token, &detail, &expires_in)) {
		reply_error(s, cmd, "invalid_token", detail);
		return;
	}
	char more[48];
	if (expires_in >= 0)
		snprintf(more, sizeof(more), "\"expires_in\":%lld", (expires_in + 999) / 1000);
	else
		snprintf(more, sizeof(more), "\"expires_in\":null");
	reply(s, cmd, "refreshed", more);
	drop_forbidden(s, srv);
}

void sg__channels_command(sg_stream *s, const char *data, size_t len, void *ud)
{
	sg_server *srv = ud;
	sg_json_command cmd;
	char err[200];
	if (sg_json_parse_command(data, len, &cmd, err, sizeof(err))) {
		reply_error(s, &cmd, "bad_json", err);
		sg_json_command_free(&cmd);
		return;
	}
	int known = strcmp(cmd.type, "subscribe") == 0 || strcmp(cmd.type, "unsubscribe") == 0 ||
		    strcmp(cmd.type, "publish") == 0;
	if (strcmp(cmd.type, "refresh") == 0)
		do_refresh(s, srv, &cmd);
	else if (!known)
		reply_error(s, &cmd, "unknown_type", "type is subscribe, unsubscribe or publish");
	else if (!cmd.channel || !sg_channel_name_valid(cmd.channel))
		reply_error(s, &cmd, "bad_channel", SG_BAD_CHANNEL);
	else if (strcmp(cmd.type, "subscribe") == 0)
		do_subscribe(s, &cmd);
	else if (strcmp(cmd.type, "unsubscribe") == 0)
		do_unsubscribe(s, srv, &cmd);
	else
		do_publish(s, srv, &cmd);
	sg_json_command_free(&cmd);
}
