/*
 * listen — the listening sockets. Each worker owns one, bound to the same
 * address with SO_REUSEPORT so the kernel spreads new connections across
 * the workers; its loop accepts them and hands each to its HTTP/1 engine.
 */
#define _GNU_SOURCE /* accept4 */
#include "listen.h"

#include "h1.h"
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <stddef.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ACCEPT_BATCH 64	       /* connections taken per wake-up */
#define BACKLOG 4096	       /* capped by net.core.somaxconn */
#define FULL_RETRY_SECONDS 0.1 /* out of descriptors: try again after */

struct sg_listener {
	ev_io io;
	ev_timer retry;
	sg_server *srv;
	int fd;
	unsigned flags; /* SG_LISTEN_* */
};

/* Nonzero when some socket already listens on sa: a bind without
 * SO_REUSEPORT fails then, even where ours (with it) would succeed and
 * quietly share the port with another process. SO_REUSEADDR still lets a
 * restart bind over connections left in TIME_WAIT. */
static int listen_taken(const struct sockaddr_in *sa)
{
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0; /* the real bind reports it */
	int taken = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0 &&
		    bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) != 0 && errno == EADDRINUSE;
	close(fd);
	return taken;
}

/* host ("" or 0.0.0.0: every interface) as an IPv4 address in *sa (port
 * 0). 0, or -1 with a reason in err ("cannot resolve ..."). */
static int listen_resolve(const char *host, struct sockaddr_in *sa, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *ai;
	*sa = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY)};
	if (host[0] && strcmp(host, "0.0.0.0") != 0) {
		int gai = getaddrinfo(host, NULL, &hints, &ai);
		if (gai) {
			snprintf(err, errlen, "cannot resolve \"%s\" to an IPv4 address: %s", host,
				 gai_strerror(gai));
			return -1;
		}
		memcpy(sa, ai->ai_addr, sizeof(*sa));
		freeaddrinfo(ai);
	}
	return 0;
}

int sg__listen_resolve(const char *host, char *out, size_t len, char *err, size_t errlen)
{
	struct sockaddr_in sa;
	if (listen_resolve(host, &sa, err, errlen))
		return -1;
	return inet_ntop(AF_INET, &sa.sin_addr, out, (socklen_t)len) ? 0 : -1;
}

int sg__listen_open(const char *host, int port, int first, char *err, size_t errlen)
{
	struct sockaddr_in sa;
	char why[200];
	if (listen_resolve(host, &sa, why, sizeof(why))) {
		snprintf(err, errlen, "listen: %s", why);
		return -1;
	}
	sa.sin_port = htons((uint16_t)port);
	/* port 0 picks a free port: nobody else can be there */
	if (first && port && listen_taken(&sa)) {
		snprintf(err, errlen,
			 "cannot listen on %s:%d: address already in use (another process is "
			 "listening there)",
			 host, port);
		return -1;
	}
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, BACKLOG)) {
		snprintf(err, errlen, "cannot listen on %s:%d: %s", host, port, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

int sg__listen_port(int fd)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	if (getsockname(fd, (struct sockaddr *)&sa, &len))
		return -1;
	return ntohs(sa.sin_port);
}

int sg__listen_host(int fd, char *out, size_t len)
{
	struct sockaddr_in sa;
	socklen_t n = sizeof(sa);
	if (getsockname(fd, (struct sockaddr *)&sa, &n) ||
	    !inet_ntop(AF_INET, &sa.sin_addr, out, (socklen_t)len))
		return -1;
	return 0;
}

static void on_accept(struct ev_loop *loop, ev_io *io, int revents);

static void on_retry(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)revents;
	sg_listener *l = (sg_listener *)(void *)((char *)t - offsetof(sg_listener, retry));
	ev_io_start(loop, &l->io);
}

static void on_accept(struct ev_loop *loop, ev_io *io, int revents)
{
	(void)revents;
	sg_listener *l = (sg_listener *)io;
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage peer;
		socklen_t peer_len = sizeof(peer);
		int fd = accept4(l->fd, (struct sockaddr *)&peer, &peer_len,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) { /* the backlog waits; so do we */
				ev_io_stop(loop, &l->io);
				ev_timer_set(&l->retry, FULL_RETRY_SECONDS, 0);
				ev_timer_start(loop, &l->retry);
			}
			return; /* EAGAIN, or a connection reset before we took it */
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (l->flags & SG_LISTEN_TLS)
			sg__tls_adopt(l->srv, fd); /* the same */
		else /* closes fd itself when over the limits */
			sg__h1_adopt(l->srv, fd, (struct sockaddr *)&peer,
				     (l->flags & SG_LISTEN_METRICS ? SG_H1_FROM_METRICS : 0) |
					 (l->flags & SG_LISTEN_GRIP ? SG_H1_FROM_GRIP : 0));
	}
}

sg_listener *sg__listen_start(sg_server *srv, int fd, unsigned flags)
{
	sg_listener *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->srv = srv;
	l->fd = fd;
	l->flags = flags;
	ev_io_init(&l->io, on_accept, fd, EV_READ);
	ev_timer_init(&l->retry, on_retry, FULL_RETRY_SECONDS, 0);
	ev_io_start(srv->evloop, &l->io);
	return l;
}

void sg__listen_stop(sg_listener *l)
{
	if (!l)
		return;
	ev_io_stop(l->srv->evloop, &l->io);
	ev_timer_stop(l->srv->evloop, &l->retry);
	free(l);
}
