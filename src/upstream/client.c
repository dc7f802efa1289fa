/*
 * client — the upstream HTTP/1.1 client (see client.h for why it is ours).
 * Never blocks: a non-blocking connect, for https a handshake stepped on
 * whatever readiness OpenSSL asks for, writes and reads when the socket is
 * ready (client_tls.c's seam), an ev_timer for the head's deadline. Every byte from the
 * upstream is bounded: the head by SG_UP_HEAD_MAX, chunk framing by
 * h1_parse's decoder; the body is handed on without being kept.
 */
#define _GNU_SOURCE /* memmem */
#include "client.h"
#include "parse.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "client_tls.h"
#include "streamgate.h"

enum { ST_CONNECTING, ST_HANDSHAKE, ST_SENDING, ST_HEAD, ST_BODY, ST_DONE };

static void finish(sg_up_client *c, sg_up_end how)
{
	const sg_up_client_cb *cb = c->cb;
	void *ud = c->ud;
	sg_up_client_close(c);
	cb->done(ud, how);
}

void sg_up_client_close(sg_up_client *c)
{
	if (c->closed)
		return;
	c->closed = 1;
	c->state = ST_DONE;
	if (c->loop) {
		ev_io_stop(c->loop, &c->io);
		ev_timer_stop(c->loop, &c->timer);
	}
	sg__up_tls_end(c);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	sg_buf_free(&c->out);
	sg_buf_free(&c->in);
}

void sg_up_client_pause(sg_up_client *c, int paused)
{
	if (c->closed || c->state != ST_BODY || c->paused == !!paused)
		return;
	c->paused = !!paused;
	if (paused) {
		ev_io_stop(c->loop, &c->io);
	} else {
		ev_io_start(c->loop, &c->io);
		if (sg__up_io_pending(c)) /* decrypted already: the socket may stay quiet */
			ev_feed_event(c->loop, &c->io, EV_READ);
	}
}

/* Waits for events (EV_READ, EV_WRITE) on the socket from now on. */
static void watch(sg_up_client *c, int events)
{
	if ((c->io.events & (EV_READ | EV_WRITE)) == events)
		return;
	ev_io_stop(c->loop, &c->io);
	ev_io_set(&c->io, c->fd, events);
	ev_io_start(c->loop, &c->io);
}

static int parse_length(const char *v, size_t n, long long *out)
{
	long long x = 0;
	if (!n || n > 18)
		return SG_EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return SG_EINVAL;
		x = x * 10 + (v[i] - '0');
	}
	if (*out >= 0 && *out != x)
		return SG_EINVAL; /* two different lengths: cannot be framed */
	*out = x;
	return 0;
}

int sg__up_head_parse(const char *buf, size_t len, int *status, char *ct, size_t ctlen,
                      long long *length, int *chunked)
{
	*length = -1;
	*chunked = 0;
	ct[0] = '\0';
	if (len < 16 || memcmp(buf, "HTTP/1.", 7) != 0 || (buf[7] != '0' && buf[7] != '1') ||
	    buf[8] != ' ')
		return SG_EINVAL;
	int s = 0;
	for (int i = 9; i < 12; i++) {
		if (buf[i] < '0' || buf[i] > '9')
			return SG_EINVAL;
		s = s * 10 + (buf[i] - '0');
	}
	if (s < 100 || (buf[12] != ' ' && buf[12] != '\r'))
		return SG_EINVAL;
	*status = s;
	const char *p = memchr(buf, '\n', len), *end = buf + len;
	while (p && p + 1 < end) {
		const char *line = p + 1, *nl = memchr(line, '\n', (size_t)(end - line));
		if (!nl)
			return SG_EINVAL;
		size_t n = (size_t)(nl - line), vn;
		if (n && line[n - 1] == '\r')
			n--;
		if (!n)
			return 0; /* the blank line */
		const char *v;
		if ((v = sg__up_field_value(line, n, "content-type", &vn)))
			snprintf(ct, ctlen, "%.*s", (int)vn, v);
		else if ((v = sg__up_field_value(line, n, "content-length", &vn)) &&
		         parse_length(v, vn, length))
			return SG_EINVAL;
		else if ((v = sg__up_field_value(line, n, "transfer-encoding", &vn))) {
			if (vn != 7 || strncasecmp(v, "chunked", 7) != 0)
				return SG_EINVAL; /* only chunked can be framed */
			*chunked = 1;
		}
		if (memchr(line, '\0', n))
			return SG_EINVAL;
		p = nl;
	}
	return SG_EINVAL;
}

