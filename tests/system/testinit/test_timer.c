// SPDX-License-Identifier: MIT
// Timer object tests: a one-shot TSC deadline signals its notification once, not before the
// deadline and within a bound (not at the next 10 ms tick); cancel, re-arm, past deadlines, many
// timers in deadline order, deletion of the timer or its notification while armed, bad arguments.
#include "suites.h"

#define ME RS_INIT_CNODE
#define D  PS_DEPTH

#define B_TIMER 0x1ul
#define B_WATCH 0x8000000000000000ul /* the watchdog timer: the awaited one did not come */

/* The lateness allowed, in TSC cycles (command line timer_bound_cycles), given only where the
 * TSC is the guest's own clock. On Bochs the TSC counts instructions and idle time is skipped,
 * so only the kernel's path from the interrupt to the woken thread counts: system-bochs-timer
 * asserts 4,000 (1 ms at Bochs' 4 MHz; a tick-driven delivery would be up to 40,000 late); so
 * does system-qemu-timer under QEMU -icount shift=0,sleep=off (instructions; an idle guest's
 * clock jumps to its next timer). Under plain QEMU TCG the TSC is the host's clock and a loaded
 * host stops the guest for as long as it likes (100 ms and more seen at load 20): a bound there
 * would measure the host, so there is none (those runs check that each deadline comes, once,
 * not early, in order, and print the lateness). */
static uint64_t bound_tsc(void) { return cmdline_number("timer_bound_cycles", UINT64_MAX); }

/* While a thread below keeps the CPU busy (TIMER-0008, busy), timer_busy_bound_cycles if given
 * (else timer_bound_cycles). */
static uint64_t busy_bound;

static uint64_t ms_tsc(uint64_t ms) { return ms * bootinfo->tsc_per_ms; }
static uint64_t us_of(uint64_t tsc) { return tsc * 1000 / (bootinfo->tsc_per_ms ?: 1); }

/* A timer bound to n with badge b. */
static rs_cptr_t bound_timer(rs_cptr_t n, uint64_t b)
{
    rs_cptr_t t = new_object(RS_OBJ_TIMER, 0);
    if (t && !CHECK_OK(ps_timer_bind(t, n, b))) return 0;
    return t;
}

struct rig {
    rs_cptr_t n, t, watch; /* notification; the timer under test (B_TIMER); a watchdog (B_WATCH) */
};

static bool rig_make(struct rig *r)
{
    r->n = new_object(RS_OBJ_NOTIFICATION, 0);
    if (!r->n) return false;
    r->t = bound_timer(r->n, B_TIMER);
    r->watch = bound_timer(r->n, B_WATCH);
    return r->t && r->watch;
}

/* Blocks on r's notification until a signal, with the watchdog armed at `give_up`; returns the
 * badge bits and the TSC when the wait returned. The watchdog's bit is kept only if it came
 * before the timer's (a failure): a guest stopped by the host past `give_up` (plain QEMU) finds
 * both deadlines passed, the earlier one signalled first or with it. */
static uint64_t rig_wait(const struct rig *r, uint64_t give_up, uint64_t *when)
{
    CHECK_OK(ps_timer_set_deadline(r->watch, give_up));
    rs_result_t res = rs_wait(r->n);
    *when = rt_rdtsc();
    CHECK_OK(ps_timer_cancel(r->watch));
    CHECK_ERR(res.error, RS_OK);
    uint64_t bits = res.badge | rs_poll(r->n).badge; // the watchdog may have fired meanwhile
    if ((res.badge & B_TIMER) && (bits & B_WATCH) && rt_rdtsc() >= give_up) bits &= ~B_WATCH;
    return bits;
}

/* Nothing arrives for `ms`: returns the bits that did (B_WATCH alone when quiet). */
static uint64_t rig_quiet(const struct rig *r, uint64_t ms)
{
    uint64_t when;
    return rig_wait(r, rt_rdtsc() + ms_tsc(ms), &when);
}

