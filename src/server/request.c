/*
 * request — a copy of the parts of a request handlers read, made from the
 * parsed head: the method, the decoded path and query, and every header in
 * one block.
 */
#include "request.h"

#include "core/id.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/principal.h"

/* One allocation: the header array, then each "name\0value\0". */
static int copy_headers(sg_request *req, const sg_h1_head *h)
{
	size_t bytes = h->nfields * sizeof(sg_req_header);
	for (size_t i = 0; i < h->nfields; i++)
		bytes += h->fields[i].name_len + h->fields[i].value_len + 2;
	if (!h->nfields)
		return 0;
	char *block = malloc(bytes);
	if (!block)
		return SG_ENOMEM;
	sg_req_header *hs = (sg_req_header *)block;
	char *s = block + h->nfields * sizeof(sg_req_header);
	for (size_t i = 0; i < h->nfields; i++) {
		const sg_h1_field *f = &h->fields[i];
		hs[i].name = s;
		memcpy(s, f->name, f->name_len);
		s += f->name_len;
		*s++ = '\0';
		hs[i].value = s;
		memcpy(s, f->value, f->value_len);
		s += f->value_len;
		*s++ = '\0';
	}
	req->headers = hs;
	req->nheaders = h->nfields;
	return 0;
}

static void request_clear(sg_request *req);

/* Fills req from a parsed head. Returns 0, SG_EINVAL or SG_ENOMEM. */
static int request_fill(sg_request *req, const sg_h1_head *h, sg_h1_error *err)
{
	memset(req, 0, sizeof(*req));
	memcpy(req->method, h->method, h->method_len);
	req->method[h->method_len] = '\0';
	req->minor = h->minor;
	req->content_length = h->chunked ? -3 : h->content_length;
	req->ws_upgrade = h->upgrade_ws;
	sg_h1_target t;
	int rc = sg_h1_target_parse(h->target, h->target_len, &t, err);
	if (rc)
		return rc;
	req->path = t.path;
	if (!(req->target = strndup(h->target, h->target_len))) {
		sg_h1_target_free(&t);
		memset(req, 0, sizeof(*req));
		*err = (sg_h1_error){503, "out_of_memory", "cannot keep the request"};
		return SG_ENOMEM;
	}
	req->nargs = t.nargs;
	memcpy(req->args, t.args, sizeof(t.args));
	if (copy_headers(req, h)) {
		request_clear(req);
		*err = (sg_h1_error){503, "out_of_memory", "cannot keep the request"};
		return SG_ENOMEM;
	}
	const char *ct = sg_request_header(req, "content-type");
	req->is_json = ct && strncasecmp(ct, "application/json", 16) == 0;
	return 0;
}

static void request_clear(sg_request *req)
{
	free(req->path);
	free(req->target);
	free(req->body);
	for (size_t i = 0; i < req->nargs; i++)
		free(req->args[i]);
	free(req->headers);
	sg_principal_free(req->principal);
	memset(req, 0, sizeof(*req));
}

sg_request *sg__request_new(const sg_h1_head *h, sg_h1_error *err)
{
	sg_request *req = malloc(sizeof(*req));
	if (!req) {
		*err = (sg_h1_error){503, "out_of_memory", "cannot keep the request"};
		return NULL;
	}
	if (request_fill(req, h, err)) {
		free(req);
		return NULL;
	}
	req->start_us = sg_mono_us();
	return req;
}

void sg__request_free(sg_request *req)
{
	if (!req)
		return;
	if (req->pre && req->pre_free)
		req->pre_free(req->pre);
	request_clear(req);
	free(req);
}

const char *sg__client_ip(const sg_request *req)
{
	return req->client_ip;
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

const char *sg_request_header(const sg_request *req, const char *name)
{
	for (size_t i = 0; i < req->nheaders; i++)
		if (strcasecmp(req->headers[i].name, name) == 0)
			return req->headers[i].value;
	return NULL;
}
