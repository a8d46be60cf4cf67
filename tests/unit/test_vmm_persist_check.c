// SPDX-License-Identifier: MIT
// Host tests of the VMM's persistent state as transactions leave it and as a restarted VMM
// inherits it (servers/vmm/state.c, state_check.c; issues 13 and 15): a commit copies only the
// segments a transaction changed into the twin, so every change must be marked (random exits
// check the twins stay equal); a committed copy with flipped bits is found by its segments'
// checksums and repaired from its twin; with no good twin it is sanitized and the guest runs
// on; vmm_state_sanitize leaves a state the models made alone, and makes any corrupt one safe to
// run the models on (ASan and UBSan watch the random operations that follow).
#include <criterion/criterion.h>
#include "vmm_random_exit.h"
#include "xorshift.h"

TestSuite(vmmcheck, .init = fake_setup);

static union {
    struct vmm_persist p;
    uint8_t bytes[8192];
} region;

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next(void) { return xorshift64(&rng); }

/* Flips `flips` random bits of the bytes [p, p + n). */
static void flip(void *p, size_t n, unsigned flips)
{
    uint8_t *b = p;
    for (unsigned i = 0; i < flips; i++) b[next() % n] ^= (uint8_t)(1u << (next() % 8));
}

/* Two states alike in everything a VMM reads: each segment by its checksum (which covers the
 * record's words and the output's bytes in use only) and the fields' values. */
static bool same(const struct vmm_state *a, const struct vmm_state *b)
{
    for (unsigned seg = 0; seg < VMM_SEGS; seg++)
        if (vmm_seg_sum(a, seg) != vmm_seg_sum(b, seg)) return false;
    return a->seq == b->seq && a->last.len == b->last.len && a->out.len == b->out.len &&
           !memcmp(&a->uart, &b->uart, sizeof(a->uart)) && !memcmp(&a->pc, &b->pc, sizeof(a->pc));
}

/* The committed copy and its twin hold the same state with the same checksums. */
static void assert_twins(const struct vmm_persist *p, unsigned step)
{
    unsigned c = p->current & 1;
    cr_assert(same(&p->copy[0], &p->copy[1]), "step %u: the spare is no twin", step);
    for (unsigned seg = 0; seg < VMM_SEGS; seg++) {
        cr_assert_eq(p->sum[c][seg], vmm_seg_sum(&p->copy[c], seg), "step %u seg %u", step, seg);
        cr_assert_eq(p->sum[!c][seg], p->sum[c][seg], "step %u seg %u", step, seg);
    }
}

/* A region with `commits` transactions committed, each changing a few fields. */
static struct vmm_persist *committed_region(unsigned commits)
{
    memset(&region, 0, sizeof(region));
    struct vmm_persist *p = vmm_persist_open(&region, sizeof(region));
    for (unsigned i = 0; i < commits; i++) {
        struct vmm_state *s = vmm_begin(p);
        s->dirty |= VMM_DIRTY(VMM_SEG_PIT);
        s->irqs = next() % 1000;
        s->now_ns += VMM_TICK_NS;
        pit_reset(&s->pit);
        s->pit.ch[0].count = (uint32_t)(next() & 0xFFFF);
        struct vmm_reply r = {.len = 1, .w = {next()}};
        vmm_record(s, next(), &r);
        vmm_commit(p);
        vmm_mark_replied(p);
    }
    return p;
}

static const uint16_t flat_ports[] = {0x3F8, 0x3F9, 0x3FA, 0x3FB, 0x3FC, 0x3FD, 0x3FE, 0x3FF,
                                      0x40,  0x41,  0x42,  0x43,  0x61,  0x80,  0x20,  0x1234};

Test(vmmcheck, random_exits_and_ticks_keep_the_twins_equal, .timeout = 120)
{
    // Every change a transaction makes is marked (st->dirty) or found (output, once): else the
    // commit leaves it out of the twin, and the next transaction, which starts from the twin,
    // loses it. Run the flat platform's exits and ticks as main.c does and compare.
    memset(&region, 0, sizeof(region));
    struct vmm_persist *p = vmm_persist_open(&region, sizeof(region));
    static struct vmm_console_ring ring;
    fake_vmm.ring = &ring;
    for (unsigned step = 0; step < 100000; step++) {
        fake_vmm.st = vmm_begin(p);
        uint64_t what = next() % 16;
        if (what == 0) { // one of init's ticks (main.c on_notify)
            vmm_tick(&fake_vmm);
            vmm_console_tick(&fake_vmm);
        } else if (what == 1) { // typed input
            ring.buf[ring.head % VMM_CONSOLE_RING] = (uint8_t)next();
            ring.head++;
            vmm_console_feed(&fake_vmm);
        } else {
            uint64_t w[RS_EXIT_MR_COUNT] = {0};
            random_flat_exit(w, step, next, flat_ports, sizeof(flat_ports) / sizeof(flat_ports[0]));
            struct vmm_reply r;
            if (vmm_exit(&fake_vmm, w, &r) == VMM_WAIT) continue; // dropped: begun again
            vmm_record(fake_vmm.st, vmm_fingerprint(w), &r);
        }
        vmm_commit(p);
        assert_twins(p, step);
        if (vmm_committed(p)->stopped) { // a stopped guest does nothing: start it again
            fake_vmm.st = vmm_begin(p);
            fake_vmm.st->stopped = VMM_RUNNING;
            vmm_commit(p);
        }
    }
    cr_assert_gt(vmm_committed(p)->pit.ch[0].count + vmm_committed(p)->console.in_seen, 0);
}

