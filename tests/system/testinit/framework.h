/* SPDX-License-Identifier: MIT */
/* The system-test framework: test tables, checks that name expected and actual values, the
 * per-test allocation environment, and helpers for child processes that report back over IPC. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "rt.h"
#include "process.h"
#include "thread.h"

/* One test: an ID (AREA-NNNN), the sentence it proves, and the function that checks it. */
struct test {
    const char *id;
    const char *sentence;
    void (*fn)(void);
};

/* Priority of init while testing and of every child unless a test says otherwise: children at
 * the same priority run whenever init yields, which the waiting helpers below rely on. */
#define TEST_PRIO 100
/* How long a helper waits for a child before calling it a failure. */
#define WAIT_MS   3000

extern const rs_bootinfo_t *bootinfo;
/* The running test's environment: objects come from a pool untyped that is revoked after each
 * test, slots from a block of init's CNode whose caps are deleted after each test. */
extern ps_env_t *env;

/* ---- checks: each records the first failure of the test with its line and values ---- */
bool check_eq_at(int line, const char *expr, uint64_t got, uint64_t want);
bool check_err_at(int line, const char *expr, uint64_t got, uint64_t want);
bool check_true_at(int line, const char *expr, bool ok);
/* Records a failure with a free-form detail. */
void check_fail_at(int line, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define CHECK_EQ(got, want)  check_eq_at(__LINE__, #got, (uint64_t)(got), (uint64_t)(want))
#define CHECK_ERR(got, want) check_err_at(__LINE__, #got, (uint64_t)(got), (uint64_t)(want))
#define CHECK_OK(got)        CHECK_ERR(got, RS_OK)
#define CHECK(cond)          check_true_at(__LINE__, #cond, (cond))
#define FAIL(...)            check_fail_at(__LINE__, __VA_ARGS__)
/* The REQUIRE forms end the test on failure (for set-up steps later checks depend on). */
#define REQUIRE_EQ(got, want)                                                                      \
    do {                                                                                           \
        if (!CHECK_EQ(got, want)) return;                                                          \
    } while (0)
#define REQUIRE_ERR(got, want)                                                                     \
    do {                                                                                           \
        if (!CHECK_ERR(got, want)) return;                                                         \
    } while (0)
#define REQUIRE_OK(got) REQUIRE_ERR(got, RS_OK)
#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (!CHECK(cond)) return;                                                                  \
    } while (0)

/* ---- objects for the running test (0 and a recorded failure when the pool is exhausted) ---- */
rs_cptr_t new_object(unsigned type, unsigned size_bits);
rs_cptr_t new_slot(void);
/* A sub-untyped of 2^bits and an allocator over it (storage: one entry). */
rs_cptr_t new_untyped(unsigned bits, ps_ut_t *ua, ps_untyped_t *storage);
/* Maps a new frame into init at a fresh address of the test's window; returns the address. */
void *map_page(rs_cptr_t *frame_out);
/* Maps the existing frame cap `frame` (a Copy of it) into init; returns the address or NULL. */
void *map_frame_copy(rs_cptr_t frame);
static inline int cap_type(rs_cptr_t c) { return rs_debug_cap_type(c); }
static inline uint64_t now_ms(void)
{
    return rt_rdtsc() / (bootinfo->tsc_per_ms ? bootinfo->tsc_per_ms : 1);
}

/* ---- child processes: copies of this program started at one of its functions ---- */
#define CHILD_SLOT_REPORT  4 /* endpoint (badge CHILD_BADGE) the child reports on */
#define CHILD_SLOT_A       5 /* slots for the caps a test gives its child */
#define CHILD_SLOT_B       6
#define CHILD_SLOT_C       7
#define CHILD_SLOT_D       8
#define CHILD_SLOT_FREE    9 /* first slot nothing is put in */
#define CHILD_BADGE        0xC0DE
#define FAULT_BADGE        0xFA17
/* Shared page (see child_share): the child sees it here. */
#define CHILD_SHARED_VADDR 0x0000500000000000ul

/* Creates (does not start) a child running fn(arg) at TEST_PRIO, with `report` in
 * CHILD_SLOT_REPORT (badge CHILD_BADGE) and as its fault handler (badge FAULT_BADGE), so that a
 * crash arrives as a fault message rather than a hang. report 0: neither. */
int child_create(ps_process_t *p, ps_entry_fn fn, uint64_t arg, rs_cptr_t report);
/* Creates and starts; records a failure and returns false on error. */
bool child_spawn(ps_process_t *p, ps_entry_fn fn, uint64_t arg, rs_cptr_t report);
/* A new page mapped in init and in the child at CHILD_SHARED_VADDR; returns init's address. */
volatile uint64_t *child_share(ps_process_t *p);

/* Polls `ep` with NBRecv, yielding between tries, for up to `ms`: RS_OK with the message in the
 * IPC buffer and *r, RS_WOULD_BLOCK when nothing came, or the NBRecv error. */
int wait_recv(rs_cptr_t ep, unsigned ms, rs_result_t *r);
/* Polls a notification until a non-zero badge arrives or `ms` pass; returns the badge (0: none). */
uint64_t wait_signal(rs_cptr_t ntfn, unsigned ms);
/* Yields until *word == want or `ms` pass; returns whether it got there. */
bool wait_word(volatile uint64_t *word, uint64_t want, unsigned ms);
/* Waits for the child's report on `ep`: true with MR0..MR3 in mr[] if a message with
 * `want_label` and badge CHILD_BADGE came; otherwise records why (time-out, fault with its
 * details, other label) and returns false. */
bool expect_report_at(int line, rs_cptr_t ep, uint64_t want_label, uint64_t mr[4]);
#define expect_report(ep, label, mr) expect_report_at(__LINE__, ep, label, mr)

/* Child side: sends label and four words on CHILD_SLOT_REPORT (blocks until init takes it). */
void child_report(uint64_t label, uint64_t a, uint64_t b, uint64_t c, uint64_t d);

/* ---- randomness: xorshift64, one state word (the fuzzers print their seeds) ---- */
static inline uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* ---- running ---- */
/* Sets up init's allocators, the test pool and slot block, and init's priority. */
void framework_init(const rs_bootinfo_t *bi);
/* Prints the plan line "[test] plan N", N the number of tests of the {0}-terminated tables
 * areas[0..n) that the command line selects, then runs them in order (run_tests). The tables
 * on_request[0..m) join only when the command line has a tests= filter (tests that hold only
 * under particular conditions, e.g. -icount, and so run alone). */
void run_areas(const struct test *const areas[], unsigned n, const struct test *const on_request[],
               unsigned m);
/* Runs each selected test of a {0}-terminated table, printing one protocol line per test; a
 * test that made no check at all fails. */
void run_tests(const struct test *tests);
/* How many tests of the table the command line selects ("tests=PREFIX[,PREFIX...]"). */
unsigned tests_planned(const struct test *tests);
/* A "key=value" number from the kernel command line (decimal, or hex after 0x); dflt if
 * absent. */
uint64_t cmdline_number(const char *key, uint64_t dflt);
/* Prints the done line (check_done: tests/system/common/check.c prints every protocol line). */
void framework_done(void);
