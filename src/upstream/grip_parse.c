/*
 * grip_parse — the two GRIP inputs streamgate reads from others: a
 * publish API body (a backend's) and the Grip-* headers of an upstream's
 * response head. Pure functions over bytes: no sockets, no server; each
 * has a libFuzzer harness (tests/fuzz/fuzz_grip.c). Bad input is refused
 * with a reason (publish) or ignored (headers), never trusted.
 */
#include "grip.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/hub.h"
#include "core/utf8.h"
#include "parse.h"

/* ---- base64 --------------------------------------------------------------- */

static int b64_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

int sg_grip_base64_decode(const char *in, size_t n, sg_buf *out)
{
	size_t body = n, pad = 0;
	while (body && in[body - 1] == '=' && pad < 2) {
		body--;
		pad++;
	}
	if (body % 4 == 1 || (pad && (body + pad) % 4))
		return SG_EINVAL;
	for (size_t i = 0; i < body; i++)
		if (!b64_char((unsigned char)in[i]))
			return SG_EINVAL;
	size_t whole = (body + 3) / 4 * 4; /* padded length EVP wants */
	if (sg_buf_reserve(out, whole / 4 * 3 + 1))
		return SG_ENOMEM;
	unsigned char quad[4];
	size_t i = 0;
	for (; i + 4 <= body; i += 4) { /* whole groups */
		if (EVP_DecodeBlock((unsigned char *)out->data + out->len,
		                    (const unsigned char *)in + i, 4) != 3)
			return SG_EINVAL;
		out->len += 3;
	}
	if (i < body) { /* the last 2 or 3 characters: 1 or 2 bytes */
		static const char abc[] =
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		size_t rest = body - i;
		long bits = strchr(abc, in[body - 1]) - abc;
		if (bits & (rest == 2 ? 15 : 3))
			return SG_EINVAL; /* bits past the data: not the canonical form */
		unsigned char three[4];
		memcpy(quad, in + i, rest);
		memset(quad + rest, '=', 4 - rest);
		if (EVP_DecodeBlock(three, quad, 4) != 3)
			return SG_EINVAL;
		memcpy(out->data + out->len, three, rest - 1);
		out->len += rest - 1;
	}
	out->data[out->len] = '\0';
	return 0;
}

/* ---- publish items ----------------------------------------------------------- */

typedef struct verdict {
	const char *error;
	char *detail;
	size_t detaillen;
} verdict;

static int refuse(verdict *v, const char *error, size_t index, const char *what)
{
	v->error = error;
	snprintf(v->detail, v->detaillen, "items[%zu]: %s", index, what);
	return SG_EINVAL;
}

/* The text of format f under key (or key-bin, base64) into *data; 1 when
 * f has neither, 0 when read, SG_EINVAL with *why. */
static int format_text(json_t *f, const char *key, sg_buf *scratch, const char **data, size_t *len,
                       const char **why)
{
	char bin[32];
	json_t *t = json_object_get(f, key), *b;
	snprintf(bin, sizeof(bin), "%s-bin", key);
	b = json_object_get(f, bin);
	if (t) {
		if (!json_is_string(t))
			return *why = "content and body must be strings", SG_EINVAL;
		*data = json_string_value(t);
		*len = json_string_length(t);
		return 0;
	}
	if (!b)
		return 1;
	if (!json_is_string(b))
		return *why = "content-bin and body-bin must be base64 strings", SG_EINVAL;
	scratch->len = 0;
	int rc = sg_grip_base64_decode(json_string_value(b), json_string_length(b), scratch);
	if (rc == SG_ENOMEM)
		return *why = "out of memory", SG_EINVAL;
	if (rc)
		return *why = "content-bin and body-bin must be base64", SG_EINVAL;
	*data = scratch->data;
	*len = scratch->len;
	return 0;
}

/* Reads item i into it: checked, data chosen (http-stream, ws-message,
 * http-response). */
