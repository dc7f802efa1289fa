/*
 * client_tls — the upstream client's transport seam: bytes to and from a
 * backend over the plain socket (http://) or through OpenSSL (https://),
 * never blocking; and the TLS contexts of the https upstreams, built once
 * at start (their CA files are read then, never on a loop).
 */
#ifndef SG_UPSTREAM_CLIENT_TLS_H
#define SG_UPSTREAM_CLIENT_TLS_H

#include <stddef.h>
#include <sys/types.h>

#include "client.h"
#include "server/config.h"

/* What a read, write or handshake step gave besides bytes. */
enum {
	SG_UP_IO_ERROR = -1,      /* broken: the connection is lost (TLS: why is set) */
	SG_UP_IO_WANT_READ = -2,  /* try again once the socket is readable */
	SG_UP_IO_WANT_WRITE = -3, /* try again once the socket is writable */
};

/* Puts a TLS session for to over c->fd (to->tls non-NULL). 0 or SG_ENOMEM. */
int sg__up_tls_begin(sg_up_client *c, const sg_up_target *to);
/* One handshake step: 0 once done, or an SG_UP_IO_* code. */
int sg__up_tls_handshake(sg_up_client *c);
/* Reads into buf: bytes (> 0), 0 at the end of the stream, or SG_UP_IO_*. */
ssize_t sg__up_io_read(sg_up_client *c, char *buf, size_t n);
/* Writes from buf: bytes taken (> 0) or SG_UP_IO_*. */
ssize_t sg__up_io_write(sg_up_client *c, const char *buf, size_t n);
/* Nonzero when decrypted bytes wait inside OpenSSL (the socket may be quiet). */
int sg__up_io_pending(const sg_up_client *c);
/* Frees the session (c->ssl NULL after); the socket is the caller's. */
void sg__up_tls_end(sg_up_client *c);

/* One context per https entry of cfg's upstreams into ctxs (NULL for
 * http ones): the system CAs or tls_ca_file, TLS 1.2 and up; a warning on
 * stderr for tls_verify false. 0, or SG_EINVAL with a reason in err. */
int sg__up_tls_ctxs_init(SSL_CTX **ctxs, const sg_config *cfg, char *err, size_t errlen);
void sg__up_tls_ctxs_free(SSL_CTX **ctxs, size_t n);

#endif
