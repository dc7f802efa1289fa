/*
 * tls — the HTTPS port: OpenSSL on the worker's libev loop, never a
 * blocking call. After the handshake, ALPN decides what the connection
 * carries: "h2" goes to our HTTP/2 glue (h2.c) on the decrypted bytes;
 * anything else is HTTP/1.1 (and WebSocket), pumped through a socketpair
 * into the HTTP/1 engine (tls_pump.c) like a plain connection.
 */
#ifndef SG_SERVER_TLS_H
#define SG_SERVER_TLS_H

#include <ev.h>
#include <stddef.h>
#include <sys/socket.h>

#include "core/buf.h"
#include "server.h"

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;
struct sg_h2;

#define SG_TLS_OUT_HIGH (64 * 1024) /* plaintext waiting for SSL_write: stop producing */

typedef enum sg_tls_mode {
	SG_TLS_HANDSHAKE, /* until SSL_accept completes (or its deadline) */
	SG_TLS_PUMP,      /* HTTP/1.1: bytes to and from the HTTP/1 engine */
	SG_TLS_H2,        /* HTTP/2: bytes to and from nghttp2 */
} sg_tls_mode;

/* One TLS connection; owns fd, ssl, its buffers, the pump's socket and
 * the HTTP/2 session. Freed only from its own top-level callbacks and the
 * write pass (sg__tls_settle), never deeper in the call stack. */
typedef struct sg_tls {
	sg_server *srv;
	int fd;
	SSL *ssl;
	ev_io io;       /* fd, with the events the connection waits for */
	ev_timer timer; /* the handshake's deadline */
	sg_tls_mode mode;
	sg_buf out; /* plaintext for SSL_write, from out_off */
	size_t out_off;
	unsigned write_wants_read : 1, read_wants_write : 1, peer_done : 1, dead : 1, counted : 1,
	    finished : 1,  /* all is said: close_notify, then linger */
	    lingering : 1; /* shut for writing: reading and dropping until EOF */
	struct sockaddr_storage peer;
	/* pump */
	int pfd; /* our end of the socketpair; -1 when none */
	ev_io pio;
	sg_buf in; /* decrypted, not yet taken by the engine, from in_off */
	size_t in_off;
	unsigned app_done : 1; /* the engine closed its end */
	struct sg_h2 *h2;
	struct sg_tls *prev, *next; /* srv->tlss */
} sg_tls;

/* ---- tls_ctx.c: the certificate, shared by every worker ---- */

/* Builds the group's context from cfg's tls_cert and tls_key (TLS 1.2 and
 * up, ALPN h2 and http/1.1). 0, or SG_EINVAL with a reason in err. */
int sg__tls_ctx_init(sg_group *g, const sg_config *cfg, char *err, size_t errlen);
/* Re-reads cfg's files into a new context that new handshakes use; live
 * connections keep the one they started with. On failure the old one
 * stays and err says why. Any thread. */
int sg__tls_ctx_reload(sg_group *g, const sg_config *cfg, char *err, size_t errlen);
/* The current context with a reference taken (caller SSL_CTX_free()s). */
SSL_CTX *sg__tls_ctx_get(sg_group *g);
void sg__tls_ctx_free(sg_group *g);

/* ---- tls_error.c ---- */

/* OpenSSL's last error as text into out (fallback when there is none),
 * JSON-safe; clears the thread's error queue. */
void sg__tls_error_text(char *out, size_t outlen, const char *fallback);

/* ---- tls.c: the connection ---- */

/* Takes an accepted TCP socket on the TLS port (closes it when over the
 * limits). */
void sg__tls_adopt(sg_server *srv, int fd);
/* Appends plaintext for the client; sent by sg__tls_flush. */
int sg__tls_queue(sg_tls *t, const void *p, size_t n);
/* Bytes queued and not yet taken by SSL_write. */
size_t sg__tls_pending(const sg_tls *t);
/* Encrypts and sends what is queued, as far as the socket takes it. */
void sg__tls_flush(sg_tls *t);
/* Sends what is queued, reads what the protocol can take now (also what
 * OpenSSL already decrypted), lets HTTP/2 answer, and re-arms the watcher. */
void sg__tls_kick(sg_tls *t);
/* Re-arms the socket's watcher for what the connection waits for now. */
void sg__tls_watch(sg_tls *t);
/* Frees t when it is dead (top-level callers only). */
void sg__tls_settle(sg_tls *t);
/* Closes every TLS connection of srv (at exit), or asks them to end
 * (graceful: HTTP/2 sends GOAWAY; HTTP/1 ends through its engine). */
void sg__tls_stop(sg_server *srv);
void sg__tls_shutdown(sg_server *srv);

/* ---- tls_pump.c: HTTP/1.1 over TLS ---- */

/* The handshake chose HTTP/1.1: makes the socketpair and gives one end
 * to the HTTP/1 engine. 0 or an error (t is then to be closed). */
int sg__tls_pump_start(sg_tls *t);
/* Decrypted bytes for the engine; nonzero when no more are wanted now. */
int sg__tls_pump_in(sg_tls *t, const char *p, size_t n);
/* Nonzero while the engine can take more decrypted bytes. */
int sg__tls_pump_wants_input(const sg_tls *t);
/* The client finished sending (close_notify or EOF). */
void sg__tls_pump_peer_done(sg_tls *t);
/* SSL_write took bytes: room to read the engine again. */
void sg__tls_pump_drained(sg_tls *t);
void sg__tls_pump_close(sg_tls *t);

#endif
