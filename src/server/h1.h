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
struct sockaddr;
#define SG_H1_FROM_METRICS 1u /* accepted on metrics_listen */
#define SG_H1_FROM_TLS 2u     /* the plaintext end of a TLS connection */
#define SG_H1_FROM_GRIP 4u    /* accepted on grip_publish_listen */
/* Takes an accepted socket (non-blocking) from peer (borrowed): a TCP
 * client, or the plaintext end of a TLS connection (tls_pump.c) with its
 * client's address. flags: SG_H1_*. Closes it when over the limits. */
void sg__h1_adopt(sg_server *srv, int fd, const struct sockaddr *peer, unsigned flags);
/* Shutdown began: idle connections close now, busy ones after their
 * answer. */
void sg__h1_shutdown(sg_server *srv);

#endif