/* Arms r's timer `ms` ahead, waits, and checks it fired once, not early and within the bound;
 * returns the lateness in TSC cycles (UINT64_MAX if it did not come). */
static uint64_t fire_after(const struct rig *r, uint64_t ms_num, uint64_t ms_den)
{
    uint64_t deadline = rt_rdtsc() + ms_tsc(ms_num) / ms_den, when;
    if (!CHECK_OK(ps_timer_set_deadline(r->t, deadline))) return UINT64_MAX;
    uint64_t bits = rig_wait(r, deadline + ms_tsc(200), &when);
    if (!CHECK_EQ(bits, B_TIMER)) return UINT64_MAX;
    if (when < deadline) {
        FAIL("signalled %lu cycles before its deadline", deadline - when);
        return UINT64_MAX;
    }
    uint64_t late = when - deadline, bound = busy_bound ? busy_bound : bound_tsc();
    if (late > bound && bound != UINT64_MAX)
        FAIL("%lu/%lu ms deadline %lu cycles (%lu us) late, bound %lu cycles", ms_num, ms_den, late,
             us_of(late), bound);
    return late;
}

static void tmr_fires_once(void)
{
    struct rig r;
    REQUIRE(rig_make(&r));
    static const unsigned ms[] = {1, 5, 50};
    for (unsigned i = 0; i < 3; i++) {
        uint64_t late = fire_after(&r, ms[i], 1);
        if (late == UINT64_MAX) return;
        rt_printf("[timer] %u ms deadline: %lu cycles (%lu us) late\n", ms[i], late, us_of(late));
        uint64_t dl;
        CHECK_OK(ps_timer_get_time(r.t, NULL, NULL, &dl));
        CHECK_EQ(dl, 0);                      // disarmed once fired
        CHECK_EQ(rig_quiet(&r, 20), B_WATCH); // once, not again
    }
}

/* Under plain QEMU the host may stop the guest for milliseconds between two calls: a step that
 * must happen before a deadline checks that it did (rt_rdtsc() < by); if not, the attempt says
 * nothing, so the timers are cancelled, signals taken, and the caller tries again. */
static bool in_time(const struct rig *r, uint64_t by)
{
    if (rt_rdtsc() < by) return true;
    ps_timer_cancel(r->t);
    ps_timer_cancel(r->watch);
    rs_poll(r->n);
    return false;
}
#define TRIES 5

static void tmr_cancel(void)
{
    struct rig r;
    REQUIRE(rig_make(&r));
    for (unsigned tries = 0;; tries++) {
        if (tries == TRIES) {
            FAIL("the host stalled the guest %u times in a row", TRIES);
            return;
        }
        uint64_t dl, now = rt_rdtsc();
        REQUIRE_OK(ps_timer_set_deadline(r.t, now + ms_tsc(10)));
        CHECK_OK(ps_timer_get_time(r.t, NULL, NULL, &dl));
        CHECK_EQ(dl, now + ms_tsc(10));
        CHECK_OK(ps_timer_cancel(r.t));
        CHECK_OK(ps_timer_get_time(r.t, NULL, NULL, &dl));
        CHECK_EQ(dl, 0);
        CHECK_OK(ps_timer_cancel(r.t)); // not armed: no error
        // 0 and ~0 as deadlines cancel too
        REQUIRE_OK(ps_timer_set_deadline(r.t, now + ms_tsc(11)));
        CHECK_OK(ps_timer_set_deadline(r.t, 0));
        REQUIRE_OK(ps_timer_set_deadline(r.watch, now + ms_tsc(12)));
        CHECK_OK(ps_timer_set_deadline(r.watch, ~0ul));
        if (!in_time(&r, now + ms_tsc(10))) continue;
        CHECK_EQ(rig_quiet(&r, 30), B_WATCH);
        return;
    }
}

