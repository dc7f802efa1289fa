/*
 * conn — subscriber connections. Each worker thread owns a slice of the
 * subscribers and one epoll loop: it opens them at the ramp rate with a
 * bound on handshakes in flight, reads whatever the server sends, counts
 * every message token once (a bitmap per subscriber catches duplicates)
 * and records its latency. The main thread only reads the atomic counters
 * in bench_live and flips the phase; everything else stays in the thread.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

enum { SUB_NEW, SUB_CONNECTING, SUB_HEAD, SUB_STREAM, SUB_WS, SUB_CLOSED };

/* One subscriber; owns fd. seen points into the worker's bitmap slab. */
typedef struct bench_sub {
	int fd;
	uint32_t chan;
	uint8_t state;
	uint8_t established;
	char cursor[BENCH_CURSOR]; /* long-poll: the id to ask after */
	bench_http http;
	bench_scan scan;
	bench_ws *ws; /* WebSocket transport only */
	uint8_t *seen;
} bench_sub;

struct bench_worker {
	const bench_opts *o;
	int index, first, count;
	_Atomic int *phase;
	pthread_t thread;
	int started;
	int ep;
	bench_sub *subs;
	bench_ws *ws_slab;
	uint8_t *seen_slab;
	size_t seen_bytes; /* per subscriber */
	int next_open;     /* subscribers opened so far */
	int inflight;      /* handshakes not yet answered */
	double ramp_rate, inflight_max;
	uint64_t ramp_start;
	uint64_t rng;
	bench_live live;
	uint64_t dropped, reconnects, duplicated, stray, refused;
	uint64_t ended; /* upstream mode: streams the server ended cleanly */
	unsigned refused_status;
	uint64_t conn_errors, closed_early, unanswered;
	int conn_errno;
	uint64_t got_now; /* deliveries in the current read */
	uint64_t now;     /* time of the current read */
	bench_hist hist;
	char rbuf[1 << 16];
};

uint64_t bench_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void bench_channel_name(char *out, size_t cap, const bench_opts *o, int index)
{
	snprintf(out, cap, "%sc%d", o->prefix, index);
}

