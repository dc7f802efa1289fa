/*
 * perfstat — the server's syscalls over the publish window, counted by
 * `perf stat` on syscall tracepoints. perf is started (fork/exec) attached
 * to the server and its descendants with its events disabled, and driven
 * through its --control pipe: "enable" when the window opens, "disable"
 * when it closes, each acknowledged, so the counts cover the window and
 * not perf's own start-up. Then SIGINT makes it write its CSV, which is
 * parsed here. Every wait is bounded; a perf that will not stop is killed.
 * Needs root (tracepoints); without it the report falls back to /proc.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define PERF_MAX_PROCS 64
#define PERF_ACK_MS 5000  /* perf's start-up on a loaded machine included */
#define PERF_STOP_MS 5000 /* to write its CSV after SIGINT */

const char *const bench_sc_events[BENCH_SC_COUNT] = {
    "raw_syscalls:sys_enter",        "syscalls:sys_enter_epoll_ctl",
    "syscalls:sys_enter_epoll_wait", "syscalls:sys_enter_sendto",
    "syscalls:sys_enter_writev",     "syscalls:sys_enter_write",
    "syscalls:sys_enter_sendmsg"};

static void note(bench_perf *p, const char *fmt, const char *arg)
{
	snprintf(p->note, sizeof(p->note), fmt, arg);
}

/* The first executable "perf" on PATH, or -1. */
static int find_perf(char *out, size_t cap)
{
	const char *path = getenv("PATH");
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
	while (*path) {
		const char *end = strchr(path, ':');
		size_t len = end ? (size_t)(end - path) : strlen(path);
		if (len > 0 && (size_t)snprintf(out, cap, "%.*s/perf", (int)len, path) < cap &&
		    access(out, X_OK) == 0)
			return 0;
		path += len + (end ? 1 : 0);
	}
	return -1;
}

/* Waits up to ms for "ack\n" on the ack pipe; 0 once it came, -2 when
 * the time ran out, -1 when perf went away or said something else. */
