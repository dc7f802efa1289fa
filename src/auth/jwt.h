/*
 * jwt — verifying a JSON Web Token's signature with libjwt, under an
 * algorithm the configuration pins. The token's own header never chooses:
 * "none", and an HS token where an RS/ES key is configured (the key
 * confusion attack), are refused before libjwt sees them.
 */
#ifndef SG_AUTH_JWT_H
#define SG_AUTH_JWT_H

#include <stddef.h>

/* Tokens longer than this are refused unread. */
#define SG_JWT_MAX 8192

/* The pinned algorithm and its key (a secret, or a PEM public key). Owns
 * key. */
typedef struct sg_jwt_key {
	int alg; /* libjwt's jwt_alg_t */
	unsigned char *key;
	size_t len;
} sg_jwt_key;

/* Fills k for algorithm name ("HS256" ... "ES512") with a copy of key[0..len).
 * SG_EINVAL with a reason in err for an unknown name, "none", an empty
 * key, or a PEM key that is not a public key of the algorithm's kind. */
int sg_jwt_key_set(sg_jwt_key *k, const char *name, const void *key, size_t len, char *err,
		   size_t errlen);
/* Frees what k owns and zeroes it. */
void sg_jwt_key_clear(sg_jwt_key *k);
/* Nonzero when name is an HMAC algorithm (its key is a secret). */
int sg_jwt_alg_is_secret(const char *name);

/*
 * Verifies token (len bytes, borrowed; need not end in NUL) with k. On
 * success returns 0 and the payload JSON in *payload (caller frees, its
 * length in *plen); otherwise SG_EINVAL and *detail (static) says which
 * check failed, never echoing the token.
 */
int sg_jwt_verify(const sg_jwt_key *k, const char *token, size_t len, char **payload,
		  size_t *plen, const char **detail);

#endif
