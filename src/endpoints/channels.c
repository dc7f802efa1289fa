/*
 * channels — the built-in pub/sub endpoint: GET /channels/NAME[,NAME...]
 * subscribes with any transport, POST publishes, DELETE deletes, and
 * /channels/NAME/info describes. The subscribe side is an ordinary stream
 * handler on the public API, as an embedding program would write one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/utf8.h"
#include "channels.h"
#include "server/reply.h"
#include "server/request.h"
#include "server/rights.h"

#define PREFIX "/channels/"

static int channels_match(const sg_server *srv, const char *path)
{
	(void)srv;
	return strncmp(path, PREFIX, strlen(PREFIX)) == 0;
}

static const char *channel_of(const sg_request *req)
{
	return sg_request_path(req) + strlen(PREFIX);
}

static int fail(sg_stream *s, const sg_client_error *e)
{
	sg_stream_fail(s, e->status, e->error, e->detail);
	return -1;
}

int sg__channels_subscribe(sg_stream *s, const char *name, const char *last_id,
			   sg_client_error *e)
{
	int rc = sg_stream_subscribe(s, name, last_id);
	*e = (sg_client_error){0, NULL, NULL};
	if (rc == SG_EINVAL)
		*e = (sg_client_error){400, "bad_channel", SG_BAD_CHANNEL};
	else if (rc == SG_EBADID)
		*e = (sg_client_error){400, "bad_last_event_id",
				       "last_event_id must be a message id: MS-SEQ, or 0"};
	else if (rc == SG_ETOOBIG)
		*e = (sg_client_error){400, "too_many_channels",
				       "at most 16 channels a connection, and max_channels in all"};
	else if (rc)
		*e = (sg_client_error){503, "out_of_memory", "cannot subscribe"};
	return rc;
}

/* Fails s unless it may subscribe to every valid name of list ("a,b,c");
 * malformed names are left for the subscription to refuse. */
static int may_subscribe_all(sg_stream *s, const char *list)
{
	for (const char *p = list; *p;) {
		char name[SG_CHANNEL_NAME_MAX + 1], action[SG_CHANNEL_NAME_MAX + 40], detail[200];
		const char *error;
		size_t n = strcspn(p, ",");
		if (n <= SG_CHANNEL_NAME_MAX) {
			memcpy(name, p, n);
			name[n] = '\0';
			snprintf(action, sizeof(action), "subscribe to channel %s", name);
			int status = sg_channel_name_valid(name)
					     ? sg__stream_authorize(s, SG_RIGHT_SUBSCRIBE, name, action,
								    &error, detail, sizeof(detail))
					     : 0;
			if (status) {
				fail(s, &(sg_client_error){status, error, detail});
				return -1;
			}
		}
		p += n + (p[n] == ',');
	}
	return 0;
}

/* GET /channels/a,b,c: every transport; several channels (or ?format=json)
 * make every frame a JSON envelope naming its channel. */
static void channels_subscribe(sg_stream *s, const sg_request *req, void *ud)
{
	const char *list = channel_of(req);
	const char *format = sg_request_query(req, "format");
	/* the header first: a browser's EventSource sends it on every reconnect,
	 * while the query in its URL stays the one it was made with */
	const char *last = sg_request_header(req, "last-event-id");
	sg_client_error e;
	if (!last)
		last = sg_request_query(req, "last_event_id");
	if (format && strcmp(format, "json") != 0 && strcmp(format, "plain") != 0) {
		fail(s, &(sg_client_error){400, "bad_format", "format is json or plain"});
		return;
	}
	if (may_subscribe_all(s, list))
		return;
	if (strchr(list, ',') || (format && strcmp(format, "json") == 0))
		sg__stream_set_tagged(s);
	if (sg__channels_subscribe(s, list, last, &e))
		fail(s, &e);
	else
		sg_stream_on_message(s, sg__channels_command, ud);
}

int sg__channels_publish_check(const sg_publish_req *p, sg_client_error *e)
{
	*e = (sg_client_error){0, NULL, NULL};
	if (!sg_channel_name_valid(p->channel))
		*e = (sg_client_error){400, "bad_channel", SG_BAD_CHANNEL};
	else if (!sg_utf8_valid(p->data, p->len))
		*e = (sg_client_error){400, "bad_encoding", "the message must be UTF-8 text"};
	else if (!sg_event_name_valid(p->event))
		*e = (sg_client_error){400, "bad_event", "event must be a non-empty line"};
	return e->status;
}

