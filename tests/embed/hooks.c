/*
 * hooks — a small embedding program for the hook-order tests: /h/NAME
 * streams c1, c2, ... every 20 ms and logs each hook of each stream on
 * stdout as "NAME hook [detail]". ?close_after=N makes the handler close
 * after N chunks. Public API only. Prints "port P" when ready.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "streamgate.h"

static sg_server *srv;

typedef struct state {
	char name[64];
	int sent, close_after;
} state;

static void logf_line(const state *st, const char *hook, const char *detail)
{
	printf("%s %s%s%s\n", st->name, hook, detail ? " " : "", detail ? detail : "");
	fflush(stdout);
}

static void after_open(sg_stream *s, void *ud)
{
	(void)s;
	logf_line(ud, "after_open", sg_stream_transport(s));
}

static int before_chunk(sg_stream *s, sg_chunk *c, void *ud)
{
	(void)s;
	size_t len;
	const char *d = sg_chunk_data(c, &len);
	char text[64];
	snprintf(text, sizeof(text), "%.*s", (int)len, d);
	logf_line(ud, "before_chunk", text);
	return 0;
}

static void after_chunk(sg_stream *s, void *ud)
{
	(void)s;
	logf_line(ud, "after_chunk", NULL);
}

static void before_close(sg_stream *s, void *ud)
{
	logf_line(ud, "before_close", NULL);
	sg_stream_chunk(s, "bye", 3);
}

static void after_close(sg_stream *s, void *ud)
{
	logf_line(ud, "after_close", sg_stream_is_closed(s) ? "closed" : "open");
	free(ud);
}

static void tick(sg_stream *s, void *ud)
{
	state *st = ud;
	char c[16];
	int n = snprintf(c, sizeof(c), "c%d", ++st->sent);
	sg_stream_chunk(s, c, (size_t)n);
	if (st->close_after && st->sent == st->close_after)
		sg_stream_close(s);
}

static void handler(sg_stream *s, const sg_request *req, void *ud)
{
	(void)ud;
	state *st = calloc(1, sizeof(*st));
	snprintf(st->name, sizeof(st->name), "%s", sg_request_path(req) + 3);
	const char *n = sg_request_query(req, "close_after");
	st->close_after = n ? atoi(n) : 0;
	sg_stream_after_open(s, after_open, st);
	sg_stream_before_chunk(s, before_chunk, st);
	sg_stream_after_chunk(s, after_chunk, st);
	sg_stream_before_close(s, before_close, st);
	sg_stream_after_close(s, after_close, st);
	sg_stream_every(s, 20, tick, st);
}

static void on_term(int sig)
{
	(void)sig;
	sg_server_stop(srv);
}

int main(void)
{
	char err[256];
	sg_config *cfg = sg_config_new();
	sg_config_set(cfg, "listen", "127.0.0.1:0", err, sizeof(err));
	sg_config_set(cfg, "log_level", "0", err, sizeof(err));
	srv = sg_server_new(cfg, err, sizeof(err));
	sg_config_free(cfg);
	if (!srv || sg_server_route(srv, "/h/", handler, NULL)) {
		fprintf(stderr, "hooks: %s\n", err);
		return 1;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	printf("port %d\n", sg_server_port(srv));
	fflush(stdout);
	sg_server_run(srv);
	sg_server_free(srv);
	printf("exit\n");
	return 0;
}
