/*
 * tls — one TLS connection on the worker's loop: a non-blocking handshake
 * under a deadline, then SSL_read into what ALPN chose (the HTTP/1 pump or
 * HTTP/2) and SSL_write of what they queue. Reads stop while the other
 * side is backed up, so neither direction buffers more than a bound. A
 * connection is freed only from its callbacks and the write pass.
 */
#include "tls.h"
#include "core/list.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "h2.h"

#define TLS_READ_CHUNK 16384
#define TLS_SLACK 64     /* as h1.c: past max_connections + this, closed at once */
#define TLS_LINGER_S 2.0 /* reading after our last bytes, before close */

static void tls_close(sg_tls *t);

/* ---- what the connection waits for -------------------------------------- */

/* Nonzero while the protocol on top takes decrypted bytes. */
static int wants_input(const sg_tls *t)
{
	if (t->dead || t->peer_done)
		return 0;
	switch (t->mode) {
	case SG_TLS_HANDSHAKE:
		return 1;
	case SG_TLS_PUMP:
		return sg__tls_pump_wants_input(t);
	case SG_TLS_H2:
		/* a client that does not read what we answer is not read either */
		return sg__tls_pending(t) < SG_TLS_OUT_HIGH && sg__h2_wants_read(t);
	}
	return 0;
}

void sg__tls_watch(sg_tls *t)
{
	if (t->dead || t->lingering)
		return;
	int ev = 0;
	if (t->mode == SG_TLS_HANDSHAKE) {
		ev = t->read_wants_write ? EV_WRITE : EV_READ;
	} else {
		if (wants_input(t) && !t->read_wants_write)
			ev |= EV_READ;
		if (t->read_wants_write || (sg__tls_pending(t) && !t->write_wants_read))
			ev |= EV_WRITE;
		if (t->write_wants_read)
			ev |= EV_READ;
	}
	if (ev == (t->io.events & (EV_READ | EV_WRITE)) && ev_is_active(&t->io))
		return;
	ev_io_stop(t->srv->evloop, &t->io);
	ev_io_set(&t->io, t->fd, ev);
	if (ev)
		ev_io_start(t->srv->evloop, &t->io);
}

/* ---- writing ---------------------------------------------------------- */

size_t sg__tls_pending(const sg_tls *t)
{
	return t->out.len - t->out_off;
}

int sg__tls_queue(sg_tls *t, const void *p, size_t n)
{
	if (t->out_off && t->out_off == t->out.len) {
		t->out.len = 0;
		t->out_off = 0;
	}
	if (sg_buf_append(&t->out, p, n)) {
		t->dead = 1;
		return SG_ENOMEM;
	}
	return 0;
}

void sg__tls_flush(sg_tls *t)
{
	t->write_wants_read = 0;
	while (!t->dead && sg__tls_pending(t)) {
		size_t n = sg__tls_pending(t);
		int w =
		    SSL_write(t->ssl, t->out.data + t->out_off, n > INT32_MAX ? INT32_MAX : (int)n);
		if (w > 0) {
			t->out_off += (size_t)w;
			continue;
		}
		int e = SSL_get_error(t->ssl, w);
		if (e == SSL_ERROR_WANT_READ)
			t->write_wants_read = 1;
		else if (e != SSL_ERROR_WANT_WRITE)
			t->dead = 1;
		ERR_clear_error();
		break;
	}
	if (!sg__tls_pending(t)) {
		sg_buf_free(&t->out); /* an idle connection keeps no buffer */
		t->out_off = 0;
	}
	if (!t->dead && t->mode == SG_TLS_PUMP)
		sg__tls_pump_drained(t);
}

/* ---- reading ---------------------------------------------------------- */

/* Hands decrypted bytes to the protocol. Nonzero: stop reading for now. */
static int deliver(sg_tls *t, const char *p, size_t n)
{
	if (t->mode == SG_TLS_PUMP)
		return sg__tls_pump_in(t, p, n);
	if (sg__h2_recv(t, p, n))
		t->dead = 1;
	return !wants_input(t);
}