/* A publish on its way through the broker. */
typedef struct publishing {
	sg_server *srv;
	sg_channels_published_fn done;
	void *ud;
} publishing;

sg_client_error sg__channels_publish_error(int rc)
{
	if (rc == SG_EID_STALE)
		return (sg_client_error){409, "stale_id", "id must be after the last id given"};
	if (rc == SG_EINVAL)
		return (sg_client_error){400, "bad_id",
					 "id must be MS-SEQ and at most a minute ahead of the clock"};
	if (rc == SG_ETOOBIG)
		return (sg_client_error){503, "too_many_channels", "the server holds max_channels"};
	if (rc == SG_EIO)
		return (sg_client_error){503, "broker_unavailable",
					 "the broker cannot be reached: nothing was published"};
	if (rc == SG_EREPLICAS)
		return (sg_client_error){503, "not_replicated",
					 "stored, but fewer replicas than redis_wait_replicas "
					 "acknowledged it in time: it may be lost in a failover"};
	return (sg_client_error){503, "out_of_memory", "cannot publish"};
}

static void published(void *ud, int rc, const sg_publish_result *res)
{
	publishing *p = ud;
	if (rc) {
		sg_client_error e = sg__channels_publish_error(rc);
		p->done(p->ud, NULL, &e);
	} else {
		atomic_fetch_add(&p->srv->published, 1);
		p->done(p->ud, res, NULL);
	}
	free(p);
}

void sg__channels_publish(sg_server *srv, const sg_publish_req *p, sg_channels_published_fn done,
			  void *ud)
{
	publishing *ctx = malloc(sizeof(*ctx));
	if (!ctx) {
		sg_client_error e = sg__channels_publish_error(SG_ENOMEM);
		done(ud, NULL, &e);
		return;
	}
	*ctx = (publishing){srv, done, ud};
	sg_broker_publish(srv->broker, p, published, ctx);
}

/* The channel a deferred answer is about. */
typedef struct pending_answer {
	sg_reply *r;
	char channel[SG_CHANNEL_NAME_MAX + 1];
} pending_answer;

/* Defers resp for channel: NULL (resp holds a 503) when out of memory. */
static pending_answer *answer_later(sg_response *resp, const char *channel)
{
	pending_answer *a = malloc(sizeof(*a));
	if (!a) {
		sg__response_error(resp, 503, "out_of_memory", "cannot wait for the answer");
		return NULL;
	}
	snprintf(a->channel, sizeof(a->channel), "%s", channel);
	if (!(a->r = sg__response_defer(resp))) {
		free(a);
		return NULL;
	}
	return a;
}

static void answer_now(pending_answer *a)
{
	sg__reply_send(a->r);
	free(a);
}

/* {"channel":NAME, then what follows is the caller's. */
static void channel_json(sg_buf *b, const char *name)
{
	sg_buf_puts(b, "{\"channel\":");
	sg_json_quote(b, name, strlen(name));
}

static void post_published(void *ud, const sg_publish_result *res, const sg_client_error *e)
{
	pending_answer *a = ud;
	sg_response *r = &a->r->resp;
	if (e) {
		sg__response_error(r, e->status, e->error, e->detail);
	} else {
		channel_json(&r->body, a->channel);
		sg_buf_printf(&r->body, ",\"id\":\"%s\",\"subscribers\":%zu}", res->id,
			      res->subscribers);
	}
	answer_now(a);
}

