/*
 * fuzz_channels — the channel list of GET /channels/a,b,c (already
 * percent-decoded by the HTTP/1 parser, which fuzz_h1 fuzzes)
 * through the channels endpoint's subscribe handler: list splitting
 * (sg_stream_subscribe) and name validation (sg_channel_name_valid).
 * Input: the list. Checks, against a plain reference of the documented
 * rules (1 to 16 names of 1 to 128 [A-Za-z0-9_.:-], no empty ones): the
 * same lists are accepted, a refused one fails the stream with a 400 and
 * the reason, and an accepted one subscribes the stream once to each
 * distinct name, tagged exactly when it names several.
 */
#include <stdint.h>

#include "endpoints/channels.c"
#include "fuzz_world.h"

#define LIST_MAX 4096

static int ref_name_valid(const char *p, size_t n)
{
	if (n < 1 || n > SG_CHANNEL_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-",
		            p[i]) ||
		    p[i] == '\0')
			return 0;
	return 1;
}

/* The reference: 0, SG_EINVAL or SG_ETOOBIG, and the distinct names. */
static int ref_subscribe(const char *list, size_t *distinct)
{
	size_t len = strlen(list), n = 0, start = 0;
	const char *name[SG_SUBSCRIBE_MAX + 1];
	size_t nlen[SG_SUBSCRIBE_MAX + 1];
	int empty = 0, bad = 0;
	*distinct = 0;
	if (len >= SG_SUBSCRIBE_MAX * (SG_CHANNEL_NAME_MAX + 1))
		return SG_ETOOBIG;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && list[i] != ',')
			continue;
		if (i == start) {
			empty = 1;
		} else {
			if (n == SG_SUBSCRIBE_MAX)
				return SG_ETOOBIG;
			name[n] = list + start;
			nlen[n] = i - start;
			bad |= !ref_name_valid(name[n], nlen[n]);
			n++;
		}
		start = i + 1;
	}
	if (n == 0 || empty || bad)
		return SG_EINVAL;
	for (size_t k = 0; k < n; k++) {
		size_t j = 0;
		while (j < k && !(nlen[j] == nlen[k] && memcmp(name[j], name[k], nlen[k]) == 0))
			j++;
		*distinct += j == k;
	}
	return 0;
}

/* Each name of list has exactly one subscriber: s. */
static void check_subscribed(sg_fuzz_world *w, const char *list)
{
	char copy[LIST_MAX + 1], name[SG_CHANNEL_NAME_MAX + 1];
	snprintf(copy, sizeof(copy), "%s", list);
	for (char *save, *p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
		sg_channel_info ci;
		snprintf(name, sizeof(name), "%s", p);
		SG_FUZZ_CHECK(sg_hub_channel_info(w->srv.hub, name, &ci) == 0);
		SG_FUZZ_CHECK(ci.subscribers == 1);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
	char path[sizeof(PREFIX) + LIST_MAX];
	size_t n = size < LIST_MAX ? size : LIST_MAX;
	memcpy(path, PREFIX, strlen(PREFIX));
	memcpy(path + strlen(PREFIX), in, n);
	path[strlen(PREFIX) + n] = '\0'; /* the list ends at a NUL, as a C path does */
	const char *list = path + strlen(PREFIX);
	size_t distinct;
	int want = ref_subscribe(list, &distinct);

	sg_fuzz_world *w = sg_fuzz_world_new();
	sg_stream *s = sg_fuzz_stream(w, &sg_transport_sse, 0);
	sg_request req = {.path = path};
	sg_endpoint_channels.stream(s, &req, &w->srv);
	const char *error, *detail;
	int status = sg__stream_failure(s, &error, &detail);
	if (want == 0) {
		SG_FUZZ_CHECK(status == 0);
		SG_FUZZ_CHECK(sg__stream_nsubs(s) == distinct);
		SG_FUZZ_CHECK(sg_hub_channel_count(w->srv.hub) == distinct);
		SG_FUZZ_CHECK(!!sg__stream_tagged(s) == (strchr(list, ',') != NULL));
		check_subscribed(w, list);
	} else {
		SG_FUZZ_CHECK(status == 400);
		SG_FUZZ_CHECK(
		    strcmp(error, want == SG_EINVAL ? "bad_channel" : "too_many_channels") == 0);
		SG_FUZZ_CHECK(sg__stream_nsubs(s) == 0);
	}
	sg__stream_detach(s, 0);
	sg_fuzz_world_free(w);
	return 0;
}
