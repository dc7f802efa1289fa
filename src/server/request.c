/*
 * request — a copy of the parts of a request handlers read.
 */
#include "request.h"

#include <ctype.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const method_names[] = {"GET",    "POST",    "OPTIONS", "PUT",
					   "PATCH",  "DELETE",  "CONNECT", "HEAD"};

static char *hdr_dup(struct lws *wsi, enum lws_token_indexes t)
{
	int n = lws_hdr_total_length(wsi, t);
	if (n <= 0)
		return NULL;
	char *s = malloc((size_t)n + 1);
	if (s && lws_hdr_copy(wsi, s, n + 1, t) < 0) {
		free(s);
		s = NULL;
	}
	return s;
}

int sg__request_init(sg_request *req, struct lws *wsi, int ws_upgrade)
{
	memset(req, 0, sizeof(*req));
	req->wsi = wsi;
	req->ws_upgrade = ws_upgrade;
	req->content_length = -1;
	char *uri;
	int urilen;
	int m = lws_http_get_uri_and_method(wsi, &uri, &urilen);
	if (m < 0 || m >= (int)(sizeof(method_names) / sizeof(method_names[0])))
		return SG_EINVAL;
	strcpy(req->method, method_names[m]);
	req->path = strndup(uri, (size_t)urilen);
	if (!req->path)
		return SG_ENOMEM;
	char frag[2048];
	for (int i = 0; lws_hdr_copy_fragment(wsi, frag, sizeof(frag), WSI_TOKEN_HTTP_URI_ARGS, i) > 0;
	     i++) {
		if (req->nargs == SG_REQ_ARGS_MAX)
			return SG_ETOOBIG;
		if (!(req->args[req->nargs++] = strdup(frag)))
			return SG_ENOMEM;
	}
	char *cl = hdr_dup(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH);
	if (cl) {
		char *end;
		req->content_length = strtoll(cl, &end, 10);
		if (*end || req->content_length < 0)
			req->content_length = -2; /* malformed */
		free(cl);
	}
	char *ct = hdr_dup(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE);
	req->is_json = ct && strncasecmp(ct, "application/json", 16) == 0;
	free(ct);
	return 0;
}

void sg__request_clear(sg_request *req)
{
	free(req->path);
	for (size_t i = 0; i < req->nargs; i++)
		free(req->args[i]);
	for (size_t i = 0; i < req->nheaders; i++)
		free(req->headers[i]);
	memset(req, 0, sizeof(*req));
}

const char *sg_request_path(const sg_request *req)
{
	return req->path;
}

const char *sg_request_method(const sg_request *req)
{
	return req->method;
}

const char *sg_request_query(const sg_request *req, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < req->nargs; i++)
		if (strncmp(req->args[i], name, n) == 0 && req->args[i][n] == '=')
			return req->args[i] + n + 1;
	return NULL;
}

static const struct {
	const char *name;
	enum lws_token_indexes token;
} known_headers[] = {
	{"accept", WSI_TOKEN_HTTP_ACCEPT},
	{"content-type", WSI_TOKEN_HTTP_CONTENT_TYPE},
	{"host", WSI_TOKEN_HOST},
	{"origin", WSI_TOKEN_ORIGIN},
	{"user-agent", WSI_TOKEN_HTTP_USER_AGENT},
	{"authorization", WSI_TOKEN_HTTP_AUTHORIZATION},
	{"cookie", WSI_TOKEN_HTTP_COOKIE},
	{"referer", WSI_TOKEN_HTTP_REFERER},
};

/* Fetches a header from lws into a new "name:value" string. */
static char *header_fetch(struct lws *wsi, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < sizeof(known_headers) / sizeof(known_headers[0]); i++)
		if (strcasecmp(known_headers[i].name, name) == 0) {
			char *v = hdr_dup(wsi, known_headers[i].token);
			char *s = NULL;
			if (v && (s = malloc(n + strlen(v) + 2)))
				sprintf(s, "%s:%s", name, v);
			free(v);
			return s;
		}
	char key[64];
	if (n + 2 > sizeof(key))
		return NULL;
	for (size_t i = 0; i <= n; i++)
		key[i] = (char)tolower((unsigned char)name[i]);
	strcat(key, ":");
	int len = lws_hdr_custom_length(wsi, key, (int)n + 1);
	if (len < 0)
		return NULL;
	char *s = malloc(n + 1 + (size_t)len + 1);
	if (!s)
		return NULL;
	memcpy(s, key, n + 1);
	if (lws_hdr_custom_copy(wsi, s + n + 1, len + 1, key, (int)n + 1) < 0) {
		free(s);
		return NULL;
	}
	return s;
}

const char *sg_request_header(const sg_request *creq, const char *name)
{
	sg_request *req = (sg_request *)creq; /* fetched values are cached */
	size_t n = strlen(name);
	for (size_t i = 0; i < req->nheaders; i++)
		if (strncasecmp(req->headers[i], name, n) == 0 && req->headers[i][n] == ':')
			return req->headers[i] + n + 1;
	if (!req->wsi || req->nheaders == SG_REQ_HEADERS_MAX)
		return NULL;
	char *s = header_fetch(req->wsi, name);
	if (!s)
		return NULL;
	req->headers[req->nheaders++] = s;
	return s + n + 1;
}
