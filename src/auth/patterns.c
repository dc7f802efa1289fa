/*
 * patterns — validating, expanding and matching channel patterns. A list
 * is kept as the text "a,news.*,user.42.*": every entry checked when it was
 * added, so matching is a walk over commas and never fails.
 */
#define _GNU_SOURCE /* memmem */
#include "patterns.h"

#include <stdio.h>
#include <string.h>

#include "core/hub.h"
#include "streamgate/error.h"

#define SUB "{sub}"

/* Nonzero when p[0..n) is a channel name, or a prefix of one then '*'. */
static int pattern_valid(const char *p, size_t n)
{
	char name[SG_PATTERN_MAX + 1];
	if (n == 0 || n > SG_PATTERN_MAX)
		return 0;
	if (n == 1 && p[0] == '*')
		return 1;
	size_t body = p[n - 1] == '*' ? n - 1 : n;
	if (body > SG_CHANNEL_NAME_MAX)
		return 0;
	memcpy(name, p, body);
	name[body] = '\0';
	return sg_channel_name_valid(name); /* no '*', ',' or {} inside */
}

/* Writes entry with {sub} expanded into out (SG_PATTERN_MAX + 1 bytes).
 * Returns its length; 0 when it cannot be filled; -1 when too long. */
static long expand(const char *entry, size_t len, const char *sub, char *out)
{
	size_t o = 0, sublen = sub ? strlen(sub) : 0;
	for (size_t i = 0; i < len;) {
		if (len - i >= strlen(SUB) && memcmp(entry + i, SUB, strlen(SUB)) == 0) {
			if (!sub || !sg_channel_name_valid(sub))
				return 0;
			if (o + sublen > SG_PATTERN_MAX)
				return -1;
			memcpy(out + o, sub, sublen);
			o += sublen;
			i += strlen(SUB);
			continue;
		}
		if (o + 1 > SG_PATTERN_MAX)
			return -1;
		out[o++] = entry[i++];
	}
	out[o] = '\0';
	return (long)o;
}

static size_t count_entries(const sg_buf *out)
{
	size_t n = out->len ? 1 : 0;
	for (size_t i = 0; i < out->len; i++)
		n += out->data[i] == ',';
	return n;
}

int sg_pattern_append(sg_buf *out, const char *entry, size_t len, const char *sub)
{
	char p[SG_PATTERN_MAX + 1];
	if (len == 0 || memchr(entry, '\0', len))
		return SG_EINVAL;
	long n = expand(entry, len, sub, p);
	if (n == 0 && memmem(entry, len, SUB, strlen(SUB)))
		return 0; /* {sub} unusable: the entry grants nothing */
	if (n <= 0 || !pattern_valid(p, (size_t)n))
		return SG_EINVAL;
	if (count_entries(out) >= SG_PATTERNS_MAX)
		return SG_ETOOBIG;
	if ((out->len && sg_buf_puts(out, ",")) || sg_buf_append(out, p, (size_t)n) ||
	    sg_buf_reserve(out, 1))
		return SG_ENOMEM;
	out->data[out->len] = '\0';
	return 0;
}

int sg_patterns_parse(const char *text, sg_buf *out, char *err, size_t errlen)
{
	sg_buf_reset(out);
	if (sg_buf_reserve(out, 1))
		return SG_ENOMEM;
	out->data[0] = '\0';
	if (strcmp(text, "none") == 0)
		return 0;
	for (const char *p = text;;) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		while (n && (*p == ' ' || *p == '\t'))
			p++, n--;
		while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		int rc = memmem(p, n, SUB, strlen(SUB)) ? SG_EINVAL : sg_pattern_append(out, p, n, NULL);
		if (rc) {
			snprintf(err, errlen,
				 rc == SG_ETOOBIG ? "more than 64 patterns"
						  : "\"%.*s\" is not a channel name or a prefix ending in *",
				 (int)(n > 64 ? 64 : n), p);
			return rc;
		}
		if (!end)
			return 0;
		p = end + 1;
	}
}

int sg_patterns_match(const char *list, const char *channel)
{
	if (!list || !channel)
		return 0;
	size_t clen = strlen(channel);
	for (const char *p = list; *p;) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		while (n && (*p == ' ' || *p == '\t')) /* a setting's list, as written */
			p++, n--;
		while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n && p[n - 1] == '*' ? clen >= n - 1 && memcmp(channel, p, n - 1) == 0
				    : n && clen == n && memcmp(channel, p, n) == 0)
			return 1;
		if (!end)
			break;
		p = end + 1;
	}
	return 0;
}