static void peer_finished(sg_tls *t)
{
	t->peer_done = 1;
	if (t->mode == SG_TLS_PUMP)
		sg__tls_pump_peer_done(t);
	else
		t->dead = 1; /* HTTP/2: a client that stops sending is gone */
}

/* SSL_read while the protocol wants bytes and OpenSSL has them. */
static void read_some(sg_tls *t)
{
	char buf[TLS_READ_CHUNK];
	t->read_wants_write = 0;
	while (wants_input(t)) {
		int r = SSL_read(t->ssl, buf, sizeof(buf));
		if (r > 0) {
			if (deliver(t, buf, (size_t)r))
				break;
			continue;
		}
		int e = SSL_get_error(t->ssl, r);
		ERR_clear_error();
		if (e == SSL_ERROR_WANT_READ)
			break;
		if (e == SSL_ERROR_WANT_WRITE) {
			t->read_wants_write = 1;
			break;
		}
		if (e == SSL_ERROR_ZERO_RETURN) /* close_notify, or EOF (IGNORE_UNEXPECTED_EOF) */
			peer_finished(t);
		else
			t->dead = 1;
		break;
	}
}

void sg__tls_kick(sg_tls *t)
{
	if (t->lingering)
		return;
	if (t->mode != SG_TLS_HANDSHAKE && !t->dead) {
		sg__tls_flush(t);
		read_some(t); /* OpenSSL may hold records the socket no longer signals */
		if (t->mode == SG_TLS_H2 && !t->dead)
			sg__h2_send(t); /* what reading produced: settings, answers, acks */
		sg__tls_flush(t);
		if (t->mode == SG_TLS_H2 && !t->dead && !sg__tls_pending(t) && sg__h2_done(t))
			t->finished = 1; /* its GOAWAY is out */
	}
	sg__tls_watch(t);
}

/* ---- the handshake ------------------------------------------------------ */

/* ALPN decided: the connection becomes HTTP/2 or is pumped as HTTP/1.1. */
static void established(sg_tls *t)
{
	const unsigned char *proto;
	unsigned len;
	ev_timer_stop(t->srv->evloop, &t->timer);
	SSL_get0_alpn_selected(t->ssl, &proto, &len);
	if (len == 2 && memcmp(proto, "h2", 2) == 0) {
		t->mode = SG_TLS_H2;
		if (sg__h2_start(t))
			t->dead = 1;
	} else {
		t->mode = SG_TLS_PUMP;
		if (sg__tls_pump_start(t))
			t->dead = 1;
	}
}

static void handshake(sg_tls *t)
{
	int r = SSL_accept(t->ssl);
	if (r == 1) {
		established(t);
		return;
	}
	int e = SSL_get_error(t->ssl, r);
	ERR_clear_error(); /* a refused TLS 1.0 client, plain HTTP, garbage: just close */
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		t->read_wants_write = e == SSL_ERROR_WANT_WRITE;
	else
		t->dead = 1;
}

/* ---- callbacks ---------------------------------------------------------- */

/* Lingering: what the client still sends is dropped until its EOF, so
 * that our close does not reset the connection before the client has
 * read our last bytes (a GOAWAY, an answer). */
static void linger_read(sg_tls *t)
{
	char buf[TLS_READ_CHUNK];
	for (int i = 0; i < 64; i++) { /* at most 1 MB a turn */
		ssize_t n = recv(t->fd, buf, sizeof(buf), 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			t->dead = 1;
			return;
		}
	}
}

static void linger_begin(sg_tls *t)
{
	struct ev_loop *loop = t->srv->evloop;
	SSL_shutdown(t->ssl); /* close_notify, best effort: never waited for */
	ERR_clear_error();
	shutdown(t->fd, SHUT_WR);
	t->lingering = 1;
	sg__h2_free(t);
	sg__tls_pump_close(t);
	ev_io_stop(loop, &t->io);
	ev_io_set(&t->io, t->fd, EV_READ);
	ev_io_start(loop, &t->io);
	ev_timer_stop(loop, &t->timer);
	ev_timer_set(&t->timer, TLS_LINGER_S, 0.0);
	ev_timer_start(loop, &t->timer);
}