int bench_connect_loopback(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

void bench_close_reset(int fd)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

static uint64_t next_random(bench_worker *w)
{
	/* xorshift64*, seeded from getrandom(): enough for WebSocket keys */
	w->rng ^= w->rng >> 12;
	w->rng ^= w->rng << 25;
	w->rng ^= w->rng >> 27;
	return w->rng * 0x2545F4914F6CDD1Dull;
}

/* ---- deliveries ---- */

static void on_token(void *ud, uint64_t seq, uint64_t sent_ns);

typedef struct read_ctx {
	bench_worker *w;
	bench_sub *s;
} read_ctx;

static void on_token(void *ud, uint64_t seq, uint64_t sent_ns)
{
	read_ctx *rc = ud;
	bench_worker *w = rc->w;
	bench_sub *s = rc->s;
	/* channels: seq counts over all of them, round-robin; upstream mode:
	 * each stream counts its own from 0 */
	uint64_t chans = w->o->path_template ? 1u : (uint64_t)w->o->channels;
	uint64_t k = seq / chans;
	if ((!w->o->path_template && seq % chans != s->chan) || k >= w->seen_bytes * 8u) {
		w->stray++;
		return;
	}
	uint8_t bit = (uint8_t)(1u << (k & 7u));
	if (s->seen[k >> 3] & bit) {
		w->duplicated++;
		return;
	}
	s->seen[k >> 3] |= bit;
	w->got_now++;
	bench_hist_add(&w->hist, w->now > sent_ns ? (w->now - sent_ns) / 1000u : 0);
}

static void on_body(void *ud, const char *data, size_t len)
{
	read_ctx *rc = ud;
	bench_scan_feed(&rc->s->scan, data, len, on_token, ud);
}

static void on_ping(void *ud, const char *payload, size_t len)
{
	read_ctx *rc = ud;
	unsigned char frame[2 + 4 + BENCH_WS_CTL];
	uint64_t mask = next_random(rc->w);
	frame[0] = 0x8a; /* FIN, pong */
	frame[1] = (unsigned char)(0x80u | len);
	memcpy(frame + 2, &mask, 4);
	for (size_t i = 0; i < len; i++)
		frame[6 + i] = (unsigned char)payload[i] ^ frame[2 + (i & 3u)];
	if (write(rc->s->fd, frame, 6 + len) < 0) {
		/* a failed pong shows up as a closed connection on the next read */
	}
}

/* ---- connection life ---- */

static void sub_close(bench_worker *w, bench_sub *s)
{
	if (s->fd >= 0) {
		epoll_ctl(w->ep, EPOLL_CTL_DEL, s->fd, NULL);
		bench_close_reset(s->fd);
	}
	s->fd = -1;
	s->state = SUB_CLOSED;
}

/* The connection ended or broke (err: an errno, or 0 for the peer's close):
 * a failure before the answer, a drop after. */
static void sub_lost(bench_worker *w, bench_sub *s, int err)
{
	if (!s->established) {
		if (s->state == SUB_CONNECTING || s->state == SUB_HEAD) {
			w->inflight--;
			atomic_fetch_add_explicit(&w->live.failed, 1, memory_order_relaxed);
			if (s->state == SUB_CONNECTING) {
				w->conn_errors++;
				w->conn_errno = err;
			} else {
				w->closed_early++;
			}
		}
	} else if (atomic_load(w->phase) != BENCH_PHASE_STOP) {
		w->dropped++;
	}
	sub_close(w, s);
}

static int sub_open(bench_worker *w, bench_sub *s)
{
	s->fd = bench_connect_loopback(bench_sub_port(w->o, w->first + (int)(s - w->subs)));
	if (s->fd < 0)
		return -1;
	struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = s};
	if (epoll_ctl(w->ep, EPOLL_CTL_ADD, s->fd, &ev) < 0) {
		bench_close_reset(s->fd);
		s->fd = -1;
		return -1;
	}
	s->state = SUB_CONNECTING;
	bench_http_reset(&s->http);
	memset(&s->scan, 0, sizeof(s->scan));
	return 0;
}

static int sub_send_request(bench_worker *w, bench_sub *s)
{
	char req[768], name[160], path[256];
	unsigned char key[16];
	uint64_t r1 = next_random(w), r2 = next_random(w);
	int index = w->first + (int)(s - w->subs);
	memcpy(key, &r1, 8);
	memcpy(key + 8, &r2, 8);
	bench_channel_name(name, sizeof(name), w->o, (int)s->chan);
	if (bench_sub_path(path, sizeof(path), w->o, name, index) < 0)
		return -1;
	int n = bench_sub_request(req, sizeof(req), w->o, bench_sub_port(w->o, index), path,
	                          s->cursor, key);
	if (n < 0 || write(s->fd, req, (size_t)n) != n)
		return -1; /* a fresh socket takes a few hundred bytes at once */
	bench_http_reset(&s->http);
	return 0;
}

/* A long-poll answer is complete: ask again after its cursor. */
static void longpoll_again(bench_worker *w, bench_sub *s)
{
	if (s->http.cursor[0])
		memcpy(s->cursor, s->http.cursor, sizeof(s->cursor));
	if (atomic_load(w->phase) == BENCH_PHASE_STOP)
		return;
	if (!s->http.conn_close && sub_send_request(w, s) == 0)
		return;
	w->reconnects++;
	sub_close(w, s);
	if (sub_open(w, s) < 0)
		s->state = SUB_CLOSED; /* counted as a drop at the end */
}

/* The head is parsed: is this a subscription? */
static int sub_answered(bench_worker *w, bench_sub *s)
{
	int ws = w->o->transport == BENCH_WS;
	int ok = ws ? s->http.status == 101 : s->http.status == 200;
	if (!s->established) {
		w->inflight--;
		if (!ok) {
			w->refused++;
			w->refused_status = s->http.status;
			atomic_fetch_add_explicit(&w->live.failed, 1, memory_order_relaxed);
			sub_close(w, s);
			return -1;
		}
		s->established = 1;
		atomic_fetch_add_explicit(&w->live.established, 1, memory_order_relaxed);
	} else if (!ok) {
		sub_lost(w, s, 0);
		return -1;
	}
	s->state = ws ? SUB_WS : SUB_STREAM;
	return 0;
}

