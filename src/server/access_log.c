/*
 * access_log — formatting on the loop, a bounded byte queue under a mutex
 * held only for a memcpy, and a writer thread that owns the file (see
 * access_log.h). Must not block a loop: no write(2) and no waiting on the
 * writer from a loop thread; a full queue drops the line.
 */
#define _GNU_SOURCE
#include "access_log.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "core/buf.h"

#define QUEUE_BYTES (1u << 20) /* lines waiting for the writer */
#define LINE_MAX_BYTES 8192    /* over it (it cannot be: TARGET_MAX) a line is dropped */
#define TARGET_MAX 2048        /* bytes of the target kept before "..." */

enum { FORMAT_JSON, FORMAT_COMBINED };

struct sg_access_log {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	char *queue; /* QUEUE_BYTES, lines back to back, under lock */
	char *spare; /* QUEUE_BYTES, the writer's: swapped with queue to write it */
	size_t used;
	int quit, reopen; /* under lock */
	pthread_t thread;
	int fd; /* writer thread's (and free's, after the join) */
	int format;
	char path[512]; /* "-": stderr */
	atomic_ulong dropped;
};

/* ---- the writer thread --------------------------------------------------- */

static int open_file(const char *path)
{
	if (strcmp(path, "-") == 0)
		return STDERR_FILENO;
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* a full disk loses lines, never the gateway */
		p += w;
		n -= (size_t)w;
	}
}

/* Takes the queue whole (a swap of buffers under the lock), writes it. */
static void *writer_main(void *arg)
{
	sg_access_log *l = arg;
	char *mine = l->spare;
	pthread_mutex_lock(&l->lock);
	for (;;) {
		while (!l->used && !l->quit && !l->reopen)
			pthread_cond_wait(&l->wake, &l->lock);
		int quit = l->quit, reopen = l->reopen;
		size_t n = 0;
		l->reopen = 0;
		if (l->used) {
			char *full = l->queue;
			l->queue = mine;
			mine = full;
			n = l->used;
			l->used = 0;
		}
		pthread_mutex_unlock(&l->lock);
		if (reopen) { /* the old name was moved away: a new file of that name */
			int fd = open_file(l->path);
			if (fd >= 0 && fd != l->fd) {
				if (l->fd != STDERR_FILENO)
					close(l->fd);
				l->fd = fd;
			}
		}
		if (n)
			write_all(l->fd, mine, n);
		pthread_mutex_lock(&l->lock);
		if (quit && !l->used)
			break;
	}
	l->spare = mine; /* freed with the log */
	pthread_mutex_unlock(&l->lock);
	return NULL;
}

int sg__access_log_open(const sg_config *cfg, sg_access_log **out, char *err, size_t errlen)
{
	*out = NULL;
	if (!cfg->access_log[0])
		return 0;
	sg_access_log *l = calloc(1, sizeof(*l));
	if (!l || !(l->queue = malloc(QUEUE_BYTES)) || !(l->spare = malloc(QUEUE_BYTES))) {
		if (l)
			free(l->queue);
		free(l);
		snprintf(err, errlen, "access_log: out of memory");
		return SG_ENOMEM;
	}
	snprintf(l->path, sizeof(l->path), "%s", cfg->access_log);
	l->format = strcmp(cfg->access_log_format, "combined") == 0 ? FORMAT_COMBINED : FORMAT_JSON;
	if ((l->fd = open_file(l->path)) < 0) {
		snprintf(err, errlen, "access_log: cannot open %s: %s", l->path, strerror(errno));
		free(l->queue);
		free(l->spare);
		free(l);
		return SG_EIO;
	}
	pthread_mutex_init(&l->lock, NULL);
	pthread_cond_init(&l->wake, NULL);
	if (pthread_create(&l->thread, NULL, writer_main, l)) {
		snprintf(err, errlen, "access_log: cannot start its thread");
		l->thread = 0;
		sg__access_log_free(l);
		return SG_EIO;
	}
	*out = l;
	return 0;
}

void sg__access_log_free(sg_access_log *l)
{
	if (!l)
		return;
	if (l->thread) {
		pthread_mutex_lock(&l->lock);
		l->quit = 1;
		pthread_cond_signal(&l->wake);
		pthread_mutex_unlock(&l->lock);
		pthread_join(l->thread, NULL);
	}
	if (l->fd != STDERR_FILENO)
		close(l->fd);
	pthread_cond_destroy(&l->wake);
	pthread_mutex_destroy(&l->lock);
	free(l->queue);
	free(l->spare);
	free(l);
}

void sg__access_log_reopen(sg_access_log *l)
{
	if (!l)
		return;
	pthread_mutex_lock(&l->lock);
	l->reopen = 1;
	pthread_cond_signal(&l->wake);
	pthread_mutex_unlock(&l->lock);
}

unsigned long sg__access_log_dropped(const sg_access_log *l)
{
	return l ? atomic_load(&((sg_access_log *)l)->dropped) : 0;
}

static void enqueue(sg_access_log *l, const char *line, size_t n)
{
	pthread_mutex_lock(&l->lock);
	int fits = l->used + n <= QUEUE_BYTES;
	if (fits) {
		memcpy(l->queue + l->used, line, n);
		l->used += n;
		pthread_cond_signal(&l->wake);
	}
	pthread_mutex_unlock(&l->lock);
	if (!fits)
		atomic_fetch_add(&l->dropped, 1);
}

/* ---- redaction ------------------------------------------------------------ */

