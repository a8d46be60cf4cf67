// SPDX-License-Identifier: MIT
// Preemption tests: a hostile thread runs the kernel's longest operations (retyping and deleting
// a 2^18-slot CNode, 16 MiB zeroed each time) while init watches how late every timer tick is
// taken; the kernel's preemption points must keep that bounded.
#include "suites.h"
#include <resurgo/ipcbuf.h>

#define ME RS_INIT_CNODE
#define D  PS_DEPTH

/* The longest a tick may wait, in TSC cycles: one tick period (so that no tick is ever merged
 * into the next), and at most a million. The test runs under QEMU's -icount shift=0
 * (system-qemu-preempt) and under Bochs, where a TSC cycle is one instruction and the host's
 * load delays nothing; the kernel's preemption points keep a tick waiting some 16,000
 * instructions. Without them a single Retype here zeroes 16 MiB with interrupts off: some 64
 * million instructions. */
#define MAX_TICK_LATENCY 1000000
#define MIN_ROUNDS       2 /* hostile rounds to watch, and at least: */
#define MIN_WATCH_MS     1000
#define MAX_WATCH_MS     60000 /* emulated; Bochs runs at some 4 million instructions a second */
#define BIG_RADIX        18    /* 2^18 slots of 64 bytes: 16 MiB */

/* Shared with the hostile thread (same address space). */
static volatile uint64_t hostile_stop, hostile_rounds, hostile_done, hostile_error;

static int hostile_call(rs_ipc_buffer_t *b, rs_cptr_t cap, uint64_t label, unsigned n,
                        const uint64_t *a, rs_cptr_t cap0)
{
    for (unsigned i = 0; i < n; i++) b->mr[i] = a[i];
    b->caps_or_badges[0] = cap0;
    return (int)ps_syscall_buf(b, RS_SYS_CALL, cap, rs_msginfo(label, 0, cap0 ? 1 : 0, n)).error;
}

/* arg = untyped (2^24) << 32 | slot. Retypes the big CNode into the slot and deletes it again,
 * every other round by a Revoke of the untyped, until told to stop. It may only use
 * ps_syscall_buf (its own IPC buffer): see ps_thread_create. */
static void hostile(uint64_t arg, rs_ipc_buffer_t *b)
{
    rs_cptr_t ut = arg >> 32, slot = arg & 0xFFFFFFFF;
    while (!hostile_stop) {
        const uint64_t retype[] = {RS_OBJ_CNODE, BIG_RADIX, 0, 0, slot, 1};
        int err = hostile_call(b, ut, RS_UNTYPED_RETYPE, 6, retype, ME);
        if (!err) {
            const uint64_t del[] = {hostile_rounds & 1 ? ut : slot, D};
            err = hostile_call(b, ME, hostile_rounds & 1 ? RS_CNODE_REVOKE : RS_CNODE_DELETE, 2,
                               del, 0);
        }
        if (err && !hostile_error) hostile_error = (uint64_t)err;
        hostile_rounds++;
    }
    hostile_done = 1;
    for (;;) ps_syscall_buf(b, RS_SYS_YIELD, 0, 0);
}

/* The longest tick latency (TSC cycles) among the ticks since *seen, which it advances; counts
 * the ticks in *ticks and those that fell out of the kernel's log before being read in *lost. */
static uint64_t scan_ticks(uint64_t *seen, uint64_t *ticks, uint64_t *lost)
{
    const volatile rs_bootinfo_t *bi = bootinfo;
    uint64_t now = bi->tick_count, worst = 0;
    if (now - *seen > RS_TICK_LATENCY_LOG) {
        *lost += now - *seen - RS_TICK_LATENCY_LOG;
        *seen = now - RS_TICK_LATENCY_LOG;
    }
    for (; *seen < now; (*seen)++, (*ticks)++) {
        uint64_t l = bi->tick_latency[*seen % RS_TICK_LATENCY_LOG];
        if (l > worst) worst = l;
    }
    return worst;
}

