/*
 * respond — writes whole HTTP answers. On HTTP/1 the headers and the body
 * go out in one write, as libwebsockets itself does for status pages.
 */
#include "respond.h"

#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"

void sg__response_init(sg_response *resp)
{
	memset(resp, 0, sizeof(*resp));
	resp->status = 200;
	resp->content_type = "application/json";
}

void sg__response_free(sg_response *resp)
{
	sg_buf_free(&resp->body);
}

void sg__response_error(sg_response *resp, int status, const char *error, const char *detail)
{
	resp->status = status;
	resp->content_type = "application/json";
	sg_buf_reset(&resp->body);
	sg_buf_puts(&resp->body, "{\"error\":");
	sg_json_quote(&resp->body, error, strlen(error));
	sg_buf_puts(&resp->body, ",\"detail\":");
	if (sg_json_quote(&resp->body, detail, strlen(detail)))
		sg_buf_puts(&resp->body, "\"(detail not valid UTF-8)\"");
	sg_buf_puts(&resp->body, "}");
}

static int add_header(struct lws *wsi, const char *name, const char *value, unsigned char **p,
		      unsigned char *end)
{
	return lws_add_http_header_by_name(wsi, (const unsigned char *)name,
					   (const unsigned char *)value, (int)strlen(value), p, end);
}

int sg__respond(struct lws *wsi, const sg_response *resp)
{
	if (resp->file[0])
		return lws_serve_http_file(wsi, resp->file, resp->content_type, NULL, 0) ? -1 : 0;
	size_t body = resp->body.len;
	size_t cap = LWS_PRE + 1024 + body;
	unsigned char *buf = malloc(cap);
	if (!buf)
		return -1;
	unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + cap - body;
	char len[24];
	snprintf(len, sizeof(len), "%zu", body);
	int bad = lws_add_http_header_status(wsi, (unsigned)resp->status, &p, end) ||
		  add_header(wsi, "content-type:", resp->content_type, &p, end) ||
		  add_header(wsi, "content-length:", len, &p, end) ||
		  add_header(wsi, "cache-control:", "no-cache", &p, end) ||
		  (resp->allow && add_header(wsi, "allow:", resp->allow, &p, end)) ||
		  (resp->last_event_id[0] &&
		   add_header(wsi, "last-event-id:", resp->last_event_id, &p, end)) ||
		  (resp->gap && add_header(wsi, "x-streamgate-gap:", resp->gap, &p, end)) ||
		  lws_finalize_http_header(wsi, &p, end);
	if (!bad) {
		if (body)
			memcpy(p, resp->body.data, body);
		p += body;
		int n = (int)(p - start);
		bad = lws_write(wsi, start, (size_t)n, LWS_WRITE_HTTP_FINAL) != n;
	}
	free(buf);
	if (bad)
		return -1;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

int sg__respond_error(struct lws *wsi, int status, const char *error, const char *detail,
		      const char *allow)
{
	sg_response r;
	sg__response_init(&r);
	sg__response_error(&r, status, error, detail);
	r.allow = allow;
	int rc = sg__respond(wsi, &r);
	sg__response_free(&r);
	return rc;
}
