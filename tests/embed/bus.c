/*
 * bus — one order across workers, for real: a server with two workers,
 * 40 plain-socket subscribers to channel "c" spread over both by the
 * kernel, and 4 threads publishing 500 messages each with
 * sg_server_publish. Every client must get all 2000 messages, each
 * publisher's in its own order, and every client the very same total order
 * (the bus gives one id order whichever worker a client is on).
 * Built against the public API only; the HTTP/1.1 chunked body is decoded
 * here, then split into messages ("data\n" each, as the chunked transport
 * renders them; one HTTP chunk may carry several).
 */
#define _GNU_SOURCE /* memmem */
#include <arpa/inet.h>
#include <ctype.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "streamgate.h"

#define CLIENTS 40
#define PUBLISHERS 4
#define PER_PUBLISHER 500
#define TOTAL (PUBLISHERS * PER_PUBLISHER)
#define MAX_THREADS 8
#define MSG_MAX 64

static sg_server *srv;
static atomic_int opened, subscribe_failures;
static pthread_mutex_t threads_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_t handler_threads[MAX_THREADS]; /* distinct, under threads_lock */
static int nthreads;
static pthread_barrier_t start_line;
static int publish_failures[PUBLISHERS]; /* each written by its publisher */

typedef enum { ST_HEADERS, ST_SIZE, ST_DATA, ST_DATA_END, ST_LAST_END, ST_DONE } parse_state;

/* One subscriber: the raw bytes read, how far they are parsed, and the
 * messages decoded (publisher * PER_PUBLISHER + seq each). Owns raw. */
typedef struct client {
	int fd;
	char *raw;
	size_t len, cap, pos;
	parse_state st;
	size_t chunk_left; /* data bytes of the current chunk still to come */
	char cur[MSG_MAX]; /* the message being assembled */
	size_t cur_len;
	int msgs[TOTAL];
	size_t nmsgs;
	int heartbeats, eof, bad;
	char why[200]; /* the first thing that went wrong */
} client;

static client clients[CLIENTS];

static void handler(sg_stream *s, const sg_request *req, void *ud)
{
	(void)req;
	(void)ud;
	if (sg_stream_subscribe(s, "c", NULL))
		atomic_fetch_add(&subscribe_failures, 1);
	pthread_t self = pthread_self();
	pthread_mutex_lock(&threads_lock);
	int known = 0;
	for (int i = 0; i < nthreads && !known; i++)
		known = pthread_equal(handler_threads[i], self);
	if (!known && nthreads < MAX_THREADS)
		handler_threads[nthreads++] = self;
	pthread_mutex_unlock(&threads_lock);
	atomic_fetch_add(&opened, 1);
}

static void *publisher(void *arg)
{
	int t = (int)(intptr_t)arg;
	pthread_barrier_wait(&start_line);
	for (int seq = 0; seq < PER_PUBLISHER; seq++) {
		char data[32];
		int n = snprintf(data, sizeof(data), "T%d-%d", t, seq);
		if (sg_server_publish(srv, "c", NULL, data, (size_t)n) != 0)
			publish_failures[t]++;
	}
	return NULL;
}

