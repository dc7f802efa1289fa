/*
 * id — parsing, printing, ordering and minting of message ids.
 */
#include "id.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "streamgate.h"

/* Parses 1-20 decimal digits into *out without overflow. */
static int parse_u64(const char *p, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	if (n == 0 || n > 20)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		uint64_t d = (uint64_t)(p[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int sg_id_parse(const char *text, sg_id *out)
{
	if (!text)
		return SG_EBADID;
	if (strcmp(text, "0") == 0) {
		*out = (sg_id){0, 0};
		return 0;
	}
	const char *dash = strchr(text, '-');
	if (!dash || parse_u64(text, (size_t)(dash - text), &out->ms) ||
	    parse_u64(dash + 1, strlen(dash + 1), &out->seq))
		return SG_EBADID;
	return 0;
}

void sg_id_format(sg_id id, char *out)
{
	if (sg_id_is_zero(id))
		strcpy(out, "0");
	else
		snprintf(out, SG_ID_TEXT_MAX, "%llu-%llu", (unsigned long long)id.ms,
			 (unsigned long long)id.seq);
}

int sg_id_cmp(sg_id a, sg_id b)
{
	if (a.ms != b.ms)
		return a.ms < b.ms ? -1 : 1;
	if (a.seq != b.seq)
		return a.seq < b.seq ? -1 : 1;
	return 0;
}

int64_t sg_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t sg_mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

sg_id sg_id_next(sg_id last, uint64_t now_ms)
{
	if (now_ms > last.ms)
		return (sg_id){now_ms, 0};
	if (last.seq == UINT64_MAX)
		return (sg_id){last.ms + 1, 0};
	return (sg_id){last.ms, last.seq + 1};
}

int sg_id_accept(const char *want, sg_id last, uint64_t now_ms, sg_id *out)
{
	if (!want) {
		*out = sg_id_next(last, now_ms);
		return 0;
	}
	if (sg_id_parse(want, out) || out->ms > now_ms + 60000)
		return SG_EINVAL;
	return sg_id_cmp(*out, last) > 0 ? 0 : SG_EID_STALE;
}
