/* SPDX-License-Identifier: MIT */
/* Check lines for system-test programs (the run.py protocol): the programs under init call
 * check(); testinit's framework (tests/system/testinit/framework.c) prints through check_report. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

/* Prints `[test] plan N`: the program will make exactly n checks. Call it once, before the
 * first check; run.py fails the run unless exactly n check lines with distinct IDs follow. */
void check_plan(unsigned n);
/* Prints `[test] ID PASS what` or `[test] ID FAIL what (detail)`; detail is fmt with a and b. */
void check(bool ok, const char *id, const char *what, const char *fmt, uint64_t a, uint64_t b);
/* Prints `[test] ID PASS what` or `[test] ID FAIL what (detail)` (detail NULL: empty) and counts
 * it for the done line. */
void check_report(bool ok, const char *id, const char *what, const char *detail);
/* Prints the closing `[test] done: N passed, M failed` line. */
void check_done(void);
