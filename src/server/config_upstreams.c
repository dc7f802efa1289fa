/*
 * config_upstreams — the "upstreams" list of the JSON config file: each
 * entry checked and its address resolved here, once, when the config is
 * read (numeric addresses or localhost only: nothing resolves names on a
 * running loop).
 */
#include <arpa/inet.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "core/hub.h"
#include "upstream/parse.h"

/* "http[s]://HOST:PORT" (HOST numeric IPv4, [IPv6] or localhost; an
 * empty path or "/") into u's address, Host header and TLS name. */
static int url_parse(sg_upstream_cfg *u, const char *url, char *err, size_t errlen)
{
	char host[64];
	u->tls = strncmp(url, "https://", 8) == 0;
	const char *p = url + (u->tls ? 8 : 7), *end;
	long port = u->tls ? 443 : 80;
	if (!u->tls && strncmp(url, "http://", 7) != 0)
		goto bad;
	if (*p == '[') {
		end = strchr(p, ']');
		if (!end || (size_t)(end - p - 1) >= sizeof(host))
			goto bad;
		memcpy(host, p + 1, (size_t)(end - p - 1));
		host[end - p - 1] = '\0';
		end++;
	} else {
		end = p + strcspn(p, ":/");
		if ((size_t)(end - p) >= sizeof(host))
			goto bad;
		memcpy(host, p, (size_t)(end - p));
		host[end - p] = '\0';
	}
	if (*end == ':') {
		char *after;
		port = strtol(end + 1, &after, 10);
		if (after == end + 1 || port < 1 || port > 65535)
			goto bad;
		end = after;
	}
	if (*end && strcmp(end, "/") != 0)
		goto bad;
	if (!u->tls_server_name[0])
		snprintf(u->tls_server_name, sizeof(u->tls_server_name), "%s", host);
	if (strcmp(host, "localhost") == 0)
		strcpy(host, "127.0.0.1");
	struct sockaddr_in *v4 = (struct sockaddr_in *)&u->addr;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&u->addr;
	memset(&u->addr, 0, sizeof(u->addr));
	if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((unsigned short)port);
		u->addrlen = sizeof(*v4);
		snprintf(u->host, sizeof(u->host), "%s:%ld", host, port);
	} else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((unsigned short)port);
		u->addrlen = sizeof(*v6);
		snprintf(u->host, sizeof(u->host), "[%s]:%ld", host, port);
	} else {
		goto bad;
	}
	snprintf(u->url, sizeof(u->url), "%s", url);
	return 0;
bad:
	snprintf(
	    err, errlen,
	    "url: expected http[s]://ADDRESS:PORT with a numeric address or localhost, got "
	    "\"%.80s\"",
	    url);
	return SG_EINVAL;
}

static int path_parse(sg_upstream_cfg *u, const char *path, char *err, size_t errlen)
{
	size_t n = strlen(path);
	if (!n || path[0] != '/' || n >= sizeof(u->path) || strchr(path, '?') ||
	    (strchr(path, '*') && strchr(path, '*') != path + n - 1)) {
		snprintf(err, errlen, "path: expected /PATH or /PREFIX/*, got \"%.80s\"", path);
		return SG_EINVAL;
	}
	u->prefix = path[n - 1] == '*';
	memcpy(u->path, path, n - (size_t)u->prefix);
	u->path[n - (size_t)u->prefix] = '\0';
	return 0;
}

