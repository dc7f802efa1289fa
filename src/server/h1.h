/*
 * h1 — the HTTP/1 engine: every accepted connection starts here. It reads
 * and frames requests itself (h1_parse.c), answers them, carries streamed
 * responses, and hands WebSocket upgrades over to libwebsockets. Owning the
 * framing is what keeps pipelined, smuggled, oversized and slow requests
 * from reaching a parser that mishandles them.
 */
#ifndef SG_SERVER_H1_H
#define SG_SERVER_H1_H

#include "server.h"

struct sg_conn;
struct sockaddr_storage;

/* Closes every HTTP/1 connection. */
void sg__h1_stop(sg_server *srv);
/* The write pass' turn for one HTTP/1 connection (conn.c's list). */
void sg__h1_write_pass(struct sg_conn *c);
/* Takes an accepted socket (non-blocking). Closes it when over the limits. */
void sg__h1_adopt(sg_server *srv, int fd);
/* The same for a socket whose client is elsewhere: the plaintext end of a
 * TLS connection (tls_pump.c). peer (borrowed) is the client's address;
 * secure: the client came over TLS. */
void sg__h1_adopt_from(sg_server *srv, int fd, const struct sockaddr_storage *peer, int secure);
/* Shutdown began: idle connections close now, busy ones after their
 * answer. */
void sg__h1_shutdown(sg_server *srv);

#endif
