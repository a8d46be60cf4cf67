// SPDX-License-Identifier: MIT
// The system-test framework: per-test environment and clean-up, checks, protocol lines, and the
// helpers that create child processes and wait for them without ever blocking init for good.
#include "framework.h"
#include "check.h" /* the protocol lines: tests/system/common/check.c */
#include "fmt.h"

#define POOL_BITS  25                   /* 32 MiB of untyped per test, revoked after it */
#define TEST_SLOTS 1536                 /* slots of init's CNode per test, emptied after it */
#define MAP_WINDOW 0x0000400000000000ul /* where tests map pages into init */

const rs_bootinfo_t *bootinfo;
ps_env_t *env;

static ps_root_t root;
static ps_env_t test_env;
static ps_slots_t test_slots;
static ps_ut_t test_ut;
static ps_untyped_t test_ut_entry;
static rs_cptr_t pool, block;
static uint64_t pool_paddr, map_next;

static struct {
    unsigned checks; /* checks the running test made, passed or not */
    unsigned failures;
    char detail[240];
} cur;

/* ------------------------------------------------------------------ checks */

static void record_v(int line, const char *fmt, va_list ap)
{
    cur.checks++;
    if (cur.failures++ == 0) {
        int n = rt_snprintf(cur.detail, sizeof(cur.detail), "line %d: ", line);
        fmt_vsnprintf(cur.detail + n, sizeof(cur.detail) - (size_t)n, fmt, ap);
    }
}

void check_fail_at(int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    record_v(line, fmt, ap);
    va_end(ap);
}

/* Long expressions (whole calls) are cut: the line number finds them. */
static const char *short_expr(const char *e, char *buf, size_t n)
{
    if (strlen(e) < n) return e;
    memcpy(buf, e, n - 4);
    memcpy(buf + n - 4, "...", 4);
    return buf;
}

bool check_eq_at(int line, const char *expr, uint64_t got, uint64_t want)
{
    if (got == want) {
        cur.checks++;
        return true;
    }
    char b[64];
    check_fail_at(line, "%s = %lu (0x%lx), expected %lu (0x%lx)", short_expr(expr, b, sizeof(b)),
                  got, got, want, want);
    return false;
}

bool check_err_at(int line, const char *expr, uint64_t got, uint64_t want)
{
    if (got == want) {
        cur.checks++;
        return true;
    }
    uint64_t d0 = rs_mr_get(0), d1 = rs_mr_get(1), d2 = rs_mr_get(2); // the kernel's detail words
    char b[64];
    check_fail_at(line, "%s = %s (%lu), expected %s (%lu); MR0-2 %lx %lx %lx",
                  short_expr(expr, b, sizeof(b)), rs_error_name((int)got), got,
                  rs_error_name((int)want), want, d0, d1, d2);
    return false;
}

bool check_true_at(int line, const char *expr, bool ok)
{
    char b[64];
    if (ok) cur.checks++;
    else check_fail_at(line, "%s is false", short_expr(expr, b, sizeof(b)));
    return ok;
}

/* ------------------------------------------------------------------ objects */

rs_cptr_t new_slot(void)
{
    rs_cptr_t s = ps_slot_alloc(env->slots);
    if (!s) FAIL("out of test slots");
    return s;
}

rs_cptr_t new_object(unsigned type, unsigned size_bits)
{
    rs_cptr_t c;
    int err = ps_new_object(env, type, size_bits, &c);
    if (err) FAIL("cannot make object type %u bits %u: %s", type, size_bits, rs_error_name(err));
    return c;
}

rs_cptr_t new_untyped(unsigned bits, ps_ut_t *ua, ps_untyped_t *storage)
{
    rs_cptr_t c = 0;
    int err = ps_new_untyped(env, bits, ua, storage, &c);
    if (err) FAIL("cannot make an untyped of %u bits: %s", bits, rs_error_name(err));
    return err ? 0 : c;
}

