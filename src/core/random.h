/* Seeded random source (xoshiro256**) and a keyed hash (SipHash-2-4) for
 * RFC 6056 port selection and RFC 6528 sequence numbers. */
#ifndef US_CORE_RANDOM_H
#define US_CORE_RANDOM_H

#include <stddef.h>
#include <stdint.h>

struct us_rng {
    uint64_t s[4];
};

void us_rng_seed(struct us_rng *r, uint64_t seed);
uint64_t us_rng_next(struct us_rng *r);
/* Uniform in [0, n). */
uint32_t us_rng_below(struct us_rng *r, uint32_t n);

uint64_t us_siphash(const uint8_t key[16], const void *data, size_t len);

#endif