static int wait_ack(bench_perf *p, int ms)
{
	char buf[16];
	size_t got = 0;
	uint64_t deadline = bench_now_ns() + (uint64_t)ms * 1000000u;
	while (got < 4) {
		uint64_t now = bench_now_ns();
		if (now >= deadline)
			return -2;
		struct pollfd pfd = {.fd = p->ack_fd, .events = POLLIN};
		int r = poll(&pfd, 1, (int)((deadline - now) / 1000000u) + 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0)
			return -2;
		if (r < 0)
			return -1;
		ssize_t n = read(p->ack_fd, buf + got, sizeof(buf) - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1; /* perf went away */
		got += (size_t)n;
	}
	buf[got] = '\0';
	return strncmp(buf, "ack\n", 4) == 0 ? 0 : -1;
}

static int command(bench_perf *p, const char *cmd)
{
	size_t len = strlen(cmd);
	return write(p->ctl_fd, cmd, len) == (ssize_t)len ? 0 : -1;
}

/* Reaps perf within ms (SIGKILL after that); its exit status or -1. */
static int reap(bench_perf *p, int ms)
{
	int status = 0;
	uint64_t deadline = bench_now_ns() + (uint64_t)ms * 1000000u;
	for (;;) {
		pid_t r = waitpid(p->child, &status, WNOHANG);
		if (r == p->child || (r < 0 && errno != EINTR))
			break;
		if (bench_now_ns() >= deadline) {
			kill(p->child, SIGKILL);
			waitpid(p->child, &status, 0); /* SIGKILL: prompt */
			status = -1;
			break;
		}
		struct timespec ts = {0, 10000000};
		nanosleep(&ts, NULL);
	}
	p->child = 0;
	return status;
}

/* First line of perf's stderr, for the note. */
static void read_err(bench_perf *p, const char *err_path)
{
	FILE *f = fopen(err_path, "r");
	char line[120] = "";
	if (f) {
		while (fgets(line, sizeof(line), f))
			if (strncmp(line, "Events ", 7) != 0) /* "Events disabled/enabled" */
				break;
		fclose(f);
	}
	line[strcspn(line, "\n")] = '\0';
	note(p, "perf failed: %s", line[0] ? line : "no message");
}

static void close_fds(bench_perf *p)
{
	if (p->ctl_fd >= 0)
		close(p->ctl_fd);
	if (p->ack_fd >= 0)
		close(p->ack_fd);
	p->ctl_fd = p->ack_fd = -1;
}

void bench_perf_start(bench_perf *p, const bench_opts *o, pid_t pid)
{
	memset(p, 0, sizeof(*p));
	p->ctl_fd = p->ack_fd = -1;
	for (int i = 0; i < BENCH_SC_COUNT; i++)
		p->count[i] = -1;
	note(p, "%s", o->perf ? "nothing to count (no --server-pid or no messages)" : "off");
	if (!o->perf || pid <= 0)
		return;
	if (geteuid() != 0) {
		note(p, "%s", "not root");
		return;
	}
	char perf_bin[512];
	if (find_perf(perf_bin, sizeof(perf_bin)) < 0) {
		note(p, "%s", "no perf on PATH");
		return;
	}
	pid_t pids[PERF_MAX_PROCS];
	int n = bench_proc_tree(pid, pids, PERF_MAX_PROCS);
	if (n <= 0) {
		note(p, "%s", "the server is gone");
		return;
	}
	p->procs = n;
	char pidlist[PERF_MAX_PROCS * 12] = "";
	size_t off = 0;
	for (int i = 0; i < n; i++)
		off += (size_t)snprintf(pidlist + off, sizeof(pidlist) - off, "%s%d", i ? "," : "",
		                        (int)pids[i]);
	char events[512] = "";
	off = 0;
	for (int i = 0; i < BENCH_SC_COUNT; i++)
		off += (size_t)snprintf(events + off, sizeof(events) - off, "%s%s", i ? "," : "",
		                        bench_sc_events[i]);

	if (o->perf_out) {
		snprintf(p->path, sizeof(p->path), "%s", o->perf_out);
	} else {
		const char *dir = getenv("TMPDIR");
		snprintf(p->path, sizeof(p->path), "%s/sg-loadgen-perf.XXXXXX",
		         dir && *dir ? dir : "/tmp");
		int fd = mkstemp(p->path);
		if (fd < 0) {
			note(p, "%s", "cannot create a temporary file for its CSV");
			return;
		}
		close(fd);
		p->tmp = 1;
	}
	char err_path[300];
	snprintf(err_path, sizeof(err_path), "%s.err", p->path);
	int err_fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int ctl[2], ack[2];
	if (err_fd < 0 || pipe2(ctl, O_CLOEXEC) < 0) {
		if (err_fd >= 0)
			close(err_fd);
		note(p, "%s", "no pipe");
		return;
	}
	if (pipe2(ack, O_CLOEXEC) < 0) {
		close(ctl[0]);
		close(ctl[1]);
		close(err_fd);
		note(p, "%s", "no pipe");
		return;
	}
	char *argv[] = {perf_bin, "stat", "-x,",   "-D", "-1",    "--control", "fd:3,4",
	                "-e",     events, "-p",    pidlist, "-o", p->path, NULL};
	pid_t child = fork();
	if (child == 0) {
		/* only async-signal-safe calls from here to exec */
		int a = fcntl(ctl[0], F_DUPFD, 10), b = fcntl(ack[1], F_DUPFD, 10);
		int nul = open("/dev/null", O_RDWR);
		if (a < 0 || b < 0 || nul < 0 || dup2(nul, 0) < 0 || dup2(nul, 1) < 0 ||
		    dup2(err_fd, 2) < 0 || dup2(a, 3) < 0 || dup2(b, 4) < 0)
			_exit(127);
		close_range(5, ~0u, 0); /* not our 10,000 sockets (they are CLOEXEC anyway) */
		prctl(PR_SET_PDEATHSIG, SIGINT); /* we die: perf stops */
		execv(perf_bin, argv);
		_exit(127);
	}
	close(ctl[0]);
	close(ack[1]);
	close(err_fd);
	p->ctl_fd = ctl[1];
	p->ack_fd = ack[0];
	if (child < 0) {
		close_fds(p);
		note(p, "%s", "fork failed");
		return;
	}
	p->child = child;
	int acked = command(p, "enable\n") < 0 ? -1 : wait_ack(p, PERF_ACK_MS);
	if (acked < 0) {
		kill(child, SIGKILL);
		reap(p, 1000);
		close_fds(p);
		if (acked == -2)
			note(p, "%s", "perf did not start counting within 5 s: killed");
		else
			read_err(p, err_path);
		unlink(err_path);
		if (p->tmp)
			unlink(p->path);
		return;
	}
	unlink(err_path);
	note(p, "%s", "counting");
}

/* One CSV line of perf stat -x,: value,unit,event,run-time,percent,... */
static void parse_line(bench_perf *p, char *line)
{
	if (line[0] == '#' || line[0] == '\n' || line[0] == '\0')
		return;
	char *f[4] = {0};
	int k = 0;
	for (char *s = line; k < 4; k++) {
		f[k] = s;
		char *c = strchr(s, ',');
		if (!c)
			break;
		*c = '\0';
		s = c + 1;
	}
	if (k < 2 || !f[2])
		return;
	f[2][strcspn(f[2], ",\n")] = '\0';
	for (int i = 0; i < BENCH_SC_COUNT; i++) {
		if (strcmp(f[2], bench_sc_events[i]) != 0)
			continue;
		char *end;
		long long v = strtoll(f[0], &end, 10);
		if (end != f[0] && *end == '\0' && v >= 0) /* "<not counted>": stays -1 */
			p->count[i] = v;
	}
}

void bench_perf_stop(bench_perf *p)
{
	if (!p->child)
		return;
	int acked = command(p, "disable\n") == 0 && wait_ack(p, PERF_ACK_MS) == 0;
	kill(p->child, SIGINT);
	int status = reap(p, PERF_STOP_MS);
	close_fds(p);
	char err_path[300];
	snprintf(err_path, sizeof(err_path), "%s.err", p->path);
	FILE *f = fopen(p->path, "r");
	if (f) {
		char line[512];
		while (fgets(line, sizeof(line), f))
			parse_line(p, line);
		fclose(f);
	}
	p->ok = p->count[BENCH_SC_ALL] >= 0;
	if (p->ok && acked)
		note(p, "%s", "ok");
	else if (p->ok)
		note(p, "%s", "ok, but perf did not acknowledge the end of the window");
	else if (status == -1)
		note(p, "%s", "perf did not stop within 5 s: killed, no counts");
	else
		note(p, "%s", "perf counted nothing (\"<not counted>\")");
	unlink(err_path);
	if (p->tmp)
		unlink(p->path);
}