void *map_frame_copy(rs_cptr_t frame)
{
    rs_cptr_t copy = new_slot();
    uint64_t va = map_next;
    int err = ps_cnode_copy(env->cnode, copy, PS_DEPTH, env->cnode, frame, PS_DEPTH);
    if (!err)
        err = ps_map_frame(env, env->vspace, copy, va, RS_RIGHT_READ | RS_RIGHT_WRITE,
                           RS_ATTR_DEFAULT);
    if (err) {
        FAIL("cannot map a frame into init: %s", rs_error_name(err));
        return NULL;
    }
    map_next += RS_PAGE_SIZE;
    return (void *)va;
}

void *map_page(rs_cptr_t *frame_out)
{
    rs_cptr_t f;
    uint64_t va = map_next;
    int err = ps_map_new_frame(env, env->vspace, va, RS_RIGHT_READ | RS_RIGHT_WRITE, &f);
    if (err) {
        FAIL("cannot map a page into init: %s", rs_error_name(err));
        return NULL;
    }
    map_next += RS_PAGE_SIZE;
    if (frame_out) *frame_out = f;
    return (void *)va;
}

/* ------------------------------------------------------------------ children */

int child_create(ps_process_t *p, ps_entry_fn fn, uint64_t arg, rs_cptr_t report)
{
    ps_process_config_t cfg = {.elf = (const void *)bootinfo->modules[0].vaddr,
                               .elf_size = bootinfo->modules[0].size,
                               .entry = fn,
                               .arg = arg,
                               .priority = TEST_PRIO,
                               .mcp = 0,
                               .name = "testchild"};
    int err;
    if (report) { // the fault handler: the report endpoint with a badge that says "fault"
        rs_cptr_t fault = ps_slot_alloc(env->slots);
        if (!fault) return RS_NOT_ENOUGH_MEMORY;
        err = ps_cnode_mint(env->cnode, fault, PS_DEPTH, env->cnode, report, PS_DEPTH,
                            RS_RIGHTS_ALL, FAULT_BADGE);
        if (err) return err;
        cfg.fault_ep = fault;
    }
    err = ps_process_create(p, env, &cfg);
    if (!err && report)
        err = ps_process_give(p, CHILD_SLOT_REPORT, report, RS_RIGHTS_ALL, CHILD_BADGE);
    return err;
}

bool child_spawn(ps_process_t *p, ps_entry_fn fn, uint64_t arg, rs_cptr_t report)
{
    int err = child_create(p, fn, arg, report);
    if (!err) err = ps_process_start(p);
    if (err) FAIL("cannot start a child process: %s", rs_error_name(err));
    return err == RS_OK;
}

volatile uint64_t *child_share(ps_process_t *p)
{
    rs_cptr_t f;
    volatile uint64_t *page = map_page(&f);
    if (!page) return NULL;
    int err = ps_process_share(p, f, CHILD_SHARED_VADDR, RS_RIGHT_READ | RS_RIGHT_WRITE);
    if (err) {
        FAIL("cannot share a page with the child: %s", rs_error_name(err));
        return NULL;
    }
    return page;
}

void child_report(uint64_t label, uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
    rs_mr_set(0, a);
    rs_mr_set(1, b);
    rs_mr_set(2, c);
    rs_mr_set(3, d);
    rs_send(CHILD_SLOT_REPORT, rs_msginfo(label, 0, 0, 4));
}

/* ------------------------------------------------------------------ waiting */

int wait_recv(rs_cptr_t ep, unsigned ms, rs_result_t *r)
{
    uint64_t end = now_ms() + ms;
    for (;;) {
        rs_result_t res = rs_nbrecv(ep);
        if (res.error != RS_WOULD_BLOCK) {
            if (r) *r = res;
            return (int)res.error;
        }
        if (now_ms() > end) return RS_WOULD_BLOCK;
        rs_yield();
    }
}

uint64_t wait_signal(rs_cptr_t ntfn, unsigned ms)
{
    uint64_t end = now_ms() + ms;
    for (;;) {
        rs_result_t res = rs_poll(ntfn);
        if (res.error == RS_OK && res.badge) return res.badge;
        if (res.error != RS_OK || now_ms() > end) return 0;
        rs_yield();
    }
}

