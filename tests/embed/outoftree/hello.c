/*
 * hello — a program outside the tree, built only against the installed
 * package: it serves /hello, three chunks then close, on the port in argv.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <streamgate.h>

static sg_server *srv;

static void on_term(int sig)
{
	(void)sig;
	sg_server_stop(srv);
}

static void count(sg_stream *s, void *ud)
{
	(void)ud;
	static const char *const words[] = {"one", "two", "three"};
	long n = (long)(intptr_t)sg_stream_user(s);
	sg_stream_chunk(s, words[n], strlen(words[n]));
	sg_stream_set_user(s, (void *)(intptr_t)(n + 1));
	if (n == 2)
		sg_stream_close(s);
}

static void hello(sg_stream *s, const sg_request *req, void *ud)
{
	(void)req;
	(void)ud;
	sg_stream_chunk(s, "hello from outside", 18);
	sg_stream_every(s, 10, count, NULL);
}

int main(int argc, char **argv)
{
	char err[256], listen[64];
	snprintf(listen, sizeof(listen), "127.0.0.1:%s", argc > 1 ? argv[1] : "0");
	sg_config *cfg = sg_config_new();
	if (sg_config_set(cfg, "listen", listen, err, sizeof(err)))
		return 1;
	srv = sg_server_new(cfg, err, sizeof(err));
	sg_config_free(cfg);
	if (!srv || sg_server_route(srv, "/hello", hello, NULL))
		return 1;
	signal(SIGTERM, on_term);
	printf("port %d\n", sg_server_port(srv));
	fflush(stdout);
	sg_server_run(srv);
	sg_server_free(srv);
	return 0;
}
