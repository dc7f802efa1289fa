/*
 * harness — what the embedding tests share: a server from key/value
 * settings with one route, run on a thread of its own, and raw loopback
 * clients that send one request. Public API only; header-only, each
 * function static inline (a test need not use them all).
 */
#ifndef SG_EMBED_HARNESS_H
#define SG_EMBED_HARNESS_H

#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "streamgate.h"

/* A server on 127.0.0.1:0 (log_level 0) with settings kv ("key", "value",
 * ..., NULL) and route → fn. NULL after printing why. */
static inline sg_server *harness_server(const char *const *kv, const char *route, sg_handler_fn fn)
{
	char err[256] = "";
	sg_config *cfg = sg_config_new();
	int rc = !cfg || sg_config_set(cfg, "listen", "127.0.0.1:0", err, sizeof(err)) ||
		 sg_config_set(cfg, "log_level", "0", err, sizeof(err));
	for (size_t i = 0; !rc && kv[i]; i += 2)
		rc = sg_config_set(cfg, kv[i], kv[i + 1], err, sizeof(err));
	sg_server *srv = rc ? NULL : sg_server_new(cfg, err, sizeof(err));
	sg_config_free(cfg);
	if (srv && sg_server_route(srv, route, fn, NULL)) {
		snprintf(err, sizeof(err), "cannot route %s", route);
		sg_server_free(srv);
		srv = NULL;
	}
	if (!srv)
		fprintf(stderr, "server: %s\n", err);
	return srv;
}

static inline void *harness_serve(void *srv)
{
	sg_server_run(srv);
	return NULL;
}

/* Runs srv on a new thread (join it after sg_server_stop). */
static inline pthread_t harness_run(sg_server *srv)
{
	pthread_t t;
	pthread_create(&t, NULL, harness_serve, srv);
	return t;
}

/* A socket connected to srv that has sent request; -1 after printing why. */
static inline int harness_client(const sg_server *srv, const char *request)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)sg_server_port(srv))};
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	size_t n = strlen(request);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    write(fd, request, n) != (ssize_t)n) {
		perror("client");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Waits (at most 5 s) until *opened reaches want; 0, or -1 after printing
 * how many did. */
static inline int harness_wait_opened(atomic_int *opened, int want)
{
	for (int w = 0; w < 5000 && atomic_load(opened) < want; w++)
		usleep(1000);
	if (atomic_load(opened) == want)
		return 0;
	fprintf(stderr, "only %d of %d streams opened\n", atomic_load(opened), want);
	return -1;
}

#endif