/* Runs bytes through the head parser, the body framing and the scanner. */
static void sub_bytes(bench_worker *w, bench_sub *s, const char *data, size_t len)
{
	read_ctx rc = {w, s};
	size_t off = 0;
	while (off < len && s->fd >= 0) {
		if (s->state == SUB_WS) {
			bench_ws_feed(s->ws, &s->scan, data + off, len - off, on_token, on_ping,
			              &rc);
			if (s->ws->closed)
				sub_lost(w, s, 0);
			return;
		}
		int was_head = s->http.state == BENCH_HS_HEAD;
		ssize_t n = bench_http_feed(&s->http, data + off, len - off, on_body, &rc);
		if (n < 0) {
			sub_lost(w, s, EPROTO);
			return;
		}
		off += (size_t)n;
		if (was_head && s->http.state != BENCH_HS_HEAD && sub_answered(w, s) < 0)
			return;
		if (s->http.state == BENCH_HS_DONE && s->state == SUB_STREAM) {
			if (w->o->transport != BENCH_LONGPOLL) {
				if (w->o->path_template) { /* a proxied stream's end */
					w->ended++;
					sub_close(w, s);
				} else {
					sub_lost(w, s, 0); /* the stream ended */
				}
				return;
			}
			s->state = SUB_HEAD;
			longpoll_again(w, s);
		}
	}
}

static void sub_readable(bench_worker *w, bench_sub *s)
{
	ssize_t n = read(s->fd, w->rbuf, sizeof(w->rbuf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		sub_lost(w, s, n < 0 ? errno : 0);
		return;
	}
	w->now = bench_now_ns();
	w->got_now = 0;
	sub_bytes(w, s, w->rbuf, (size_t)n);
	if (w->got_now) {
		atomic_fetch_add_explicit(&w->live.delivered, w->got_now, memory_order_relaxed);
		atomic_store_explicit(&w->live.last_delivery_ns, w->now, memory_order_relaxed);
	}
}

static void sub_writable(bench_worker *w, bench_sub *s)
{
	int err = 0;
	socklen_t el = sizeof(err);
	if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err ||
	    sub_send_request(w, s) < 0) {
		sub_lost(w, s, err ? err : errno);
		return;
	}
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = s};
	epoll_ctl(w->ep, EPOLL_CTL_MOD, s->fd, &ev);
	s->state = SUB_HEAD;
	if (w->o->transport == BENCH_LONGPOLL && !s->established) {
		/* a poll is answered only when a message comes: it counts as
		 * established once asked */
		s->established = 1;
		w->inflight--;
		atomic_fetch_add_explicit(&w->live.established, 1, memory_order_relaxed);
	}
}

/* Opens what the ramp allows now. */
static void ramp(bench_worker *w, uint64_t now)
{
	double elapsed = (double)(now - w->ramp_start) / 1e9;
	double allowed = 1.0 + elapsed * w->ramp_rate;
	while (w->next_open < w->count && w->next_open < allowed && w->inflight < w->inflight_max) {
		bench_sub *s = &w->subs[w->next_open++];
		atomic_fetch_add_explicit(&w->live.attempted, 1, memory_order_relaxed);
		if (sub_open(w, s) < 0) {
			w->conn_errors++;
			w->conn_errno = errno;
			atomic_fetch_add_explicit(&w->live.failed, 1, memory_order_relaxed);
			s->state = SUB_CLOSED;
			continue;
		}
		w->inflight++;
	}
	if (w->next_open == w->count && w->inflight == 0)
		atomic_store(&w->live.ramp_done, 1);
}