static int body_emit(void *ctx, const char *p, size_t n)
{
	sg_up_client *c = ctx;
	if (n && !c->closed)
		c->cb->data(c->ud, p, n);
	return c->closed ? -1 : 0;
}

/* Body bytes: handed on; 1 when the body is complete. */
static int body_feed(sg_up_client *c, const char *p, size_t n)
{
	if (c->chunked) {
		size_t used;
		sg_h1_error err;
		sg_h1_result r = sg_h1_chunked_feed(&c->ch, p, n, &used, body_emit, c, &err);
		if (c->closed)
			return 0;
		if (r == SG_H1_BAD) {
			finish(c, SG_UP_DROPPED);
			return 0;
		}
		return r == SG_H1_DONE;
	}
	if (c->remain >= 0 && (long long)n > c->remain)
		n = (size_t)c->remain; /* bytes past the body: ignored, the connection is ours */
	body_emit(c, p, n);
	if (c->closed)
		return 0;
	if (c->remain >= 0)
		c->remain -= (long long)n;
	return c->remain == 0;
}

/* The head is in c->in[0..hlen): tell the owner, then take the body bytes
 * that came with it. */
static void head_done(sg_up_client *c, size_t hlen)
{
	char ct[256];
	int status, chunked;
	long long length;
	if (sg__up_head_parse(c->in.data, hlen, &status, ct, sizeof(ct), &length, &chunked))
		return finish(c, SG_UP_BAD_HEAD);
	if (status < 200) { /* 1xx: another head follows */
		memmove(c->in.data, c->in.data + hlen, c->in.len - hlen);
		c->in.len -= hlen;
		return;
	}
	ev_timer_stop(c->loop, &c->timer);
	c->state = ST_BODY;
	c->chunked = chunked;
	c->remain = chunked ? -1 : status == 204 || status == 304 ? 0 : length;
	sg_up_head h = {status, ct[0] ? ct : NULL, c->in.data, hlen};
	c->cb->head(c->ud, &h);
	if (c->closed)
		return;
	sg_buf rest = c->in;
	c->in = (sg_buf)SG_BUF_INIT;
	int complete =
	    c->remain == 0 || (rest.len > hlen && body_feed(c, rest.data + hlen, rest.len - hlen));
	sg_buf_free(&rest);
	if (complete && !c->closed)
		finish(c, SG_UP_COMPLETE);
}

static void head_read(sg_up_client *c, const char *p, size_t n)
{
	if (c->in.len + n > SG_UP_HEAD_MAX || sg_buf_append(&c->in, p, n))
		return finish(c, SG_UP_BAD_HEAD);
	while (!c->closed && c->state == ST_HEAD) {
		const char *end =
		    c->in.len >= 4 ? memmem(c->in.data, c->in.len, "\r\n\r\n", 4) : NULL;
		if (!end)
			return;
		head_done(c, (size_t)(end - c->in.data) + 4);
	}
}

/* The socket broke or ended (r: 0 or SG_UP_IO_ERROR) in the current state. */
static void lost(sg_up_client *c, ssize_t r)
{
	if (c->state == ST_BODY && c->remain < 0 && !c->chunked && r == 0)
		return finish(c, SG_UP_COMPLETE); /* close-delimited body */
	if (c->state == ST_BODY)
		return finish(c, SG_UP_DROPPED);
	finish(c, c->ssl && c->why[0] ? SG_UP_TLS : SG_UP_UNREACHABLE);
}