bool wait_word(volatile uint64_t *word, uint64_t want, unsigned ms)
{
    uint64_t end = now_ms() + ms;
    while (*word != want) {
        if (now_ms() > end) return false;
        rs_yield();
    }
    return true;
}

bool expect_report_at(int line, rs_cptr_t ep, uint64_t want_label, uint64_t mr[4])
{
    rs_result_t r;
    int err = wait_recv(ep, WAIT_MS, &r);
    if (err == RS_WOULD_BLOCK) {
        check_fail_at(line, "no report from the child within %u ms", WAIT_MS);
        return false;
    }
    if (err) {
        check_fail_at(line, "receiving the child's report: %s", rs_error_name(err));
        return false;
    }
    uint64_t m[4] = {rs_mr_get(0), rs_mr_get(1), rs_mr_get(2), rs_mr_get(3)};
    uint64_t label = rs_msginfo_label(r.info);
    if (r.badge == FAULT_BADGE) {
        check_fail_at(line, "the child faulted: type %lu, ip %lx, %lx %lx %lx", label, m[0], m[1],
                      m[2], m[3]);
        return false;
    }
    if (label != want_label || r.badge != CHILD_BADGE) {
        check_fail_at(
            line,
            "child report label %lu badge %lx, expected label %lu badge %x (MR0-3 %lx %lx %lx %lx)",
            label, r.badge, want_label, CHILD_BADGE, m[0], m[1], m[2], m[3]);
        return false;
    }
    if (mr)
        for (int i = 0; i < 4; i++) mr[i] = m[i];
    return true;
}

/* ------------------------------------------------------------------ running */

void framework_init(const rs_bootinfo_t *bi)
{
    bootinfo = bi;
    ps_root_init(&root, bi);
    env = &root.env;
    ps_tcb_set_priority(RS_INIT_TCB, RS_INIT_TCB, TEST_PRIO);
    block = ps_slot_alloc_range(&root.slots, TEST_SLOTS);
    int err = ps_new_object(&root.env, RS_OBJ_UNTYPED, POOL_BITS, &pool);
    if (!err) err = ps_untyped_retype(pool, RS_INIT_CNODE, RS_OBJ_FRAME, 0, 0, 0, block, 1);
    if (!err) err = ps_frame_get_address(block, &pool_paddr);
    if (!err) err = ps_cnode_revoke(RS_INIT_CNODE, pool, PS_DEPTH);
    if (err || !block) // say so in the protocol: every test would fail for the same reason
        check_report(false, "FRAMEWORK", "the test framework sets up its pool and slots",
                     block ? rs_error_name(err) : "no slots");
}

/* Empties the test's slots and pool; then proves the pool is really empty: a frame retyped
 * from it must land at its very start again (a leaked child would keep the watermark up). */
static void cleanup(void)
{
    rs_ipc_buffer_t *b = rs_ipc_buffer();
    b->receive_cnode = b->receive_index = b->receive_depth = 0;
    ps_tcb_set_priority(RS_INIT_TCB, RS_INIT_TCB, TEST_PRIO);
    CHECK_OK(ps_cnode_revoke(RS_INIT_CNODE, pool, PS_DEPTH));
    for (rs_cptr_t s = block; s < block + TEST_SLOTS; s++)
        if (ps_slot_used(&test_slots, s)) CHECK_OK(ps_cnode_delete(RS_INIT_CNODE, s, PS_DEPTH));
    uint64_t pa = 0;
    int err = ps_untyped_retype(pool, RS_INIT_CNODE, RS_OBJ_FRAME, 0, 0, 0, block, 1);
    if (!err) err = ps_frame_get_address(block, &pa);
    if (err || pa != pool_paddr)
        FAIL("clean-up: the test pool is not empty after Revoke (%s, frame at %lx, pool at %lx)",
             rs_error_name(err), pa, pool_paddr);
    ps_cnode_revoke(RS_INIT_CNODE, pool, PS_DEPTH);
    ps_cnode_delete(RS_INIT_CNODE, block, PS_DEPTH);
}