static void *worker_main(void *arg)
{
	bench_worker *w = arg;
	struct epoll_event evs[256];
	w->ramp_start = bench_now_ns();
	for (;;) {
		int phase = atomic_load(w->phase);
		if (phase == BENCH_PHASE_STOP)
			break;
		if (phase == BENCH_PHASE_RAMP)
			ramp(w, bench_now_ns());
		int n = epoll_wait(w->ep, evs, 256, phase == BENCH_PHASE_RAMP ? 1 : 20);
		for (int i = 0; i < n; i++) {
			bench_sub *s = evs[i].data.ptr;
			if (s->fd < 0)
				continue;
			if (s->state == SUB_CONNECTING)
				sub_writable(w, s);
			else if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
				sub_readable(w, s);
		}
	}
	for (int i = 0; i < w->count; i++) {
		if (w->subs[i].fd < 0)
			continue;
		if (!w->subs[i].established)
			w->unanswered++;
		sub_close(w, &w->subs[i]);
	}
	return NULL;
}

/* ---- the worker object ---- */

bench_worker *bench_worker_new(const bench_opts *o, int index, int first, int count,
                               _Atomic int *phase)
{
	bench_worker *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->o = o;
	w->index = index;
	w->first = first;
	w->count = count;
	w->phase = phase;
	w->ramp_rate = (double)o->ramp_rate / o->threads;
	w->inflight_max = (double)o->max_inflight / o->threads;
	if (w->inflight_max < 1)
		w->inflight_max = 1;
	size_t per_chan = o->path_template ? (size_t)o->messages
	                                   : ((size_t)o->messages + (size_t)o->channels - 1u) /
	                                         (size_t)o->channels;
	w->seen_bytes = per_chan / 8u + 1u;
	w->ep = epoll_create1(EPOLL_CLOEXEC);
	w->subs = calloc((size_t)count ? (size_t)count : 1u, sizeof(*w->subs));
	w->seen_slab = calloc((size_t)count ? (size_t)count : 1u, w->seen_bytes);
	if (o->transport == BENCH_WS)
		w->ws_slab = calloc((size_t)count ? (size_t)count : 1u, sizeof(*w->ws_slab));
	if (w->ep < 0 || !w->subs || !w->seen_slab || (o->transport == BENCH_WS && !w->ws_slab) ||
	    getrandom(&w->rng, sizeof(w->rng), 0) != sizeof(w->rng)) {
		bench_worker_free(w);
		return NULL;
	}
	w->rng |= 1u;
	for (int i = 0; i < count; i++) {
		bench_sub *s = &w->subs[i];
		s->fd = -1;
		s->chan = (uint32_t)((first + i) % o->channels);
		s->seen = w->seen_slab + (size_t)i * w->seen_bytes;
		s->ws = w->ws_slab ? &w->ws_slab[i] : NULL;
	}
	return w;
}

int bench_worker_start(bench_worker *w)
{
	if (pthread_create(&w->thread, NULL, worker_main, w))
		return -1;
	w->started = 1;
	return 0;
}

void bench_worker_join(bench_worker *w)
{
	if (w->started)
		pthread_join(w->thread, NULL);
	w->started = 0;
}

bench_live *bench_worker_live(bench_worker *w)
{
	return &w->live;
}

void bench_worker_result(bench_worker *w, const uint64_t *published, bench_result *res)
{
	memset(res, 0, sizeof(*res));
	res->established = atomic_load(&w->live.established);
	res->failed = (uint64_t)w->count - res->established;
	res->dropped = w->dropped;
	res->ended = w->ended;
	res->refused = w->refused;
	res->refused_status = w->refused_status;
	res->conn_errors = w->conn_errors;
	res->conn_errno = w->conn_errno;
	res->closed_early = w->closed_early;
	res->unopened = (uint64_t)(w->count - w->next_open);
	res->unanswered = w->unanswered;
	res->reconnects = w->reconnects;
	res->duplicated = w->duplicated;
	res->stray = w->stray;
	res->delivered = atomic_load(&w->live.delivered);
	for (int i = 0; i < w->count; i++)
		if (w->subs[i].established)
			res->expected += published[w->subs[i].chan];
	res->hist = w->hist;
}

void bench_worker_free(bench_worker *w)
{
	if (!w)
		return;
	if (w->subs)
		for (int i = 0; i < w->count; i++)
			if (w->subs[i].fd >= 0)
				bench_close_reset(w->subs[i].fd);
	if (w->ep >= 0)
		close(w->ep);
	free(w->subs);
	free(w->seen_slab);
	free(w->ws_slab);
	free(w);
}