static void on_readable(sg_up_client *c)
{
	char buf[16384];
	do {
		ssize_t n = sg__up_io_read(c, buf, sizeof(buf));
		if (n == SG_UP_IO_WANT_READ || n == SG_UP_IO_WANT_WRITE)
			return watch(c, n == SG_UP_IO_WANT_READ ? EV_READ : EV_READ | EV_WRITE);
		if (n <= 0)
			return lost(c, n);
		if (c->state == ST_HEAD)
			head_read(c, buf, (size_t)n);
		else if (body_feed(c, buf, (size_t)n) && !c->closed)
			finish(c, SG_UP_COMPLETE);
	} while (!c->closed && !c->paused && sg__up_io_pending(c));
	if (!c->closed && !c->paused)
		watch(c, EV_READ);
}

/* The request is out: the response is read from now on. */
static void sent(sg_up_client *c)
{
	sg_buf_free(&c->out);
	c->state = ST_HEAD;
	watch(c, EV_READ);
}

static void on_writable(sg_up_client *c)
{
	while (c->out_off < c->out.len) {
		ssize_t n = sg__up_io_write(c, c->out.data + c->out_off, c->out.len - c->out_off);
		if (n == SG_UP_IO_WANT_READ || n == SG_UP_IO_WANT_WRITE)
			return watch(c, n == SG_UP_IO_WANT_READ ? EV_READ : EV_WRITE);
		if (n < 0)
			return lost(c, n);
		c->out_off += (size_t)n;
	}
	sent(c);
}

static void on_handshake(sg_up_client *c)
{
	int r = sg__up_tls_handshake(c);
	if (r == SG_UP_IO_WANT_READ || r == SG_UP_IO_WANT_WRITE)
		return watch(c, r == SG_UP_IO_WANT_READ ? EV_READ : EV_WRITE);
	if (r)
		return finish(c, SG_UP_TLS);
	c->state = ST_SENDING;
	watch(c, EV_WRITE);
}

static void on_connected(sg_up_client *c)
{
	int err = 0;
	socklen_t len = sizeof(err);
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) || err)
		return finish(c, SG_UP_UNREACHABLE);
	c->state = c->ssl ? ST_HANDSHAKE : ST_SENDING;
	if (c->ssl)
		on_handshake(c);
	else
		on_writable(c);
}

/* Each state retries its step on whatever readiness it asked for. */
static void io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	sg_up_client *c = w->data;
	if (c->state == ST_CONNECTING) {
		if (revents & EV_WRITE)
			on_connected(c);
	} else if (c->state == ST_HANDSHAKE) {
		on_handshake(c);
	} else if (c->state == ST_SENDING) {
		on_writable(c);
	} else if (c->state == ST_HEAD || c->state == ST_BODY) {
		on_readable(c);
	}
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	sg_up_client *c = w->data;
	if (c->state != ST_BODY)
		finish(c, SG_UP_TIMEOUT);
}

int sg_up_client_start(sg_up_client *c, struct ev_loop *loop, const sg_up_target *to,
                       sg_buf *request, unsigned timeout_ms, const sg_up_client_cb *cb,
                       void *ud)
{
	c->fd = socket(to->addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	c->cb = cb;
	c->ud = ud;
	c->out = *request;
	*request = (sg_buf)SG_BUF_INIT;
	if (c->fd < 0 || (to->tls && sg__up_tls_begin(c, to))) {
		if (c->fd >= 0)
			close(c->fd);
		c->fd = -1;
		c->closed = 1;
		sg_buf_free(&c->out);
		return SG_EIO;
	}
	c->loop = loop;
	c->state = ST_CONNECTING;
	ev_io_init(&c->io, io_cb, c->fd, EV_WRITE);
	c->io.data = c;
	ev_timer_init(&c->timer, timer_cb, timeout_ms / 1000.0, 0.0);
	c->timer.data = c;
	ev_timer_start(loop, &c->timer);
	/* EINPROGRESS is the usual answer; a refusal may come at once or
	 * through SO_ERROR once writable: both end in done() from the loop */
	if (connect(c->fd, to->addr, to->addrlen) && errno != EINPROGRESS) {
		ev_io_start(loop, &c->io); /* reports the failure on the next turn */
		return 0;
	}
	ev_io_start(loop, &c->io);
	return 0;
}