static void preempt_hostile_thread_keeps_ticks_on_time(void)
{
    ps_untyped_t st;
    ps_ut_t ua;
    rs_cptr_t ut = new_untyped(24, &ua, &st), slot = new_slot();
    REQUIRE(ut && slot);
    uint64_t per_us = bootinfo->tsc_per_ms / 1000 ? bootinfo->tsc_per_ms / 1000 : 1;
    uint64_t tick = bootinfo->tsc_per_ms * bootinfo->timer_tick_us / 1000;
    uint64_t bound = tick < MAX_TICK_LATENCY ? tick : MAX_TICK_LATENCY;
    hostile_stop = hostile_rounds = hostile_done = hostile_error = 0;
    ps_thread_t t;
    REQUIRE_OK(ps_thread_create(&t, env, hostile, ut << 32 | slot, 0x0000430000010000ul, 2,
                                0x0000430000020000ul, TEST_PRIO, 0));

    // The same priority as init: the two share the CPU in time slices, and init reads the
    // kernel's log of tick latencies whenever it runs, until the hostile thread has stopped.
    uint64_t seen = bootinfo->tick_count, ticks = 0, lost = 0, worst = 0;
    REQUIRE_OK(ps_tcb_resume(t.tcb));
    uint64_t start = now_ms(), elapsed = 0;
    while (!hostile_done && elapsed < MAX_WATCH_MS + WAIT_MS) {
        uint64_t w = scan_ticks(&seen, &ticks, &lost);
        if (w > worst) worst = w;
        elapsed = now_ms() - start;
        if ((elapsed >= MIN_WATCH_MS && hostile_rounds >= MIN_ROUNDS) || elapsed >= MAX_WATCH_MS)
            hostile_stop = 1;
    }
    uint64_t w = scan_ticks(&seen, &ticks, &lost);
    if (w > worst) worst = w;
    ps_tcb_suspend(t.tcb);

    rt_printf("[preempt] longest tick latency %lu cycles (%lu us) over %lu ticks, %lu lost, "
              "%lu hostile rounds in %lu ms\n",
              worst, worst / per_us, ticks, lost, hostile_rounds, elapsed);
    CHECK(hostile_done);
    CHECK_ERR(hostile_error, RS_OK);
    CHECK(hostile_rounds >= MIN_ROUNDS); // the hostile work really ran, Delete and Revoke both
    CHECK_EQ(lost, 0);
    if (worst > bound) FAIL("a tick waited %lu cycles (bound %lu)", worst, bound);
    // What the preempted calls left is consistent: the untyped is whole again.
    CHECK_OK(ps_cnode_revoke(ME, ut, D));
    CHECK_OK(ps_cnode_delete(ME, slot, D));
    CHECK_OK(ps_untyped_retype(ut, ME, RS_OBJ_CNODE, BIG_RADIX, 0, 0, slot, 1));
    CHECK_EQ(cap_type(slot), RS_CAP_CNODE);
}

/* arg as for hostile: Retype the big CNode into the slot and Delete it, until told to stop; each
 * error but RS_OK is recorded. */
static void deleter(uint64_t arg, rs_ipc_buffer_t *b)
{
    rs_cptr_t ut = arg >> 32, slot = arg & 0xFFFFFFFF;
    while (!hostile_stop) {
        const uint64_t retype[] = {RS_OBJ_CNODE, BIG_RADIX, 0, 0, slot, 1};
        int err = hostile_call(b, ut, RS_UNTYPED_RETYPE, 6, retype, ME);
        const uint64_t del[] = {slot, D};
        if (!err) err = hostile_call(b, ME, RS_CNODE_DELETE, 2, del, 0);
        if (err && !hostile_error) hostile_error = (uint64_t)err;
        hostile_rounds++;
    }
    hostile_done = 1;
    for (;;) ps_syscall_buf(b, RS_SYS_YIELD, 0, 0);
}

