/*
 * h2 — HTTP/2 on a TLS connection whose ALPN chose "h2", with nghttp2
 * doing the framing, HPACK and flow control. Each stream's request goes
 * through the same admission, routing and endpoints as HTTP/1; answers
 * and streams are written as HEADERS and DATA (never chunk framing or
 * connection headers), only as fast as the peer's windows allow.
 */
#ifndef SG_SERVER_H2_H
#define SG_SERVER_H2_H

#include <stddef.h>

struct sg_tls;
struct sg_conn;

/* Makes the session and queues our SETTINGS. 0 or an error. */
int sg__h2_start(struct sg_tls *t);
/* Feeds decrypted bytes to the session. Nonzero: the connection is over. */
int sg__h2_recv(struct sg_tls *t, const char *p, size_t n);
/* Lets the session queue what it has (answers, DATA within the windows,
 * acks) for SSL_write. */
void sg__h2_send(struct sg_tls *t);
/* Nonzero once the session is over (GOAWAY sent, no stream left): the
 * connection closes when its last bytes are sent. */
int sg__h2_done(const struct sg_tls *t);
/* Asks for the connection's write pass this loop turn. */
void sg__h2_want_send(struct sg_tls *t);
/* Nonzero while the session reads. */
int sg__h2_wants_read(const struct sg_tls *t);
/* The write pass' turn for an HTTP/2 connection (conn.c's list): streams
 * that queued frames resume, then one send for the whole connection. */
void sg__h2_write_pass(struct sg_conn *c);
/* GOAWAY: no new streams; the connection closes when its streams end. */
void sg__h2_shutdown(struct sg_tls *t);
/* Ends every stream and frees the session; no-op without one. */
void sg__h2_free(struct sg_tls *t);

#endif
