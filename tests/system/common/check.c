// SPDX-License-Identifier: MIT
// Check lines for system-test programs (the protocol tests/system/run.py reads).
#include "check.h"
#include "rt.h"

static unsigned passed, failed;

void check_plan(unsigned n) { rt_printf("[test] plan %u\n", n); }

void check(bool ok, const char *id, const char *what, const char *fmt, uint64_t a, uint64_t b)
{
    char detail[96];
    rt_snprintf(detail, sizeof(detail), fmt, a, b);
    rt_printf("[test] %s %s %s%s%s%s\n", id, ok ? "PASS" : "FAIL", what, ok ? "" : " (", ok ? "" : detail,
              ok ? "" : ")");
    ok ? passed++ : failed++;
}

void check_done(void) { rt_printf("[test] done: %u passed, %u failed\n", passed, failed); }