/* A Delete stopped at a preemption point leaves a zombie in the slot while its thread waits to
 * make the call again. Another thread sees a cap of type 0xFF that refuses everything but
 * Delete, and may finish the deletion itself; the stopped thread's repeated Delete then finds the
 * slot empty and succeeds. */
static void preempt_zombie_between_restarts(void)
{
    ps_untyped_t st;
    ps_ut_t ua;
    rs_cptr_t ut = new_untyped(24, &ua, &st), slot = new_slot(), other = new_slot();
    rs_cptr_t ep = new_object(RS_OBJ_ENDPOINT, 0);
    REQUIRE(ut && slot && other && ep);
    hostile_stop = hostile_rounds = hostile_done = hostile_error = 0;
    ps_thread_t t;
    REQUIRE_OK(ps_thread_create(&t, env, deleter, ut << 32 | slot, 0x0000440000010000ul, 2,
                                0x0000440000020000ul, TEST_PRIO, 0));
    REQUIRE_OK(ps_tcb_resume(t.tcb));
    // init runs between the deleter's time slices: wait for one that ended inside a Delete
    uint64_t start = now_ms();
    int type = cap_type(slot);
    while (type != 0xFF && now_ms() - start < MAX_WATCH_MS) type = cap_type(slot);
    if (type != 0xFF) {
        hostile_stop = 1;
        ps_tcb_suspend(t.tcb);
        FAIL("no zombie seen in %lu hostile rounds", hostile_rounds);
        return;
    }
    CHECK_ERR(ps_cnode_copy(ME, other, D, ME, slot, D), RS_ILLEGAL_OPERATION);
    CHECK_EQ(rs_mr_get(0), 2);
    CHECK_ERR(ps_cnode_mint(ME, other, D, ME, slot, D, RS_RIGHTS_ALL, 0), RS_ILLEGAL_OPERATION);
    CHECK_ERR(ps_cnode_move(ME, other, D, ME, slot, D), RS_ILLEGAL_OPERATION);
    CHECK_ERR(ps_cnode_mutate(ME, other, D, ME, slot, D, RS_RIGHTS_ALL), RS_ILLEGAL_OPERATION);
    CHECK_ERR(ps_cnode_copy(ME, slot, D, ME, ep, D), RS_DELETE_FIRST);
    CHECK_ERR(ps_untyped_retype(ut, ME, RS_OBJ_ENDPOINT, 0, 0, 0, slot, 1), RS_DELETE_FIRST);
    CHECK_ERR(ps_invoke(slot, RS_CNODE_DELETE, NULL, 0, NULL, 0), RS_ILLEGAL_OPERATION);
    CHECK_OK(ps_cnode_revoke(ME, slot, D)); // it has no children: nothing to do
    CHECK_EQ(cap_type(slot), 0xFF);
    CHECK_EQ(cap_type(other), RS_CAP_NULL);
    // The untyped still has the zombie as a child: it is not reset under it.
    CHECK_ERR(ps_untyped_retype(ut, ME, RS_OBJ_CNODE, BIG_RADIX, 0, 0, other, 1),
              RS_NOT_ENOUGH_MEMORY);
    uint64_t rounds = hostile_rounds;
    CHECK_OK(ps_cnode_delete(ME, slot, D)); // init finishes the deletion
    CHECK_EQ(cap_type(slot), RS_CAP_NULL);
    // the deleter carries on: its repeated Delete finds the slot empty, and it goes round again
    while (hostile_rounds < rounds + 2 && now_ms() - start < 2 * MAX_WATCH_MS) rs_yield();
    hostile_stop = 1;
    CHECK(wait_word(&hostile_done, 1, MAX_WATCH_MS)); // a round takes seconds on Bochs
    ps_tcb_suspend(t.tcb);
    CHECK(hostile_rounds >= rounds + 2);
    CHECK_ERR(hostile_error, RS_OK);
    CHECK_OK(ps_cnode_delete(ME, slot, D));
    CHECK_OK(ps_untyped_retype(ut, ME, RS_OBJ_CNODE, BIG_RADIX, 0, 0, other, 1));
}

