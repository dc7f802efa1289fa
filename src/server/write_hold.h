/*
 * write_hold — how long a loop holds its next write pass after one.
 *
 * Each pass writes every connection whose stream queued frames, one send()
 * per connection. A loop that fans every message out to thousands of
 * connections spends nearly all its CPU in those sends (the kernel's TCP
 * path, one per connection per pass), and holding the next pass a little
 * sends several messages in one write instead. write_delay_ms holds every
 * pass that long; write_delay_auto_ms holds only after a large pass: 30 µs
 * per connection it wrote, from 2,000 connections, at most that long. A
 * smaller fan-out, or a lone message after a quiet spell, is never held.
 */
#ifndef SG_WRITE_HOLD_H
#define SG_WRITE_HOLD_H

#include <stddef.h>

#define SG_WRITE_HOLD_FROM 2000	     /* connections in a pass before it holds the next */
#define SG_WRITE_HOLD_US_PER_CONN 30 /* ~4 sends' worth: writing stays a quarter of the loop */

/* The least time, in µs, from the start of a pass that wrote to n
 * connections until the next one. */
static inline size_t sg__write_hold_us(size_t fixed_ms, size_t auto_max_ms, size_t n)
{
	size_t hold = 0;
	if (auto_max_ms && n >= SG_WRITE_HOLD_FROM) {
		hold = n * SG_WRITE_HOLD_US_PER_CONN;
		if (hold > auto_max_ms * 1000)
			hold = auto_max_ms * 1000;
	}
	return hold > fixed_ms * 1000 ? hold : fixed_ms * 1000;
}

#endif
