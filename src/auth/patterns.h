/*
 * patterns — which channels a right covers: exact channel names and
 * prefixes ending in '*' ("*" alone: every channel), with "{sub}" standing
 * for the token's subject. Plain C, no I/O: what the claims, the
 * anonymous_* settings and the fuzzer share.
 */
#ifndef SG_AUTH_PATTERNS_H
#define SG_AUTH_PATTERNS_H

#include <stddef.h>

#include "core/buf.h"

/* Longest pattern once {sub} is expanded: a channel name and its '*'. */
#define SG_PATTERN_MAX 129
/* At most this many patterns in one list (a token's or a setting's). */
#define SG_PATTERNS_MAX 64

/*
 * Appends entry (len bytes, borrowed) to the comma list in out, with every
 * "{sub}" replaced by sub (NULL: the token has none). An entry whose {sub}
 * cannot be filled — no sub, or a sub that is not a valid channel name
 * (a '*' or ',' in it would widen the pattern) — is dropped: 0 and nothing
 * added. SG_EINVAL for a malformed entry, SG_ETOOBIG past SG_PATTERNS_MAX.
 */
int sg_pattern_append(sg_buf *out, const char *entry, size_t len, const char *sub);

/*
 * Parses a setting's list ("a, news.*, *", or "none") into the normalized
 * comma list in out (caller frees; empty for "none"). {sub} has no meaning
 * there. SG_EINVAL with a reason in err.
 */
int sg_patterns_parse(const char *text, sg_buf *out, char *err, size_t errlen);

/* Nonzero when channel matches a pattern of list (a normalized comma list
 * made by the two above; NULL or "" matches nothing). */
int sg_patterns_match(const char *list, const char *channel);

#endif