static void tmr_rearm(void)
{
    struct rig r;
    REQUIRE(rig_make(&r));
    // earlier replaces later: fires at the new deadline only
    REQUIRE_OK(ps_timer_set_deadline(r.t, rt_rdtsc() + ms_tsc(30)));
    if (fire_after(&r, 2, 1) == UINT64_MAX) return;
    CHECK_EQ(rig_quiet(&r, 50), B_WATCH);
    // later replaces earlier: nothing at the first
    for (unsigned tries = 0;; tries++) {
        if (tries == TRIES) {
            FAIL("the host stalled the guest %u times in a row", TRIES);
            return;
        }
        uint64_t now = rt_rdtsc(), when;
        REQUIRE_OK(ps_timer_set_deadline(r.t, now + ms_tsc(5)));
        REQUIRE_OK(ps_timer_set_deadline(r.t, now + ms_tsc(20)));
        if (!in_time(&r, now + ms_tsc(5))) continue;
        CHECK_EQ(rig_wait(&r, now + ms_tsc(200), &when), B_TIMER);
        CHECK(when >= now + ms_tsc(20));
        return;
    }
}

static void tmr_past(void)
{
    struct rig r;
    REQUIRE(rig_make(&r));
    // signalled within the call: the bit is there before any interrupt could have come
    CHECK_OK(ps_timer_set_deadline(r.t, rt_rdtsc() - 1000));
    CHECK_EQ(rs_poll(r.n).badge, B_TIMER);
    CHECK_OK(ps_timer_set_deadline(r.t, 1));
    CHECK_EQ(rs_poll(r.n).badge, B_TIMER);
    // an armed deadline replaced by a past one fires once, now
    REQUIRE_OK(ps_timer_set_deadline(r.t, rt_rdtsc() + ms_tsc(5)));
    CHECK_OK(ps_timer_set_deadline(r.t, 2));
    CHECK_EQ(rs_poll(r.n).badge, B_TIMER);
    uint64_t dl;
    CHECK_OK(ps_timer_get_time(r.t, NULL, NULL, &dl));
    CHECK_EQ(dl, 0);
    CHECK_EQ(rig_quiet(&r, 20), B_WATCH);
}

/* 32 timers on one notification, bit i each, armed in a shuffled order at deadlines 1 ms
 * apart: every bit comes once, and a wake never brings a bit whose deadline is later than one
 * still to come (so the queue delivers in deadline order), nor one before its deadline. */
