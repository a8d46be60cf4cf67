/* SPDX-License-Identifier: MIT */
/* Check lines for system-test programs that are not testinit (the run.py protocol). */
#pragma once
#include <stdbool.h>
#include <stdint.h>

/* Prints `[test] plan N`: the program will make exactly n checks. Call it once, before the
 * first check; run.py fails the run unless exactly n check lines with distinct IDs follow. */
void check_plan(unsigned n);
/* Prints `[test] ID PASS what` or `[test] ID FAIL what (detail)`; detail is fmt with a and b. */
void check(bool ok, const char *id, const char *what, const char *fmt, uint64_t a, uint64_t b);
/* Prints the closing `[test] done: N passed, M failed` line. */
void check_done(void);
