// SPDX-License-Identifier: MIT
// Host tests of the scheduler (kernel/sched.c): priorities, round robin, ticks, and what
// exit_kernel runs.
// The shared world and the fake machine: ipc_fixture.h, fake_arch.c.
#include "ipc_fixture.h"

TestSuite(sched, .init = ipc_setup, .fini = ipc_teardown);

/* ---- Scheduler --------------------------------------------------------------------------------- */

Test(sched, picks_highest_priority)
{
    cr_expect_null(sched_pick());
    const uint8_t prios[] = {0, 64, 255, 63, 128, 127, 1, 200};
    struct tcb *t[8];
    for (int i = 0; i < 8; i++) {
        char name[8];
        snprintf(name, sizeof(name), "p%u", prios[i]);
        t[i] = running(name, prios[i]);
    }
    /* highest first, across the 64-bit words of the bitmap */
    EXPECT_RUN_QUEUE(t[2], t[7], t[4], t[5], t[1], t[3], t[6], t[0]);
}

Test(sched, round_robin_within_priority_after_time_slice)
{
    struct tcb *a = running("a", 5), *b = running("b", 5), *c = running("c", 5),
               *low = running("low", 4);
    cur = a;
    for (int i = 1; i < SCHED_TIME_SLICE; i++) {
        sched_tick();
        cr_expect_eq(sched_pick(), a, "tick %d: still a's slice", i);
    }
    sched_tick();
    cr_expect_eq(sched_pick(), b, "a's slice is used up");
    cr_expect_eq(a->time_slice, 0);
    cur = b;
    for (int i = 0; i < SCHED_TIME_SLICE; i++) sched_tick();
    cr_expect_eq(sched_pick(), c);
    cur = c;
    for (int i = 0; i < SCHED_TIME_SLICE; i++) sched_tick();
    EXPECT_RUN_QUEUE(a, b, c, low);
}

Test(sched, tick_charges_only_a_running_thread)
{
    struct tcb *a = running("a", 5), *b = running("b", 5);
    cur = NULL; /* idle */
    for (int i = 0; i < 2 * SCHED_TIME_SLICE; i++) sched_tick();
    cr_expect_eq(sched_pick(), a);
    /* a thread that blocked in this kernel entry is not rotated */
    notification_wait(w.ntfn, a, true);
    cur = a;
    for (int i = 0; i < 2 * SCHED_TIME_SLICE; i++) sched_tick();
    cr_expect_eq(a->time_slice, 0);
    EXPECT_RUN_QUEUE(b);
}

Test(sched, set_prio_requeues)
{
    struct tcb *a = running("a", 5), *b = running("b", 5), *blocked = running("blocked", 5);
    notification_wait(w.ntfn, blocked, true);
    sched_set_prio(b, 7);
    cr_expect_eq(b->prio, 7);
    cr_expect_eq(sched_pick(), b);
    sched_set_prio(a, 9);
    cr_expect_eq(sched_pick(), a);
    sched_set_prio(a, 1);
    cr_expect_eq(sched_pick(), b);
    /* a blocked thread is not queued by a priority change, and is queued at its new one later */
    sched_set_prio(blocked, 100);
    cr_expect_eq(sched_pick(), b);
    notification_signal(w.ntfn, 1);
    EXPECT_RUN_QUEUE(blocked, b, a);
}

Test(sched, make_runnable_is_idempotent_and_can_queue_at_head)
{
    struct tcb *a = running("a", 5), *b = running("b", 5);
    sched_make_runnable(a, false);
    sched_make_runnable(a, true);
    struct tcb *c = thread("c", 5);
    sched_make_runnable(c, true);
    cr_expect_eq(c->state, TS_RUNNABLE);
    EXPECT_RUN_QUEUE(c, a, b);
    /* dequeuing a thread that is not queued changes nothing */
    sched_enqueue(a, false);
    sched_dequeue(b);
    EXPECT_RUN_QUEUE(a);
}

Test(sched, exit_kernel_runs_best_thread)
{
    struct tcb *lo = running("lo", 5), *hi = running("hi", 6);
    (void)lo;
    int how;
    RUN(how, sched_exit_kernel());
    cr_assert_eq(how, LEFT_USER);
    cr_expect_eq(fake_restored, &hi->ctx);
    cr_expect_eq(cur, hi);
    /* without PTI: TSS.rsp0 (cur_ctx_top is kept only with PTI, entry.S) */
    cr_expect_eq(tss.rsp[0], (uint64_t)&hi->ctx + CTX_FRAME_END,
                 "entry stack: just past the frame");
    cr_expect_eq(arch_cr3, vspace_root_phys(&hi->slots[TCB_SLOT_VSPACE].cap));
}

Test(sched, exit_kernel_idles_with_nothing_to_run)
{
    struct tcb *t = thread("t", 5);
    (void)t;
    int how;
    RUN(how, sched_exit_kernel());
    cr_expect_eq(how, LEFT_IDLE);
    cr_expect_null(cur);
    cr_expect_eq(fake_idle_waits, 1);
}

Test(sched, exit_kernel_stops_thread_without_vspace)
{
    struct tcb *lo = running("lo", 5), *bad = running("novspace", 9);
    bad->slots[TCB_SLOT_VSPACE].cap = cap_null();
    int how;
    RUN(how, sched_exit_kernel());
    cr_assert_eq(how, LEFT_USER);
    cr_expect_eq(fake_restored, &lo->ctx);
    cr_expect_eq(bad->state, TS_INACTIVE);
    cr_expect_neq(strstr(fake_console, "'novspace' has no VSpace"), NULL, "console: %s",
                  fake_console);
    EXPECT_RUN_QUEUE(lo);
}