#define MANY 32
static void tmr_many_in_order(void)
{
    rs_cptr_t n = new_object(RS_OBJ_NOTIFICATION, 0);
    REQUIRE(n);
    rs_cptr_t t[MANY];
    unsigned order[MANY];
    for (unsigned i = 0; i < MANY; i++) {
        REQUIRE(t[i] = bound_timer(n, 1ul << i));
        order[i] = i;
    }
    uint64_t seed = 0x7133;
    for (unsigned i = MANY - 1; i > 0; i--) {
        unsigned j = (unsigned)(xorshift(&seed) % (i + 1)), x = order[i];
        order[i] = order[j];
        order[j] = x;
    }
    rs_cptr_t watch = bound_timer(n, B_WATCH);
    REQUIRE(watch);
    // far enough ahead for all to be armed first (Bochs: some 1,000 instructions a call)
    uint64_t gap = ms_tsc(1), base = rt_rdtsc() + ms_tsc(20), deadline[MANY];
    for (unsigned k = 0; k < MANY; k++) {
        unsigned i = order[k]; // timer i's deadline is base + i * gap: bit order is time order
        deadline[i] = base + i * gap;
        REQUIRE_OK(ps_timer_set_deadline(t[i], deadline[i]));
    }
    REQUIRE_OK(ps_timer_set_deadline(watch, base + MANY * gap + ms_tsc(500)));
    uint64_t got = 0, wakes = 0, worst = 0;
    const uint64_t all = MANY == 64 ? ~0ul : (1ul << MANY) - 1;
    while (got != all) {
        rs_result_t r = rs_wait(n);
        uint64_t when = rt_rdtsc();
        REQUIRE_ERR(r.error, RS_OK);
        if ((r.badge & B_WATCH) && ((got | r.badge) & ~B_WATCH) != all) { // with all, or fail
            FAIL("only bits %lx came", got | (r.badge & ~B_WATCH));
            return;
        }
        r.badge &= ~B_WATCH; // with the last of them: a guest stopped past it (plain QEMU)
        if (!r.badge) break;
        wakes++;
        if (r.badge & got) FAIL("bits %lx came twice", r.badge & got);
        unsigned low = (unsigned)__builtin_ctzl(r.badge), high = 63 - __builtin_clzl(r.badge);
        if (got && 63 - __builtin_clzl(got) > (int)low) FAIL("bit %u came after a later one", low);
        if (when < deadline[high])
            FAIL("bit %u came %lu cycles early", high, deadline[high] - when);
        if (when - deadline[low] > worst) worst = when - deadline[low]; // the earliest of them
        got |= r.badge;
    }
    CHECK_OK(ps_timer_cancel(watch));
    rt_printf("[timer] %u timers in %lu wakes, latest %lu cycles (%lu us)\n", MANY, wakes, worst,
              us_of(worst));
    CHECK(bound_tsc() == UINT64_MAX || worst <= bound_tsc());
}

/* Deleting an armed timer takes it off the queue: the memory is reused for other objects and
 * the deadline passes with no signal and no crash. Deleting the notification's caps leaves the
 * timer's own copy (it still fires); revoking the notification removes that copy too (it fires
 * into nothing, and SetDeadline then says unbound). */