static void on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	sg_tls *t = (sg_tls *)(void *)((char *)w - offsetof(sg_tls, io));
	if (t->lingering) {
		linger_read(t);
		sg__tls_settle(t);
		return;
	}
	if (t->mode == SG_TLS_HANDSHAKE)
		handshake(t);
	if (t->mode == SG_TLS_H2 && !t->dead) {
		/* what the session has to say after reading goes out in the
		 * write pass: one send (and one SSL_write) per loop turn */
		sg__tls_flush(t);
		read_some(t);
		sg__h2_want_send(t);
		sg__tls_watch(t);
	} else {
		sg__tls_kick(t);
	}
	sg__tls_settle(t);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	sg_tls *t = (sg_tls *)(void *)((char *)w - offsetof(sg_tls, timer));
	if (t->mode == SG_TLS_H2 && !t->lingering) { /* idle for keepalive_timeout_ms: GOAWAY */
		sg__h2_shutdown(t);                  /* its write pass sends the GOAWAY */
	} else {
		t->dead = 1; /* the handshake did not finish in time, or lingering is over */
	}
	sg__tls_settle(t);
}

/* ---- birth and death ---------------------------------------------------- */

static void tls_close(sg_tls *t)
{
	sg_server *srv = t->srv;
	ev_io_stop(srv->evloop, &t->io);
	ev_timer_stop(srv->evloop, &t->timer);
	sg__h2_free(t);
	sg__tls_pump_close(t);
	if (t->ssl) {
		if (t->mode != SG_TLS_HANDSHAKE)
			if (!t->lingering) /* one try at close_notify; never waited for */
				SSL_shutdown(t->ssl);
		ERR_clear_error();
		SSL_free(t->ssl);
	}
	close(t->fd);
	SG_LIST_UNLINK(srv->tlss, t, prev, next);
	if (t->counted)
		atomic_fetch_sub(&srv->group->sockets, 1);
	sg_buf_free(&t->out);
	sg_buf_free(&t->in);
	free(t);
}

void sg__tls_settle(sg_tls *t)
{
	if (t->dead)
		tls_close(t);
	else if (t->finished && !t->lingering)
		linger_begin(t);
}

void sg__tls_adopt(sg_server *srv, int fd)
{
	size_t max = srv->cfg.max_connections;
	size_t n = atomic_fetch_add(&srv->group->sockets, 1) + 1;
	sg_tls *t = n > max + TLS_SLACK || srv->shutting_down ? NULL : calloc(1, sizeof(*t));
	SSL_CTX *ctx = t ? sg__tls_ctx_get(srv->group) : NULL;
	SSL *ssl = ctx ? SSL_new(ctx) : NULL; /* holds its own reference to ctx */
	SSL_CTX_free(ctx);
	if (!ssl || !SSL_set_fd(ssl, fd)) {
		atomic_fetch_sub(&srv->group->sockets, 1);
		SSL_free(ssl);
		free(t);
		close(fd); /* no TLS to say why in: a closed socket says it */
		return;
	}
	t->srv = srv;
	t->fd = fd;
	t->ssl = ssl;
	t->pfd = -1;
	t->counted = 1;
	socklen_t len = sizeof(t->peer);
	getpeername(fd, (struct sockaddr *)&t->peer, &len);
	ev_io_init(&t->io, on_io, fd, EV_READ);
	/* a handshake has as long as a request head (body_timeout_ms) */
	ev_timer_init(&t->timer, on_timer, (double)srv->cfg.body_timeout_ms / 1000.0, 0.0);
	ev_timer_start(srv->evloop, &t->timer);
	SG_LIST_PUSH(srv->tlss, t, prev, next);
	sg__tls_watch(t);
}

void sg__tls_shutdown(sg_server *srv)
{
	for (sg_tls *t = srv->tlss, *next; t; t = next) {
		next = t->next;
		if (t->mode == SG_TLS_H2)
			sg__h2_shutdown(t);
		else if (t->mode == SG_TLS_HANDSHAKE)
			t->dead = 1;
		sg__tls_settle(t);
	}
}

void sg__tls_stop(sg_server *srv)
{
	while (srv->tlss)
		tls_close(srv->tlss);
}
