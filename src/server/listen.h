/*
 * listen — listening sockets shared by port between workers (SO_REUSEPORT),
 * each accepted on its worker's loop and given to its HTTP/1 engine.
 */
#ifndef SG_SERVER_LISTEN_H
#define SG_SERVER_LISTEN_H

#include <stddef.h>

#include "server.h"

typedef struct sg_listener sg_listener;

/* A listening IPv4 socket on host:port (port 0: any free one), with
 * SO_REUSEPORT so other workers can bind the same port. first: the
 * process' first socket there, refused when another process already
 * listens on host:port (SO_REUSEPORT would otherwise share it silently).
 * The fd, or -1 and a reason in err. */
int sg__listen_open(const char *host, int port, int first, char *err, size_t errlen);
/* The IPv4 address sg__listen_open would bind for host, as text, into out
 * (len bytes): what the secure-by-default rule judges, without a socket.
 * 0, or -1 with a reason in err ("cannot resolve ..."). */
int sg__listen_resolve(const char *host, char *out, size_t len, char *err, size_t errlen);
/* The port fd is bound to, or -1. */
int sg__listen_port(int fd);
/* The address fd is bound to, as text ("127.0.0.1"), into out. */
int sg__listen_host(int fd, char *out, size_t len);

#define SG_LISTEN_METRICS 1u /* metrics_listen: its connections are marked so */
#define SG_LISTEN_TLS 2u	    /* tls_listen: connections go to TLS (tls.c) */
#define SG_LISTEN_GRIP 4u	    /* grip_publish_listen: its connections are marked so */

/* Accepts on fd from srv's loop (flags: SG_LISTEN_*); NULL when out of
 * memory. fd stays the caller's to close. */
sg_listener *sg__listen_start(sg_server *srv, int fd, unsigned flags);
/* Stops accepting and frees l; NULL is a no-op. Loop thread. */
void sg__listen_stop(sg_listener *l);

#endif