/* ---- A long queue on an endpoint whose last cap is deleted ---------------------------------- */

#define QUEUE_THREADS 2048  /* TCBs of 2 KiB: 4 MiB */
#define QUEUE_RADIX   11    /* the CNode that keeps their caps */
#define QUEUE_TICKS   3     /* ticks to see taken during the Deletes, and at most: */
#define QUEUE_ROUNDS  400   /* QEMU's tick is 10 million instructions, a Delete ~700,000 */
#define QUEUE_BOUND   50000 /* cycles: a poll every 64 units keeps it near 16,000 */

/* Shared with the waiters, which update the counters with locked instructions. */
static volatile uint64_t __attribute__((used)) waiters_ep, waiters_started, waiters_woken,
    waiters_status_sum;

/* A waiter: r13 = RS_SYS_RECV. It uses no stack and no IPC buffer, so thousands share nothing but
 * these words: Recv on the endpoint waiters_ep names, then count the wake-up and add its status
 * (rax) to the sum, and wait again on whatever waiters_ep names by then. */
void preempt_waiter_entry(void);
__asm__(".text\n"
        ".type preempt_waiter_entry, @function\n"
        "preempt_waiter_entry:\n"
        "    lock incq waiters_started(%rip)\n"
        "1:  mov %r13, %rax\n"
        "    mov waiters_ep(%rip), %rdi\n"
        "    xor %esi, %esi\n"
        "    syscall\n"
        "    lock incq waiters_woken(%rip)\n"
        "    lock addq %rax, waiters_status_sum(%rip)\n"
        "    jmp 1b\n"
        ".size preempt_waiter_entry, . - preempt_waiter_entry\n");

/* Lets every runnable waiter (at init's priority) run up to its next Recv. */
static void let_waiters_block(volatile uint64_t *count, uint64_t want, uint64_t start)
{
    while (*count < want && now_ms() - start < MAX_WATCH_MS) rs_yield();
    for (int i = 0; i < 4; i++) rs_yield(); // the last ones, from their count to their Recv
}

/* 2,048 threads wait on one endpoint; init deletes its only cap and the kernel fails every one
 * with RS_PEER_DIED; they wait on the next endpoint, and so on until ticks fell into a few
 * Deletes. Waking them all at once kept interrupts off for some 200,000 instructions; a
 * preemption point between wake-ups keeps each tick on time. */