static void tmr_delete_armed(void)
{
    ps_ut_t ua;
    ps_untyped_t storage;
    rs_cptr_t ut = new_untyped(14, &ua, &storage);
    REQUIRE(ut);
    rs_cptr_t n = new_object(RS_OBJ_NOTIFICATION, 0), tm = new_slot(), watch;
    REQUIRE(n && tm);
    REQUIRE_OK(ps_untyped_retype(ut, ME, RS_OBJ_TIMER, 0, ME, D, tm, 1));
    REQUIRE_OK(ps_timer_bind(tm, n, B_TIMER));
    REQUIRE(watch = bound_timer(n, B_WATCH));
    uint64_t now = rt_rdtsc();
    REQUIRE_OK(ps_timer_set_deadline(tm, now + ms_tsc(50)));
    REQUIRE_OK(ps_cnode_delete(ME, tm, D));
    bool stalled = rt_rdtsc() >= now + ms_tsc(50); // (plain QEMU) it may have fired before

    // The timer's memory becomes a frame init fills with 0xFF: a queue entry left there would
    // be a kernel pointer into user memory. Arming another timer would then link it in front of
    // that entry (whose deadline reads ~0) and write into the frame; and the old deadline passes.
    REQUIRE_OK(ps_cnode_revoke(ME, ut, D));
    rs_cptr_t reuse = new_slot();
    REQUIRE(reuse);
    REQUIRE_OK(ps_untyped_retype(ut, ME, RS_OBJ_FRAME, 0, ME, D, reuse, 1));
    volatile uint64_t *page = map_frame_copy(reuse);
    REQUIRE(page);
    for (unsigned i = 0; i < 512; i++) page[i] = ~0ul;
    uint64_t when;
    CHECK_OK(ps_timer_set_deadline(watch, now + ms_tsc(100)));
    uint64_t bits = 0;
    while (!(bits & B_WATCH)) {
        rs_result_t r = rs_wait(n);
        REQUIRE_ERR(r.error, RS_OK);
        bits |= r.badge;
    }
    when = rt_rdtsc();
    CHECK_EQ(bits & ~(stalled ? B_TIMER : 0), B_WATCH);
    CHECK(when >= now + ms_tsc(100));
    for (unsigned i = 0; i < 512; i++)
        if (page[i] != ~0ul) {
            FAIL("the kernel wrote %lx at offset %u of the dead timer's memory", page[i], i * 8);
            break;
        }

    // the timer bound through a copy of the notification that is then revoked: the timer's own
    // copy (a child of it) goes, the armed deadline fires into nothing
    rs_cptr_t n2 = new_object(RS_OBJ_NOTIFICATION, 0), sub = new_slot(), t2;
    REQUIRE(n2 && sub);
    REQUIRE_OK(ps_cnode_copy(ME, sub, D, ME, n2, D));
    REQUIRE(t2 = bound_timer(sub, B_TIMER));
    uint64_t deadline = rt_rdtsc() + ms_tsc(20);
    REQUIRE_OK(ps_timer_set_deadline(t2, deadline));
    REQUIRE_OK(ps_cnode_revoke(ME, sub, D));
    stalled = rt_rdtsc() >= deadline;
    CHECK_ERR(ps_timer_set_deadline(t2, rt_rdtsc() + ms_tsc(1)), RS_ILLEGAL_OPERATION);
    uint64_t dl = 1;
    for (uint64_t end = deadline + ms_tsc(200); dl && rt_rdtsc() < end;) { // taken off the queue
        rs_yield();
        CHECK_OK(ps_timer_get_time(t2, NULL, NULL, &dl));
    }
    CHECK_EQ(dl, 0);
    if (!stalled) CHECK_EQ(rs_poll(n2).badge, 0); // fired into nothing
    // a timer bound to a notification whose user caps are all gone
    rs_cptr_t n3 = new_object(RS_OBJ_NOTIFICATION, 0), t3;
    REQUIRE(n3 && (t3 = bound_timer(n3, B_TIMER)));
    REQUIRE_OK(ps_timer_set_deadline(t3, rt_rdtsc() + ms_tsc(1)));
    // Delete of the original while the timer holds a derived copy: not final, nothing destroyed
    CHECK_OK(ps_cnode_delete(ME, n3, D));
    dl = 1;
    for (uint64_t end = rt_rdtsc() + ms_tsc(200); dl && rt_rdtsc() < end;) {
        rs_yield();
        CHECK_OK(ps_timer_get_time(t3, NULL, NULL, &dl));
    }
    CHECK_EQ(dl, 0); // it fired (into the notification only it still names)
    // and deleting that last timer cap now destroys the notification with it
    CHECK_OK(ps_cnode_delete(ME, t3, D));
}