static void fail(client *c, const char *what, const char *detail)
{
	char quoted[121]; /* detail may lie in *c: copy it out first */
	size_t n = strnlen(detail, sizeof(quoted) - 1);
	memcpy(quoted, detail, n);
	quoted[n] = '\0';
	if (!c->bad)
		snprintf(c->why, sizeof(c->why), "%s: \"%s\"", what, quoted);
	c->bad = 1;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One whole message (the line without its "\n"). An empty line is the
 * transport's heartbeat: our messages are never empty. */
static void on_message(client *c)
{
	int t, seq, used = -1;
	c->cur[c->cur_len] = '\0';
	if (c->cur_len == 0) {
		c->heartbeats++;
		return;
	}
	if (sscanf(c->cur, "T%d-%d%n", &t, &seq, &used) != 2 || used != (int)c->cur_len || t < 0 ||
	    t >= PUBLISHERS || seq < 0 || seq >= PER_PUBLISHER)
		fail(c, "not a message we published", c->cur);
	else if (c->nmsgs == TOTAL)
		fail(c, "more messages than were published", c->cur);
	else
		c->msgs[c->nmsgs++] = t * PER_PUBLISHER + seq;
	c->cur_len = 0;
}

static void on_body(client *c, const char *p, size_t n)
{
	for (size_t i = 0; i < n && !c->bad; i++) {
		if (p[i] == '\n')
			on_message(c);
		else if (c->cur_len + 1 == MSG_MAX)
			fail(c, "a line longer than any message", c->cur);
		else
			c->cur[c->cur_len++] = p[i];
	}
}

/* The response head: 200, chunked, text/plain. */
static void check_headers(client *c, size_t end)
{
	char head[2048];
	size_t n = end < sizeof(head) - 1 ? end : sizeof(head) - 1;
	for (size_t i = 0; i < n; i++)
		head[i] = (char)tolower((unsigned char)c->raw[i]);
	head[n] = '\0';
	if (strncmp(head, "http/1.1 200 ", 13) != 0)
		fail(c, "status line", head);
	else if (!strstr(head, "\r\ntransfer-encoding: chunked\r\n"))
		fail(c, "no transfer-encoding: chunked", head);
	else if (!strstr(head, "\r\ncontent-type: text/plain"))
		fail(c, "not text/plain", head);
}

/* Takes "\r\n" at pos if it is all there; 0 when more bytes are needed. */
static int take_crlf(client *c)
{
	if (c->len - c->pos < 2)
		return 0;
	if (memcmp(c->raw + c->pos, "\r\n", 2) != 0)
		fail(c, "no CRLF after a chunk", c->raw + c->pos);
	c->pos += 2;
	return 1;
}

/* A chunk size line at pos ("1a\r\n"; lws adds no extensions). */
static int take_size(client *c)
{
	char *eol = memmem(c->raw + c->pos, c->len - c->pos, "\r\n", 2);
	if (!eol)
		return 0;
	char *end;
	unsigned long n = strtoul(c->raw + c->pos, &end, 16);
	if (end == c->raw + c->pos || end != eol || !isxdigit((unsigned char)c->raw[c->pos]))
		fail(c, "bad chunk size line", c->raw + c->pos);
	c->pos = (size_t)(eol + 2 - c->raw);
	c->chunk_left = n;
	c->st = n ? ST_DATA : ST_LAST_END;
	return 1;
}

/* Parses what was read so far, as far as it is complete. */
static void parse(client *c)
{
	int more = 1;
	while (more && !c->bad && c->pos < c->len) {
		if (c->st == ST_HEADERS) {
			char *end = memmem(c->raw, c->len, "\r\n\r\n", 4);
			if ((more = end != NULL)) {
				c->pos = (size_t)(end + 4 - c->raw);
				check_headers(c, c->pos);
				c->st = ST_SIZE;
			}
		} else if (c->st == ST_SIZE) {
			more = take_size(c);
		} else if (c->st == ST_DATA) {
			size_t n =
			    c->len - c->pos < c->chunk_left ? c->len - c->pos : c->chunk_left;
			on_body(c, c->raw + c->pos, n);
			c->pos += n;
			if (!(c->chunk_left -= n))
				c->st = ST_DATA_END;
		} else if (c->st == ST_DATA_END || c->st == ST_LAST_END) {
			parse_state next = c->st == ST_DATA_END ? ST_SIZE : ST_DONE;
			if ((more = take_crlf(c)))
				c->st = next; /* no trailers after the last chunk */
		} else {
			fail(c, "bytes after the last chunk", c->raw + c->pos);
		}
	}
	if (c->st == ST_DONE && c->cur_len)
		fail(c, "the response ended inside a message", c->cur);
}

static void read_some(client *c)
{
	if (c->cap - c->len < 4097) {
		c->cap = c->cap * 2 + 65536;
		c->raw = realloc(c->raw, c->cap);
	}
	ssize_t r = read(c->fd, c->raw + c->len, c->cap - c->len - 1);
	if (r <= 0) {
		c->eof = 1;
		return;
	}
	c->len += (size_t)r;
	c->raw[c->len] = '\0'; /* for the messages fail() quotes */
	parse(c);
}

/* Reads every client until done(c) holds for each, or ms passed. */
static void read_until(int (*done)(const client *), long long ms)
{
	long long deadline = now_ms() + ms;
	for (;;) {
		struct pollfd pf[CLIENTS];
		int idx[CLIENTS], n = 0;
		for (int i = 0; i < CLIENTS; i++)
			if (clients[i].fd >= 0 && !done(&clients[i]) && !clients[i].eof &&
			    !clients[i].bad) {
				pf[n] = (struct pollfd){.fd = clients[i].fd, .events = POLLIN};
				idx[n++] = i;
			}
		long long left = deadline - now_ms();
		if (n == 0 || left <= 0 || poll(pf, (nfds_t)n, (int)(left < 100 ? left : 100)) < 0)
			return;
		for (int k = 0; k < n; k++)
			if (pf[k].revents & (POLLIN | POLLHUP | POLLERR))
				read_some(&clients[idx[k]]);
	}
}

static int has_all(const client *c)
{
	return c->nmsgs == TOTAL;
}

static int has_ended(const client *c)
{
	return c->st == ST_DONE;
}

static int connect_clients(void)
{
	for (int i = 0; i < CLIENTS; i++)
		if ((clients[i].fd = harness_client(srv, "GET /sub HTTP/1.1\r\nHost: t\r\n\r\n")) < 0)
			return -1;
	return 0;
}

/* Each publisher's messages in seq order, all there, and the same total
 * order as client 0's. Returns the number of failures. */
static int check_client(int i)
{
	const client *c = &clients[i], *first = &clients[0];
	int next[PUBLISHERS] = {0};
	if (c->bad) {
		fprintf(stderr, "client %d: %s\n", i, c->why);
		return 1;
	}
	if (c->st != ST_DONE)
		fprintf(stderr, "client %d: the response did not end with the last chunk\n", i);
	if (c->nmsgs != TOTAL) {
		fprintf(stderr, "client %d: %zu of %d messages\n", i, c->nmsgs, TOTAL);
		return 1;
	}
	for (size_t k = 0; k < c->nmsgs; k++) {
		int t = c->msgs[k] / PER_PUBLISHER, seq = c->msgs[k] % PER_PUBLISHER;
		if (seq != next[t]++) {
			fprintf(stderr, "client %d: message %zu is T%d-%d, expected T%d-%d\n", i, k,
			        t, seq, t, next[t] - 1);
			return 1;
		}
		if (c->msgs[k] != first->msgs[k]) {
			fprintf(stderr, "client %d: message %zu is T%d-%d, client 0 had T%d-%d\n",
			        i, k, t, seq, first->msgs[k] / PER_PUBLISHER,
			        first->msgs[k] % PER_PUBLISHER);
			return 1;
		}
	}
	return c->st != ST_DONE;
}

/* Opens the streams, publishes, reads everything; failures found so far. */
static int exercise(void)
{
	int failures = 0;
	if (connect_clients())
		return 1;
	if (harness_wait_opened(&opened, CLIENTS))
		return 1;
	if (atomic_load(&subscribe_failures)) {
		fprintf(stderr, "%d subscribes failed\n", atomic_load(&subscribe_failures));
		failures++;
	}
	pthread_mutex_lock(&threads_lock);
	int distinct = nthreads;
	pthread_mutex_unlock(&threads_lock);
	if (distinct != 2) {
		fprintf(stderr, "the handler ran on %d distinct threads, expected 2\n", distinct);
		failures++;
	}
	pthread_t pub[PUBLISHERS];
	pthread_barrier_init(&start_line, NULL, PUBLISHERS);
	for (int t = 0; t < PUBLISHERS; t++)
		pthread_create(&pub[t], NULL, publisher, (void *)(intptr_t)t);
	for (int t = 0; t < PUBLISHERS; t++) {
		pthread_join(pub[t], NULL);
		if (publish_failures[t]) {
			fprintf(stderr, "publisher %d: %d publishes failed\n", t,
			        publish_failures[t]);
			failures++;
		}
	}
	pthread_barrier_destroy(&start_line);
	read_until(has_all, 20000);
	return failures;
}

int main(void)
{
	for (int i = 0; i < CLIENTS; i++)
		clients[i].fd = -1;
	static const char *const settings[] = {"workers", "2", NULL};
	if (!(srv = harness_server(settings, "/sub", handler)))
		return 1;
	pthread_t loop = harness_run(srv);
	int failures = exercise();
	sg_server_stop(srv);
	read_until(has_ended, 10000);
	pthread_join(loop, NULL);
	sg_server_free(srv);

	int heartbeats = 0;
	for (int i = 0; i < CLIENTS; i++) {
		failures += check_client(i);
		heartbeats += clients[i].heartbeats;
		if (clients[i].fd >= 0)
			close(clients[i].fd);
		free(clients[i].raw);
	}
	printf("%d clients on %d threads, %d messages each, %d heartbeats skipped\n", CLIENTS,
	       nthreads, TOTAL, heartbeats);
	printf("%d passed, %d failed\n", failures ? 0 : 1, failures ? 1 : 0);
	return failures ? 1 : 0;
}
