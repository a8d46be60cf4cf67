/* SPDX-License-Identifier: MIT */
/* Protocol of the echo server (the sample server of docs/writing-a-server.md). Requests follow
 * the libipc convention: label = operation, w[0] = request id, w[1..] = arguments. */
#pragma once
#include <stdint.h>

enum echo_op {
    ECHO_PING = 1,      /* w[1..n] -> the same words back */
    ECHO_INCREMENT = 2, /* -> w[1] = the counter after adding one (exactly once per request) */
    ECHO_GET = 3,       /* -> w[1] = the counter */
};

/* The echo server's persistent data (in ipc_pstate_t.user): the counter three times, read by a
 * bitwise majority, so that bits a stray write flipped in one copy are outvoted (a storm of
 * `corrupt` into echo moved the counter from 4,493 to 16,781,754) and the next increment writes
 * all three again. */
struct echo_state {
    uint64_t counter[3];
};

static inline uint64_t echo_counter(const volatile struct echo_state *st)
{
    uint64_t a = st->counter[0], b = st->counter[1], c = st->counter[2];
    return (a & b) | (a & c) | (b & c);
}
