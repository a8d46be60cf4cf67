/* SPDX-License-Identifier: MIT */
/* The seeded generator of the host fuzz tests (Marsaglia's xorshift64: 13, 7, 17). */
#pragma once
#include <stdint.h>

static inline uint64_t xorshift64(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}