/* "pass", "require", "off" to sg_up_auth; -1 when none of them. */
static int auth_parse(const char *s)
{
	static const char *const names[] = {"pass", "require", "off"};
	for (int i = 0; i < 3; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

/* Writes the reason into err; returns SG_EINVAL. */
__attribute__((format(printf, 3, 4))) static int refuse(char *err, size_t errlen, const char *fmt,
                                                        ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return SG_EINVAL;
}

/* One entry of the list. */
static int entry_parse(sg_upstream_cfg *u, json_t *e, char *err, size_t errlen)
{
	const char *key;
	json_t *v;
	*u = (sg_upstream_cfg){.format = SG_UP_AUTO, .grip = 1, .tls_verify = 1};
	char name[sizeof(u->tls_server_name)] = "";
	snprintf(u->forward_headers, sizeof(u->forward_headers), "%s", SG_UP_FORWARD_DEFAULT);
	if (!json_is_object(e)) {
		snprintf(err, errlen, "expected an object");
		return SG_EINVAL;
	}
	json_object_foreach(e, key, v)
	{
		const char *s = json_string_value(v);
		int rc = 0;
		if (strcmp(key, "durable") == 0 && json_is_boolean(v))
			u->durable = json_is_true(v);
		else if (strcmp(key, "grip") == 0 && json_is_boolean(v))
			u->grip = json_is_true(v);
		else if (strcmp(key, "durable") == 0 || strcmp(key, "grip") == 0)
			rc = refuse(err, errlen, "%s: expected true or false", key);
		else if (strcmp(key, "tls_verify") == 0 && json_is_boolean(v))
			u->tls_verify = json_is_true(v);
		else if (!s)
			rc = refuse(err, errlen, "%.40s: unknown key or not a string", key);
		else if (strcmp(key, "path") == 0)
			rc = path_parse(u, s, err, errlen);
		else if (strcmp(key, "url") == 0)
			rc = url_parse(u, s, err, errlen);
		else if (strcmp(key, "format") == 0) {
			if ((u->format = sg_up_format_parse(s)) < 0)
				rc = refuse(err, errlen,
				            "format: expected auto, sse, ndjson or text");
		} else if (strcmp(key, "forward_headers") == 0) {
			if (strlen(s) >= sizeof(u->forward_headers))
				rc = refuse(err, errlen, "forward_headers: too long");
			else
				strcpy(u->forward_headers, s);
		} else if (strcmp(key, "auth") == 0) {
			if ((u->auth = auth_parse(s)) < 0)
				rc = refuse(err, errlen, "auth: expected pass, require or off");
		} else if (strcmp(key, "grip_key") == 0 || strcmp(key, "channel") == 0) {
			char *dst = key[0] == 'g' ? u->grip_key : u->channel;
			if (strlen(s) >= sizeof(u->channel))
				rc = refuse(err, errlen, "%s: too long", key);
			else if (key[0] == 'c' && *s && !sg_channel_name_valid(s))
				rc = refuse(err, errlen, "channel: not a channel name");
			else
				strcpy(dst, s);
		} else if (strcmp(key, "tls_ca_file") == 0) {
			if (!*s || strlen(s) >= sizeof(u->tls_ca_file))
				rc = refuse(err, errlen, "tls_ca_file: expected a PEM file's path");
			else
				strcpy(u->tls_ca_file, s);
		} else if (strcmp(key, "tls_server_name") == 0) {
			if (!*s || strlen(s) >= sizeof(name) || strpbrk(s, " /:\"\\"))
				rc = refuse(err, errlen, "tls_server_name: expected a host name");
			else
				strcpy(name, s);
		} else
			rc = refuse(err, errlen, "unknown key \"%.40s\"", key);
		if (rc)
			return SG_EINVAL;
	}
	if (!u->path[0] || !u->addrlen) {
		snprintf(err, errlen, "path and url are required");
		return SG_EINVAL;
	}
	if (u->channel[0] && u->auth != SG_UP_AUTH_REQUIRE) {
		snprintf(err, errlen, "channel: only with \"auth\": \"require\"");
		return SG_EINVAL;
	}
	if (!u->tls && (name[0] || u->tls_ca_file[0] || !u->tls_verify))
		return refuse(err, errlen, "tls_* keys need an https:// url");
	if (name[0]) /* the url's host otherwise, as written */
		strcpy(u->tls_server_name, name);
	return 0;
}

int sg__config_upstreams(sg_config *cfg, const void *list, char *err, size_t errlen)
{
	json_t *a = (json_t *)list;
	char why[300];
	if (!json_is_array(a) || json_array_size(a) > SG_UPSTREAMS_MAX) {
		snprintf(err, errlen, "upstreams: expected a list of at most %d objects",
		         SG_UPSTREAMS_MAX);
		return SG_EINVAL;
	}
	for (size_t i = 0; i < json_array_size(a); i++)
		if (entry_parse(&cfg->upstreams[i], json_array_get(a, i), why, sizeof(why))) {
			snprintf(err, errlen, "upstreams[%zu]: %s", i, why);
			return SG_EINVAL;
		}
	cfg->nupstreams = json_array_size(a);
	return 0;
}
