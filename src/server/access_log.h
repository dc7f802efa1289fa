/*
 * access_log — one line per request and one per stream when it ends, as
 * JSON or in the combined format, to a file or stderr. Lines are formatted
 * on the loop into a bounded queue that a thread of the log's own writes
 * out: a full queue drops the line and counts it, a slow disk never
 * blocks a loop. Tokens and tickets in the query are redacted here.
 */
#ifndef SG_SERVER_ACCESS_LOG_H
#define SG_SERVER_ACCESS_LOG_H

#include <stddef.h>

#include "request.h"
#include "streamgate.h"

typedef struct sg_access_log sg_access_log;

/* What one line says; every pointer borrowed. */
typedef struct sg_access_entry {
	const char *client, *method, *target; /* target: redacted already */
	const char *transport;                /* "http" for a plain answer */
	int h2;
	int status;
	unsigned long long bytes;
	long long duration_us;
	unsigned long messages;
	const char *reason; /* a stream's end reason; NULL for a plain answer */
} sg_access_entry;

/* The log cfg asks for (access_log, access_log_format) in *out; *out is
 * NULL when access_log is "". SG_EIO with err set when the file cannot be
 * opened. Caller frees with sg__access_log_free. */
int sg__access_log_open(const sg_config *cfg, sg_access_log **out, char *err, size_t errlen);
/* Writes what is queued, stops the thread, closes the file; NULL: no-op. */
void sg__access_log_free(sg_access_log *l);
/* Reopens the file by its name before the next write (SIGHUP, logrotate). */
void sg__access_log_reopen(sg_access_log *l);
/* Lines dropped because the queue was full. */
unsigned long sg__access_log_dropped(const sg_access_log *l);
/* Formats e into the queue (any thread; never blocks on the file). */
void sg__access_log_write(sg_access_log *l, const sg_access_entry *e);

/* req's target, "/path?name=value&...", with every token-like value
 * (access_token, ticket, token, jwt, key, secret, password, signature,
 * and anything shaped like a JWT) replaced by REDACTED. Malloc'd (caller
 * frees), NULL on no memory. */
char *sg__access_log_target(const sg_request *req);

#endif
