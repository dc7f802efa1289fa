/*
 * threads — chunk and close from any thread, for real: 8 threads call
 * sg_stream_chunk on 100 live streams while some clients vanish at random.
 * Every chunk accepted for a client that stayed must arrive, in order per
 * thread; after_close must run exactly once per stream; nothing may leak.
 * Built against the public API only, with plain sockets as clients.
 * Usage: test_threads [WORKERS]   (default 1: one service loop)
 */
#include <arpa/inet.h>
#include <assert.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "streamgate.h"

#define CLIENTS 100
#define WRITERS 8
#define CHUNKS_PER_WRITER 20000
#define VANISH 20

static sg_stream *streams[CLIENTS];
static atomic_int opened, closed_hooks;
static atomic_int after_close_calls[CLIENTS];
static int accepted[WRITERS][CLIENTS]; /* chunks sg_stream_chunk took */
static int fds[CLIENTS];
static atomic_int vanished[CLIENTS];
static sg_server *srv;

static void on_after_close(sg_stream *s, void *ud)
{
	(void)s;
	atomic_fetch_add(&after_close_calls[(intptr_t)ud], 1);
	atomic_fetch_add(&closed_hooks, 1);
}

static void handler(sg_stream *s, const sg_request *req, void *ud)
{
	(void)ud;
	int i = atoi(sg_request_path(req) + 3);
	assert(i >= 0 && i < CLIENTS);
	sg_stream_after_close(s, on_after_close, (void *)(intptr_t)i);
	streams[i] = sg_stream_ref(s);
	atomic_fetch_add(&opened, 1);
}

static void *writer(void *arg)
{
	int t = (int)(intptr_t)arg;
	unsigned seed = (unsigned)t * 7919u + 1;
	for (int k = 0; k < CHUNKS_PER_WRITER; k++) {
		int i = (int)(rand_r(&seed) % CLIENTS);
		char line[32];
		int n = snprintf(line, sizeof(line), "w%d:%d\n", t, accepted[t][i]);
		/* a raw chunk: the chunked transport adds one more "\n" */
		if (sg_stream_chunk(streams[i], line, (size_t)n - 1) == 0)
			accepted[t][i]++;
	}
	return NULL;
}

static void *vanisher(void *arg)
{
	(void)arg;
	unsigned seed = 4242;
	for (int v = 0; v < VANISH; v++) {
		int i = (int)(rand_r(&seed) % CLIENTS);
		if (!atomic_exchange(&vanished[i], 1))
			shutdown(fds[i], SHUT_RDWR);
		usleep(300);
	}
	return NULL;
}

typedef struct body {
	char *data;
	size_t len, cap;
	int eof;
} body;

static void read_all(body *b)
{
	struct pollfd pf[CLIENTS];
	int live = 0;
	for (int i = 0; i < CLIENTS; i++)
		live += !vanished[i];
	for (int rounds = 0; live > 0 && rounds < 100000; rounds++) {
		int n = 0;
		int idx[CLIENTS];
		for (int i = 0; i < CLIENTS; i++)
			if (!vanished[i] && !b[i].eof) {
				pf[n] = (struct pollfd){.fd = fds[i], .events = POLLIN};
				idx[n++] = i;
			}
		if (poll(pf, (nfds_t)n, 5000) <= 0)
			break;
		for (int k = 0; k < n; k++) {
			if (!(pf[k].revents & (POLLIN | POLLHUP)))
				continue;
			body *x = &b[idx[k]];
			if (x->cap - x->len < 65536) {
				x->cap = x->cap * 2 + 65536;
				x->data = realloc(x->data, x->cap);
			}
			ssize_t r = read(fds[idx[k]], x->data + x->len, x->cap - x->len);
			if (r <= 0) {
				x->eof = 1;
				live--;
			} else {
				x->len += (size_t)r;
				/* the last chunk ends the response; the connection stays */
				if (x->len >= 5 && memcmp(x->data + x->len - 5, "0\r\n\r\n", 5) == 0) {
					x->eof = 1;
					live--;
				}
			}
		}
	}
}

/* Decodes an HTTP/1.1 chunked body after the headers; returns bytes. */
static size_t dechunk(const body *b, char *out)
{
	const char *p = strstr(b->data, "\r\n\r\n");
	size_t n = 0;
	if (!p)
		return 0;
	p += 4;
	for (;;) {
		char *end;
		unsigned long len = strtoul(p, &end, 16);
		if (end == p || strncmp(end, "\r\n", 2) != 0 || len == 0)
			break;
		memcpy(out + n, end + 2, len);
		n += len;
		p = end + 2 + len + 2;
	}
	return n;
}

static int check_client(int i, const body *b)
{
	char *text = calloc(1, b->len + 1);
	size_t n = dechunk(b, text);
	int next[WRITERS] = {0}, bad = 0;
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		int t, seq;
		if (sscanf(line, "w%d:%d", &t, &seq) != 2 || t < 0 || t >= WRITERS ||
		    seq != next[t]++) {
			fprintf(stderr, "client %d: unexpected line \"%s\"\n", i, line);
			bad = 1;
			break;
		}
	}
	for (int t = 0; t < WRITERS && !bad; t++)
		if (next[t] != accepted[t][i]) {
			fprintf(stderr, "client %d writer %d: got %d of %d chunks\n", i, t, next[t],
				accepted[t][i]);
			bad = 1;
		}
	(void)n;
	free(text);
	return bad;
}

int main(int argc, char **argv)
{
	const char *workers = argc > 1 ? argv[1] : "1";
	const char *const settings[] = {"workers", workers, "queue_bytes", "67108864", NULL};
	if (!(srv = harness_server(settings, "/s/", handler)))
		return 1;
	pthread_t loop = harness_run(srv);
	for (int i = 0; i < CLIENTS; i++) {
		char req[64];
		snprintf(req, sizeof(req), "GET /s/%d HTTP/1.1\r\nHost: t\r\n\r\n", i);
		if ((fds[i] = harness_client(srv, req)) < 0)
			return 1;
	}
	if (harness_wait_opened(&opened, CLIENTS))
		return 1;
	pthread_t w[WRITERS], v;
	pthread_create(&v, NULL, vanisher, NULL);
	for (int t = 0; t < WRITERS; t++)
		pthread_create(&w[t], NULL, writer, (void *)(intptr_t)t);
	for (int t = 0; t < WRITERS; t++)
		pthread_join(w[t], NULL);
	pthread_join(v, NULL);
	sg_server_stop(srv);
	static body bodies[CLIENTS];
	read_all(bodies);
	pthread_join(loop, NULL);
	sg_server_free(srv);

	int failures = 0, kept = 0;
	long total = 0;
	for (int i = 0; i < CLIENTS; i++) {
		if (!vanished[i]) {
			kept++;
			failures += check_client(i, &bodies[i]);
			for (int t = 0; t < WRITERS; t++)
				total += accepted[t][i];
		}
		if (atomic_load(&after_close_calls[i]) != 1) {
			fprintf(stderr, "stream %d: after_close ran %d times\n", i,
				atomic_load(&after_close_calls[i]));
			failures++;
		}
		sg_stream_unref(streams[i]);
		close(fds[i]);
		free(bodies[i].data);
	}
	printf("%s worker(s): %d clients kept, %ld chunks checked, %d after_close calls\n", workers,
	       kept, total, atomic_load(&closed_hooks));
	printf("%d passed, %d failed\n", failures ? 0 : 1, failures ? 1 : 0);
	return failures ? 1 : 0;
}