Test(vmmcheck, a_committed_copy_with_flipped_bits_is_repaired_from_its_twin)
{
    for (unsigned trial = 0; trial < 2000; trial++) {
        struct vmm_persist *p = committed_region(1 + trial % 5);
        struct vmm_state good = *vmm_committed(p);
        uint64_t repaired = p->repaired;
        // the campaign's `corrupt`: 1-4 bits of the persistent region, here all in the copy
        flip(&p->copy[p->current & 1], sizeof(struct vmm_state), 1 + trial % 4);
        if (same(vmm_committed(p), &good)) continue;   // bytes no one reads, or flipped back
        p = vmm_persist_open(&region, sizeof(region)); // a restarted instance inherits it
        cr_assert(same(vmm_committed(p), &good), "trial %u: not repaired", trial);
        cr_assert_eq(p->repaired, repaired + 1);
        cr_assert_eq(p->sanitized, 0);
        assert_twins(p, trial);
    }
}

Test(vmmcheck, an_exit_answered_from_the_record_is_answered_as_committed)
{
    struct vmm_persist *p = committed_region(3);
    struct vmm_state *s = vmm_begin(p);
    struct vmm_reply r = {.len = 1, .w = {RS_REPLY_ADVANCE_RIP}};
    vmm_record(s, 99, &r);
    vmm_commit(p); // the VMM dies before its reply: the exit comes back
    p->copy[p->current & 1].last.w[0] ^= 1ull << 20; // and a stray write hit the record
    cr_assert(vmm_is_redelivery(p, 99));
    cr_assert_eq(vmm_committed(p)->last.w[0], RS_REPLY_ADVANCE_RIP, "repaired before use");
    cr_assert_eq(p->repaired, 1);
}

Test(vmmcheck, a_flipped_replied_seq_does_not_make_a_new_exit_a_redelivery)
{
    struct vmm_persist *p = committed_region(3);
    uint64_t fp = vmm_committed(p)->last_fp;
    cr_assert(!vmm_is_redelivery(p, fp));
    p->replied_seq ^= 1ull << 17;
    cr_assert(!vmm_is_redelivery(p, fp), "replied_seq unknown: taken as replied");
    p->replied_seq ^= 1ull << 17;
    p->replied_chk ^= 1;
    cr_assert(!vmm_is_redelivery(p, fp));
    // the magic with a few bits flipped is not a region used for the first time
    p->magic ^= 1ull << 9;
    uint64_t seq = vmm_committed(p)->seq;
    p = vmm_persist_open(&region, sizeof(region));
    cr_assert_eq(vmm_committed(p)->seq, seq, "the state is kept");
}

Test(vmmcheck, a_corrupt_checksum_word_costs_nothing)
{
    struct vmm_persist *p = committed_region(2);
    struct vmm_state good = *vmm_committed(p);
    p->sum[p->current & 1][VMM_SEG_PIT] ^= 1ull << 40;
    p = vmm_persist_open(&region, sizeof(region));
    cr_assert(same(vmm_committed(p), &good));
    cr_assert_eq(vmm_committed(p)->seq, 2);
    cr_assert_eq(p->sanitized, 0);
}

/* Commits exit 77 (with irqs set to `irqs` unless 0) and then puts the state before it, with its
 * checksums, back into the other copy: a VMM that died after the switch, before the twin was
 * made. Returns that earlier state. */
static struct vmm_state commit_leaving_old_twin(struct vmm_persist *p, uint64_t irqs)
{
    struct vmm_state before = *vmm_committed(p);
    uint64_t before_sum[VMM_SEGS];
    memcpy(before_sum, p->sum[p->current & 1], sizeof(before_sum));
    struct vmm_state *s = vmm_begin(p);
    struct vmm_reply r = {.len = 1};
    vmm_record(s, 77, &r);
    if (irqs) s->irqs = irqs;
    vmm_commit(p);
    unsigned other = !(p->current & 1);
    p->copy[other] = before;
    memcpy(p->sum[other], before_sum, sizeof(before_sum));
    return before;
}

