/*
 * client_tls — plain or TLS bytes for the upstream client (see
 * client_tls.h). OpenSSL runs over the client's non-blocking socket: every
 * call returns at once and says which readiness it waits for; client.c's
 * ev_io watcher drives it. Certificates are verified against the system
 * store or the upstream's tls_ca_file, the name checked as a host name or,
 * for a numeric address, as an IP.
 */
#include "client_tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "server/tls.h"
#include "streamgate.h"

static int is_ip(const char *name)
{
	unsigned char b[16];
	return inet_pton(AF_INET, name, b) == 1 || inet_pton(AF_INET6, name, b) == 1;
}

int sg__up_tls_begin(sg_up_client *c, const sg_up_target *to)
{
	SSL *ssl = SSL_new(to->tls);
	const char *name = to->server_name;
	if (!ssl)
		return SG_ENOMEM;
	int ok = SSL_set_fd(ssl, c->fd);
	if (ok && name && *name) {
		if (is_ip(name)) /* no SNI for an address (RFC 6066) */
			ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name);
		else
			ok = SSL_set_tlsext_host_name(ssl, name) && SSL_set1_host(ssl, name);
	}
	if (!ok) {
		SSL_free(ssl);
		ERR_clear_error();
		return SG_ENOMEM;
	}
	SSL_set_connect_state(ssl);
	c->ssl = ssl;
	return 0;
}

/* OpenSSL's answer r of a call on c as an SG_UP_IO_* code (or 0: the end
 * of the stream), noting why it failed. */
static int ssl_result(sg_up_client *c, int r)
{
	int e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ)
		return SG_UP_IO_WANT_READ;
	if (e == SSL_ERROR_WANT_WRITE)
		return SG_UP_IO_WANT_WRITE;
	if (e == SSL_ERROR_ZERO_RETURN)
		return 0;
	long v = SSL_get_verify_result(c->ssl);
	if (v != X509_V_OK) {
		snprintf(c->why, sizeof(c->why), "certificate verify failed: %s",
		         X509_verify_cert_error_string(v));
		ERR_clear_error();
	} else if (e == SSL_ERROR_SYSCALL && !ERR_peek_error()) {
		snprintf(c->why, sizeof(c->why), "connection lost during TLS (%s)",
		         errno ? strerror(errno) : "end of stream");
	} else {
		sg__tls_error_text(c->why, sizeof(c->why), "TLS failed");
	}
	return SG_UP_IO_ERROR;
}

int sg__up_tls_handshake(sg_up_client *c)
{
	int r = SSL_do_handshake(c->ssl);
	if (r == 1)
		return 0;
	r = ssl_result(c, r);
	return r == 0 ? SG_UP_IO_ERROR : r; /* closed inside the handshake: a failure */
}

ssize_t sg__up_io_read(sg_up_client *c, char *buf, size_t n)
{
	if (!c->ssl) {
		ssize_t r = read(c->fd, buf, n);
		if (r < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR
			           ? SG_UP_IO_WANT_READ
			           : SG_UP_IO_ERROR;
		return r;
	}
	int r = SSL_read(c->ssl, buf, (int)(n > 1 << 30 ? 1 << 30 : n));
	return r > 0 ? r : ssl_result(c, r);
}

ssize_t sg__up_io_write(sg_up_client *c, const char *buf, size_t n)
{
	if (!c->ssl) {
		ssize_t r = send(c->fd, buf, n, MSG_NOSIGNAL);
		if (r < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR
			           ? SG_UP_IO_WANT_WRITE
			           : SG_UP_IO_ERROR;
		return r ? r : SG_UP_IO_ERROR;
	}
	int r = SSL_write(c->ssl, buf, (int)(n > 1 << 30 ? 1 << 30 : n));
	if (r > 0)
		return r;
	r = ssl_result(c, r);
	return r == 0 ? SG_UP_IO_ERROR : r;
}

int sg__up_io_pending(const sg_up_client *c)
{
	return c->ssl && SSL_pending(c->ssl) > 0;
}

void sg__up_tls_end(sg_up_client *c)
{
	if (!c->ssl)
		return;
	SSL_free(c->ssl); /* no close_notify: one request per connection, the close says it */
	c->ssl = NULL;
	ERR_clear_error();
}

/* ---- the contexts ------------------------------------------------------------ */

static SSL_CTX *ctx_build(const sg_upstream_cfg *u, size_t i, char *err, size_t errlen)
{
	char why[200];
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		snprintf(err, errlen, "upstreams[%zu]: tls: out of memory", i);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF); /* framing says whether a body is whole */
#endif
	if (!u->tls_verify) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		fprintf(stderr,
		        "streamgate: warning: upstreams[%zu] (%s): tls_verify is false: the "
		        "upstream's certificate is not checked (development only)\n",
		        i, u->url);
		return ctx;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (u->tls_ca_file[0] ? SSL_CTX_load_verify_locations(ctx, u->tls_ca_file, NULL) == 1
	                      : SSL_CTX_set_default_verify_paths(ctx) == 1)
		return ctx;
	sg__tls_error_text(why, sizeof(why), "unreadable");
	snprintf(err, errlen, "upstreams[%zu]: tls_ca_file %s: %s", i,
	         u->tls_ca_file[0] ? u->tls_ca_file : "(the system's)", why);
	SSL_CTX_free(ctx);
	return NULL;
}

int sg__up_tls_ctxs_init(SSL_CTX **ctxs, const sg_config *cfg, char *err, size_t errlen)
{
	for (size_t i = 0; i < cfg->nupstreams; i++) {
		if (!cfg->upstreams[i].tls)
			continue;
		if (!(ctxs[i] = ctx_build(&cfg->upstreams[i], i, err, errlen))) {
			sg__up_tls_ctxs_free(ctxs, i);
			return SG_EINVAL;
		}
	}
	return 0;
}

void sg__up_tls_ctxs_free(SSL_CTX **ctxs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		SSL_CTX_free(ctxs[i]);
		ctxs[i] = NULL;
	}
}