static void tmr_bad_args(void)
{
    rs_cptr_t t = new_object(RS_OBJ_TIMER, 0), n = new_object(RS_OBJ_NOTIFICATION, 0),
              ep = new_object(RS_OBJ_ENDPOINT, 0), ro = new_slot(), nro = new_slot(),
              nb = new_slot(), tcb = new_object(RS_OBJ_TCB, 0);
    REQUIRE(t && n && ep && ro && nro && nb && tcb);
    // wrong cap types
    CHECK_ERR(ps_timer_bind(t, ep, 0), RS_INVALID_CAPABILITY);
    CHECK_EQ(ps_mr(0), 1);
    CHECK_ERR(ps_timer_bind(t, t, 0), RS_INVALID_CAPABILITY);
    CHECK_ERR(ps_invoke(t, RS_TIMER_BIND, (rs_word_t[]){0}, 1, NULL, 0), RS_INVALID_CAPABILITY);
    CHECK_EQ(ps_mr(0), 1);
    CHECK_ERR(ps_invoke(t, RS_TIMER_BIND, NULL, 0, &n, 1), RS_TRUNCATED_MESSAGE);
    CHECK_EQ(ps_mr(0), 1);
    CHECK_EQ(ps_mr(1), 0);
    CHECK_ERR(ps_timer_set_deadline(tcb, rt_rdtsc() + 1000), RS_ILLEGAL_OPERATION);
    CHECK_ERR(ps_timer_get_time(tcb, NULL, NULL, NULL), RS_ILLEGAL_OPERATION);
    CHECK_ERR(ps_invoke(t, RS_TIMER_GET_TIME + 1, NULL, 0, NULL, 0), RS_ILLEGAL_OPERATION);
    CHECK_ERR(ps_invoke(t, RS_VCPU_BIND, NULL, 0, NULL, 0), RS_ILLEGAL_OPERATION);
    // not bound yet
    CHECK_ERR(ps_timer_set_deadline(t, rt_rdtsc() + ms_tsc(1)), RS_ILLEGAL_OPERATION);
    CHECK_EQ(ps_mr(0), 0);
    CHECK_OK(ps_timer_set_deadline(t, 0)); // cancelling needs no notification
    CHECK_ERR(ps_invoke(t, RS_TIMER_SET_DEADLINE, NULL, 0, NULL, 0), RS_TRUNCATED_MESSAGE);
    CHECK_EQ(ps_mr(0), 1);
    // rights: a notification without WRITE; a badge on a badged cap; a read-only timer cap
    REQUIRE_OK(ps_cnode_mint(ME, nro, D, ME, n, D, RS_RIGHT_READ, 0));
    CHECK_ERR(ps_timer_bind(t, nro, 0), RS_INSUFFICIENT_RIGHTS);
    CHECK_EQ(ps_mr(0), 1);
    REQUIRE_OK(ps_cnode_mint(ME, nb, D, ME, n, D, RS_RIGHT_WRITE, 0x40));
    CHECK_ERR(ps_timer_bind(t, nb, 0x2), RS_ILLEGAL_OPERATION);
    CHECK_EQ(ps_mr(0), 1);
    CHECK_OK(ps_timer_bind(t, nb, 0)); // its own badge
    CHECK_OK(ps_timer_set_deadline(t, 5));
    CHECK_EQ(rs_poll(n).badge, 0x40);
    REQUIRE_OK(ps_cnode_mint(ME, ro, D, ME, t, D, RS_RIGHT_READ, 0));
    CHECK_ERR(ps_timer_bind(ro, n, 1), RS_INSUFFICIENT_RIGHTS);
    CHECK_EQ(ps_mr(0), 0);
    CHECK_ERR(ps_timer_set_deadline(ro, 5), RS_INSUFFICIENT_RIGHTS);
    CHECK_ERR(ps_timer_cancel(ro), RS_INSUFFICIENT_RIGHTS);
    uint64_t before = rt_rdtsc(), now, rate, dl;
    CHECK_OK(ps_timer_get_time(ro, &now, &rate, &dl)); // reading the clock needs no right
    CHECK(now >= before && now <= rt_rdtsc());
    CHECK_EQ(rate, bootinfo->tsc_per_ms);
    CHECK_EQ(dl, 0);
    // no badge on a timer cap
    rs_cptr_t tb = new_slot();
    REQUIRE(tb);
    CHECK_ERR(ps_cnode_mint(ME, tb, D, ME, t, D, RS_RIGHTS_ALL, 7), RS_INVALID_ARGUMENT);
    // rebinding away from the last cap to a notification would destroy it
    rs_cptr_t n2 = new_object(RS_OBJ_NOTIFICATION, 0), t2;
    REQUIRE(n2 && (t2 = bound_timer(n2, 1)));
    REQUIRE_OK(ps_cnode_delete(ME, n2, D)); // the timer holds its last cap now
    CHECK_ERR(ps_timer_bind(t2, n, 1), RS_REVOKE_FIRST);
    CHECK_EQ(ps_mr(0), 1);
    CHECK_OK(ps_timer_bind(t, n, 0x80)); // not the last cap: rebinding is fine
    CHECK_OK(ps_timer_set_deadline(t, 5));
    CHECK_EQ(rs_poll(n).badge, 0x80);
}

