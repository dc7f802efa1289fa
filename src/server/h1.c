/*
 * h1 — HTTP/1 connections on the worker's libev loop: accepting them under
 * the connection limit, reading, sending with one send() per batch (a write
 * watcher only while the socket is full), one timer each, and their end.
 * A connection is freed only from its own top-level callbacks (read, write,
 * timer, write pass), never from deeper in the call stack.
 */
#define _GNU_SOURCE
#include "h1_conn.h"
#include "core/list.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "admit.h"
#include "websocket.h"

#define H1_READ_CHUNK 16384
#define H1_SLACK 64	    /* connections past max_connections still answered */
#define H1_LINGER_MS 2000   /* reading after our last answer, before close */

static void h1_close(sg_h1 *h, int errored);
static void settle(sg_h1 *h);

/* ---- the write pass ---------------------------------------------------- */

void sg__h1_mark_dirty(sg_h1 *h)
{
	sg__conn_mark_dirty(&h->c);
}

void sg__h1_write_pass(sg_conn *c)
{
	sg_h1 *h = (sg_h1 *)c;
	sg__h1_write_stream(h);
	sg__h1_reply_check(h);
	if (!h->dead && h->state == SG_H1_HEAD && !h->processing)
		sg__h1_process(h); /* requests that came behind the stream */
	sg__h1_read_pace(h);
	settle(h);
}

/* ---- sending ----------------------------------------------------------- */

static int out_pending(const sg_h1 *h)
{
	return h->out_off < h->out.len;
}

void sg__h1_die(sg_h1 *h, int errored)
{
	h->dead = 1;
	h->dead_errored = errored;
}

