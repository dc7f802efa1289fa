/*
 * redis_url — the parts of a redis://[[user]:password@]host[:port][/db]
 * URL. Plain C, no hiredis: unit-tested alone.
 */
#ifndef SG_BROKER_REDIS_URL_H
#define SG_BROKER_REDIS_URL_H

#include <stddef.h>

typedef struct sg_redis_url {
	char user[128];     /* "" when none (Redis 6 ACL user) */
	char password[256]; /* "" when none */
	char host[256];
	int port; /* 6379 when not given */
	int db;   /* 0 when not given */
} sg_redis_url;

/* Parses text into out. SG_EINVAL with a reason in err (errlen bytes)
 * when it is not such a URL: wrong scheme, empty host, a port outside
 * 1..65535, a db outside 0..100000, or a part too long. */
int sg_redis_url_parse(const char *text, sg_redis_url *out, char *err, size_t errlen);

#endif
