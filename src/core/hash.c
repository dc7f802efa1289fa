/*
 * hash — the seeded FNV-1a of hash.h. Fast enough for admission paths; the
 * seed, not the function, is what stops chosen-key floods.
 */
#include "hash.h"

#include <sys/random.h>

void sg_hash_seed(uint64_t *seed)
{
	if (getrandom(seed, sizeof(*seed), GRND_NONBLOCK) != sizeof(*seed))
		*seed = (uint64_t)(uintptr_t)seed ^ 0x9e3779b97f4a7c15ull;
}

size_t sg_hash_bytes(uint64_t seed, const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t h = 0xcbf29ce484222325ull ^ seed;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return (size_t)(h ^ (h >> 29));
}
