/*
 * publish — the publisher: a few keep-alive HTTP connections and a steady
 * schedule (message i is due at t0 + i / rate). A message waits for an idle
 * connection, so a server whose publish API stalls shows up as late
 * publishes, not as a faster or slower schedule. The send timestamp in the
 * payload is taken when the request is written, so queueing in here never
 * counts as delivery latency. Runs on the main thread.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define PUB_MAX_CONNS 64
#define PUB_LATE_NS 50000000ull      /* 50 ms behind schedule */
#define PUB_CONNECT_NS 5000000000ull /* to open the connections */
#define PUB_TAIL_NS 30000000000ull   /* for answers after the last send */
#define PUB_MAX_RECONNECTS 100

enum { PC_CONNECTING, PC_IDLE, PC_BUSY, PC_DEAD };

/* One publishing connection; owns fd. */
typedef struct pub_conn {
	int fd;
	int state;
	uint32_t chan;
	uint64_t sent_ns;
	bench_http http;
	size_t out_len, out_off;
	char out[1024];
} pub_conn;

typedef struct pub_run {
	const bench_opts *o;
	int ep;
	int reconnects;
	pub_conn conns[PUB_MAX_CONNS];
	int nconns;
	uint64_t *published;
	bench_pub_result *res;
} pub_run;