static void channels_publish(sg_server *srv, const sg_request *req, const char *body, size_t len,
			     sg_response *r)
{
	const char *name = channel_of(req);
	sg_publish_req p = {.channel = name, .data = body, .len = len};
	sg_json_publish env = {0};
	sg_client_error e;
	char err[200];
	pending_answer *a;
	if (sg_channel_name_valid(name)) {
		snprintf(err, sizeof(err), "publish to channel %s", name);
		if (sg__authorize(srv, req, SG_RIGHT_PUBLISH, name, err, r))
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
	if (sg__channels_publish_check(&p, &e))
		sg__response_error(r, e.status, e.error, e.detail);
	else if ((a = answer_later(r, name)))
		sg__channels_publish(srv, &p, post_published, a);
	sg_json_publish_free(&env);
}

static void removed(void *ud, int rc, size_t subscribers)
{
	pending_answer *a = ud;
	sg_response *r = &a->r->resp;
	if (rc == SG_EIO) {
		sg__response_error(r, 503, "broker_unavailable", "the broker cannot be reached");
	} else if (rc) {
		sg__response_error(r, 404, "no_such_channel", "the channel does not exist");
	} else {
		channel_json(&r->body, a->channel);
		sg_buf_printf(&r->body, ",\"deleted\":true,\"subscribers\":%zu}", subscribers);
	}
	answer_now(a);
}

static void channels_delete(sg_server *srv, const sg_request *req, sg_response *r)
{
	const char *name = channel_of(req);
	char action[SG_CHANNEL_NAME_MAX + 24];
	pending_answer *a;
	if (!sg_channel_name_valid(name)) {
		sg__response_error(r, 400, "bad_channel", SG_BAD_CHANNEL);
		return;
	}
	snprintf(action, sizeof(action), "delete channel %s", name);
	if (!sg__authorize(srv, req, SG_RIGHT_ADMIN, NULL, action, r) && (a = answer_later(r, name)))
		sg_broker_remove(srv->broker, name, removed, a);
}

const sg_endpoint sg_endpoint_channels = {
	.name = "channels",
	.match = channels_match,
	.methods = SG_M_GET | SG_M_POST | SG_M_DELETE,
	.allow = "GET, HEAD, POST, DELETE, OPTIONS",
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

/* An id as a JSON value: "MS-SEQ", or null when zero. */
static void id_json(sg_id id, char *out)
{
	char text[SG_ID_TEXT_MAX];
	sg_id_format(id, text);
	if (sg_id_is_zero(id))
		strcpy(out, "null");
	else
		sprintf(out, "\"%s\"", text);
}

static void info_answer(void *ud, int rc, const sg_channel_info *ci)
{
	pending_answer *a = ud;
	sg_response *r = &a->r->resp;
	char first[SG_ID_TEXT_MAX + 2], last[SG_ID_TEXT_MAX + 2];
	if (rc == SG_EIO) {
		sg__response_error(r, 503, "broker_unavailable", "the broker cannot be reached");
	} else if (rc) {
		sg__response_error(r, 404, "no_such_channel", "the channel does not exist");
	} else {
		id_json(ci->first_id, first);
		id_json(ci->last_id, last);
		channel_json(&r->body, a->channel);
		sg_buf_printf(&r->body,
			      ",\"subscribers\":%zu,\"history\":{\"count\":%zu,\"bytes\":%zu,"
			      "\"first_id\":%s,\"last_id\":%s}}",
			      ci->subscribers, ci->history_count, ci->history_bytes, first, last);
	}
	answer_now(a);
}

static void info_get(sg_server *srv, const sg_request *req, sg_response *r)
{
	const char *path = channel_of(req);
	char name[SG_CHANNEL_NAME_MAX + 1];
	size_t n = strlen(path) - 5;
	pending_answer *a;
	if (n > SG_CHANNEL_NAME_MAX) {
		sg__response_error(r, 400, "bad_channel", SG_BAD_CHANNEL);
		return;
	}
	memcpy(name, path, n);
	name[n] = '\0';
	if (!sg_channel_name_valid(name)) {
		sg__response_error(r, 400, "bad_channel", SG_BAD_CHANNEL);
		return;
	}
	char action[SG_CHANNEL_NAME_MAX + 40];
	snprintf(action, sizeof(action), "read the info of channel %s", name);
	if (!sg__authorize(srv, req, SG_RIGHT_SUBSCRIBE, name, action, r) && (a = answer_later(r, name)))
		sg_broker_info(srv->broker, name, info_answer, a);
}

const sg_endpoint sg_endpoint_channel_info = {
	.name = "channel_info",
	.match = info_match,
	.methods = SG_M_GET,
	.allow = "GET, HEAD, OPTIONS",
	.get = info_get,
};
