/*
 * obs — what a worker counts for /metrics: streams opened and closed by
 * transport, messages delivered, streams closed by reason, and histograms
 * of delivery lag and stream duration. Each worker writes only its own
 * sg_obs, from its loop thread, with relaxed loads and stores (no locked
 * instruction, no lock); /metrics sums every worker's at scrape time.
 * Must not format or allocate: the write pass calls it per frame.
 */
#ifndef SG_SERVER_OBS_H
#define SG_SERVER_OBS_H

#include <stdatomic.h>
#include <stdint.h>

#include "core/stream.h"

#define SG_OBS_TRANSPORTS 8 /* by sg_transport.slot */
#define SG_OBS_BUCKETS 16   /* finite buckets of a histogram at most; +Inf is one more */

/* One histogram: counts per bucket (not cumulative: /metrics adds them
 * up), the count and the sum of what was observed, in µs. */
typedef struct sg_obs_hist {
	atomic_ulong bucket[SG_OBS_BUCKETS + 1];
	atomic_ulong count;
	atomic_ullong sum_us;
} sg_obs_hist;

/* The bucket bounds of a histogram kind, in µs, ascending. */
typedef struct sg_obs_bounds {
	const int64_t *le_us;
	int n;
} sg_obs_bounds;

extern const sg_obs_bounds sg_obs_lag_bounds, sg_obs_duration_bounds;

/* One worker's counters; zeroed with the worker. */
typedef struct sg_obs {
	atomic_ulong opened[SG_OBS_TRANSPORTS];
	atomic_ulong closed[SG_OBS_TRANSPORTS];
	atomic_ulong delivered[SG_OBS_TRANSPORTS];
	atomic_ulong ended[SG_END_REASONS];
	atomic_ulong write_passes; /* write passes that wrote streams */
	atomic_ulong write_holds;  /* passes put off by write_delay_ms or the auto hold */
	sg_obs_hist lag;      /* publish to the write of a message's first byte */
	sg_obs_hist duration; /* a stream's life */
} sg_obs;

/* Adds n to a counter only this thread writes: no locked instruction. */
static inline void sg__obs_add(atomic_ulong *a, unsigned long n)
{
	atomic_store_explicit(a, atomic_load_explicit(a, memory_order_relaxed) + n,
	                      memory_order_relaxed);
}

/* Counts one observation of v µs (negative: 0) in h. Inline: the write
 * pass calls it per message written. */
static inline void sg__obs_observe(sg_obs_hist *h, const sg_obs_bounds *b, int64_t v_us)
{
	int i = 0;
	if (v_us < 0)
		v_us = 0;
	while (i < b->n && v_us > b->le_us[i])
		i++;
	sg__obs_add(&h->bucket[i], 1);
	sg__obs_add(&h->count, 1);
	atomic_store_explicit(&h->sum_us,
	                      atomic_load_explicit(&h->sum_us, memory_order_relaxed) +
	                          (unsigned long long)v_us,
	                      memory_order_relaxed);
}

#endif