static int item_read(json_t *item, size_t i, sg_buf *scratch, sg_grip_item *it, verdict *v)
{
	static const char *const order[] = {"http-stream", "ws-message", "http-response"};
	json_t *formats, *id, *prev;
	const char *why = NULL;
	int found = 0;
	*it = (sg_grip_item){0};
	if (!json_is_object(item))
		return refuse(v, "bad_item", i, "expected an object");
	it->channel = json_string_value(json_object_get(item, "channel"));
	if (!it->channel)
		return refuse(v, "bad_channel", i, "channel must be a string");
	if (!sg_channel_name_valid(it->channel))
		return refuse(v, "bad_channel", i,
		              "channel names are 1 to 128 characters of A-Z a-z 0-9 _ . : -");
	id = json_object_get(item, "id");
	prev = json_object_get(item, "prev-id");
	if ((id && !json_is_string(id)) || (prev && !json_is_string(prev)))
		return refuse(v, "bad_item", i, "id and prev-id must be strings");
	formats = json_object_get(item, "formats");
	if (!json_is_object(formats))
		return refuse(v, "bad_item", i, "formats must be an object");
	for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
		json_t *f = json_object_get(formats, order[k]);
		const char *data = NULL;
		size_t len = 0;
		if (!f)
			continue;
		if (!json_is_object(f))
			return refuse(v, "bad_item", i, "each format must be an object");
		if (k == 2) { /* http-response: code a number when given */
			json_t *code = json_object_get(f, "code");
			if (code && !json_is_integer(code))
				return refuse(v, "bad_item", i,
				              "http-response code must be a number");
		}
		if (k == 0 && json_object_get(f, "action")) {
			const char *a = json_string_value(json_object_get(f, "action"));
			if (!a || (strcmp(a, "close") != 0 && strcmp(a, "send") != 0))
				return refuse(v, "bad_item", i,
				              "http-stream action must be send or close");
			if (strcmp(a, "close") == 0 && !found)
				it->close = 1;
		}
		int rc = format_text(f, k == 2 ? "body" : "content", scratch, &data, &len, &why);
		if (rc == SG_EINVAL)
			return refuse(v, "bad_item", i, why);
		if (rc == 0 && !found) {
			found = 1;
			it->data = data;
			/* http-stream content's last newline ends the message: every
			 * transport frames messages itself (plain text adds it back) */
			it->len = k == 0 && len && data[len - 1] == '\n' ? len - 1 : len;
		}
		found |= it->close;
	}
	if (!found)
		return refuse(v, "bad_item", i,
		              "formats needs http-stream, ws-message or http-response content");
	if (!it->close && !sg_utf8_valid(it->data, it->len))
		return refuse(v, "bad_encoding", i, "the content must be UTF-8 text");
	return 0;
}

int sg_grip_items_parse(const char *body, size_t len, sg_buf *scratch,
                        int (*each)(void *ud, const sg_grip_item *it), void *ud, const char **error,
                        char *detail, size_t detaillen)
{
	verdict v = {NULL, detail, detaillen};
	json_error_t je;
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je), *items;
	sg_grip_item it;
	int rc = 0;
	if (!root) {
		*error = "bad_json";
		snprintf(detail, detaillen, "%s (line %d, column %d)", je.text, je.line, je.column);
		return SG_EINVAL;
	}
	items = json_object_get(root, "items");
	if (!json_is_array(items) || !json_array_size(items)) {
		*error = "bad_items";
		snprintf(detail, detaillen, "expected {\"items\":[...]} with at least one item");
		rc = SG_EINVAL;
	} else if (json_array_size(items) > SG_GRIP_ITEMS_MAX) {
		*error = "too_many_items";
		snprintf(detail, detaillen, "at most %d items in one publish", SG_GRIP_ITEMS_MAX);
		rc = SG_EINVAL;
	}
	for (size_t i = 0; !rc && i < json_array_size(items); i++) /* all checked first */
		rc = item_read(json_array_get(items, i), i, scratch, &it, &v);
	if (rc && v.error)
		*error = v.error;
	for (size_t i = 0; !rc && i < json_array_size(items); i++) {
		item_read(json_array_get(items, i), i, scratch, &it, &v);
		rc = each(ud, &it);
	}
	json_decref(root);
	return rc;
}

/* ---- Grip-* response headers -------------------------------------------------- */

/* Names of a Grip-Channel value ("a; prev-id=1, b") appended as "a,b". */
static void channels_add(sg_grip_instr *g, const char *v, size_t vn)
{
	size_t at = strlen(g->channels);
	for (size_t i = 0; i < vn;) {
		size_t e = i, s, t;
		while (e < vn && v[e] != ',')
			e++;
		for (s = i; s < e && v[s] == ' '; s++)
			;
		for (t = s; t < e && v[t] != ';' && v[t] != ' '; t++)
			;
		if (t > s && at + (t - s) + 2 < sizeof(g->channels)) {
			if (at)
				g->channels[at++] = ',';
			memcpy(g->channels + at, v + s, t - s);
			g->channels[at += t - s] = '\0';
		}
		i = e + 1;
	}
}

