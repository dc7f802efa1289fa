/*
 * redis_sentinel — finding the primary through Redis Sentinel
 * (redis_sentinels, redis_master): before each connect the broker asks the
 * next sentinel in turn (SENTINEL get-master-addr-by-name), connects to the
 * address it names (and checks ROLE there), and stays SUBSCRIBEd to that
 * sentinel's +switch-master: a failover drops the connections and the
 * broker asks again, then catches up as after any reconnect. With
 * redis_sentinel_password, AUTH goes first on each sentinel connection.
 */
#include "redis_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sg__redis_sentinels_parse(sg_rbroker *b, const char *list, char *err, size_t errlen)
{
	char copy[1024];
	if (strlen(list) >= sizeof(copy)) {
		snprintf(err, errlen, "redis_sentinels: longer than %zu bytes", sizeof(copy) - 1);
		return SG_EINVAL;
	}
	strcpy(copy, list);
	for (char *save, *p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
		char *colon = strrchr(p, ':');
		char *end;
		long port = colon ? strtol(colon + 1, &end, 10) : 0;
		if (!colon || colon == p || !colon[1] || *end || port < 1 || port > 65535 ||
		    b->nsentinels == SG_REDIS_SENTINELS_MAX) {
			snprintf(err, errlen,
			         "redis_sentinels: expected up to %d host:port, comma-separated, "
			         "got \"%.200s\"",
			         SG_REDIS_SENTINELS_MAX, list);
			return SG_EINVAL;
		}
		*colon = '\0';
		if (sg__redis_resolve(p, b->sentinel_ip[b->nsentinels],
		                      sizeof(b->sentinel_ip[b->nsentinels]), err, errlen))
			return SG_EINVAL;
		b->sentinel_port[b->nsentinels++] = (int)port;
	}
	if (!b->nsentinels) {
		snprintf(err, errlen, "redis_sentinels: no sentinel in \"%.200s\"", list);
		return SG_EINVAL;
	}
	return 0;
}

/* "+switch-master NAME OLDIP OLDPORT NEWIP NEWPORT" for our primary:
 * reconnect, asking again. */
static void on_switch(redisAsyncContext *ac, void *reply, void *priv)
{
	(void)ac;
	sg_rbroker *b = priv;
	redisReply *r = reply;
	size_t n = strlen(b->master);
	if (!r || b->state == SG_REDIS_DOWN || r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
	    !sg__redis_is_string(r->element[0]) || strcmp(r->element[0]->str, "message") != 0 ||
	    !sg__redis_is_string(r->element[2]))
		return;
	const redisReply *m = r->element[2];
	if (m->len > n && !memcmp(m->str, b->master, n) && m->str[n] == ' ')
		sg__redis_fail(b, "failover");
}

/* AUTH's answer: anything but OK ends this attempt (the next sentinel is
 * asked after the backoff); the error names no password. */
static void on_auth(redisAsyncContext *ac, void *reply, void *priv)
{
	(void)ac;
	sg_rbroker *b = priv;
	redisReply *r = reply;
	if (!r || b->state != SG_REDIS_CONNECTING)
		return;
	if (r->type != REDIS_REPLY_STATUS || strcmp(r->str, "OK") != 0)
		sg__redis_fail(b, "the sentinel refused AUTH (redis_sentinel_password)");
}

/* The sentinel's answer: [ip, port] of the primary, or nil. */
static void on_master(redisAsyncContext *ac, void *reply, void *priv)
{
	(void)ac;
	sg_rbroker *b = priv;
	redisReply *r = reply;
	char *end;
	if (!r || b->state != SG_REDIS_CONNECTING)
		return;
	if (r->type == REDIS_REPLY_ERROR) { /* NOAUTH without redis_sentinel_password */
		char why[96];
		snprintf(why, sizeof(why), "the sentinel answered: %.60s", r->str ? r->str : "");
		sg__redis_fail(b, why);
		return;
	}
	long port = 0;
	if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
	    sg__redis_is_string(r->element[0]) && r->element[0]->len < sizeof(b->ip) &&
	    sg__redis_is_string(r->element[1]))
		port = strtol(r->element[1]->str, &end, 10);
	if (port < 1 || port > 65535 || *end) {
		sg__redis_fail(b, "the sentinel does not know the primary");
		return;
	}
	memcpy(b->ip, r->element[0]->str, r->element[0]->len + 1);
	b->port = (int)port;
	redisAsyncCommand(b->sentinel, on_switch, b, "SUBSCRIBE +switch-master");
	sg__redis_open(b);
}

void sg__redis_discover(sg_rbroker *b)
{
	size_t i = b->sentinel_next++ % b->nsentinels; /* the next one, each time */
	redisAsyncContext *ac = redisAsyncConnect(b->sentinel_ip[i], b->sentinel_port[i]);
	if (!ac || ac->err) {
		if (ac)
			redisAsyncFree(ac);
		sg__redis_fail(b, "cannot connect to the sentinel");
		return;
	}
	b->sentinel = ac;
	sg__redis_attach(b, ac);
	if (b->sentinel_password[0]) {
		const char *auth[] = {"AUTH", b->sentinel_password};
		redisAsyncCommandArgv(ac, on_auth, b, 2, auth, NULL);
	}
	const char *argv[] = {"SENTINEL", "get-master-addr-by-name", b->master};
	redisAsyncCommandArgv(ac, on_master, b, 3, argv, NULL);
}
