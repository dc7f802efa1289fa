/*
 * admit_cors — Origin and CORS. A browser says which page a request comes
 * from in Origin; the gateway's own origin and those in allowed_origins
 * may use it, any other may not: its requests are refused with 403 before
 * anything happens (a "simple" text/plain POST, which a browser sends
 * without asking first, included), so a page elsewhere cannot publish,
 * delete, open a WebSocket or hold a stream. Requests without Origin are
 * not browsers' and pass. Preflights (OPTIONS with
 * Access-Control-Request-Method) are answered here, whatever the path.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "admit.h"

#define ORIGIN_MAX 200 /* an allowed_origins entry: scheme://host:port */
#define ASKED_HEADERS_MAX 256
#define PREFLIGHT_MAX_AGE 600 /* seconds a browser may keep a preflight's answer */

/* Calls fn on each trimmed, non-empty entry of a comma list until it
 * returns nonzero; returns that. */
static int each_entry(const char *list, int (*fn)(const char *p, size_t n, void *arg), void *arg)
{
	for (const char *p = list; *p;) {
		size_t n = strcspn(p, ",");
		const char *s = p, *e = p + n;
		while (s < e && isspace((unsigned char)*s))
			s++;
		while (e > s && isspace((unsigned char)e[-1]))
			e--;
		int rc = e > s ? fn(s, (size_t)(e - s), arg) : 0;
		if (rc)
			return rc;
		p += n + (p[n] == ',');
	}
	return 0;
}

/* "http://" or "https://" and a host[:port], nothing more. */
static int origin_valid(const char *p, size_t n)
{
	size_t skip = n > 7 && !strncasecmp(p, "http://", 7)	 ? 7
		      : n > 8 && !strncasecmp(p, "https://", 8) ? 8
								 : 0;
	if (!skip || n > ORIGIN_MAX)
		return 0;
	for (size_t i = skip; i < n; i++)
		if (!isalnum((unsigned char)p[i]) && !strchr("-.:[]_", p[i]))
			return 0;
	return 1;
}

typedef struct check_arg {
	char *err;
	size_t errlen;
} check_arg;

static int check_entry(const char *p, size_t n, void *arg)
{
	check_arg *a = arg;
	if ((n == 1 && *p == '*') || origin_valid(p, n))
		return 0;
	snprintf(a->err, a->errlen,
		 "\"%.*s\" is not an origin: write * or scheme://host[:port], like "
		 "https://app.example:8443 (no path, no trailing /)",
		 (int)(n > 60 ? 60 : n), p);
	return SG_EINVAL;
}

int sg__cors_check(const char *value, char *err, size_t errlen)
{
	check_arg a = {err, errlen};
	return each_entry(value, check_entry, &a);
}

/* The request's own origin: Origin is http:// or https:// and its Host. */
static int same_origin(const sg_request *req, const char *origin)
{
	const char *host = sg_request_header(req, "host");
	const char *rest = !strncasecmp(origin, "http://", 7)	 ? origin + 7
			   : !strncasecmp(origin, "https://", 8) ? origin + 8
								 : NULL;
	return host && rest && *host && strcasecmp(rest, host) == 0;
}

typedef struct match_arg {
	const char *origin;
	size_t n;
	sg_cors *out;
	int any;
} match_arg;

static int match_entry(const char *p, size_t n, void *arg)
{
	match_arg *m = arg;
	if (n == 1 && *p == '*') {
		m->any = 1;
		return 0;
	}
	m->out->vary = 1;
	if (n != m->n || strncasecmp(p, m->origin, n) != 0 || m->out->mode == SG_CORS_ORIGIN)
		return 0;
	m->out->mode = SG_CORS_ORIGIN;
	m->out->origin = p;
	m->out->origin_len = (unsigned char)n;
	return 0; /* on to the end: vary is about the whole list */
}

sg_cors sg__cors_decide(const sg_config *cfg, const sg_request *req)
{
	sg_cors c = {0};
	const char *origin = sg_request_header(req, "origin");
	match_arg m = {.origin = origin, .n = origin ? strlen(origin) : 0, .out = &c};
	each_entry(cfg->allowed_origins, match_entry, &m);
	if (c.mode == SG_CORS_ORIGIN)
		return c;
	if (m.any)
		c.mode = SG_CORS_ANY; /* on every answer: a cached one then serves any page */
	else if (origin && !same_origin(req, origin))
		c.refused = 1; /* same origin: a page of the gateway's own (www/) */
	return c;
}

/* Access-Control-Request-Headers, when it is a plain list of names. */
static const char *asked_headers(const sg_request *req)
{
	const char *v = sg_request_header(req, "access-control-request-headers");
	if (!v || !*v || strlen(v) > ASKED_HEADERS_MAX)
		return NULL;
	for (const char *p = v; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("-_, ", *p))
			return NULL;
	return v;
}

static void preflight(const sg_request *req, sg_response *resp)
{
	const char *asked = asked_headers(req);
	resp->status = 204;
	sg_buf_printf(&resp->headers,
		      "access-control-allow-methods: GET, HEAD, POST, DELETE, OPTIONS\r\n"
		      "access-control-allow-headers: authorization, content-type, last-event-id%s%s\r\n"
		      "access-control-max-age: %d\r\n",
		      asked ? ", " : "", asked ? asked : "", PREFLIGHT_MAX_AGE);
}

int sg__admit_origin(sg_server *srv, const sg_request *req, const sg_admit_ctx *ctx,
		     sg_response *resp)
{
	(void)ctx;
	if (req->cors.refused) {
		sg__response_error(resp, 403, "origin_not_allowed",
				   srv->cfg.allowed_origins[0]
					   ? "this page's Origin is not in allowed_origins"
					   : "only pages of the gateway's own origin may use it "
					     "(allowed_origins is empty)");
		return -1;
	}
	if (strcmp(req->method, "OPTIONS") == 0 && sg_request_header(req, "origin") &&
	    sg_request_header(req, "access-control-request-method")) {
		preflight(req, resp);
		return -1;
	}
	return 0;
}
