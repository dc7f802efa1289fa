/*
 * respond — writes whole HTTP/1.x answers and the heads of streamed ones
 * into a buffer. Every answer says its length (or is chunked, or ends with
 * the connection), so a kept-alive client always knows where it ends.
 */
#include "respond.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/json.h"

#define SG_FILE_MAX (64u << 20) /* a static file read whole into memory */

void sg__response_init(sg_response *resp)
{
	memset(resp, 0, sizeof(*resp));
	resp->status = 200;
	resp->content_type = "application/json";
}

void sg__response_free(sg_response *resp)
{
	sg_buf_free(&resp->body);
	sg_buf_free(&resp->headers);
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
	/* RFC 6750 §3: every 401 says how to authenticate */
	if (status == 401)
		resp->www_authenticate = strcmp(error, "invalid_token") == 0
						 ? "Bearer error=\"invalid_token\""
						 : "Bearer";
}

static const char *reason_phrase(int status)
{
	static const struct {
		int status;
		const char *text;
	} phrases[] = {
		{100, "Continue"},	   {200, "OK"},
		{204, "No Content"},	   {400, "Bad Request"},
		{401, "Unauthorized"},	   {403, "Forbidden"},
		{404, "Not Found"},	   {405, "Method Not Allowed"},
		{408, "Request Timeout"},  {409, "Conflict"},
		{411, "Length Required"},  {413, "Content Too Large"},
		{414, "URI Too Long"},	   {415, "Unsupported Media Type"},
		{417, "Expectation Failed"}, {422, "Unprocessable Content"},
		{426, "Upgrade Required"}, {429, "Too Many Requests"},
		{431, "Request Header Fields Too Large"},
		{500, "Internal Server Error"}, {501, "Not Implemented"},
		{502, "Bad Gateway"},	   {503, "Service Unavailable"},
		{504, "Gateway Timeout"},  {505, "HTTP Version Not Supported"},
	};
	for (size_t i = 0; i < sizeof(phrases) / sizeof(phrases[0]); i++)
		if (phrases[i].status == status)
			return phrases[i].text;
	return "Unknown";
}

/* Reads resp->file into resp->body; a file that cannot be read becomes a
 * 404. */
static void load_file(sg_response *resp)
{
	int fd = open(resp->file, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) || st.st_size > SG_FILE_MAX ||
	    sg_buf_reserve(&resp->body, (size_t)st.st_size + 1)) {
		if (fd >= 0)
			close(fd);
		sg__response_error(resp, 404, "not_found", "no such file");
		return;
	}
	ssize_t n;
	while ((n = read(fd, resp->body.data + resp->body.len,
			 resp->body.cap - resp->body.len)) > 0)
		resp->body.len += (size_t)n;
	close(fd);
}

/* What a page on an allowed origin may read: the answer, and the headers
 * beyond the CORS-safelisted ones that the gateway's clients use. */
static int cors_fields(const sg_cors *c, sg_field_fn fn, void *ctx)
{
	char origin[256]; /* origin_len is a byte */
	int rc = 0;
	if (c->vary)
		rc |= fn(ctx, "vary", "origin");
	if (c->mode == SG_CORS_ANY)
		rc |= fn(ctx, "access-control-allow-origin", "*");
	else if (c->mode == SG_CORS_ORIGIN) {
		snprintf(origin, sizeof(origin), "%.*s", (int)c->origin_len, c->origin);
		rc |= fn(ctx, "access-control-allow-origin", origin);
		rc |= fn(ctx, "access-control-allow-credentials", "true");
	}
	if (c->mode != SG_CORS_NONE)
		rc |= fn(ctx, "access-control-expose-headers",
			 "last-event-id, x-streamgate-gap, retry-after, www-authenticate, stream-id");
	return rc;
}

/* The header lines a stage added to resp->headers ("name: value\r\n"
 * each), one by one. */
