/*
 * reload — sg_server_reload from other threads while two workers serve and
 * a thread publishes: every call returns 0 once both workers applied it,
 * and the history bound it sets is the one /channels/NAME/info reports on
 * either worker. Under TSan this is the check that a reload crosses threads
 * only through each worker's own loop.
 */
#include <stdlib.h>

#include "harness.h"

#define PUBLISHES 400
#define RELOADS 40

static void unused(sg_stream *s, const sg_request *req, void *ud)
{
	(void)req;
	(void)ud;
	sg_stream_close(s);
}

static void *publisher(void *arg)
{
	for (int i = 0; i < PUBLISHES; i++)
		if (sg_server_publish(arg, "r", NULL, "m", 1))
			return (void *)1;
	return NULL;
}

/* The settings with history_count n. Caller frees. */
static sg_config *with_history(size_t n)
{
	char err[256], v[32];
	sg_config *cfg = sg_config_new();
	snprintf(v, sizeof(v), "%zu", n);
	if (!cfg || sg_config_set(cfg, "listen", "127.0.0.1:0", err, sizeof(err)) ||
	    sg_config_set(cfg, "log_level", "0", err, sizeof(err)) ||
	    sg_config_set(cfg, "history_count", v, err, sizeof(err)))
		abort();
	return cfg;
}

static void *reloader(void *arg)
{
	for (int i = 0; i < RELOADS; i++) {
		sg_config *cfg = with_history(i % 2 ? 5 : 10);
		int rc = sg_server_reload(arg, cfg);
		sg_config_free(cfg);
		if (rc)
			return (void *)1;
	}
	return NULL;
}

/* GET /channels/r/info on a fresh connection; the whole answer in buf. */
static int info(const sg_server *srv, char *buf, size_t cap)
{
	int fd = harness_client(srv, "GET /channels/r/info HTTP/1.1\r\nHost: x\r\n"
				     "Connection: close\r\n\r\n");
	if (fd < 0)
		return -1;
	size_t len = 0;
	ssize_t r;
	while (len + 1 < cap && (r = read(fd, buf + len, cap - 1 - len)) > 0)
		len += (size_t)r;
	buf[len] = '\0';
	close(fd);
	return 0;
}

int main(void)
{
	const char *const kv[] = {"workers", "2", "history_count", "1000", NULL};
	sg_server *srv = harness_server(kv, "/unused", unused);
	if (!srv)
		return 1;
	pthread_t loop = harness_run(srv);
	pthread_t pub, rel[2];
	pthread_create(&pub, NULL, publisher, srv);
	pthread_create(&rel[0], NULL, reloader, srv);
	pthread_create(&rel[1], NULL, reloader, srv);
	void *r0, *r1, *r2;
	pthread_join(pub, &r0);
	pthread_join(rel[0], &r1);
	pthread_join(rel[1], &r2);
	int failed = r0 || r1 || r2;
	if (failed)
		fprintf(stderr, "publish or reload failed\n");
	/* the last word: 3, applied by both workers before the call returns */
	sg_config *cfg = with_history(3);
	if (sg_server_reload(srv, cfg)) {
		fprintf(stderr, "final reload failed\n");
		failed = 1;
	}
	sg_config_free(cfg);
	for (int i = 0; i < 8 && !failed; i++) { /* connections land on both workers */
		char buf[2048];
		if (info(srv, buf, sizeof(buf)) || !strstr(buf, "\"history\":{\"count\":3,")) {
			fprintf(stderr, "info %d: %s\n", i, buf);
			failed = 1;
		}
	}
	sg_server_stop(srv);
	pthread_join(loop, NULL);
	sg_server_free(srv);
	return failed;
}
