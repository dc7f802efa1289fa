/*
 * main — the streamgate command: settings from the config file, then
 * STREAMGATE_* variables, then flags; signals; one server until stopped.
 * The only place with process-wide state: what the signal handlers reach.
 *
 * Signals: SIGTERM and SIGINT stop the server cleanly and arm a watchdog
 * that ends the process with EXIT_FORCED if the shutdown has not finished
 * after shutdown_grace_ms + 1 s (a loop that spins never sees the stop); a
 * second one exits at once with EXIT_FORCED. SIGHUP reloads the settings
 * on a thread of its own. The handlers only touch lock-free atomics, a
 * semaphore, a POSIX timer, write() and _exit().
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "examples/examples.h"
#include "server/config.h"
#include "server/server.h" /* the test-only hang below; the start-up checks */
#include "streamgate.h"

#define EXIT_CLEAN 0  /* stopped, every stream ended */
#define EXIT_START 1  /* could not start (address in use, ...) or run */
#define EXIT_CONFIG 2 /* bad flags or settings */
#define EXIT_FORCED 3 /* shutdown cut short: watchdog, or a second signal */

#define WATCHDOG_SLACK_MS 1000

static sg_server *running;	  /* what SIGTERM/SIGINT stop */
static atomic_int stopping;	  /* a stop signal came */
static atomic_long watchdog_ms;	  /* drain_ms + shutdown_grace_ms + slack; reload updates it */
static timer_t watchdog;	  /* armed by the first stop signal */
static int have_watchdog;	  /* timer_create succeeded */
static sem_t wake;		  /* wakes the reload thread */
static atomic_int reload_asked;	  /* SIGHUP */
static atomic_int hang_asked;	  /* SIGUSR2, test only */
static atomic_int reloader_quit;  /* main is done with the server */

static void say(const char *text) /* async-signal-safe */
{
	ssize_t n = write(STDERR_FILENO, text, strlen(text));
	(void)n;
}

static void on_stop(int sig)
{
	(void)sig;
	if (atomic_exchange(&stopping, 1)) {
		say("streamgate: second stop signal: exiting now\n");
		_exit(EXIT_FORCED);
	}
	if (have_watchdog) {
		long ms = atomic_load(&watchdog_ms);
		struct itimerspec its = {.it_value = {.tv_sec = ms / 1000,
						      .tv_nsec = (ms % 1000) * 1000000L}};
		timer_settime(watchdog, 0, &its, NULL);
	}
	if (running)
		sg_server_stop(running);
}

static void on_watchdog(int sig)
{
	(void)sig;
	say("streamgate: shutdown did not finish within shutdown_grace_ms + 1 s: exiting now\n");
	_exit(EXIT_FORCED);
}

static void on_reload(int sig)
{
	atomic_store(sig == SIGHUP ? &reload_asked : &hang_asked, 1);
	sem_post(&wake);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: streamgate [--config FILE] [--KEY VALUE ...]\n\n"
		   "A streaming gateway: every endpoint speaks chunked HTTP, Server-Sent Events,\n"
		   "WebSocket and long-poll. Settings (file < STREAMGATE_KEY variables < flags):\n\n"
		   "  --config FILE            JSON file of settings\n"
		   "  --check-config FILE      check FILE as a start would, then exit: 0 and\n"
		   "                           \"FILE: ok\", or 2 and the file, line and key at fault\n"
		   "  --help                   this text\n"
		   "  --version                the version\n\n"
		   "Signals: TERM or INT stop (exit 0; 3 when the shutdown takes over\n"
		   "shutdown_grace_ms + 1 s, or on a second signal); HUP reloads the settings.\n\n");
	sg__config_usage(f);
}

/* Applies the config file (--config, else STREAMGATE_CONFIG), then the
 * environment, then every other flag, to cfg. 0, or SG_EINVAL with a
 * one-line reason in err. At start and again at each reload. */
