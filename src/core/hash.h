/*
 * hash — keyed hashing for tables whose keys a client chooses (addresses,
 * rate-limit keys): a secret random seed per table keeps anyone from
 * aiming many keys at one chain.
 */
#ifndef SG_CORE_HASH_H
#define SG_CORE_HASH_H

#include <stddef.h>
#include <stdint.h>

/* A random seed (from getrandom; salt when that fails, the address of seed). */
void sg_hash_seed(uint64_t *seed);
/* FNV-1a over seed and n bytes at p, folded. */
size_t sg_hash_bytes(uint64_t seed, const void *p, size_t n);

#endif
