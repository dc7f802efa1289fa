/*
 * fuzz_id — message ids "MS-SEQ" as clients send them (Last-Event-ID,
 * ?last_event_id=, a published envelope's "id"): sg_id_parse,
 * sg_id_format, sg_id_accept, and resuming a channel from such an id.
 * Input: the id text (to the first NUL); its first 16 bytes are also an id
 * in binary. Checks: parse(format(x)) == x for any x, and for any text that
 * parses; formatting never grows the text; sg_id_accept agrees with parse
 * and gives an id after the last; ordering is antisymmetric; resuming from
 * the text (always when it parses, for half the others) is refused
 * exactly when it does not parse, and otherwise replays
 * JSON envelopes in increasing id order, all after the id unless a gap
 * was signalled first.
 */
#include <stdint.h>

#include "fuzz_world.h"

static void check_roundtrip(sg_id x)
{
	char text[SG_ID_TEXT_MAX];
	sg_id y;
	sg_id_format(x, text);
	SG_FUZZ_CHECK(strlen(text) < SG_ID_TEXT_MAX);
	SG_FUZZ_CHECK(sg_id_parse(text, &y) == 0 && sg_id_cmp(x, y) == 0);
}

/* Resumes "news" (three messages held) from last; checks the replay. */
static void check_resume(const char *last, int parses, sg_id after)
{
	sg_fuzz_world *w = sg_fuzz_world_new();
	for (int i = 0; i < 3; i++) {
		sg_publish_req req = {.channel = "news", .data = "m", .len = 1};
		SG_FUZZ_CHECK(sg_hub_publish(w->srv.hub, &req, NULL) == 0);
	}
	sg_stream *s = sg_fuzz_stream(w, &sg_transport_ndjson, 1);
	int rc = sg_stream_subscribe(s, "news", last);
	SG_FUZZ_CHECK(parses ? rc == 0 : rc == SG_EBADID);
	int gap = 0;
	sg_id prev = {0, 0};
	while (sg__stream_queued(s)) {
		sg_frame *f = sg__stream_peek(s, 0);
		json_error_t je;
		json_t *v = json_loadb((const char *)sg_frame_data(f), f->len, JSON_ALLOW_NUL, &je);
		SG_FUZZ_CHECK(json_is_object(v));
		const char *type = json_string_value(json_object_get(v, "type"));
		if (type) {
			SG_FUZZ_CHECK(strcmp(type, "gap") == 0 && sg_id_is_zero(prev));
			gap = 1;
		} else {
			sg_id id;
			SG_FUZZ_CHECK(
			    sg_id_parse(json_string_value(json_object_get(v, "id")), &id) == 0);
			SG_FUZZ_CHECK(sg_id_cmp(id, prev) > 0);
			SG_FUZZ_CHECK(gap || sg_id_cmp(id, after) > 0);
			prev = id;
		}
		json_decref(v);
		sg__stream_pop(s);
	}
	sg__stream_detach(s, 0);
	sg_fuzz_world_free(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
	sg_id bin = {0, 0}, parsed = {0, 0}, accepted;
	if (size >= 16) {
		memcpy(&bin.ms, in, 8);
		memcpy(&bin.seq, in + 8, 8);
	}
	check_roundtrip(bin);
	SG_FUZZ_CHECK(sg_id_cmp(bin, bin) == 0);

	char text[256];
	size_t n = size < sizeof(text) - 1 ? size : sizeof(text) - 1;
	memcpy(text, in, n);
	text[n] = '\0';
	int parses = sg_id_parse(text, &parsed) == 0;
	if (parses) {
		char again[SG_ID_TEXT_MAX];
		check_roundtrip(parsed);
		sg_id_format(parsed, again);
		SG_FUZZ_CHECK(strlen(again) <= strlen(text));
		SG_FUZZ_CHECK(sg_id_cmp(parsed, bin) == -sg_id_cmp(bin, parsed));
	}
	int rc = sg_id_accept(text, bin, (uint64_t)SG_FUZZ_NOW, &accepted);
	if (rc == 0) {
		SG_FUZZ_CHECK(parses && sg_id_cmp(accepted, parsed) == 0);
		SG_FUZZ_CHECK(sg_id_cmp(accepted, bin) > 0);
		SG_FUZZ_CHECK(accepted.ms <= (uint64_t)SG_FUZZ_NOW + 60000);
	} else {
		SG_FUZZ_CHECK(rc == SG_EINVAL || rc == SG_EID_STALE);
		SG_FUZZ_CHECK(rc == SG_EINVAL || parses);
	}
	if (bin.ms != UINT64_MAX) {
		sg_id next = sg_id_next(bin, (uint64_t)SG_FUZZ_NOW);
		SG_FUZZ_CHECK(sg_id_cmp(next, bin) > 0);
	}
	if (parses || (size && (in[size - 1] & 1))) /* a world costs; most texts do not parse */
		check_resume(text, parses, parsed);
	return 0;
}