void sg__h1_send(sg_h1 *h, const void *p, size_t n)
{
	if (h->dead || !n)
		return;
	ssize_t sent = 0;
	if (!out_pending(h)) {
		sent = send(h->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (sent < 0 && errno != EAGAIN && errno != EINTR) {
			sg__h1_die(h, 1);
			return;
		}
		if (sent < 0)
			sent = 0;
	}
	if ((size_t)sent < n) {
		if (sg_buf_append(&h->out, (const char *)p + sent, n - (size_t)sent)) {
			sg__h1_die(h, 1);
			return;
		}
		ev_io_start(h->c.srv->evloop, &h->wio);
	}
}

/* Everything sent: what the connection does next. */
static void drained(sg_h1 *h)
{
	sg_buf_free(&h->out);
	h->out_off = 0;
	ev_io_stop(h->c.srv->evloop, &h->wio);
	switch (h->state) {
	case SG_H1_CLOSING: /* let the client read our answer before the close */
		shutdown(h->fd, SHUT_WR);
		h->state = SG_H1_LINGER;
		sg__h1_timer(h, H1_LINGER_MS);
		sg__h1_read_pace(h); /* read and drop until EOF */
		break;
	case SG_H1_BUSY:
		sg__h1_mark_dirty(h); /* frames may have queued meanwhile */
		break;
	default:
		break;
	}
}

void sg__h1_flush(sg_h1 *h)
{
	while (!h->dead && out_pending(h)) {
		ssize_t n = send(h->fd, h->out.data + h->out_off, h->out.len - h->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			h->out_off += (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			ev_io_start(h->c.srv->evloop, &h->wio);
			return;
		}
		sg__h1_die(h, 1);
		return;
	}
	if (!h->dead)
		drained(h);
}

/* ---- timers ------------------------------------------------------------ */

void sg__h1_timer(sg_h1 *h, size_t ms)
{
	struct ev_loop *loop = h->c.srv->evloop;
	if (!ms) {
		ev_timer_stop(loop, &h->timer);
		return;
	}
	h->timer.repeat = (double)ms / 1000.0;
	ev_timer_again(loop, &h->timer);
}

/* ---- the connection's callbacks ----------------------------------------- */

static void on_read(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	sg_h1 *h = SG_CONTAINER_OF(w, sg_h1, rio);
	char buf[H1_READ_CHUNK];
	ssize_t n = recv(h->fd, buf, sizeof(buf), 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) { /* hung up (or reset) */
		h->eof = 1;
		ev_io_stop(loop, &h->rio);
		h->reading = 0;
		if (h->state == SG_H1_BUSY || h->state == SG_H1_LINGER || n < 0 || h->upgrade_wait)
			sg__h1_die(h, h->state == SG_H1_BUSY || n < 0 || h->upgrade_wait);
	} else if (h->state == SG_H1_LINGER || h->state == SG_H1_CLOSING) {
		/* what a refused client still sends is read and dropped */
	} else if (sg_buf_append(&h->in, buf, (size_t)n)) {
		sg__h1_die(h, 1);
	} else if (h->state == SG_H1_BUSY &&
		   h->in.len - h->in_off > h->c.srv->cfg.max_header_bytes) {
		sg__h1_die(h, 1); /* more than a request head queued behind a stream */
	}
	if (!h->dead && h->state != SG_H1_BUSY)
		sg__h1_process(h);
	sg__h1_read_pace(h);
	settle(h);
}

void sg__h1_read_pace(sg_h1 *h)
{
	/* requests waiting behind answers the client does not read stay in
	 * the socket, not in memory */
	size_t waiting = h->in.len - h->in_off;
	int want = !h->eof && !h->dead && (h->state == SG_H1_BUSY || h->state >= SG_H1_CLOSING ||
					   waiting <= h->c.srv->cfg.max_header_bytes + H1_READ_CHUNK);
	if (want == h->reading)
		return;
	if (want)
		ev_io_start(h->c.srv->evloop, &h->rio);
	else
		ev_io_stop(h->c.srv->evloop, &h->rio);
	h->reading = want;
}

static void on_write(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	sg_h1 *h = SG_CONTAINER_OF(w, sg_h1, wio);
	sg__h1_flush(h);
	if (!h->dead && !out_pending(h) && h->state == SG_H1_HEAD)
		sg__h1_process(h);
	sg__h1_read_pace(h);
	settle(h);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)revents;
	sg_h1 *h = SG_CONTAINER_OF(w, sg_h1, timer);
	ev_timer_stop(loop, w);
	if (h->state == SG_H1_LINGER || (h->state == SG_H1_HEAD && !h->head_started))
		sg__h1_die(h, 0); /* done lingering, or idle: nothing to say */
	else
		sg__h1_timed_out(h);
	settle(h);
}

/* ---- birth, handover and death ------------------------------------------ */

static void unlink_conn(sg_h1 *h)
{
	sg_server *srv = h->c.srv;
	ev_io_stop(srv->evloop, &h->rio);
	ev_io_stop(srv->evloop, &h->wio);
	ev_timer_stop(srv->evloop, &h->timer);
	sg__conn_dirty_unlink(&h->c);
	SG_LIST_UNLINK(srv->h1s, h, prev, next);
	atomic_fetch_sub(&srv->group->sockets, 1);
}

/* Counts h against its peer's max_connections_per_ip; over it, h is only
 * told so. The metrics port is the operator's: not counted. */
static void ip_count(sg_h1 *h)
{
	sg_server *srv = h->c.srv;
	size_t max = srv->cfg.max_connections_per_ip;
	if (max && !h->from_metrics && !h->from_grip &&
	    sg__ip_acquire(srv->group->ips, &h->peer, max, &h->ip_lease) == SG_ETOOBIG)
		h->over_ip_limit = 1;
}

static void free_conn(sg_h1 *h)
{
	sg_buf_free(&h->in);
	sg_buf_free(&h->out);
	sg_buf_free(&h->body);
	free(h);
}

static void h1_close(sg_h1 *h, int errored)
{
	sg__reply_abandon(h->reply); /* a broker answering later finds no one */
	h->reply = NULL;
	if (h->c.stream || h->c.req)
		sg__conn_release(&h->c, errored);
	unlink_conn(h);
	close(h->fd);
	sg__ip_release(h->c.srv->group->ips, h->ip_lease);
	free_conn(h);
}

/* Gives the socket, the upgrade request and the bytes from it on to
 * libwebsockets. */
static void hand_over(sg_h1 *h)
{
	sg_server *srv = h->c.srv;
	unlink_conn(h);
	sg_request *req = h->c.req;
	h->c.req = NULL;
	sg__ws_handoff(srv, h->fd, req, h->in.data + h->upgrade_at, h->in.len - h->upgrade_at,
		       h->ip_lease);
	free_conn(h);
}

/* After a callback's work: a dead connection goes, an upgrade is handed
 * over. */
static void settle(sg_h1 *h)
{
	if (h->dead)
		h1_close(h, h->dead_errored);
	else if (h->state == SG_H1_UPGRADE)
		hand_over(h);
}

/* Past the limit and its slack: a fixed answer, no reading. */
static void refuse_now(int fd)
{
	static const char busy[] =
		"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
		"content-length: 77\r\nretry-after: 1\r\nconnection: close\r\n\r\n"
		"{\"error\":\"too_many_connections\",\"detail\":\"the gateway is at max_connections\"}";
	_Static_assert(sizeof("{\"error\":\"too_many_connections\",\"detail\":\"the gateway is at "
			      "max_connections\"}") - 1 == 77,
		       "content-length of the fixed 503");
	if (send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		/* nothing more can be done for it */
	}
	close(fd);
}

void sg__h1_adopt(sg_server *srv, int fd, const struct sockaddr *peer, unsigned flags)
{
	size_t max = srv->cfg.max_connections;
	size_t n = atomic_fetch_add(&srv->group->sockets, 1) + 1;
	sg_h1 *h = n > max + H1_SLACK || srv->shutting_down ? NULL : calloc(1, sizeof(*h));
	if (!h) {
		atomic_fetch_sub(&srv->group->sockets, 1);
		refuse_now(fd);
		return;
	}
	h->c.srv = srv;
	h->fd = fd;
	h->over_limit = n > max;
	h->from_metrics = !!(flags & SG_H1_FROM_METRICS);
	h->from_grip = !!(flags & SG_H1_FROM_GRIP);
	h->c.via_tls = !!(flags & SG_H1_FROM_TLS);
	sg__ip_from_sockaddr(peer, &h->peer);
	ip_count(h);
	ev_io_init(&h->rio, on_read, fd, EV_READ);
	ev_io_init(&h->wio, on_write, fd, EV_WRITE);
	ev_init(&h->timer, on_timer);
	SG_LIST_PUSH(srv->h1s, h, prev, next);
	ev_io_start(srv->evloop, &h->rio);
	h->reading = 1;
	h->head_started = 1; /* a new connection owes us a request soon */
	sg__h1_timer(h, srv->cfg.body_timeout_ms);
}

void sg__h1_shutdown(sg_server *srv)
{
	for (sg_h1 *h = srv->h1s, *next; h; h = next) {
		next = h->next;
		h->wire.close = 1;
		if (h->state == SG_H1_HEAD && h->in_off == h->in.len && !out_pending(h))
			h1_close(h, 0);
	}
}

void sg__h1_stop(sg_server *srv)
{
	while (srv->h1s)
		h1_close(srv->h1s, 1);
}
