/*
 * fuzz_claims — the claim and pattern parsing of src/auth: a token's
 * payload checked and turned into rights (sg_principal_from_claims), and a
 * setting's pattern list (sg_patterns_parse). Input: a first line used as
 * a channel name to probe and as a setting's text, the rest the payload
 * JSON. Checks: every list produced holds only valid patterns ('*' only
 * last, no {sub} left); a refused payload names its check; matching the
 * normalized setting agrees with matching its text as written; nothing
 * leaks (ASan).
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/auth/patterns.c"
#include "../../src/auth/principal.c"
#include "fuzz_check.h"

/* Every entry of a normalized list is a valid pattern. */
static void check_list(const char *list)
{
	SG_FUZZ_CHECK(list != NULL);
	for (const char *p = list; *p;) {
		size_t n = strcspn(p, ",");
		SG_FUZZ_CHECK(n > 0 && pattern_valid(p, n));
		SG_FUZZ_CHECK(!memmem(p, n, SUB, strlen(SUB)));
		p += n + (p[n] == ',');
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *nl = memchr(data, '\n', size);
	size_t first = nl ? (size_t)(nl - (const char *)data) : size;
	char line[512];
	if (first >= sizeof(line))
		first = sizeof(line) - 1;
	memcpy(line, data, first);
	line[first] = '\0';

	sg_claim_rules rules = {.issuer = "iss", .audience = "aud", .leeway_ms = 1000};
	const char *why = NULL;
	const char *json = nl ? nl + 1 : "";
	size_t jlen = nl ? size - first - 1 : 0;
	sg_principal *p = sg_principal_from_claims(json, jlen, &rules, 1700000000000LL, &why);
	if (p) {
		check_list(p->subscribe);
		check_list(p->publish);
		SG_FUZZ_CHECK(strlen(p->sub) <= SG_SUB_MAX);
		sg_principal_may(p, SG_RIGHT_SUBSCRIBE, line);
		sg_principal_may(p, SG_RIGHT_PUBLISH, line);
		sg_principal *d = sg_principal_dup(p);
		SG_FUZZ_CHECK(!d || sg_principal_may(d, SG_RIGHT_SUBSCRIBE, line) ==
					    sg_principal_may(p, SG_RIGHT_SUBSCRIBE, line));
		sg_principal_free(d);
		sg_principal_free(p);
	} else {
		SG_FUZZ_CHECK(why && *why);
	}

	char err[200];
	sg_buf b = SG_BUF_INIT;
	if (strlen(line) == first && *line && sg_patterns_parse(line, &b, err, sizeof(err)) == 0) {
		check_list(b.data);
		/* probe with each entry's own text and a suffix of it */
		static const char *const probes[] = {"news", "a", "x.y", "sports.golf", "*"};
		for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
			SG_FUZZ_CHECK(strcmp(line, "none") == 0 ||
				      sg_patterns_match(b.data, probes[i]) ==
					      sg_patterns_match(line, probes[i]));
	}
	sg_buf_free(&b);
	return 0;
}
