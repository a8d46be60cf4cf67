/* SPDX-License-Identifier: MIT */
/* Timer objects: a one-shot TSC deadline that signals a notification, kept in one queue sorted
 * by deadline from which the timer interrupt takes the expired ones. */
#pragma once
#include "invoke.h"
#include "cdt.h"

struct ktimer {
    struct slot ntfn;           /* derived copy of the bound notification cap (badge in w1) */
    uint64_t deadline;          /* TSC; 0: not armed */
    struct ktimer *next, *prev; /* the armed queue, earliest first */
};

_Static_assert(sizeof(struct ktimer) <= (1u << RS_TIMER_BITS), "timer fits");

int timer_decode(struct invocation *inv);
/* Arms t for `deadline` (not 0), replacing an earlier one: O(armed timers) to find its place
 * (equal deadlines keep the order they were armed in). Reprograms the hardware timer if t is now
 * first. */
void ktimer_arm(struct ktimer *t, uint64_t deadline);
/* Takes t off the queue if armed. */
void ktimer_disarm(struct ktimer *t);
/* The timer interrupt: signals and disarms every timer whose deadline is <= now, in deadline
 * order (O(1) each), then sets the hardware timer for the earliest left. */
void ktimer_expire(uint64_t now);
/* The earliest armed deadline, UINT64_MAX if none. */
uint64_t ktimer_earliest(void);
/* The last cap to t went: disarm it and return its notification slot, whose cap must go too. */
struct slot_array ktimer_finalise(struct ktimer *t);