Test(vmmcheck, the_state_before_an_unanswered_commit_is_a_valid_fallback)
{
    // The VMM died inside vmm_commit, after the switch and before the twin was made: the other
    // copy is the state before the exit, whose reply never went out. Then the committed copy
    // is hit too: the old state is used and the exit, delivered again, is emulated again.
    struct vmm_persist *p = committed_region(2);
    struct vmm_state before = commit_leaving_old_twin(p, 0);
    p->copy[p->current & 1].irqs ^= 4;
    p = vmm_persist_open(&region, sizeof(region));
    cr_assert_eq(vmm_committed(p)->seq, before.seq);
    cr_assert(!vmm_is_redelivery(p, 77), "emulated again: the record is the older one");
    cr_assert_eq(p->repaired, 1);
}

Test(vmmcheck, an_older_copy_is_not_used_once_the_guest_saw_the_newer_reply)
{
    // The twin is the state before the last commit (the VMM died before making it a twin) and
    // the guest has the reply of that commit: going back to the twin would undo what it saw.
    struct vmm_persist *p = committed_region(2);
    commit_leaving_old_twin(p, 12345);
    vmm_mark_replied(p);
    unsigned c = p->current & 1;
    struct vmm_state newer = p->copy[c];
    p->copy[c].irqs ^= 8;
    p = vmm_persist_open(&region, sizeof(region));
    cr_assert_eq(vmm_committed(p)->seq, newer.seq, "the newer state, sanitized");
    cr_assert_eq(vmm_committed(p)->irqs, 12345 ^ 8);
    cr_assert_eq(p->repaired, 0);
    cr_assert_eq(p->sanitized, 1);
    assert_twins(p, 0);
}

/* ---- vmm_state_sanitize on the pc platform's models ---- */

static const uint16_t ports[] = {0x20,  0x21,  0xA0,  0xA1,  0x40,  0x41,  0x42,  0x43,
                                 0x61,  0x70,  0x71,  0x3F8, 0x3F9, 0x3FA, 0x3FB, 0x3FC,
                                 0x3FD, 0x3FE, 0x3FF, 0x4D0, 0x4D1, 0x92,  0xCF9};

/* One random guest access to a device of the pc platform, or time moving on. */
static void random_op(void)
{
    uint64_t v = next(), what = next() % 8;
    unsigned size = 1u << (next() % 3);
    if (what < 4) {
        uint32_t x = (uint32_t)v;
        pc_io(&fake_vmm, ports[next() % (sizeof(ports) / sizeof(ports[0]))], size, next() & 1, &x);
    } else if (what < 7) {
        static const uint64_t bases[] = {LAPIC_BASE, IOAPIC_BASE, PC_BLK_BASE, PC_NET_BASE};
        uint64_t gpa = bases[next() % 4] + (next() % 0x400) * 4 % 0x1000;
        pc_mmio(&fake_vmm, gpa, size < 4 ? 4 : size, next() & 1, &v);
    } else {
        if (pc_pending(&fake_vmm)) pc_ack(&fake_vmm);
        pc_sync(&fake_vmm);
        (void)pc_next_ns(&fake_vmm);
    }
}

static uint64_t tsc_now = FAKE_TSC;
static uint64_t moving_tsc(void) { return tsc_now += 1000 + next() % 100000; }
static const struct vmm_ops moving_ops = {fake_read_state, fake_write_state, fake_cpuid,
                                          moving_tsc};

static void pc_setup(void)
{
    fake_vmm.ops = &moving_ops;
    fake_st.platform = VMM_PLATFORM_PC;
    cr_assert(pc_reset(&fake_vmm, tsc_now, 1000000, 1700000000, tsc_now));
}

Test(vmmcheck, a_state_the_models_made_is_left_alone)
{
    pc_setup();
    cr_assert_eq(vmm_state_sanitize(&(struct vmm_state){0}), 0, "all zero: the flat power-on");
    for (unsigned i = 0; i < 200000; i++) {
        random_op();
        if (i % 64) continue;
        struct vmm_state copy = fake_st;
        cr_assert_eq(vmm_state_sanitize(&copy), 0, "op %u: a valid state was changed", i);
        cr_assert(!memcmp(&copy, &fake_st, sizeof(copy)));
    }
}