static int settings_load(sg_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
	char why[480];
	const char *file = getenv("STREAMGATE_CONFIG");
	for (int i = 1; i + 1 < argc; i++)
		if (strcmp(argv[i], "--config") == 0)
			file = argv[i + 1];
	if (file && *file && sg_config_load_file(cfg, file, err, errlen))
		return SG_EINVAL;
	if (sg_config_load_env(cfg, err, errlen))
		return SG_EINVAL;
	for (int i = 1; i < argc; i += 2) {
		const char *a = argv[i];
		if (strncmp(a, "--", 2) != 0 || i + 1 >= argc ||
		    (strcmp(a, "--config") != 0 && !sg__config_has_key(a + 2))) {
			snprintf(err, errlen, "unknown or incomplete option \"%s\" (see --help)", a);
			return SG_EINVAL;
		}
		if (strcmp(a, "--config") != 0 &&
		    sg_config_set(cfg, a + 2, argv[i + 1], why, sizeof(why))) {
			snprintf(err, errlen, "--%s", why);
			return SG_EINVAL;
		}
	}
	return 0;
}

/* --help and --version, then the settings. Returns 0, 1 when the program
 * should exit 0 (help, version), or 2 on error. */
static int configure(sg_config *cfg, int argc, char **argv)
{
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
	char err[512];
	if (settings_load(cfg, argc, argv, err, sizeof(err))) {
		fprintf(stderr, "streamgate: %s\n", err);
		return 2;
	}
	return 0;
}

/* --check-config FILE: FILE over the built-in defaults (no STREAMGATE_*
 * variables, no other flags), then the start-up checks that need no
 * socket. EXIT_CLEAN and "FILE: ok" on stdout, or EXIT_CONFIG with the
 * file, the line of the key at fault (when the file sets it) and why. */
static int check_config(const char *file)
{
	char err[512];
	sg_config *cfg = sg_config_new();
	if (!cfg)
		return EXIT_START;
	int rc = sg_config_load_file(cfg, file, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "streamgate: %s\n", err); /* already FILE:LINE: KEY: ... */
	} else if ((rc = sg__server_check(cfg, err, sizeof(err)))) {
		char key[64] = ""; /* the checks' messages start with the key */
		size_t n = strcspn(err, " :");
		if (n < sizeof(key)) {
			memcpy(key, err, n);
			key[n] = '\0';
		}
		int line = sg__config_has_key(key) ? sg__config_file_line(file, key) : 0;
		if (line)
			fprintf(stderr, "streamgate: %s:%d: %s\n", file, line, err);
		else
			fprintf(stderr, "streamgate: %s: %s\n", file, err);
	} else {
		printf("%s: ok\n", file);
	}
	sg_config_free(cfg);
	return rc ? EXIT_CONFIG : EXIT_CLEAN;
}

/* What the reload thread works with; all borrowed from main. */
typedef struct reloader {
	sg_server *srv;
	const sg_config *started; /* the settings the server started with */
	int argc;
	char **argv;
} reloader;

/* Reads the settings again as at start and applies the live ones; keys
 * that need a restart are named, a bad file keeps the old settings. */
static void reload(const reloader *r)
{
	char err[512];
	sg_config *next = sg_config_new();
	if (!next) {
		fprintf(stderr, "streamgate: reload: out of memory\n");
		return;
	}
	if (settings_load(next, r->argc, r->argv, err, sizeof(err))) {
		fprintf(stderr, "streamgate: reload: %s; keeping the previous settings\n", err);
		sg_config_free(next);
		return;
	}
	const char *keys[32];
	size_t n = sg__config_restart_keys(r->started, next, keys, 32);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "streamgate: reload: %s changed; needs a restart\n", keys[i]);
	int rc = sg_server_reload(r->srv, next);
	if (rc)
		fprintf(stderr, "streamgate: reload: %s\n", sg_strerror(rc));
	else {
		atomic_store(&watchdog_ms, (long)(next->shutdown_grace_ms + next->drain_ms) + WATCHDOG_SLACK_MS);
		fprintf(stderr, "streamgate: reload: done\n");
	}
	sg_config_free(next);
}

/* Test only (STREAMGATE_TEST_HANG_LOOP=1, then SIGUSR2): the first
 * worker's loop spins for ever, as lws 4.1.6 can on pipelined bodies, so
 * a test can see the watchdog end the process. */
