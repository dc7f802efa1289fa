/*
 * fuzz_grip — the GRIP parsers (src/upstream/grip_parse.c) on hostile
 * input: a publish API body, the Grip-* headers of an upstream's response
 * head, and base64. The first byte picks which. Invariants: no crash or
 * leak; every item handed on is a valid channel with UTF-8 data; a bad
 * batch hands on none; headers give bounded values; base64 that decodes
 * re-encodes to itself.
 */
#include <openssl/evp.h>
#include <string.h>

#include "core/hub.h"
#include "core/utf8.h"
#include "fuzz_check.h"
#include "upstream/grip.h"

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size);

static int seen_item(void *ud, const sg_grip_item *it)
{
	size_t *n = ud;
	SG_FUZZ_CHECK(sg_channel_name_valid(it->channel));
	SG_FUZZ_CHECK(it->close || (it->data && sg_utf8_valid(it->data, it->len)));
	(*n)++;
	return 0;
}

static void items(const char *p, size_t n)
{
	sg_buf scratch = SG_BUF_INIT;
	const char *error = NULL;
	char detail[200];
	size_t seen = 0;
	int rc =
	    sg_grip_items_parse(p, n, &scratch, seen_item, &seen, &error, detail, sizeof(detail));
	SG_FUZZ_CHECK(rc == 0 ? seen > 0 && seen <= SG_GRIP_ITEMS_MAX
	                      : seen == 0 && error && memchr(detail, '\0', sizeof(detail)));
	sg_buf_free(&scratch);
}

static void headers(const char *p, size_t n)
{
	sg_grip_instr g;
	sg_grip_instr_parse(p, n, &g);
	SG_FUZZ_CHECK(g.hold == SG_GRIP_NONE || g.hold == SG_GRIP_STREAM ||
	              g.hold == SG_GRIP_RESPONSE);
	SG_FUZZ_CHECK(strlen(g.channels) < sizeof(g.channels));
	SG_FUZZ_CHECK(g.keepalive_len <= sizeof(g.keepalive));
	SG_FUZZ_CHECK(g.keepalive_s <= SG_GRIP_TIMEOUT_MAX &&
	              (g.keepalive_s > 0) == (g.keepalive_len > 0));
	SG_FUZZ_CHECK(g.timeout_s >= 1 && g.timeout_s <= SG_GRIP_TIMEOUT_MAX);
}

static void base64(const char *p, size_t n)
{
	sg_buf out = SG_BUF_INIT;
	if (sg_grip_base64_decode(p, n, &out) == 0) {
		unsigned char enc[4 * (65536 / 3 + 2)];
		size_t body = n;
		if (out.len <= 65536) {
			int m = EVP_EncodeBlock(enc, (const unsigned char *)out.data, (int)out.len);
			while (m > 0 && enc[m - 1] == '=')
				m--;
			while (body && p[body - 1] == '=')
				body--;
			SG_FUZZ_CHECK((size_t)m == body && memcmp(enc, p, body) == 0);
		}
	}
	sg_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
	if (!size)
		return 0;
	const char *p = (const char *)in + 1;
	size_t n = size - 1;
	switch (in[0] % 3) {
	case 0:
		items(p, n);
		break;
	case 1:
		headers(p, n);
		break;
	default:
		base64(p, n);
	}
	return 0;
}
