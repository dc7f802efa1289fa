/*
 * procstat — the server's CPU time, resident memory and read/write syscall
 * counts, read from /proc. A server may be several processes (nginx's
 * master and workers, Pushpin's runner and its services), so a sample sums
 * the given process and all its descendants. Reads only; never signals
 * anything.
 */
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define MAX_PROCS 65536

typedef struct proc_row {
	pid_t pid;
	pid_t ppid;
	uint64_t ticks;
	int in;
} proc_row;

/* Reads ppid and utime+stime of one process; -1 if it is gone. */
static int read_stat(pid_t pid, proc_row *row)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')'); /* the command name may hold spaces */
	if (!p)
		return -1;
	/* after ")": state ppid pgrp session tty tpgid flags minflt cminflt
	 * majflt cmajflt utime stime */
	int ppid;
	unsigned long long ut, st;
	if (sscanf(p + 1, " %*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ppid, &ut,
	           &st) != 3)
		return -1;
	row->pid = pid;
	row->ppid = ppid;
	row->ticks = ut + st;
	return 0;
}

/* syscr and syscw of /proc/PID/io: the read-like and write-like syscalls
 * of every thread, living or dead, of one process. They count what goes
 * through the VFS (read, readv, pread, write, writev, pwrite, sendfile...),
 * not send/sendto/sendmsg/recv/recvfrom/recvmsg, which go through the
 * socket layer only. -1 when unreadable (not ours, gone). */
static int read_io(pid_t pid, uint64_t *syscr, uint64_t *syscw)
{
	char path[64], line[128];
	snprintf(path, sizeof(path), "/proc/%d/io", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	int found = 0;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "syscr:", 6)) {
			*syscr += strtoull(line + 6, NULL, 10);
			found |= 1;
		} else if (!strncmp(line, "syscw:", 6)) {
			*syscw += strtoull(line + 6, NULL, 10);
			found |= 2;
		}
	}
	fclose(f);
	return found == 3 ? 0 : -1;
}

static uint64_t read_rss_kib(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	uint64_t kib = 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6)) {
			kib = strtoull(line + 6, NULL, 10);
			break;
		}
	fclose(f);
	return kib;
}

/* Marks the descendants of rows already marked; bounded by the row count. */
static void mark_descendants(proc_row *rows, size_t n)
{
	for (size_t pass = 0; pass < n; pass++) {
		int changed = 0;
		for (size_t i = 0; i < n; i++) {
			if (rows[i].in)
				continue;
			for (size_t j = 0; j < n; j++)
				if (rows[j].in && rows[j].pid == rows[i].ppid) {
					rows[i].in = 1;
					changed = 1;
					break;
				}
		}
		if (!changed)
			return;
	}
}

/* The rows of every process, those of pid and its descendants marked;
 * NULL when /proc cannot be read. Caller frees. */
static proc_row *scan_tree(pid_t pid, size_t *count)
{
	*count = 0;
	DIR *d = opendir("/proc");
	if (!d)
		return NULL;
	proc_row *rows = calloc(MAX_PROCS, sizeof(*rows));
	size_t n = 0;
	struct dirent *e;
	while (rows && n < MAX_PROCS && (e = readdir(d))) {
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		if (read_stat((pid_t)atoi(e->d_name), &rows[n]) == 0) {
			rows[n].in = rows[n].pid == pid;
			n++;
		}
	}
	closedir(d);
	if (rows)
		mark_descendants(rows, n);
	*count = n;
	return rows;
}

void bench_proc_sample(pid_t pid, bench_proc *out)
{
	memset(out, 0, sizeof(*out));
	if (pid <= 0)
		return;
	size_t n;
	proc_row *rows = scan_tree(pid, &n);
	if (!rows)
		return;
	out->io_ok = 1;
	for (size_t i = 0; i < n; i++) {
		if (!rows[i].in)
			continue;
		out->ok = 1;
		out->procs++;
		out->cpu_ticks += rows[i].ticks;
		out->rss_kib += read_rss_kib(rows[i].pid);
		if (read_io(rows[i].pid, &out->syscr, &out->syscw) < 0)
			out->io_ok = 0;
	}
	out->io_ok &= out->ok;
	free(rows);
}

int bench_proc_tree(pid_t pid, pid_t *out, int cap)
{
	if (pid <= 0 || cap <= 0)
		return 0;
	size_t n;
	proc_row *rows = scan_tree(pid, &n);
	if (!rows)
		return 0;
	int k = 0;
	for (size_t i = 0; i < n; i++)
		if (rows[i].in && k < cap) {
			/* the server itself first: perf's -p list reads better */
			if (rows[i].pid == pid && k > 0) {
				out[k] = out[0];
				out[0] = pid;
			} else {
				out[k] = rows[i].pid;
			}
			k++;
		}
	free(rows);
	return k;
}

uint64_t bench_box_busy_ticks(void)
{
	FILE *f = fopen("/proc/stat", "r");
	if (!f)
		return 0;
	unsigned long long v[8] = {0};
	int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
	               &v[4], &v[5], &v[6], &v[7]);
	fclose(f);
	if (n < 8)
		return 0;
	/* user nice system idle iowait irq softirq steal: all but idle and iowait */
	return v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
}

double bench_ticks_per_second(void)
{
	long t = sysconf(_SC_CLK_TCK);
	return t > 0 ? (double)t : 100.0;
}
