/*
 * id — message ids: "<ms>-<seq>", the wall-clock millisecond the hub gave
 * it and a counter within that millisecond, like Redis stream ids. Ids are
 * hub-wide and only grow, also across restarts (a new process starts at
 * its own clock), so one id is a position in every channel at once and an
 * id from before a restart is always older than anything held now.
 */
#ifndef SG_CORE_ID_H
#define SG_CORE_ID_H

#include <stddef.h>
#include <stdint.h>

typedef struct sg_id {
	uint64_t ms;
	uint64_t seq;
} sg_id;

/* "18446744073709551615-18446744073709551615" and a NUL */
#define SG_ID_TEXT_MAX 42

/* Parses "MS-SEQ" (decimal, no sign, no spaces) or "0". 0 or SG_EBADID. */
int sg_id_parse(const char *text, sg_id *out);
/* Writes the text form into out (SG_ID_TEXT_MAX bytes). */
void sg_id_format(sg_id id, char *out);
/* <0, 0, >0 as a is before, equal to or after b. */
int sg_id_cmp(sg_id a, sg_id b);
/* The wall clock in ms since the epoch: what ids are made of. */
int64_t sg_wall_ms(void);
/* A monotonic clock in µs: for durations and delivery lag, never ids. */
int64_t sg_mono_us(void);
/* The id after last at wall-clock time now_ms. */
sg_id sg_id_next(sg_id last, uint64_t now_ms);
/* The id a publish gets: want NULL, the next after last; otherwise want
 * itself when it parses, is not over a minute ahead of now_ms and is after
 * last. 0, SG_EINVAL (malformed or ahead) or SG_EID_STALE. */
int sg_id_accept(const char *want, sg_id last, uint64_t now_ms, sg_id *out);
#define SG_EID_STALE (-100) /* publish: id not above the last */

static inline int sg_id_is_zero(sg_id id)
{
	return id.ms == 0 && id.seq == 0;
}

#endif
