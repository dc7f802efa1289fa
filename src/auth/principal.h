/*
 * principal — who a request speaks for once its token was verified: the
 * subject, its channel rights and when they end. What endpoints are asked
 * about through rights.h; they never see the token itself.
 */
#ifndef SG_AUTH_PRINCIPAL_H
#define SG_AUTH_PRINCIPAL_H

#include <stddef.h>

#define SG_SUB_MAX 255

typedef enum sg_right {
	SG_RIGHT_SUBSCRIBE,
	SG_RIGHT_PUBLISH,
	SG_RIGHT_ADMIN, /* DELETE, /metrics */
} sg_right;

/* Owns subscribe and publish (normalized pattern lists, never NULL). */
typedef struct sg_principal {
	int admin;
	int trusted;	  /* came on a trusted listener: may do anything */
	int from_ticket;  /* a ticket, not the token itself */
	const char *invalid; /* static: why the token presented is not valid; no rights */
	long long exp_ms; /* when the rights end (wall clock); 0: never */
	char sub[SG_SUB_MAX + 1]; /* "" when the token had none */
	char *subscribe, *publish;
} sg_principal;

/* What a token's registered claims must say; strings borrowed. */
typedef struct sg_claim_rules {
	const char *issuer;   /* "" or NULL: any */
	const char *audience; /* "" or NULL: any */
	long long leeway_ms;
} sg_claim_rules;

/*
 * Checks the claims of a verified token (json: its payload, len bytes,
 * borrowed) against rules at now_ms — exp, nbf, iat, iss, aud — and reads
 * sub and the "streamgate" claim. Returns the principal (caller frees), or
 * NULL with *detail (static) saying which check failed.
 */
sg_principal *sg_principal_from_claims(const char *json, size_t len, const sg_claim_rules *rules,
				       long long now_ms, const char **detail);
/* A principal for a token that failed (detail static): it holds no right
 * and every refusal says detail. Caller frees. */
sg_principal *sg_principal_invalid(const char *detail);
/* A principal that may do anything (a trusted listener's). Caller frees. */
sg_principal *sg_principal_trusted(void);
/* A deep copy (caller frees), or NULL. */
sg_principal *sg_principal_dup(const sg_principal *p);
/* Frees p; NULL is a no-op. */
void sg_principal_free(sg_principal *p);
/* Nonzero when p holds right on channel (ignored for SG_RIGHT_ADMIN). */
int sg_principal_may(const sg_principal *p, sg_right right, const char *channel);

#endif