Test(vmmcheck, any_corrupt_state_is_made_safe_and_stays_so, .timeout = 120)
{
    pc_setup();
    for (unsigned trial = 0; trial < 3000; trial++) {
        for (unsigned i = 0; i < 20; i++) random_op();
        // 1-64 flipped bits, or a whole model's bytes random
        if (trial % 4) {
            flip(&fake_st, sizeof(fake_st), 1 + (unsigned)(next() % 64));
        } else {
            uint8_t *b = (uint8_t *)&fake_st.pc + next() % sizeof(fake_st.pc);
            size_t n = 1 + next() % 512;
            for (size_t k = 0; k < n && b + k < (uint8_t *)(&fake_st.pc + 1); k++)
                b[k] = (uint8_t)next();
        }
        fake_st.platform = VMM_PLATFORM_PC; // the flat platform's ops are not what runs here
        vmm_state_sanitize(&fake_st);
        struct vmm_state copy = fake_st;
        cr_assert_eq(vmm_state_sanitize(&copy), 0, "trial %u: sanitized twice", trial);
        cr_assert_leq(fake_st.stopped, VMM_STOPPED);
        cr_assert_lt(fake_st.uart.rx_head, UART_FIFO);
        cr_assert_lt(fake_st.pc.blk.t.queue_sel, VIRTIO_MMIO_QUEUES);
        for (unsigned i = 0; i < 50; i++) random_op(); // ASan/UBSan: nothing out of bounds
        (void)fake_out();
        fake_st.out.len = 0;
    }
}

Test(vmmcheck, random_pc_operations_keep_the_twins_equal, .timeout = 120)
{
    // The pc platform's transactions mark VMM_DIRTY_PC, and the virtio devices where they are
    // reached: every change any device makes must be in a marked segment (see the flat test).
    memset(&region, 0, sizeof(region));
    struct vmm_persist *p = vmm_persist_open(&region, sizeof(region));
    fake_vmm.ops = &moving_ops;
    fake_vmm.st = vmm_begin(p);
    fake_vmm.st->dirty = VMM_DIRTY_ALL;
    fake_vmm.st->platform = VMM_PLATFORM_PC;
    cr_assert(pc_reset(&fake_vmm, tsc_now, 1000000, 1700000000, tsc_now));
    vmm_commit(p);
    assert_twins(p, 0);
    for (unsigned step = 1; step < 30000; step++) {
        fake_vmm.st = vmm_begin(p);
        for (unsigned i = next() % 4; i; i--) random_op();
        if (step % 7 == 0) continue; // a transaction dropped (a HLT that waits)
        vmm_commit(p);
        assert_twins(p, step);
    }
}

/* issue 15, `tools/campaign.py --kinds corrupt --targets vm1,vm2`: bits flipped in either copy
 * between two transactions (the spare, or the committed copy, which is the spare of the one after
 * next) were committed with the next change to their segment, checksum and all, and trusted for
 * good: a channel mode of 0 or a start in the future stopped the hello guests' timer, a stop flag
 * stopped them. The copies are twins between transactions: each start compares them. */
Test(vmmcheck, bits_flipped_between_transactions_are_never_committed)
{
    for (unsigned trial = 0; trial < 2000; trial++) {
        struct vmm_persist *p = committed_region(1 + trial % 5);
        struct vmm_state *s = vmm_begin(p); // the hello guest's timer: mode 2, 100 Hz
        s->dirty |= VMM_DIRTY(VMM_SEG_PIT);
        pit_write(&s->pit, 0x43, 0x34, s->now_ns);
        pit_write(&s->pit, 0x40, 11932 & 0xFF, s->now_ns);
        pit_write(&s->pit, 0x40, 11932 >> 8, s->now_ns);
        vmm_commit(p);
        struct vmm_state good = *vmm_committed(p);
        unsigned which = trial % 2 ? p->current & 1 : !(p->current & 1);
        struct vmm_state *hit = &p->copy[which];
        flip(&hit->pit.ch[0], offsetof(struct pit_channel, pad), 1 + trial % 4);
        if (trial % 3 == 0) hit->now_ns ^= 1ull << (40 + trial % 20);
        if (trial % 5 == 0) hit->stopped ^= 1;
        // two transactions, each changing the timer (the next tick's), as the VMM's do
        for (unsigned t = 0; t < 2; t++) {
            s = vmm_begin(p);
            s->dirty |= VMM_DIRTY(VMM_SEG_PIT);
            s->pit.ch[1].count = t + 1;
            good.pit.ch[1].count = t + 1;
            vmm_commit(p);
        }
        const struct vmm_state *c = vmm_committed(p);
        cr_assert_eq(c->now_ns, good.now_ns, "trial %u: a flipped time committed", trial);
        cr_assert_eq(c->stopped, VMM_RUNNING, "trial %u", trial);
        cr_assert(!memcmp(&c->pit.ch[0], &good.pit.ch[0], sizeof(c->pit.ch[0])),
                  "trial %u: a flipped timer committed", trial);
        assert_twins(p, trial);
    }
}