/* A query name whose value is a credential. */
static int secret_name(const char *name, size_t n)
{
	static const char *const words[] = {"token",  "ticket",   "jwt",       "key",
	                                    "secret", "password", "passwd",    "signature",
	                                    "auth",   "session",  "credential"};
	char low[64];
	if (n >= sizeof(low))
		return 1; /* a name this long is not worth the risk */
	for (size_t i = 0; i < n; i++)
		low[i] = (char)tolower((unsigned char)name[i]);
	low[n] = '\0';
	if (strcmp(low, "sig") == 0)
		return 1;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strstr(low, words[i]))
			return 1;
	return 0;
}

/* A value shaped like a JWT (base64url "eyJ..." with two dots), whatever
 * its name. */
static int jwt_like(const char *v)
{
	if (strncmp(v, "eyJ", 3) != 0)
		return 0;
	int dots = 0;
	for (; *v; v++)
		if (*v == '.')
			dots++;
	return dots >= 2;
}

char *sg__access_log_target(const sg_request *req)
{
	sg_buf b = SG_BUF_INIT;
	int rc = sg_buf_puts(&b, req->path ? req->path : "");
	for (size_t i = 0; i < req->nargs && !rc; i++) {
		const char *arg = req->args[i], *eq = strchr(arg, '=');
		size_t nlen = eq ? (size_t)(eq - arg) : strlen(arg);
		rc = sg_buf_puts(&b, i ? "&" : "?");
		if (!rc) /* a bare value (no name) shaped like a token goes too */
			rc = !eq && jwt_like(arg) ? sg_buf_puts(&b, "REDACTED")
			                          : sg_buf_append(&b, arg, nlen);
		if (!rc && eq)
			rc = sg_buf_puts(&b, "=") ||
			     sg_buf_puts(&b, secret_name(arg, nlen) || jwt_like(eq + 1) ? "REDACTED"
			                                                                : eq + 1);
	}
	if (rc || !b.data) {
		sg_buf_free(&b);
		return rc ? NULL : strdup("");
	}
	return b.data; /* the buffer's own allocation, NUL-terminated */
}

/* ---- formatting ------------------------------------------------------------- */

/* Appends s, cut at max bytes, escaped for a JSON string (json != 0) or
 * for a quoted field of the combined format (\xHH, as nginx does). Bytes
 * over 0x7f are escaped too: a hostile path may not be UTF-8. */
static void put_escaped(sg_buf *b, const char *s, size_t max, int json)
{
	size_t n = strlen(s);
	int cut = n > max;
	for (size_t i = 0; i < (cut ? max : n); i++) {
		unsigned char ch = (unsigned char)s[i];
		char esc[8];
		if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\') {
			sg_buf_append(b, (const char *)&ch, 1);
			continue;
		}
		if (json && (ch == '"' || ch == '\\'))
			snprintf(esc, sizeof(esc), "\\%c", ch);
		else
			snprintf(esc, sizeof(esc), json ? "\\u%04x" : "\\x%02X", ch);
		sg_buf_puts(b, esc);
	}
	if (cut)
		sg_buf_puts(b, "...");
}

static void format_json(sg_buf *b, const sg_access_entry *e, const struct tm *tm, long ms)
{
	char t[40];
	strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%S", tm);
	sg_buf_printf(b, "{\"time\":\"%s.%03ldZ\",\"remote_addr\":\"", t, ms);
	put_escaped(b, e->client, 64, 1);
	sg_buf_puts(b, "\",\"method\":\"");
	put_escaped(b, e->method, 32, 1);
	sg_buf_puts(b, "\",\"path\":\"");
	put_escaped(b, e->target, TARGET_MAX, 1);
	sg_buf_printf(b,
	              "\",\"transport\":\"%s\",\"h2\":%s,\"status\":%d,\"bytes\":%llu,"
	              "\"duration_ms\":%.3f,\"messages\":%lu,\"reason\":",
	              e->transport, e->h2 ? "true" : "false", e->status, e->bytes,
	              (double)e->duration_us / 1000.0, e->messages);
	if (e->reason)
		sg_buf_printf(b, "\"%s\"}\n", e->reason);
	else
		sg_buf_puts(b, "null}\n");
}

static void format_combined(sg_buf *b, const sg_access_entry *e, const struct tm *tm)
{
	char t[40];
	strftime(t, sizeof(t), "%d/%b/%Y:%H:%M:%S +0000", tm);
	put_escaped(b, e->client, 64, 0);
	sg_buf_printf(b, " - - [%s] \"", t);
	put_escaped(b, e->method, 32, 0);
	sg_buf_puts(b, " ");
	put_escaped(b, e->target, TARGET_MAX, 0);
	sg_buf_printf(b,
	              " %s\" %d %llu \"-\" \"-\" transport=%s duration_ms=%.3f messages=%lu "
	              "reason=%s\n",
	              e->h2 ? "HTTP/2.0" : "HTTP/1.1", e->status, e->bytes, e->transport,
	              (double)e->duration_us / 1000.0, e->messages, e->reason ? e->reason : "-");
}

void sg__access_log_write(sg_access_log *l, const sg_access_entry *e)
{
	if (!l)
		return;
	struct timespec now;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	sg_buf b = SG_BUF_INIT;
	if (l->format == FORMAT_JSON)
		format_json(&b, e, &tm, now.tv_nsec / 1000000);
	else
		format_combined(&b, e, &tm);
	if (b.data && b.len <= LINE_MAX_BYTES) {
		enqueue(l, b.data, b.len);
	} else {
		atomic_fetch_add(&l->dropped, 1); /* out of memory */
	}
	sg_buf_free(&b);
}
