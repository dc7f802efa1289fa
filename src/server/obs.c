/*
 * obs — the histograms' bucket bounds (see obs.h; observing is inline
 * there: a few compares and three relaxed stores per message written, no
 * clock read, the pass reads the clock once).
 */
#include "obs.h"

/* Delivery lag: 100 µs to 10 s; a loop that keeps up stays in the first few. */
static const int64_t lag_le_us[] = {100,     250,     500,     1000,    2500,   5000,
                                    10000,   25000,   50000,   100000,  250000, 500000,
                                    1000000, 2500000, 5000000, 10000000};
/* Stream duration: 10 ms (a long-poll answered at once) to a day. */
static const int64_t duration_le_us[] = {10000,       100000,     1000000,    10000000,
                                         60000000,    300000000,  1800000000, 3600000000,
                                         21600000000, 86400000000};

const sg_obs_bounds sg_obs_lag_bounds = {lag_le_us, sizeof(lag_le_us) / sizeof(lag_le_us[0])};
const sg_obs_bounds sg_obs_duration_bounds = {duration_le_us,
                                              sizeof(duration_le_us) / sizeof(duration_le_us[0])};

_Static_assert(sizeof(lag_le_us) / sizeof(lag_le_us[0]) <= SG_OBS_BUCKETS, "lag buckets");
_Static_assert(sizeof(duration_le_us) / sizeof(duration_le_us[0]) <= SG_OBS_BUCKETS,
               "duration buckets");
