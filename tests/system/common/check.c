// SPDX-License-Identifier: MIT
// Check lines for system-test programs (the protocol tests/system/run.py reads): the one place
// that prints them, for the programs under init (check) and for testinit's framework alike.
#include "check.h"
#include "rt.h"

static unsigned passed, failed;

void check_plan(unsigned n) { rt_printf("[test] plan %u\n", n); }

void check_report(bool ok, const char *id, const char *what, const char *detail)
{
    // one rt_printf: the line reaches the log in one piece
    rt_printf("[test] %s %s %s%s%s%s\n", id, ok ? "PASS" : "FAIL", what, ok ? "" : " (",
              ok       ? ""
              : detail ? detail
                       : "",
              ok ? "" : ")");
    ok ? passed++ : failed++;
}

void check(bool ok, const char *id, const char *what, const char *fmt, uint64_t a, uint64_t b)
{
    char detail[96];
    rt_snprintf(detail, sizeof(detail), fmt, a, b);
    check_report(ok, id, what, detail);
}

void check_done(void) { rt_printf("[test] done: %u passed, %u failed\n", passed, failed); }