static void run_one(const struct test *t)
{
    ps_slots_init(&test_slots, block, block + TEST_SLOTS);
    ps_ut_init(&test_ut, &test_ut_entry, 1);
    ps_ut_add(&test_ut, pool, POOL_BITS, pool_paddr, false);
    test_env = root.env;
    test_env.slots = &test_slots;
    test_env.ut = &test_ut;
    env = &test_env;
    map_next = MAP_WINDOW;
    cur.checks = 0;
    cur.failures = 0;
    cur.detail[0] = 0;
    uint64_t t0 = now_ms();
    t->fn();
    // a test that checked nothing proves nothing (an empty or early-returning function)
    if (cur.checks == 0) FAIL("the test made no check");
    cleanup();
    env = &root.env;
    uint64_t ms = now_ms() - t0;
    char detail[sizeof(cur.detail) + 32] = "";
    if (cur.failures)
        rt_snprintf(detail, sizeof(detail), "%s; %u failed check%s", cur.detail, cur.failures,
                    cur.failures == 1 ? "" : "s");
    check_report(cur.failures == 0, t->id, t->sentence, detail);
    if (ms > 1000) rt_printf("[time] %s took %lu ms\n", t->id, ms);
}

/* The value of "key" on the kernel command line ("key=value" or "key": empty), or NULL. */
static const char *cmdline_value(const char *key)
{
    size_t k = strlen(key);
    for (const char *c = bootinfo->cmdline; *c; c++) {
        if ((c == bootinfo->cmdline || c[-1] == ' ') && !strncmp(c, key, k) &&
            (c[k] == '=' || c[k] == ' ' || c[k] == 0))
            return c[k] == '=' ? c + k + 1 : c + k;
    }
    return NULL;
}

uint64_t cmdline_number(const char *key, uint64_t dflt)
{
    const char *c = cmdline_value(key);
    if (!c || !*c || *c == ' ') return dflt;
    unsigned base = c[0] == '0' && c[1] == 'x' ? 16 : 10;
    if (base == 16) c += 2;
    uint64_t v = 0;
    for (;; c++) {
        unsigned d = *c >= '0' && *c <= '9'   ? (unsigned)(*c - '0')
                     : *c >= 'a' && *c <= 'f' ? (unsigned)(*c - 'a' + 10)
                     : *c >= 'A' && *c <= 'F' ? (unsigned)(*c - 'A' + 10)
                                              : 99;
        if (d >= base) return v;
        v = v * base + d;
    }
}

/* "tests=P1,P2,..." on the kernel command line runs only the tests whose ID starts with one of
 * the prefixes; without it, every test runs. */
static bool selected(const char *id)
{
    const char *c = cmdline_value("tests");
    if (!c) return true;
    while (*c && *c != ' ') {
        size_t n = 0;
        while (c[n] && c[n] != ' ' && c[n] != ',') n++;
        if (n && !strncmp(id, c, n)) return true;
        c += n;
        if (*c == ',') c++;
    }
    return false;
}

unsigned tests_planned(const struct test *tests)
{
    unsigned n = 0;
    for (const struct test *t = tests; t->id; t++)
        if (selected(t->id)) n++;
    return n;
}

void run_tests(const struct test *tests)
{
    for (const struct test *t = tests; t->id; t++)
        if (selected(t->id)) run_one(t);
}

void run_areas(const struct test *const areas[], unsigned n, const struct test *const on_request[],
               unsigned m)
{
    // areas on request join only when a tests= filter is given (and then only what it selects)
    if (!cmdline_value("tests")) m = 0;
    unsigned plan = 0;
    for (unsigned i = 0; i < n; i++) plan += tests_planned(areas[i]);
    for (unsigned i = 0; i < m; i++) plan += tests_planned(on_request[i]);
    // counted from the tables before anything runs: run.py fails the run unless exactly this
    // many check lines follow (a crash, an area cut short or skipped shows as a shortfall)
    check_plan(plan);
    for (unsigned i = 0; i < n; i++) run_tests(areas[i]);
    for (unsigned i = 0; i < m; i++) run_tests(on_request[i]);
}

void framework_done(void) { check_done(); }
