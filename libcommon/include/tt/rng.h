/*
 * tt/rng.h - xoshiro256** (Blackman and Vigna), seeded through splitmix64:
 * a fast, reproducible stream of 64-bit numbers for synthetic data and
 * unique ids. Not for secrets (tt/crypto.h has tt_random_hex for those).
 */
#ifndef TT_RNG_H
#define TT_RNG_H

#include <stdint.h>

typedef struct {
	uint64_t s[4];
} tt_rng;

/* The state splitmix64 expands seed into: the same seed, the same stream. */
void tt_rng_seed(tt_rng *r, uint64_t seed);

/* The next 64 bits; the state must not be all zero (tt_rng_seed never makes it so). */
uint64_t tt_rng_next(tt_rng *r);

/* Uniform in [0, n), n > 0, by modulo (bias below n / 2^64). */
uint64_t tt_rng_below(tt_rng *r, uint64_t n);

#endif
