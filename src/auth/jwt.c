/*
 * jwt — the signature half of a token: its header's alg compared with the
 * configured one, then libjwt's jwt_decode with the configured key. Claims
 * are principal.c's.
 */
#include "jwt.h"

#include <jansson.h>
#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "streamgate/error.h"

int sg_jwt_alg_is_secret(const char *name)
{
	return strncmp(name, "HS", 2) == 0;
}

/* Nonzero when PEM key[0..len) is a public key usable with alg. */
static int pem_public_key_fits(const void *key, size_t len, const char *alg)
{
	BIO *bio = BIO_new_mem_buf(key, (int)len);
	EVP_PKEY *pk = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
	int type = pk ? EVP_PKEY_base_id(pk) : 0;
	EVP_PKEY_free(pk);
	BIO_free(bio);
	return (alg[0] == 'R' && type == EVP_PKEY_RSA) || (alg[0] == 'E' && type == EVP_PKEY_EC);
}

int sg_jwt_key_set(sg_jwt_key *k, const char *name, const void *key, size_t len, char *err,
		   size_t errlen)
{
	jwt_alg_t alg = jwt_str_alg(name);
	memset(k, 0, sizeof(*k));
	if (alg == JWT_ALG_INVAL || alg == JWT_ALG_NONE) {
		snprintf(err, errlen, "auth_jwt_alg: expected HS256, HS384, HS512, RS256, RS384, "
				      "RS512, ES256, ES384 or ES512, got \"%.32s\"", name);
		return SG_EINVAL;
	}
	if (!len) {
		snprintf(err, errlen, "auth_jwt_alg %s needs %s", name,
			 sg_jwt_alg_is_secret(name) ? "auth_jwt_key (the secret)"
						    : "auth_jwt_key_file (a PEM public key)");
		return SG_EINVAL;
	}
	if (!sg_jwt_alg_is_secret(name) && !pem_public_key_fits(key, len, name)) {
		snprintf(err, errlen, "auth_jwt_key_file: not a PEM %s public key", 
			 name[0] == 'R' ? "RSA" : "EC");
		return SG_EINVAL;
	}
	if (!(k->key = malloc(len + 1))) {
		snprintf(err, errlen, "out of memory");
		return SG_ENOMEM;
	}
	memcpy(k->key, key, len);
	k->key[len] = '\0';
	k->len = len;
	k->alg = alg;
	return 0;
}

void sg_jwt_key_clear(sg_jwt_key *k)
{
	if (k->key)
		memset(k->key, 0, k->len);
	free(k->key);
	memset(k, 0, sizeof(*k));
}

/* base64url (no padding) of in[0..n) into out (at least n bytes);
 * returns the decoded length, or -1 when it is not base64url. */
static long b64url_decode(const char *in, size_t n, unsigned char *out)
{
	unsigned acc = 0, bits = 0;
	size_t o = 0;
	if (n % 4 == 1)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char c = in[i];
		int v = c >= 'A' && c <= 'Z'   ? c - 'A'
			: c >= 'a' && c <= 'z' ? c - 'a' + 26
			: c >= '0' && c <= '9' ? c - '0' + 52
			: c == '-'	       ? 62
			: c == '_'	       ? 63
					       : -1;
		if (v < 0)
			return -1;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	return (long)o;
}

/* The header's "alg" compared with the pinned one. */
static const char *check_header(const sg_jwt_key *k, const unsigned char *h, size_t n)
{
	json_t *root = json_loadb((const char *)h, n, JSON_REJECT_DUPLICATES, NULL);
	json_t *alg = json_object_get(root, "alg");
	const char *why = NULL;
	if (!json_is_string(alg))
		why = "malformed token header";
	else if (strcmp(json_string_value(alg), "none") == 0)
		why = "alg none is not accepted";
	else if (strcmp(json_string_value(alg), jwt_alg_str((jwt_alg_t)k->alg)) != 0)
		why = "the token's alg is not the configured auth_jwt_alg";
	json_decref(root);
	return why;
}

int sg_jwt_verify(const sg_jwt_key *k, const char *token, size_t len, char **payload,
		  size_t *plen, const char **detail)
{
	*payload = NULL;
	if (len > SG_JWT_MAX) {
		*detail = "the token is longer than 8192 bytes";
		return SG_EINVAL;
	}
	const char *dot1 = memchr(token, '.', len);
	const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
	if (!dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)) ||
	    memchr(token, '\0', len)) {
		*detail = "malformed token: not three base64url parts";
		return SG_EINVAL;
	}
	char *copy = malloc(len + 1); /* libjwt wants a C string; also the decode buffer */
	unsigned char *buf = malloc(len + 1);
	jwt_t *jwt = NULL;
	long hn;
	*detail = "out of memory";
	if (copy && buf) {
		memcpy(copy, token, len);
		copy[len] = '\0';
		if ((hn = b64url_decode(token, (size_t)(dot1 - token), buf)) < 0)
			*detail = "malformed token header";
		else if (!(*detail = check_header(k, buf, (size_t)hn)) &&
			 (jwt_decode(&jwt, copy, k->key, (int)k->len) || !jwt ||
			  jwt_get_alg(jwt) != (jwt_alg_t)k->alg))
			*detail = "bad signature"; /* libjwt says no more than that */
	}
	long pn = -1;
	if (!*detail && (pn = b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), buf)) < 0)
		*detail = "malformed token payload";
	jwt_free(jwt);
	free(copy);
	if (*detail) {
		free(buf);
		return SG_EINVAL;
	}
	buf[pn] = '\0';
	*payload = (char *)buf;
	*plen = (size_t)pn;
	return 0;
}
