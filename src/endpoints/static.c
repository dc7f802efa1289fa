/*
 * static — files under the www directory, GET only. A path resolves inside
 * the root or not at all: realpath() of the file must stay under
 * realpath() of the root, so no "..", link or encoding escapes it.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "server/server.h"

static const struct {
	const char *ext, *type;
} mime_types[] = {
	{".html", "text/html; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
	{".js", "text/javascript; charset=utf-8"}, {".mjs", "text/javascript; charset=utf-8"},
	{".json", "application/json"}, {".svg", "image/svg+xml"}, {".png", "image/png"},
	{".ico", "image/x-icon"}, {".txt", "text/plain; charset=utf-8"},
	{".woff2", "font/woff2"},
};

/* Resolves path under root into out (PATH_MAX); 0 when it is a file. */
static int resolve(const sg_server *srv, const char *path, char *out)
{
	char root[PATH_MAX], want[PATH_MAX * 2];
	if (!realpath(srv->cfg.www, root))
		return -1;
	const char *tail = strcmp(path, "/") == 0 ? "/index.html" : path;
	snprintf(want, sizeof(want), "%s%s", root, tail);
	struct stat st;
	if (!realpath(want, out) || strncmp(out, root, strlen(root)) != 0 ||
	    out[strlen(root)] != '/')
		return -1;
	if (stat(out, &st) == 0 && S_ISDIR(st.st_mode)) {
		size_t n = strlen(out);
		if (n + 12 > PATH_MAX)
			return -1;
		strcpy(out + n, "/index.html");
	}
	return stat(out, &st) == 0 && S_ISREG(st.st_mode) ? 0 : -1;
}

static int static_match(const sg_server *srv, const char *path)
{
	char file[PATH_MAX];
	return resolve(srv, path, file) == 0;
}

static const char *mime_of(const char *file)
{
	const char *dot = strrchr(file, '.');
	for (size_t i = 0; dot && i < sizeof(mime_types) / sizeof(mime_types[0]); i++)
		if (strcmp(dot, mime_types[i].ext) == 0)
			return mime_types[i].type;
	return "application/octet-stream";
}

static void static_get(sg_server *srv, const sg_request *req, sg_response *r)
{
	char file[PATH_MAX];
	if (resolve(srv, sg_request_path(req), file) || strlen(file) >= sizeof(r->file)) {
		sg__response_error(r, 404, "not_found", "no such file");
		return;
	}
	strcpy(r->file, file);
	r->content_type = mime_of(file);
}

const sg_endpoint sg_endpoint_static = {
	.name = "static",
	.match = static_match,
	.methods = SG_M_GET,
	.allow = "GET, HEAD, OPTIONS",
	.get = static_get,
};
