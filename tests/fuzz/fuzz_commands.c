/*
 * fuzz_commands — WebSocket command frames ({"type":"subscribe"|
 * "unsubscribe"|"publish",...}) through sg_json_parse_command and the real
 * command handler (commands.c, channels.c, memory broker, hub) on a socket
 * already subscribed to "lobby". Input: byte 0 picks the ws_publish rule,
 * the rest is up to 8 frames split at '\n'. Checks: a parsed command
 * always has a type; every frame the socket gets back (replies, gaps,
 * published messages) is one JSON object, and each command gets a reply
 * whose "ref" is the client's own.
 */
#include <stdint.h>

#include "endpoints/channels.c"
#include "endpoints/commands.c"
#include "fuzz_world.h"

static const char *const publish_rules[] = {"*", "", "lobby,news:*", "news:*,a"};

/* The parser alone: success means a type; failure leaves at most ref. */
static void check_parse(const char *text, size_t len)
{
	sg_json_command c;
	char err[200] = "";
	int rc = sg_json_parse_command(text, len, &c, err, sizeof(err));
	if (rc) {
		SG_FUZZ_CHECK(err[0] && !c.type && !c.channel && !c.data && !c.event &&
		              !c.last_event_id);
	} else {
		SG_FUZZ_CHECK(c.type != NULL);
		SG_FUZZ_CHECK(!c.data || c.data[c.len] == '\0');
	}
	if (c.ref) { /* echoed verbatim into replies: it must be JSON itself */
		json_error_t je;
		json_t *v = json_loads(c.ref, JSON_DECODE_ANY, &je);
		SG_FUZZ_CHECK(v != NULL);
		json_decref(v);
	}
	sg_json_command_free(&c);
}

/* After one command: every frame is JSON, and one is the reply to it. */
static void check_replies(sg_stream *s, const char *text, size_t len)
{
	json_error_t je;
	json_t *cmd = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	json_t *ref = json_is_object(cmd) ? json_object_get(cmd, "ref") : NULL;
	int replied = 0;
	while (sg__stream_queued(s)) {
		sg_frame *f = sg__stream_peek(s, 0);
		json_t *v = json_loadb((const char *)sg_frame_data(f), f->len, JSON_ALLOW_NUL, &je);
		SG_FUZZ_CHECK(json_is_object(v));
		const char *type = json_string_value(json_object_get(v, "type"));
		if (type && (strcmp(type, "error") == 0 || strcmp(type, "subscribed") == 0 ||
		             strcmp(type, "unsubscribed") == 0 || strcmp(type, "published") == 0)) {
			replied++;
			json_t *echo = json_object_get(v, "ref");
			SG_FUZZ_CHECK(ref ? json_equal(ref, echo) : echo == NULL);
		}
		json_decref(v);
		sg__stream_pop(s);
	}
	SG_FUZZ_CHECK(replied == 1);
	json_decref(cmd);
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
	if (size < 1)
		return 0;
	sg_fuzz_world *w = sg_fuzz_world_new();
	snprintf(w->srv.cfg.ws_publish, sizeof(w->srv.cfg.ws_publish), "%s",
	         publish_rules[in[0] % (sizeof(publish_rules) / sizeof(publish_rules[0]))]);
	sg_stream *s = sg_fuzz_stream(w, &sg_transport_ws, 1);
	SG_FUZZ_CHECK(sg_stream_subscribe(s, "lobby", NULL) == 0);
	sg__stream_set_tagged(s); /* every frame JSON, as with several channels */

	const char *p = (const char *)in + 1, *end = (const char *)in + size;
	for (int n = 0; n < 8 && p <= end; n++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)((nl ? nl : end) - p);
		check_parse(p, len);
		sg__channels_command(s, p, len, &w->srv);
		check_replies(s, p, len);
		if (!nl)
			break;
		p = nl + 1;
	}
	sg__stream_detach(s, 0);
	sg_fuzz_world_free(w);
	return 0;
}