int sg__response_extra_fields(const sg_buf *lines, sg_field_fn fn, void *ctx)
{
	char name[64], value[1024];
	int rc = 0;
	for (size_t at = 0; at < lines->len;) {
		const char *line = lines->data + at;
		const char *eol = memchr(line, '\r', lines->len - at);
		const char *colon = memchr(line, ':', eol ? (size_t)(eol - line) : 0);
		if (!eol || !colon || colon[1] != ' ')
			return -1; /* not written by sg_buf_printf("%s: %s\r\n") */
		snprintf(name, sizeof(name), "%.*s", (int)(colon - line), line);
		snprintf(value, sizeof(value), "%.*s", (int)(eol - colon - 2), colon + 2);
		rc |= fn(ctx, name, value);
		at = (size_t)(eol - lines->data) + 2;
	}
	return rc;
}

/* Emits resp's headers one by one: everything but framing and the
 * connection's own headers, which each protocol adds itself. */
static int fields_emit(const sg_response *resp, const sg_cors *cors, sg_field_fn fn, void *ctx)
{
	char n[32];
	int rc = 0;
	if (resp->status != 204 && resp->status != 100) {
		rc |= fn(ctx, "content-type", resp->content_type);
		snprintf(n, sizeof(n), "%zu", resp->body.len);
		rc |= fn(ctx, "content-length", n);
	}
	rc |= fn(ctx, "cache-control", "no-cache");
	if (resp->allow)
		rc |= fn(ctx, "allow", resp->allow);
	if (resp->www_authenticate)
		rc |= fn(ctx, "www-authenticate", resp->www_authenticate);
	if (resp->retry_after) {
		snprintf(n, sizeof(n), "%d", resp->retry_after);
		rc |= fn(ctx, "retry-after", n);
	}
	if (resp->last_event_id[0])
		rc |= fn(ctx, "last-event-id", resp->last_event_id);
	if (resp->gap)
		rc |= fn(ctx, "x-streamgate-gap", resp->gap);
	rc |= cors_fields(cors, fn, ctx);
	rc |= sg__response_extra_fields(&resp->headers, fn, ctx);
	return rc;
}

int sg__response_fields(sg_response *resp, const sg_cors *cors, sg_field_fn fn, void *ctx)
{
	if (resp->file[0]) {
		load_file(resp);
		resp->file[0] = '\0';
	}
	return fields_emit(resp, cors, fn, ctx);
}

static int field_h1(void *ctx, const char *name, const char *value)
{
	return sg_buf_printf(ctx, "%s: %s\r\n", name, value);
}

int sg__response_write(sg_response *resp, const sg_wire_opts *o, sg_buf *out)
{
	if (resp->file[0]) { /* may turn into a 404: before the status line */
		load_file(resp);
		resp->file[0] = '\0';
	}
	int rc = sg_buf_printf(out, "HTTP/1.%d %d %s\r\n", o->minor, resp->status,
			       reason_phrase(resp->status));
	rc |= fields_emit(resp, &o->cors, field_h1, out);
	if (o->close)
		rc |= sg_buf_puts(out, "connection: close\r\n");
	else if (o->minor == 0)
		rc |= sg_buf_puts(out, "connection: keep-alive\r\n");
	rc |= sg_buf_puts(out, "\r\n");
	if (!o->head_only && resp->status != 204)
		rc |= sg_buf_append(out, resp->body.data, resp->body.len);
	return rc ? SG_ENOMEM : 0;
}

int sg__response_stream_fields(const sg_transport *t, const char *gap, const sg_cors *cors,
			       sg_field_fn fn, void *ctx)
{
	int rc = fn(ctx, "content-type", t->content_type);
	rc |= fn(ctx, "cache-control", "no-cache");
	rc |= fn(ctx, "x-accel-buffering", "no");
	if (gap)
		rc |= fn(ctx, "x-streamgate-gap", gap);
	rc |= cors_fields(cors, fn, ctx);
	return rc;
}

int sg__response_stream_head(const sg_transport *t, const char *gap, const sg_wire_opts *o,
			     sg_buf *out)
{
	int rc = sg_buf_printf(out, "HTTP/1.%d 200 OK\r\n", o->minor);
	rc |= sg__response_stream_fields(t, gap, &o->cors, field_h1, out);
	rc |= sg_buf_puts(out, o->minor ? "transfer-encoding: chunked\r\n" : "connection: close\r\n");
	rc |= sg_buf_puts(out, "\r\n");
	return rc ? SG_ENOMEM : 0;
}
