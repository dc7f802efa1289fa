/*
 * obs — histogram buckets and observing into them (see obs.h). Called on
 * the write pass per message written: a few compares and three relaxed
 * stores, no clock read (the pass reads the clock once).
 */
#include "obs.h"

/* Delivery lag: 100 µs to 10 s; a loop that keeps up stays in the first few. */
static const int64_t lag_le_us[] = {100,   250,	  500,	  1000,	   2500,    5000,    10000,   25000,
				    50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000};
/* Stream duration: 10 ms (a long-poll answered at once) to a day. */
static const int64_t duration_le_us[] = {10000,	     100000,	  1000000,     10000000,
					 60000000,   300000000,	  1800000000,  3600000000,
					 21600000000, 86400000000};

const sg_obs_bounds sg_obs_lag_bounds = {lag_le_us, sizeof(lag_le_us) / sizeof(lag_le_us[0])};
const sg_obs_bounds sg_obs_duration_bounds = {duration_le_us,
					      sizeof(duration_le_us) / sizeof(duration_le_us[0])};

_Static_assert(sizeof(lag_le_us) / sizeof(lag_le_us[0]) <= SG_OBS_BUCKETS, "lag buckets");
_Static_assert(sizeof(duration_le_us) / sizeof(duration_le_us[0]) <= SG_OBS_BUCKETS,
	       "duration buckets");

void sg__obs_observe(sg_obs_hist *h, const sg_obs_bounds *b, int64_t v_us)
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
