/* SPDX-License-Identifier: MIT */
/* The watchdog's verdict at a ping (supervisor.c): pure, host-tested (tests/unit/test_watchdog.c). */
#pragma once
#include <stdbool.h>
#include <stdint.h>

/* A new instance's start-up budget, in watchdog periods: until its first heartbeat (its first
 * receive) it is not counted hung by missed pings but only once this much has passed since its
 * start. A driver resets and probes its device first, and at boot every server starts at once:
 * on Bochs blk's first heartbeat came 1,497 ms after its start (its ATA reset and IDENTIFY 20 ms
 * of it), and two missed pings (watchdog=200) had it restarted as hung 1,431 ms after its start,
 * at every boot of system-bochs-fs. One that hangs before its first heartbeat is still found, this many
 * periods after its start (2 s at watchdog=200). */
#define WATCHDOG_START_PERIODS 10

/* At a ping: heartbeat is the server's counter now, at_start what it was when the instance
 * started, at_ping what it was at the last ping; *missed counts the pings in a row it answered
 * none of (reset when the heartbeat moved); since_start_ms is the instance's age. Returns
 * whether it is hung: after its first heartbeat, two pings in a row unanswered. */
static inline bool watchdog_hung(uint64_t heartbeat, uint64_t at_start, uint64_t at_ping,
                                 unsigned *missed, uint64_t since_start_ms, unsigned period_ms)
{
    if (heartbeat != at_ping) {
        *missed = 0;
        return false;
    }
    if (heartbeat == at_start)
        return since_start_ms >= WATCHDOG_START_PERIODS * (uint64_t)period_ms;
    return ++*missed >= 2;
}
