/*
 * hist — a log-linear latency histogram in microseconds: exact below
 * 64 us, then 32 buckets per power of two (about 3 % wide, reported at
 * their middle, so within ~1.5 %). Adding is O(1) and allocation-free;
 * it must stay cheap enough to call once per delivery.
 */
#include <string.h>

#include "bench.h"

#define HIST_BUCKETS (BENCH_HIST_EXP * BENCH_HIST_SUB)
#define HALF (BENCH_HIST_SUB / 2)

static unsigned bucket_of(uint64_t us)
{
	if (us < BENCH_HIST_SUB)
		return (unsigned)us;
	unsigned msb = 63u - (unsigned)__builtin_clzll(us);
	unsigned shift = msb - 5u; /* us >> shift is in [32, 64) */
	unsigned idx = BENCH_HIST_SUB + (shift - 1u) * HALF + (unsigned)((us >> shift) - HALF);
	return idx < HIST_BUCKETS ? idx : HIST_BUCKETS - 1;
}

/* The middle of the values that fall in bucket idx. */
static uint64_t value_of(unsigned idx)
{
	if (idx < BENCH_HIST_SUB)
		return idx;
	unsigned shift = (idx - BENCH_HIST_SUB) / HALF + 1u;
	uint64_t low = ((uint64_t)((idx - BENCH_HIST_SUB) % HALF) + HALF) << shift;
	return low + ((1ull << shift) >> 1);
}

void bench_hist_add(bench_hist *h, uint64_t us)
{
	h->bucket[bucket_of(us)]++;
	h->count++;
	h->sum_us += us;
	if (us > h->max_us)
		h->max_us = us;
}

void bench_hist_merge(bench_hist *into, const bench_hist *from)
{
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		into->bucket[i] += from->bucket[i];
	into->count += from->count;
	into->sum_us += from->sum_us;
	if (from->max_us > into->max_us)
		into->max_us = from->max_us;
}

uint64_t bench_hist_quantile(const bench_hist *h, double q)
{
	if (!h->count)
		return 0;
	uint64_t rank = (uint64_t)(q * (double)h->count + 0.999999);
	if (rank < 1)
		rank = 1;
	uint64_t seen = 0;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen >= rank) {
			uint64_t v = value_of(i);
			return v < h->max_us ? v : h->max_us;
		}
	}
	return h->max_us;
}