/* Seconds in v[0..n), bounded to [1, SG_GRIP_TIMEOUT_MAX]; 0 when not a number. */
static unsigned seconds(const char *v, size_t n)
{
	unsigned long s = 0;
	size_t i = 0;
	for (; i < n && v[i] >= '0' && v[i] <= '9'; i++)
		if ((s = s * 10 + (unsigned long)(v[i] - '0')) > SG_GRIP_TIMEOUT_MAX)
			s = SG_GRIP_TIMEOUT_MAX;
	return i == 0 || i != n ? 0 : s ? (unsigned)s : 1;
}

/* Grip-Keep-Alive: DATA[; format=cstring|base64][; timeout=N]. The data
 * may be quoted; cstring unescapes \\ \" \r \n \t. */
static void keepalive_parse(sg_grip_instr *g, const char *v, size_t vn)
{
	const char *semi = memchr(v, ';', vn);
	size_t dn = semi ? (size_t)(semi - v) : vn, out = 0;
	int base64 = 0;
	unsigned timeout = 55; /* Pushpin's default */
	while (dn && v[dn - 1] == ' ')
		dn--;
	for (const char *p = semi; p && p < v + vn;) {
		const char *next = memchr(p + 1, ';', (size_t)(v + vn - p - 1));
		const char *a = p + 1, *end = next ? next : v + vn;
		while (a < end && *a == ' ')
			a++;
		size_t an = (size_t)(end - a);
		if (an > 7 && strncasecmp(a, "format=", 7) == 0)
			base64 = an == 13 && strncasecmp(a + 7, "base64", 6) == 0;
		else if (an > 8 && strncasecmp(a, "timeout=", 8) == 0 &&
		         !(timeout = seconds(a + 8, an - 8)))
			return; /* a timeout that is not a number: no keep-alive */
		p = next;
	}
	if (dn >= 2 && v[0] == '"' && v[dn - 1] == '"') {
		v++;
		dn -= 2;
	}
	if (base64) {
		sg_buf b = SG_BUF_INIT;
		if (!sg_grip_base64_decode(v, dn, &b) && b.len <= sizeof(g->keepalive)) {
			memcpy(g->keepalive, b.data, b.len);
			out = b.len;
		}
		sg_buf_free(&b);
	} else {
		for (size_t i = 0; i < dn && out < sizeof(g->keepalive); i++) {
			char c = v[i];
			if (c == '\\' && i + 1 < dn) {
				c = v[++i];
				c = c == 'n' ? '\n' : c == 'r' ? '\r' : c == 't' ? '\t' : c;
			}
			g->keepalive[out++] = c;
		}
	}
	g->keepalive_len = out;
	g->keepalive_s = out ? timeout : 0;
}

void sg_grip_instr_parse(const char *head, size_t len, sg_grip_instr *g)
{
	const char *p = memchr(head, '\n', len), *end = head + len, *v;
	size_t vn;
	*g = (sg_grip_instr){.timeout_s = SG_GRIP_TIMEOUT_DEFAULT};
	while (p && p + 1 < end) {
		const char *line = p + 1, *nl = memchr(line, '\n', (size_t)(end - line));
		size_t n = nl ? (size_t)(nl - line) : (size_t)(end - line);
		if (n && line[n - 1] == '\r')
			n--;
		if ((v = sg__up_field_value(line, n, "grip-hold", &vn)))
			g->hold = vn == 6 && !strncasecmp(v, "stream", 6)     ? SG_GRIP_STREAM
			          : vn == 8 && !strncasecmp(v, "response", 8) ? SG_GRIP_RESPONSE
			                                                      : SG_GRIP_NONE;
		else if ((v = sg__up_field_value(line, n, "grip-channel", &vn)))
			channels_add(g, v, vn);
		else if ((v = sg__up_field_value(line, n, "grip-keep-alive", &vn)))
			keepalive_parse(g, v, vn);
		else if ((v = sg__up_field_value(line, n, "grip-timeout", &vn)) && seconds(v, vn))
			g->timeout_s = seconds(v, vn);
		else if (sg__up_field_value(line, n, "grip-link", &vn))
			g->link = 1;
		p = nl;
	}
}