static void preempt_deleting_endpoint_with_long_queue(void)
{
    ps_untyped_t st;
    ps_ut_t ua;
    rs_cptr_t ut = new_untyped(24, &ua, &st), cn = new_slot(), tmp = new_slot();
    rs_cptr_t eps[2] = {new_slot(), new_slot()};
    REQUIRE(ut && cn && tmp && eps[0] && eps[1]);
    REQUIRE_OK(ps_untyped_retype(ut, ME, RS_OBJ_CNODE, QUEUE_RADIX, 0, 0, cn, 1));
    REQUIRE_OK(ps_untyped_retype(ut, ME, RS_OBJ_ENDPOINT, 0, 0, 0, eps[0], 1));
    waiters_ep = eps[0];
    waiters_started = waiters_woken = waiters_status_sum = 0;
    uint64_t regs[RS_REG_R13 + 1] = {0};
    regs[RS_REG_RIP] = (uint64_t)(uintptr_t)preempt_waiter_entry;
    regs[RS_REG_RSP] = 0x0000450000000000ul; // never used
    regs[RS_REG_RFLAGS] = 0x202;
    regs[RS_REG_R13] = RS_SYS_RECV;
    for (unsigned i = 0; i < QUEUE_THREADS; i++) {
        REQUIRE_OK(ps_untyped_retype(ut, ME, RS_OBJ_TCB, 0, 0, 0, tmp, 1));
        REQUIRE_OK(ps_tcb_configure(tmp, ME, env->vspace, 0, 0));
        REQUIRE_OK(ps_tcb_set_priority(tmp, env->tcb, TEST_PRIO));
        REQUIRE_OK(ps_tcb_write_registers(tmp, true, RS_REG_R13 + 1, regs));
        REQUIRE_OK(ps_cnode_move(cn, i, QUEUE_RADIX, ME, tmp, D));
        if (i % 64 == 63) rs_yield(); // the new threads block in turn
    }
    uint64_t start = now_ms();
    let_waiters_block(&waiters_started, QUEUE_THREADS, start);
    REQUIRE(waiters_started == QUEUE_THREADS);
    CHECK_EQ(waiters_woken, 0);

    uint64_t ticks = 0, lost = 0, worst = 0, took = 0, rounds = 0;
    while (ticks < QUEUE_TICKS && rounds < QUEUE_ROUNDS) {
        rs_cptr_t old = eps[rounds & 1], next = eps[(rounds + 1) & 1];
        CHECK_OK(ps_untyped_retype(ut, ME, RS_OBJ_ENDPOINT, 0, 0, 0, next, 1));
        waiters_ep = next; // where the woken go next
        // a varying delay: under -icount each round lasts exactly as long as the last, and the
        // ticks can keep falling outside the Deletes round after round (seen on QEMU)
        for (volatile uint64_t j = 0; j < (rounds * 104729) % 200003; j++) {
        }
        uint64_t seen = bootinfo->tick_count, t0 = rt_rdtsc();
        CHECK_OK(ps_cnode_delete(ME, old, D)); // repeated by the kernel after each preemption
        uint64_t t = rt_rdtsc() - t0, w = scan_ticks(&seen, &ticks, &lost);
        if (w > worst) worst = w;
        if (t > took) took = t;
        CHECK_EQ(cap_type(old), RS_CAP_NULL);
        rounds++;
        let_waiters_block(&waiters_woken, rounds * QUEUE_THREADS, start);
        if (waiters_woken != rounds * QUEUE_THREADS) break;
    }
    uint64_t tick = bootinfo->tsc_per_ms * bootinfo->timer_tick_us / 1000;
    uint64_t bound = tick < QUEUE_BOUND ? tick : QUEUE_BOUND;
    rt_printf("[preempt] queue of %u: %lu Deletes, longest %lu cycles, %lu ticks in them, "
              "longest tick latency %lu cycles\n",
              QUEUE_THREADS, rounds, took, ticks, worst);
    // every one woken once per round, each with RS_PEER_DIED
    CHECK_EQ(waiters_woken, rounds * QUEUE_THREADS);
    CHECK_EQ(waiters_status_sum, waiters_woken * RS_PEER_DIED);
    CHECK(ticks >= QUEUE_TICKS);
    CHECK_EQ(lost, 0);
    if (worst > bound) FAIL("a tick waited %lu cycles (bound %lu)", worst, bound);
    // the threads first (from the live endpoint's queue), then the rest with the untyped
    CHECK_OK(ps_cnode_delete(ME, cn, D));
    CHECK_OK(ps_cnode_revoke(ME, ut, D));
    CHECK_EQ(cap_type(eps[rounds & 1]), RS_CAP_NULL);
    CHECK_OK(ps_untyped_retype(ut, ME, RS_OBJ_CNODE, BIG_RADIX, 0, 0, cn, 1));
    CHECK_OK(ps_cnode_delete(ME, cn, D));
}

const struct test preempt_tests[] = {
    {"PREEMPT-0001",
     "a thread retyping, deleting and revoking 16 MiB CNodes cannot hold off "
     "timer ticks for long",
     preempt_hostile_thread_keeps_ticks_on_time},
    {"PREEMPT-0002",
     "a Delete stopped at a preemption point leaves a zombie that refuses all but "
     "Delete; another thread may finish it and the first one's repeat succeeds",
     preempt_zombie_between_restarts},
    {"PREEMPT-0003",
     "deleting the only cap to an endpoint 2,048 threads wait on fails each with "
     "RS_PEER_DIED and holds no timer tick off for 50,000 cycles",
     preempt_deleting_endpoint_with_long_queue},
    {0},
};
