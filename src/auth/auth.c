/*
 * auth — the shared verifier: a read-write lock around the key and the
 * claim rules, so a reload can swap them while workers verify.
 */
#include "auth.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jwt.h"
#include "streamgate/error.h"

#define KEY_FILE_MAX (64 * 1024)

struct sg_auth {
	pthread_rwlock_t lock;
	char alg[16]; /* "" when off; fixed at start */
	sg_jwt_key key;
	char issuer[256], audience[256];
	long long leeway_ms;
	sg_tickets *tickets;
};

/* The PEM file at path into a new buffer (caller frees), its length in
 * *len; NULL with err set. */
static char *read_key_file(const char *path, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *buf = f ? malloc(KEY_FILE_MAX) : NULL;
	if (!buf) {
		snprintf(err, errlen, "auth_jwt_key_file: cannot read %s: %s", path,
			 f ? "out of memory" : strerror(errno));
		if (f)
			fclose(f);
		return NULL;
	}
	*len = fread(buf, 1, KEY_FILE_MAX, f);
	int too_big = *len == KEY_FILE_MAX;
	fclose(f);
	if (too_big || !*len) {
		snprintf(err, errlen, "auth_jwt_key_file: %s is %s", path, *len ? "over 64 KiB" : "empty");
		free(buf);
		return NULL;
	}
	return buf;
}

/* A key for s into k (the algorithm named alg). */
static int key_load(const char *alg, const sg_auth_settings *s, sg_jwt_key *k, char *err,
		    size_t errlen)
{
	if (sg_jwt_alg_is_secret(alg) || !s->key_file || !*s->key_file) {
		if (s->key_file && *s->key_file) {
			snprintf(err, errlen, "auth_jwt_key_file is for RS and ES algorithms; "
					      "%s takes auth_jwt_key", alg);
			return SG_EINVAL;
		}
		const char *key = s->key ? s->key : "";
		return sg_jwt_key_set(k, alg, key, strlen(key), err, errlen);
	}
	size_t len;
	char *pem = read_key_file(s->key_file, &len, err, errlen);
	if (!pem)
		return SG_EIO;
	int rc = sg_jwt_key_set(k, alg, pem, len, err, errlen);
	free(pem);
	return rc;
}

static int rules_fit(const sg_auth_settings *s, char *err, size_t errlen)
{
	if (strlen(s->issuer ? s->issuer : "") >= 256 || strlen(s->audience ? s->audience : "") >= 256) {
		snprintf(err, errlen, "auth_jwt_issuer and auth_jwt_audience are at most 255 bytes");
		return SG_EINVAL;
	}
	return 0;
}

sg_auth *sg_auth_new(const sg_auth_settings *s, char *err, size_t errlen)
{
	sg_auth *a = calloc(1, sizeof(*a));
	if (!a || !(a->tickets = sg_tickets_new(s->ticket_max))) {
		free(a);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_rwlock_init(&a->lock, NULL);
	if (s->alg && *s->alg) {
		snprintf(a->alg, sizeof(a->alg), "%.15s", s->alg);
		if (sg_auth_reload(a, s, err, errlen)) {
			sg_auth_free(a);
			return NULL;
		}
	}
	return a;
}

void sg_auth_free(sg_auth *a)
{
	if (!a)
		return;
	sg_jwt_key_clear(&a->key);
	sg_tickets_free(a->tickets);
	pthread_rwlock_destroy(&a->lock);
	free(a);
}

int sg_auth_reload(sg_auth *a, const sg_auth_settings *s, char *err, size_t errlen)
{
	if (!a->alg[0])
		return 0;
	sg_jwt_key k;
	int rc = rules_fit(s, err, errlen);
	if (rc || (rc = key_load(a->alg, s, &k, err, errlen)))
		return rc;
	pthread_rwlock_wrlock(&a->lock);
	sg_jwt_key_clear(&a->key);
	a->key = k;
	snprintf(a->issuer, sizeof(a->issuer), "%s", s->issuer ? s->issuer : "");
	snprintf(a->audience, sizeof(a->audience), "%s", s->audience ? s->audience : "");
	a->leeway_ms = s->leeway_ms;
	pthread_rwlock_unlock(&a->lock);
	return 0;
}

int sg_auth_enabled(const sg_auth *a)
{
	return a && a->alg[0];
}

sg_principal *sg_auth_verify(sg_auth *a, const char *token, size_t len, long long now_ms,
			     const char **detail)
{
	if (!sg_auth_enabled(a)) {
		*detail = "this gateway accepts no tokens (auth_jwt_alg is not set)";
		return NULL;
	}
	char *payload;
	size_t plen;
	sg_principal *p = NULL;
	pthread_rwlock_rdlock(&a->lock);
	if (sg_jwt_verify(&a->key, token, len, &payload, &plen, detail) == 0) {
		sg_claim_rules r = {.issuer = a->issuer, .audience = a->audience,
				    .leeway_ms = a->leeway_ms};
		p = sg_principal_from_claims(payload, plen, &r, now_ms, detail);
		free(payload);
	}
	pthread_rwlock_unlock(&a->lock);
	return p;
}

sg_tickets *sg_auth_tickets(sg_auth *a)
{
	return a->tickets;
}
