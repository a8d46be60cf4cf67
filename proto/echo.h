/* SPDX-License-Identifier: MIT */
/* Protocol of the echo server (the sample server of docs/writing-a-server.md). Requests follow
 * the libipc convention: label = operation, w[0] = request id, w[1..] = arguments. */
#pragma once

enum echo_op {
    ECHO_PING = 1,      /* w[1..n] -> the same words back */
    ECHO_INCREMENT = 2, /* -> w[1] = the counter after adding one (exactly once per request) */
    ECHO_GET = 3,       /* -> w[1] = the counter */
};

/* The echo server's persistent data (in ipc_pstate_t.user). */
struct echo_state {
    uint64_t counter;
};
