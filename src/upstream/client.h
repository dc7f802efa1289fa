/*
 * client — a small non-blocking HTTP/1.1 client on the worker's libev
 * loop, for upstream mode, over TCP or TLS (https://, through the seam in
 * client_tls.c): one request per connection, the response head
 * read into a bounded buffer, the body decoded (Content-Length, chunked
 * through h1_parse's decoder, or until close) and handed on as it comes.
 *
 * Why not libwebsockets' client: 4.1.6's client has the traps LWS-NOTES
 * lists (chunked framing, pending timeouts, one service thread) and would
 * put a second owner on our sockets; this client is ~300 lines over a
 * socket we own, and its chunked decoding is h1_parse's, which the unit
 * tests and a libFuzzer harness already attack.
 */
#ifndef SG_UPSTREAM_CLIENT_H
#define SG_UPSTREAM_CLIENT_H

#include <ev.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "core/buf.h"
#include "server/h1_parse.h"

#define SG_UP_HEAD_MAX 16384 /* largest upstream response head (502 above) */

/* How a request ended, for done(). */
typedef enum sg_up_end {
	SG_UP_COMPLETE,    /* the whole body arrived */
	SG_UP_UNREACHABLE, /* connect refused or failed, or the socket broke before a head */
	SG_UP_TIMEOUT,     /* no response head in time */
	SG_UP_BAD_HEAD,    /* the head was malformed or too big */
	SG_UP_DROPPED,     /* the connection ended inside the body */
	SG_UP_TLS,         /* https: the handshake failed (why says how) */
} sg_up_end;

/* The parsed response head: strings borrowed for the call. */
typedef struct sg_up_head {
	int status;
	const char *content_type;  /* NULL when absent */
	const char *raw; /* the whole head (status line and fields), raw_len bytes: GRIP reads it */
	size_t raw_len;
} sg_up_head;

/* Callbacks, on the loop thread. After done() nothing more is called. A
 * callback may call sg_up_client_close (then no further callback runs). */
typedef struct sg_up_client_cb {
	void (*head)(void *ud, const sg_up_head *h);
	void (*data)(void *ud, const char *p, size_t n);
	void (*done)(void *ud, sg_up_end how);
} sg_up_client_cb;

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;

/* One request; embedded by its owner, zeroed before start. */
typedef struct sg_up_client {
	struct ev_loop *loop;
	ev_io io;
	ev_timer timer;
	int fd;
	int state;  /* client.c's states */
	sg_buf out; /* the request, written from out_off */
	size_t out_off;
	sg_buf in;        /* the head while it is read */
	long long remain; /* Content-Length bytes still to come; -1: until close */
	int chunked;
	sg_h1_chunked ch;
	unsigned paused : 1, closed : 1;
	SSL *ssl;      /* https: the session over fd (client_tls.c); NULL: plain */
	char why[160]; /* SG_UP_TLS: OpenSSL's reason, JSON-safe */
	const sg_up_client_cb *cb;
	void *ud;
} sg_up_client;

/* How a request reaches its backend: tls NULL for http://, else the
 * upstream's context (borrowed, outlives the request) and the name for
 * SNI and verification (a numeric address is checked as an IP). */
typedef struct sg_up_target {
	const struct sockaddr *addr;
	socklen_t addrlen;
	SSL_CTX *tls;
	const char *server_name;
} sg_up_target;

/* Connects to to (and shakes hands for https) and sends request (taken:
 * the buffer is the client's now). timeout_ms bounds the wait for the
 * response head, the handshake included. 0, or SG_EIO when no socket
 * could be made (nothing is called then). */
int sg_up_client_start(sg_up_client *c, struct ev_loop *loop, const sg_up_target *to,
                       sg_buf *request, unsigned timeout_ms, const sg_up_client_cb *cb,
                       void *ud);
/* Stops reading the body (paused != 0) or reads on. */
void sg_up_client_pause(sg_up_client *c, int paused);
/* Aborts: closes the socket; no callback runs after. Idempotent. */
void sg_up_client_close(sg_up_client *c);

/* Parses a response head buf[0..len) ending in CRLFCRLF: status, content
 * type (copied into ct, ctlen bytes), length (-1: none), chunked. 0 or
 * SG_EINVAL. Exposed for the tests. */
int sg__up_head_parse(const char *buf, size_t len, int *status, char *ct, size_t ctlen,
                      long long *length, int *chunked);

#endif