static void hang_forever(void *arg)
{
	(void)arg;
	fprintf(stderr, "streamgate: test: the loop hangs\n");
	for (volatile int spin = 1; spin;)
		;
}

static void *reloader_main(void *arg)
{
	const reloader *r = arg; /* signals stay blocked here: see main */
	for (;;) {
		while (sem_wait(&wake) != 0 && errno == EINTR)
			;
		if (atomic_load(&reloader_quit))
			return NULL;
		if (atomic_exchange(&hang_asked, 0))
			r->srv->loop.post(&r->srv->loop, hang_forever, NULL);
		if (atomic_exchange(&reload_asked, 0))
			reload(r);
	}
}

/* Installs the signal handlers; the watchdog's timer is made here, not in
 * the handler (timer_create is not async-signal-safe). */
static void signals_install(const sg_config *cfg)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	atomic_store(&watchdog_ms, (long)(cfg->shutdown_grace_ms + cfg->drain_ms) + WATCHDOG_SLACK_MS);
	struct sigevent sev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGALRM};
	have_watchdog = timer_create(CLOCK_MONOTONIC, &sev, &watchdog) == 0;
	sa.sa_handler = on_watchdog;
	sigaction(SIGALRM, &sa, NULL);
	sa.sa_handler = on_stop;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_reload;
	sigaction(SIGHUP, &sa, NULL);
	const char *hang = getenv("STREAMGATE_TEST_HANG_LOOP");
	if (hang && strcmp(hang, "1") == 0)
		sigaction(SIGUSR2, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--check-config") == 0) {
		if (argc == 3)
			return check_config(argv[2]);
		fprintf(stderr, "streamgate: usage: streamgate --check-config FILE\n");
		return EXIT_CONFIG;
	}
	sg_config *cfg = sg_config_new();
	if (!cfg)
		return EXIT_START;
	int rc = configure(cfg, argc, argv);
	if (rc) {
		sg_config_free(cfg);
		return rc == 1 ? EXIT_CLEAN : EXIT_CONFIG;
	}
	char err[512];
	sg_server *srv = sg_server_new(cfg, err, sizeof(err));
	if (!srv) {
		fprintf(stderr, "streamgate: %s\n", err);
		sg_config_free(cfg);
		return EXIT_START;
	}
	if (cfg->examples && sg_examples_register(srv)) {
		fprintf(stderr, "streamgate: cannot register the examples\n");
		sg_server_free(srv);
		sg_config_free(cfg);
		return EXIT_START;
	}
	running = srv;
	pthread_t reload_thread;
	reloader r = {.srv = srv, .started = cfg, .argc = argc, .argv = argv};
	/* the thread starts with every signal blocked: handlers run on the
	 * server's threads, and never on one that outlives the server */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int reloading = sem_init(&wake, 0, 0) == 0 &&
			pthread_create(&reload_thread, NULL, reloader_main, &r) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!reloading)
		fprintf(stderr, "streamgate: cannot start the reload thread; SIGHUP is ignored\n");
	signals_install(cfg);
	if (!reloading)
		signal(SIGHUP, SIG_IGN);
	char host[128];
	int port;
	if (cfg->listen[0] && sg__config_listen_split(cfg, host, sizeof(host), &port) == 0)
		printf("streamgate listening on http://%s:%d\n", host, sg_server_port(srv));
	if (cfg->tls_listen[0] &&
	    sg__config_addr_split(cfg->tls_listen, host, sizeof(host), &port) == 0)
		printf("streamgate listening on https://%s:%d\n", host, sg_server_tls_port(srv));
	fflush(stdout);
	rc = sg_server_run(srv);
	if (reloading) {
		atomic_store(&reloader_quit, 1);
		sem_post(&wake);
		pthread_join(reload_thread, NULL);
	}
	running = NULL;
	sg_server_free(srv);
	sg_config_free(cfg);
	if (have_watchdog)
		timer_delete(watchdog); /* the shutdown finished */
	return rc ? EXIT_START : EXIT_CLEAN;
}
