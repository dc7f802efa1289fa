/*
 * fuzz_publish — a POST /channels/news body, as text or as a JSON envelope
 * {"data","event","id"}, through sg_json_parse_publish and the channels
 * endpoint's real publish path (memory broker, hub, an ndjson subscriber).
 * Input: byte 0 bit 0 says Content-Type: application/json; the rest is the
 * body. Checks: an accepted envelope re-serializes to JSON that parses to
 * the same fields; an accepted publish answers valid JSON with an id that
 * parses, and the subscriber gets a JSON envelope carrying exactly the data,
 * event and id published; a refused one answers 4xx/5xx with a JSON error.
 */
#include <stdint.h>

#include "endpoints/channels.c"
#include "fuzz_world.h"
#include "server/reply.h"

static int same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* The parser alone: accepted input re-serializes and parses back equal. */
static void check_envelope(const char *body, size_t len)
{
	sg_json_publish p, q;
	char err[200] = "";
	if (sg_json_parse_publish(body, len, &p, err, sizeof(err))) {
		SG_FUZZ_CHECK(err[0] && !p.data && !p.event && !p.id);
		sg_json_publish_free(&p);
		return;
	}
	SG_FUZZ_CHECK(p.data && p.data[p.len] == '\0');
	sg_buf b = SG_BUF_INIT;
	SG_FUZZ_CHECK(sg_buf_puts(&b, "{\"data\":") == 0);
	SG_FUZZ_CHECK(sg_json_quote(&b, p.data, p.len) == 0);
	if (p.event) {
		SG_FUZZ_CHECK(sg_buf_puts(&b, ",\"event\":") == 0);
		SG_FUZZ_CHECK(sg_json_quote(&b, p.event, strlen(p.event)) == 0);
	}
	if (p.id) {
		SG_FUZZ_CHECK(sg_buf_puts(&b, ",\"id\":") == 0);
		SG_FUZZ_CHECK(sg_json_quote(&b, p.id, strlen(p.id)) == 0);
	}
	SG_FUZZ_CHECK(sg_buf_puts(&b, "}") == 0);
	SG_FUZZ_CHECK(sg_json_parse_publish(b.data, b.len, &q, err, sizeof(err)) == 0);
	SG_FUZZ_CHECK(q.len == p.len && memcmp(q.data, p.data, p.len) == 0);
	SG_FUZZ_CHECK(same(q.event, p.event) && same(q.id, p.id));
	sg_json_publish_free(&q);
	sg_json_publish_free(&p);
	sg_buf_free(&b);
}

/* A string member of o equals want (NULL: the member is null). */
static void check_member(json_t *o, const char *key, const char *want, size_t len)
{
	json_t *v = json_object_get(o, key);
	if (!want) {
		SG_FUZZ_CHECK(json_is_null(v));
		return;
	}
	SG_FUZZ_CHECK(json_is_string(v) && json_string_length(v) == len &&
	              memcmp(json_string_value(v), want, len) == 0);
}

/* The answer of an accepted publish and what the subscriber got. */
static void check_published(sg_response *resp, sg_stream *sub, const char *data, size_t len,
                            const char *event)
{
	json_error_t je;
	json_t *ans = json_loadb(resp->body.data, resp->body.len, 0, &je);
	SG_FUZZ_CHECK(json_is_object(ans));
	json_t *id = json_object_get(ans, "id");
	sg_id parsed;
	SG_FUZZ_CHECK(json_is_string(id) && sg_id_parse(json_string_value(id), &parsed) == 0);
	SG_FUZZ_CHECK(json_integer_value(json_object_get(ans, "subscribers")) == 1);
	SG_FUZZ_CHECK(sg__stream_queued(sub) == 1);
	sg_frame *f = sg__stream_peek(sub, 0);
	SG_FUZZ_CHECK(f->len > 0 && sg_frame_data(f)[f->len - 1] == '\n');
	json_t *env = json_loadb((const char *)sg_frame_data(f), f->len - 1, JSON_ALLOW_NUL, &je);
	SG_FUZZ_CHECK(json_is_object(env));
	check_member(env, "channel", "news", 4);
	check_member(env, "data", data, len);
	check_member(env, "event", event, event ? strlen(event) : 0);
	check_member(env, "id", json_string_value(id), json_string_length(id));
	json_decref(env);
	json_decref(ans);
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
	if (size < 1)
		return 0;
	int is_json = in[0] & 1;
	const char *body = (const char *)in + 1;
	size_t len = size - 1;
	if (is_json)
		check_envelope(body, len);

	sg_fuzz_world *w = sg_fuzz_world_new();
	sg_stream *sub = sg_fuzz_stream(w, &sg_transport_ndjson, 1);
	SG_FUZZ_CHECK(sg_stream_subscribe(sub, "news", NULL) == 0);
	char path[] = "/channels/news";
	sg_request req = {.path = path, .is_json = is_json};
	sg_response resp = {0};
	sg_endpoint_channels.post(&w->srv, &req, body, len, &resp);
	if (resp.deferred) { /* the memory broker answers before the call returns */
		sg_reply *r = resp.deferred;
		SG_FUZZ_CHECK(sg__reply_attach(r, NULL, NULL) == 1);
		sg_buf_free(&resp.body);
		sg__reply_take(r, &resp);
		SG_FUZZ_CHECK(resp.status >= 200);
	}
	if (resp.status == 0 || resp.status == 200) {
		sg_json_publish env = {0};
		char err[200];
		if (is_json)
			SG_FUZZ_CHECK(sg_json_parse_publish(body, len, &env, err, sizeof(err)) ==
			              0);
		check_published(&resp, sub, is_json ? env.data : body, is_json ? env.len : len,
		                env.event);
		sg_json_publish_free(&env);
	} else {
		SG_FUZZ_CHECK(resp.status >= 400 && resp.status <= 599);
		json_error_t je;
		json_t *ans = json_loadb(resp.body.data, resp.body.len, 0, &je);
		SG_FUZZ_CHECK(json_is_string(json_object_get(ans, "error")));
		json_decref(ans);
		SG_FUZZ_CHECK(sg__stream_queued(sub) == 0);
	}
	sg_buf_free(&resp.body);
	sg__stream_detach(sub, 0);
	sg_fuzz_world_free(w);
	return 0;
}
