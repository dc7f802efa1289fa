/*
 * redis_url — parsing the redis_url setting. Every part is bounded; what
 * does not fit is an error, never truncated.
 */
#include <stddef.h>

#include "redis_url.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "streamgate.h"

/* Copies [p, p+n) into out (cap bytes); nonzero when it does not fit. */
static int part(const char *p, size_t n, char *out, size_t cap)
{
	if (n >= cap)
		return 1;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

/* A decimal number in [lo, hi] spelled by [p, p+n). */
static int number(const char *p, size_t n, long lo, long hi, int *out)
{
	long v = 0;
	if (n == 0 || n > 6)
		return 1;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return 1;
		v = v * 10 + (p[i] - '0');
	}
	if (v < lo || v > hi)
		return 1;
	*out = (int)v;
	return 0;
}

/* The error names the URL without what may be a password. */
static int fail(char *err, size_t errlen, const char *why, const char *text)
{
	const char *at = strrchr(text, '@');
	snprintf(err, errlen,
	         "redis_url: %s (expected redis://[:password@]host:port/db, got \"%s%.200s\")", why,
	         at ? "redis://***" : "", at ? at : text);
	return SG_EINVAL;
}

int sg_redis_url_parse(const char *text, sg_redis_url *out, char *err, size_t errlen)
{
	static const char scheme[] = "redis://";
	memset(out, 0, sizeof(*out));
	out->port = 6379;
	if (strncmp(text, scheme, sizeof(scheme) - 1) != 0)
		return fail(err, errlen, "the scheme must be redis://", text);
	const char *p = text + sizeof(scheme) - 1;
	const char *slash = strchr(p, '/');
	const char *end = slash ? slash : p + strlen(p);
	const char *at = memchr(p, '@', (size_t)(end - p));
	if (at) { /* [user]:password@ */
		const char *colon = memchr(p, ':', (size_t)(at - p));
		if (!colon)
			return fail(err, errlen, "credentials are [user]:password@", text);
		if (part(p, (size_t)(colon - p), out->user, sizeof(out->user)) ||
		    part(colon + 1, (size_t)(at - colon - 1), out->password, sizeof(out->password)))
			return fail(err, errlen, "user or password too long", text);
		p = at + 1;
	}
	const char *colon = memchr(p, ':', (size_t)(end - p));
	const char *host_end = colon ? colon : end;
	if (host_end == p || part(p, (size_t)(host_end - p), out->host, sizeof(out->host)))
		return fail(err, errlen, "the host is empty or too long", text);
	if (colon && number(colon + 1, (size_t)(end - colon - 1), 1, 65535, &out->port))
		return fail(err, errlen, "the port must be 1 to 65535", text);
	if (slash && slash[1] && number(slash + 1, strlen(slash + 1), 0, 100000, &out->db))
		return fail(err, errlen, "the db must be a number", text);
	return 0;
}
