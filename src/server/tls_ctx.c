/*
 * tls_ctx — OpenSSL's context for the HTTPS port: the certificate and key,
 * TLS 1.2 as the floor, ALPN (h2, then http/1.1). One context serves every
 * worker; a reload builds a new one off the loops and swaps the pointer
 * under a lock. Each SSL holds its own reference to the context it was
 * made from, so a live connection keeps its old certificate to its end.
 */
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tls.h"

struct sg_tls_ctx {
	pthread_mutex_t lock;
	SSL_CTX *ctx;
};

/* ALPN wire form: length-prefixed names, ours in order of preference. */
static const unsigned char alpn_ours[] = "\x02h2\x08http/1.1";

/* Picks h2 when the client offers it, else http/1.1; a client that
 * offers neither goes on without ALPN and gets HTTP/1.1. */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
	(void)ssl;
	(void)arg;
	unsigned char *sel;
	if (SSL_select_next_proto(&sel, outlen, alpn_ours, sizeof(alpn_ours) - 1, in, inlen) !=
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

static void openssl_reason(const char *what, const char *path, char *err, size_t errlen)
{
	char why[200];
	sg__tls_error_text(why, sizeof(why), "unreadable");
	snprintf(err, errlen, "%s %s: %s", what, path, why);
}

/* A new context from cfg's files, or NULL with err set. */
static SSL_CTX *ctx_build(const sg_config *cfg, char *err, size_t errlen)
{
	if (!cfg->tls_cert[0] || !cfg->tls_key[0]) {
		snprintf(err, errlen, "tls_listen needs tls_cert and tls_key (PEM files)");
		return NULL;
	}
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		snprintf(err, errlen, "tls: out of memory");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* no renegotiation (a client could make us redo handshakes at will);
	 * our preference of ciphers */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
	                             SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
	/* a write retried after WANT_WRITE may start further on in our buffer */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
	                          SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != 1) {
		openssl_reason("tls_cert: cannot load", cfg->tls_cert, err, errlen);
	} else if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key, SSL_FILETYPE_PEM) != 1) {
		openssl_reason("tls_key: cannot load", cfg->tls_key, err, errlen);
	} else if (SSL_CTX_check_private_key(ctx) != 1) {
		openssl_reason("tls_key: does not match the certificate in", cfg->tls_cert, err,
		               errlen);
	} else {
		return ctx;
	}
	SSL_CTX_free(ctx);
	return NULL;
}

int sg__tls_ctx_init(sg_group *g, const sg_config *cfg, char *err, size_t errlen)
{
	SSL_CTX *ctx = ctx_build(cfg, err, errlen);
	if (!ctx)
		return SG_EINVAL;
	struct sg_tls_ctx *t = calloc(1, sizeof(*t));
	if (!t) {
		SSL_CTX_free(ctx);
		snprintf(err, errlen, "out of memory");
		return SG_ENOMEM;
	}
	pthread_mutex_init(&t->lock, NULL);
	t->ctx = ctx;
	g->tls = t;
	return 0;
}

int sg__tls_ctx_reload(sg_group *g, const sg_config *cfg, char *err, size_t errlen)
{
	if (!g->tls)
		return 0; /* tls_listen is read at start only */
	SSL_CTX *ctx = ctx_build(cfg, err, errlen);
	if (!ctx)
		return SG_EINVAL;
	pthread_mutex_lock(&g->tls->lock);
	SSL_CTX *old = g->tls->ctx;
	g->tls->ctx = ctx;
	pthread_mutex_unlock(&g->tls->lock);
	SSL_CTX_free(old); /* freed once the last connection made from it goes */
	return 0;
}

SSL_CTX *sg__tls_ctx_get(sg_group *g)
{
	pthread_mutex_lock(&g->tls->lock);
	SSL_CTX *ctx = g->tls->ctx;
	SSL_CTX_up_ref(ctx);
	pthread_mutex_unlock(&g->tls->lock);
	return ctx;
}

void sg__tls_ctx_free(sg_group *g)
{
	if (!g->tls)
		return;
	SSL_CTX_free(g->tls->ctx);
	pthread_mutex_destroy(&g->tls->lock);
	free(g->tls);
	g->tls = NULL;
}
