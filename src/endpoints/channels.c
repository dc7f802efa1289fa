/*
 * channels — the built-in pub/sub endpoint: GET /channels/NAME subscribes
 * with any transport, POST /channels/NAME publishes. The subscribe side is
 * an ordinary stream handler, as an embedding program would write one.
 */
#include <stdio.h>
#include <string.h>

#include "core/json.h"
#include "core/utf8.h"
#include "server/request.h"
#include "server/server.h"

#define PREFIX "/channels/"
#define BAD_CHANNEL "channel names are 1 to 128 characters of A-Z a-z 0-9 _ . : -"

static int channels_match(const sg_server *srv, const char *path)
{
	(void)srv;
	return strncmp(path, PREFIX, strlen(PREFIX)) == 0;
}

static const char *channel_of(const sg_request *req)
{
	return sg_request_path(req) + strlen(PREFIX);
}

static void channels_subscribe(sg_stream *s, const sg_request *req, void *ud)
{
	(void)ud;
	const char *name = channel_of(req);
	if (!sg_channel_name_valid(name)) {
		sg_stream_fail(s, 400, "bad_channel", BAD_CHANNEL);
		return;
	}
	const char *last = sg_request_query(req, "last_event_id");
	if (!last)
		last = sg_request_header(req, "last-event-id");
	int rc = sg_stream_subscribe(s, name, last);
	if (rc == SG_EBADID)
		sg_stream_fail(s, 400, "bad_last_event_id",
			       "last_event_id must be a message id: a decimal number");
	else if (rc == SG_ETOOBIG)
		sg_stream_fail(s, 503, "too_many_channels", "the server holds max_channels");
	else if (rc)
		sg_stream_fail(s, 503, "out_of_memory", "cannot subscribe");
}

static int has_newline(const char *s)
{
	return s && strpbrk(s, "\r\n") != NULL;
}

static void publish_answer(sg_response *r, const char *channel, const sg_publish_result *res)
{
	r->status = 200;
	sg_buf_puts(&r->body, "{\"channel\":");
	sg_json_quote(&r->body, channel, strlen(channel));
	sg_buf_printf(&r->body, ",\"id\":\"%s\",\"subscribers\":%zu}", res->id, res->subscribers);
}

static void channels_publish(sg_server *srv, const sg_request *req, const char *body, size_t len,
			     sg_response *r)
{
	const char *name = channel_of(req);
	sg_publish_req p = {.channel = name, .data = body, .len = len};
	sg_json_publish env = {0};
	char err[200];
	if (!sg_channel_name_valid(name)) {
		sg__response_error(r, 400, "bad_channel", BAD_CHANNEL);
		return;
	}
	if (req->is_json) {
		if (sg_json_parse_publish(body, len, &env, err, sizeof(err))) {
			sg__response_error(r, 400, "bad_json", err);
			return;
		}
		p.event = env.event;
		p.id = env.id;
		p.data = env.data;
		p.len = env.len;
	}
	sg_publish_result res;
	int rc = SG_EINVAL;
	if (!sg_utf8_valid(p.data, p.len))
		sg__response_error(r, 400, "bad_encoding", "the message must be UTF-8 text");
	else if (has_newline(p.event) || (p.event && !*p.event))
		sg__response_error(r, 400, "bad_event", "event must be a non-empty line");
	else if ((rc = sg_broker_publish(srv->broker, &p, &res)) == SG_EID_STALE)
		sg__response_error(r, 409, "stale_id",
				   "id must be greater than the channel's last id");
	else if (rc == SG_EINVAL)
		sg__response_error(r, 400, "bad_id", "id must be a decimal number");
	else if (rc == SG_ETOOBIG)
		sg__response_error(r, 503, "too_many_channels", "the server holds max_channels");
	else if (rc)
		sg__response_error(r, 503, "out_of_memory", "cannot publish");
	else {
		atomic_fetch_add(&srv->published, 1);
		publish_answer(r, name, &res);
	}
	sg_json_publish_free(&env);
}

static void channels_delete(sg_server *srv, const sg_request *req, sg_response *r)
{
	const char *name = channel_of(req);
	size_t subscribers;
	if (!sg_channel_name_valid(name)) {
		sg__response_error(r, 400, "bad_channel", BAD_CHANNEL);
		return;
	}
	if (sg_hub_delete(srv->hub, name, &subscribers)) {
		sg__response_error(r, 404, "no_such_channel", "the channel does not exist");
		return;
	}
	sg_buf_puts(&r->body, "{\"channel\":");
	sg_json_quote(&r->body, name, strlen(name));
	sg_buf_printf(&r->body, ",\"deleted\":true,\"subscribers\":%zu}", subscribers);
}

const sg_endpoint sg_endpoint_channels = {
	.name = "channels",
	.match = channels_match,
	.methods = SG_M_GET | SG_M_POST | SG_M_DELETE,
	.allow = "GET, POST, DELETE",
	.stream = channels_subscribe,
	.post = channels_publish,
	.del = channels_delete,
};

/* /channels/NAME/info */
static int info_match(const sg_server *srv, const char *path)
{
	size_t n = strlen(path);
	return channels_match(srv, path) && n > strlen(PREFIX) + 5 &&
	       strcmp(path + n - 5, "/info") == 0;
}

static void info_get(sg_server *srv, const sg_request *req, sg_response *r)
{
	const char *path = channel_of(req);
	char name[SG_CHANNEL_NAME_MAX + 1];
	size_t n = strlen(path) - 5;
	sg_channel_info ci;
	if (n > SG_CHANNEL_NAME_MAX) {
		sg__response_error(r, 400, "bad_channel", BAD_CHANNEL);
		return;
	}
	memcpy(name, path, n);
	name[n] = '\0';
	if (!sg_channel_name_valid(name)) {
		sg__response_error(r, 400, "bad_channel", BAD_CHANNEL);
		return;
	}
	if (sg_hub_channel_info(srv->hub, name, &ci)) {
		sg__response_error(r, 404, "no_such_channel", "the channel does not exist");
		return;
	}
	sg_buf_puts(&r->body, "{\"channel\":");
	sg_json_quote(&r->body, name, n);
	sg_buf_printf(&r->body,
		      ",\"subscribers\":%zu,\"history\":{\"count\":%zu,\"bytes\":%zu,"
		      "\"first_id\":\"%llu\",\"last_id\":\"%llu\"}}",
		      ci.subscribers, ci.history_count, ci.history_bytes,
		      (unsigned long long)ci.first_id, (unsigned long long)ci.last_id);
}

const sg_endpoint sg_endpoint_channel_info = {
	.name = "channel_info",
	.match = info_match,
	.methods = SG_M_GET,
	.allow = "GET",
	.get = info_get,
};
