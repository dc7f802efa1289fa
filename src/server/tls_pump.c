/*
 * tls_pump — HTTP/1.1 and WebSocket over TLS. After the handshake the
 * decrypted bytes go through a socketpair to the HTTP/1 engine, which
 * takes the other end as it takes a plain connection (with the client's
 * address and a secure flag), and what the engine sends comes back here to
 * be encrypted.
 *
 * Why a pump rather than an engine that reads through SSL: the engine
 * stays one piece of code for both ports (pipelining, limits, timeouts,
 * lingering close), and a WebSocket upgrade is handed to libwebsockets as
 * the plaintext socket it already expects: lws never sees TLS, so its TLS
 * vhost (and the 4.1.6 pipelining spin it would bring back) is not used.
 * The cost is two descriptors and one copy per byte, on HTTP/1 only:
 * HTTP/2, where the streams are, runs on the decrypted bytes directly.
 *
 * Each direction holds at most PUMP_CAP bytes: while the engine's side is
 * full nothing more is decrypted, and while the client's side is full
 * nothing more is taken from the engine.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "h1.h"
#include "tls.h"

#define PUMP_CAP (64 * 1024)
#define PUMP_CHUNK 16384
#define PUMP_SOCKBUF (32 * 1024)

static size_t in_pending(const sg_tls *t)
{
	return t->in.len - t->in_off;
}

/* Watches our end of the socketpair for what the pump can do now. */
static void pump_watch(sg_tls *t)
{
	if (t->pfd < 0 || t->dead)
		return;
	int ev = 0;
	if (!t->app_done && sg__tls_pending(t) < PUMP_CAP)
		ev |= EV_READ;
	if (in_pending(t))
		ev |= EV_WRITE;
	if (ev == (t->pio.events & (EV_READ | EV_WRITE)) && ev_is_active(&t->pio))
		return;
	ev_io_stop(t->srv->evloop, &t->pio);
	ev_io_set(&t->pio, t->pfd, ev);
	if (ev)
		ev_io_start(t->srv->evloop, &t->pio);
}

/* The client finished and the engine has every byte: tell the engine. */
static void forward_eof(sg_tls *t)
{
	if (t->peer_done && !in_pending(t) && t->pfd >= 0)
		shutdown(t->pfd, SHUT_WR);
}

/* Gives the engine what waits in `in`. */
static void push_in(sg_tls *t)
{
	while (in_pending(t)) {
		ssize_t n = send(t->pfd, t->in.data + t->in_off, in_pending(t),
		                 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			t->in_off += (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		t->app_done = 1; /* the engine closed: nothing it would read */
		t->in_off = t->in.len;
	}
	sg_buf_free(&t->in);
	t->in_off = 0;
	forward_eof(t);
}

/* Takes what the engine sent, up to the cap, for the client. */
static void pull_out(sg_tls *t)
{
	char buf[PUMP_CHUNK];
	while (!t->app_done && sg__tls_pending(t) < PUMP_CAP) {
		ssize_t n = recv(t->pfd, buf, sizeof(buf), 0);
		if (n > 0) {
			if (sg__tls_queue(t, buf, (size_t)n))
				return;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		t->app_done = 1; /* the engine closed its end (or reset it) */
	}
}

static void on_pump(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	sg_tls *t = (sg_tls *)(void *)((char *)w - offsetof(sg_tls, pio));
	push_in(t);
	pull_out(t);
	sg__tls_kick(t);
	sg__tls_settle(t);
}

int sg__tls_pump_in(sg_tls *t, const char *p, size_t n)
{
	if (t->app_done)
		return 1; /* dropped: the engine is gone */
	if (sg_buf_append(&t->in, p, n)) {
		t->dead = 1;
		return 1;
	}
	push_in(t);
	pump_watch(t);
	return !sg__tls_pump_wants_input(t);
}

int sg__tls_pump_wants_input(const sg_tls *t)
{
	return !t->app_done && in_pending(t) < PUMP_CAP;
}

void sg__tls_pump_peer_done(sg_tls *t)
{
	forward_eof(t);
}

void sg__tls_pump_drained(sg_tls *t)
{
	if (t->app_done && !sg__tls_pending(t))
		t->finished = 1; /* the engine's last bytes are sent: close_notify and close */
	else
		pump_watch(t);
}

int sg__tls_pump_start(sg_tls *t)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv))
		return SG_EIO;
	/* small kernel buffers between the two: the engine sees a client
	 * that does not read (and applies the slow-client policy) about as
	 * soon as it would on a plain socket */
	int size = PUMP_SOCKBUF;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	t->pfd = sv[0];
	ev_io_init(&t->pio, on_pump, t->pfd, EV_READ);
	/* the engine counts the connection from now on (and applies the
	 * limit: past it, its 503 goes out through the pump) */
	if (t->counted) {
		atomic_fetch_sub(&t->srv->group->sockets, 1);
		t->counted = 0;
	}
	sg__h1_adopt(t->srv, sv[1], (const struct sockaddr *)&t->peer, SG_H1_FROM_TLS);
	pump_watch(t);
	return 0;
}

void sg__tls_pump_close(sg_tls *t)
{
	if (t->pfd < 0)
		return;
	ev_io_stop(t->srv->evloop, &t->pio);
	close(t->pfd);
	t->pfd = -1;
}
