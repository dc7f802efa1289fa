/*
 * auth — what the workers of one gateway share to authenticate requests:
 * the pinned algorithm and key, the claim rules and the ticket table. Read
 * under a lock by every worker; replaced whole by a reload (a rotated key
 * or key file). Knows nothing of requests or sockets: admit_auth.c finds
 * the token, this says who it stands for.
 */
#ifndef SG_AUTH_AUTH_H
#define SG_AUTH_AUTH_H

#include <stddef.h>

#include "principal.h"
#include "tickets.h"

/* The settings auth reads; strings borrowed for the call. */
typedef struct sg_auth_settings {
	const char *alg;      /* "": no authentication at all */
	const char *key;      /* HS: the secret */
	const char *key_file; /* RS/ES: a PEM public key, read now */
	const char *issuer, *audience;
	long long leeway_ms;
	size_t ticket_max;
} sg_auth_settings;

typedef struct sg_auth sg_auth;

/* Reads the key (file) and makes the ticket table. Caller frees. NULL with
 * a one-line reason in err for a bad setting or an unreadable key file. */
sg_auth *sg_auth_new(const sg_auth_settings *s, char *err, size_t errlen);
void sg_auth_free(sg_auth *a);
/* Reads s's key and claim rules again (the algorithm stays the one it
 * started with). On error, err says why and the previous ones stay. Any
 * thread. */
int sg_auth_reload(sg_auth *a, const sg_auth_settings *s, char *err, size_t errlen);
/* Nonzero when an algorithm was configured. */
int sg_auth_enabled(const sg_auth *a);
/* The principal of token (len bytes, borrowed) at now_ms (caller frees),
 * or NULL with *detail (static) naming the failed check. Any thread. */
sg_principal *sg_auth_verify(sg_auth *a, const char *token, size_t len, long long now_ms,
			     const char **detail);
/* The table every worker's tickets go to. */
sg_tickets *sg_auth_tickets(sg_auth *a);

#endif
