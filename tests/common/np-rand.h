/* Copyright (c) 2026 The ovs-netpol authors.
 *
 * Licensed under the Apache License, Version 2.0. */

#ifndef NP_RAND_H
#define NP_RAND_H 1

/* The seeded PRNG of the test generators (tests/diff/np-world,
 * tests/bench/np-workload): splitmix64, tiny, well mixed and the same
 * everywhere, so that a seed gives the same world on every machine.
 *
 * Each program seeds it by assigning 'rng_state'. */

#include <stdint.h>

static uint64_t rng_state;

static inline uint64_t
rng_next(void)
{
    uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* A number in [0, n), or 0 if 'n' is 0. */
static inline unsigned int
rnd(unsigned int n)
{
    return n ? rng_next() % n : 0;
}

#endif /* np-rand.h */