static int conn_open(pub_run *r, pub_conn *c)
{
	c->fd = bench_connect_loopback(r->o->pub_port);
	c->state = PC_DEAD;
	if (c->fd < 0)
		return -1;
	struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
	if (epoll_ctl(r->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
		bench_close_reset(c->fd);
		c->fd = -1;
		return -1;
	}
	c->state = PC_CONNECTING;
	return 0;
}

/* Closes c and opens it again: always after a "Connection: close" answer
 * (Pushpin's control port closes after every publish), at most
 * PUB_MAX_RECONNECTS times after errors. */
static void conn_drop(pub_run *r, pub_conn *c)
{
	int clean = c->state == PC_IDLE;
	if (c->state == PC_BUSY)
		r->res->failed++;
	if (c->fd >= 0) {
		epoll_ctl(r->ep, EPOLL_CTL_DEL, c->fd, NULL);
		bench_close_reset(c->fd);
	}
	c->fd = -1;
	c->state = PC_DEAD;
	if (clean || r->reconnects < PUB_MAX_RECONNECTS) {
		r->reconnects += !clean;
		conn_open(r, c);
	}
}

static void conn_want(pub_run *r, pub_conn *c, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = c};
	epoll_ctl(r->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void conn_flush(pub_run *r, pub_conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
		if (n < 0 && errno == EAGAIN) {
			conn_want(r, c, EPOLLIN | EPOLLOUT);
			return;
		}
		if (n <= 0) {
			conn_drop(r, c);
			return;
		}
		c->out_off += (size_t)n;
	}
	conn_want(r, c, EPOLLIN);
}

static int send_message(pub_run *r, pub_conn *c, uint64_t seq)
{
	char payload[BENCH_PAYLOAD_BYTES], name[160];
	int chan = (int)(seq % (uint64_t)r->o->channels);
	bench_channel_name(name, sizeof(name), r->o, chan);
	c->sent_ns = bench_now_ns();
	bench_payload(payload, seq, c->sent_ns);
	int n = bench_pub_request(c->out, sizeof(c->out), r->o, name, payload);
	if (n < 0)
		return -1;
	c->out_len = (size_t)n;
	c->out_off = 0;
	c->chan = (uint32_t)chan;
	c->state = PC_BUSY;
	bench_http_reset(&c->http);
	if (!r->res->first_ns)
		r->res->first_ns = c->sent_ns;
	r->res->sent++;
	conn_flush(r, c);
	return 0;
}

static void conn_readable(pub_run *r, pub_conn *c)
{
	char buf[4096];
	ssize_t n = read(c->fd, buf, sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0 || c->state != PC_BUSY) {
		conn_drop(r, c);
		return;
	}
	if (bench_http_feed(&c->http, buf, (size_t)n, NULL, NULL) < 0) {
		conn_drop(r, c);
		return;
	}
	if (c->http.state != BENCH_HS_DONE)
		return;
	uint64_t now = bench_now_ns();
	bench_hist_add(&r->res->answer, (now - c->sent_ns) / 1000u);
	r->res->last_ns = now;
	if (c->http.status >= 200 && c->http.status < 300) {
		r->res->ok++;
		r->published[c->chan]++;
	} else {
		r->res->failed++;
	}
	c->state = PC_IDLE;
	if (c->http.conn_close)
		conn_drop(r, c);
}

static void conn_event(pub_run *r, pub_conn *c, uint32_t events)
{
	if (c->state == PC_CONNECTING) {
		int err = 0;
		socklen_t el = sizeof(err);
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err) {
			conn_drop(r, c);
			return;
		}
		c->state = PC_IDLE;
		conn_want(r, c, EPOLLIN);
		return;
	}
	if ((events & EPOLLOUT) && c->state == PC_BUSY && c->out_off < c->out_len)
		conn_flush(r, c);
	if (c->fd >= 0 && (events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
		conn_readable(r, c);
}

static pub_conn *idle_conn(pub_run *r, int *rr)
{
	for (int k = 0; k < r->nconns; k++) {
		pub_conn *c = &r->conns[(*rr + k) % r->nconns];
		if (c->state == PC_IDLE) {
			*rr = (*rr + k + 1) % r->nconns;
			return c;
		}
	}
	return NULL;
}

static int count_state(const pub_run *r, int state)
{
	int n = 0;
	for (int k = 0; k < r->nconns; k++)
		n += r->conns[k].state == state;
	return n;
}

/* Handles the events of at most wait_ms. */
static void poll_once(pub_run *r, int wait_ms)
{
	struct epoll_event evs[PUB_MAX_CONNS];
	int n = epoll_wait(r->ep, evs, PUB_MAX_CONNS, wait_ms);
	for (int i = 0; i < n; i++) {
		pub_conn *c = evs[i].data.ptr;
		if (c->fd >= 0)
			conn_event(r, c, evs[i].events);
	}
}

int bench_publish(const bench_opts *o, uint64_t *published, bench_pub_result *res,
                  bench_watch_fn watch, void *ud)
{
	pub_run *r = calloc(1, sizeof(*r));
	if (!r)
		return -1;
	r->o = o;
	r->published = published;
	r->res = res;
	r->nconns = o->pub_conns < PUB_MAX_CONNS ? o->pub_conns : PUB_MAX_CONNS;
	r->ep = epoll_create1(EPOLL_CLOEXEC);
	for (int k = 0; k < r->nconns; k++)
		r->conns[k].fd = -1;
	for (int k = 0; r->ep >= 0 && k < r->nconns; k++)
		conn_open(r, &r->conns[k]);
	uint64_t start = bench_now_ns();
	while (r->ep >= 0 && count_state(r, PC_CONNECTING) &&
	       bench_now_ns() - start < PUB_CONNECT_NS)
		poll_once(r, 5);

	uint64_t interval = (uint64_t)(1e9 / o->rate);
	uint64_t t0 = bench_now_ns();
	uint64_t end = t0 + (uint64_t)o->messages * interval + PUB_TAIL_NS;
	uint64_t seq = 0;
	int rr = 0;
	while (r->ep >= 0) {
		uint64_t now = bench_now_ns();
		pub_conn *c;
		while (seq < (uint64_t)o->messages && now >= t0 + seq * interval &&
		       (c = idle_conn(r, &rr))) {
			if (now - (t0 + seq * interval) > PUB_LATE_NS)
				res->late++;
			if (send_message(r, c, seq) < 0)
				break;
			seq++;
		}
		if (watch)
			watch(ud, now);
		if ((seq == (uint64_t)o->messages && !count_state(r, PC_BUSY)) || now > end ||
		    count_state(r, PC_DEAD) == r->nconns)
			break;
		uint64_t due = t0 + seq * interval;
		int wait_ms =
		    seq < (uint64_t)o->messages && due > now ? (int)((due - now) / 1000000u) : 0;
		poll_once(r, wait_ms < 5 ? (wait_ms > 0 ? wait_ms : 1) : 5);
	}
	res->failed += (uint64_t)o->messages - res->sent; /* never sent */
	res->failed += (uint64_t)count_state(r, PC_BUSY); /* never answered */
	for (int k = 0; k < r->nconns; k++)
		if (r->conns[k].fd >= 0)
			bench_close_reset(r->conns[k].fd);
	if (r->ep >= 0)
		close(r->ep);
	free(r);
	return 0;
}

/* ---- upstream mode: one request starts the backend's streams ---- */

int bench_upstream_start(const bench_opts *o, uint64_t *published, bench_pub_result *res)
{
	char req[256];
	int n = snprintf(req, sizeof(req),
	                 "POST /start?messages=%d&rate=%g HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
	                 "Content-Length: 0\r\nConnection: close\r\n\r\n",
	                 o->messages, o->rate, o->pub_port);
	int fd = bench_connect_loopback(o->pub_port);
	bench_http http;
	bench_http_reset(&http);
	uint64_t start = bench_now_ns(), off = 0;
	res->sent = 1;
	res->first_ns = start;
	/* non-blocking: bounded polling, PUB_CONNECT_NS for the whole exchange */
	while (fd >= 0 && http.state != BENCH_HS_DONE && bench_now_ns() - start < PUB_CONNECT_NS) {
		char buf[1024];
		ssize_t k;
		if (off < (uint64_t)n) {
			k = write(fd, req + off, (size_t)n - off);
			if (k > 0)
				off += (uint64_t)k;
		} else if ((k = read(fd, buf, sizeof(buf))) > 0) {
			if (bench_http_feed(&http, buf, (size_t)k, NULL, NULL) < 0)
				break;
			continue;
		} else if (k == 0) {
			break;
		}
		if (k < 0 && errno != EAGAIN && errno != EINTR && errno != ENOTCONN)
			break;
		if (k <= 0) {
			struct timespec ts = {0, 1000000};
			nanosleep(&ts, NULL);
		}
	}
	if (fd >= 0)
		bench_close_reset(fd);
	res->last_ns = bench_now_ns();
	bench_hist_add(&res->answer, (res->last_ns - start) / 1000u);
	if (http.state != BENCH_HS_DONE || http.status != 200) {
		res->failed = 1;
		fprintf(stderr, "sg-loadgen: the backend did not start the streams (HTTP %u)\n",
		        http.status);
		return -1;
	}
	res->ok = 1;
	for (int c = 0; c < o->channels; c++)
		published[c] = (uint64_t)o->messages;
	return 0;
}