static volatile uint64_t spin_stop, spin_count;

/* Keeps the CPU busy below init's priority, as a guest's vCPU thread does below its VMM. */
static void spinner(uint64_t arg, rs_ipc_buffer_t *b)
{
    (void)arg;
    while (!spin_stop) spin_count++;
    for (;;) ps_syscall_buf(b, RS_SYS_YIELD, 0, 0);
}

/* The lateness distribution: 200 deadlines 100 us .. 3.1 ms ahead, one at a time, with the CPU
 * idle (busy = 0) or busy with a thread below init's priority. */
#define SAMPLES 200
static void lateness_run(bool busy)
{
    struct rig r;
    REQUIRE(rig_make(&r));
    ps_thread_t th;
    if (busy) {
        spin_stop = spin_count = 0;
        REQUIRE_OK(ps_thread_create(&th, env, spinner, 0, 0x0000450000010000ul, 1,
                                    0x0000450000020000ul, TEST_PRIO - 1, 0));
        REQUIRE_OK(ps_tcb_resume(th.tcb));
        busy_bound = cmdline_number("timer_busy_bound_cycles", bound_tsc());
    }
    static uint64_t late[SAMPLES];
    uint64_t seed = 0x1a7e;
    for (unsigned i = 0; i < SAMPLES; i++) {
        uint64_t us = 100 + xorshift(&seed) % 3000;
        late[i] = fire_after(&r, us, 1000);
        if (late[i] == UINT64_MAX) break;
    }
    busy_bound = 0;
    if (busy) {
        spin_stop = 1;
        CHECK_OK(ps_tcb_suspend(th.tcb));
        CHECK(spin_count > 0);
    }
    for (unsigned i = 0; i < SAMPLES; i++)
        if (late[i] == UINT64_MAX) return;
    for (unsigned i = 1; i < SAMPLES; i++) // insertion sort: 200 values
        for (unsigned j = i; j > 0 && late[j - 1] > late[j]; j--) {
            uint64_t x = late[j];
            late[j] = late[j - 1];
            late[j - 1] = x;
        }
    rt_printf("[timer] lateness over %u deadlines, CPU %s, cycles: min %lu median %lu p90 %lu "
              "p99 %lu max %lu (max %lu us, TSC %lu kHz)\n",
              SAMPLES, busy ? "busy" : "idle", late[0], late[SAMPLES / 2], late[SAMPLES * 9 / 10],
              late[SAMPLES * 99 / 100], late[SAMPLES - 1], us_of(late[SAMPLES - 1]),
              bootinfo->tsc_per_ms);
}

static void tmr_lateness(void)
{
    lateness_run(false);
    lateness_run(true);
}

const struct test timer_tests[] = {
    {"TIMER-0001", "deadlines 1, 5 and 50 ms ahead signal once, not early, within any bound given",
     tmr_fires_once},
    {"TIMER-0002", "Cancel, and SetDeadline 0 or ~0, disarm: nothing is signalled", tmr_cancel},
    {"TIMER-0003", "SetDeadline on an armed timer replaces its deadline, earlier or later",
     tmr_rearm},
    {"TIMER-0004", "a deadline not after now signals within the call, once", tmr_past},
    {"TIMER-0005", "32 timers armed in shuffled order signal once each, in deadline order",
     tmr_many_in_order},
    {"TIMER-0006", "deleting an armed timer or revoking its notification cancels it cleanly",
     tmr_delete_armed},
    {"TIMER-0007", "wrong cap types, missing rights, bad badges and arguments: exact errors",
     tmr_bad_args},
    {"TIMER-0008",
     "200 deadlines 0.1 to 3.1 ms ahead, CPU idle, then busy below: each within any bound given",
     tmr_lateness},
    {0},
};
