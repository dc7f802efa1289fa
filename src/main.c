/*
 * main — the streamgate command: settings from the config file, then
 * STREAMGATE_* variables, then flags; signals; one server until stopped.
 * The only place with process-wide state (the server the signals stop).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "examples/examples.h"
#include "server/config.h"
#include "streamgate.h"

static sg_server *running;

static void on_signal(int sig)
{
	(void)sig;
	if (running)
		sg_server_stop(running);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: streamgate [--config FILE] [--KEY VALUE ...]\n\n"
		   "A streaming gateway: every endpoint speaks chunked HTTP, Server-Sent Events,\n"
		   "WebSocket and long-poll. Settings (file < STREAMGATE_KEY variables < flags):\n\n"
		   "  --config FILE            JSON file of settings\n"
		   "  --help                   this text\n"
		   "  --version                the version\n");
	sg__config_usage(f);
}

/* Applies --config first, then env, then every other flag. Returns 0, 1
 * when the program should exit 0 (help, version), or 2 on error. */
static int configure(sg_config *cfg, int argc, char **argv)
{
	char err[512];
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 1;
		}
		if (strcmp(argv[i], "--version") == 0) {
			printf("streamgate %s\n", SG_VERSION);
			return 1;
		}
	}
	const char *file = getenv("STREAMGATE_CONFIG");
	for (int i = 1; i + 1 < argc; i++)
		if (strcmp(argv[i], "--config") == 0)
			file = argv[i + 1];
	if (file && *file && sg_config_load_file(cfg, file, err, sizeof(err))) {
		fprintf(stderr, "streamgate: %s\n", err);
		return 2;
	}
	if (sg_config_load_env(cfg, err, sizeof(err))) {
		fprintf(stderr, "streamgate: %s\n", err);
		return 2;
	}
	for (int i = 1; i < argc; i += 2) {
		const char *a = argv[i];
		if (strncmp(a, "--", 2) != 0 || i + 1 >= argc ||
		    (strcmp(a, "--config") != 0 && !sg__config_has_key(a + 2))) {
			fprintf(stderr, "streamgate: unknown or incomplete option \"%s\" (see --help)\n",
				a);
			return 2;
		}
		if (strcmp(a, "--config") != 0 &&
		    sg_config_set(cfg, a + 2, argv[i + 1], err, sizeof(err))) {
			fprintf(stderr, "streamgate: --%s\n", err);
			return 2;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	sg_config *cfg = sg_config_new();
	if (!cfg)
		return 1;
	int rc = configure(cfg, argc, argv);
	if (rc) {
		sg_config_free(cfg);
		return rc == 1 ? 0 : 2;
	}
	char err[512];
	sg_server *srv = sg_server_new(cfg, err, sizeof(err));
	if (!srv) {
		fprintf(stderr, "streamgate: %s\n", err);
		sg_config_free(cfg);
		return 1;
	}
	if (cfg->examples && sg_examples_register(srv)) {
		fprintf(stderr, "streamgate: cannot register the examples\n");
		sg_server_free(srv);
		sg_config_free(cfg);
		return 1;
	}
	running = srv;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	char host[128];
	int port;
	sg__config_listen_split(cfg, host, sizeof(host), &port);
	printf("streamgate listening on http://%s:%d\n", host, sg_server_port(srv));
	fflush(stdout);
	rc = sg_server_run(srv);
	running = NULL;
	sg_server_free(srv);
	sg_config_free(cfg);
	return rc ? 1 : 0;
}
