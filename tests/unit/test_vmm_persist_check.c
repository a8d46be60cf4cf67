// SPDX-License-Identifier: MIT
// Host tests of what a VMM does with the state it inherits (servers/vmm/state.c, state_check.c;
// issue 15): a committed copy with flipped bits is found by its checksum and replaced by its
// twin; with no good twin it is sanitized and the guest runs on; vmm_state_sanitize leaves a
// state the models made alone, and makes any corrupt one safe to run the models on (ASan and
// UBSan watch the random operations that follow).
#include <criterion/criterion.h>
#include <signal.h>
#include "vmm_fake.h"

TestSuite(vmmcheck, .init = fake_setup);

static union {
    struct vmm_persist p;
    uint8_t bytes[8192];
} region;

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return rng;
}

/* Flips `flips` random bits of the bytes [p, p + n). */
static void flip(void *p, size_t n, unsigned flips)
{
    uint8_t *b = p;
    for (unsigned i = 0; i < flips; i++) b[next() % n] ^= (uint8_t)(1u << (next() % 8));
}

/* A region with `commits` transactions committed, each changing a few fields. */
static struct vmm_persist *committed_region(unsigned commits)
{
    memset(&region, 0, sizeof(region));
    struct vmm_persist *p = vmm_persist_open(&region, sizeof(region));
    for (unsigned i = 0; i < commits; i++) {
        struct vmm_state *s = vmm_begin(p);
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

Test(vmmcheck, a_committed_copy_with_flipped_bits_is_repaired_from_its_twin)
{
    for (unsigned trial = 0; trial < 2000; trial++) {
        struct vmm_persist *p = committed_region(1 + trial % 5);
        struct vmm_state good = *vmm_committed(p);
        uint64_t repaired = p->repaired;
        // the campaign's `corrupt`: 1-4 bits of the persistent region, here all in the copy
        flip(&p->copy[p->current & 1], sizeof(struct vmm_state), 1 + trial % 4);
        if (!memcmp(vmm_committed(p), &good, sizeof(good))) continue; // flipped back
        p = vmm_persist_open(&region, sizeof(region)); // a restarted instance inherits it
        cr_assert(!memcmp(vmm_committed(p), &good, sizeof(good)), "trial %u: not repaired", trial);
        cr_assert_eq(p->repaired, repaired + 1);
        cr_assert_eq(p->sanitized, 0);
    }
}

Test(vmmcheck, bits_flipped_in_both_twins_are_voted_back)
{
    unsigned voted = 0;
    for (unsigned trial = 0; trial < 2000; trial++) {
        struct vmm_persist *p = committed_region(1 + trial % 5);
        struct vmm_state good = *vmm_committed(p);
        // the campaign's `corrupt` over the whole persistent region: 1-4 bits in either copy
        flip(&p->copy[0], 2 * sizeof(struct vmm_state), 2 + trial % 3);
        bool hit0 = memcmp(&p->copy[0], &good, sizeof(good)) != 0;
        bool hit1 = memcmp(&p->copy[1], &good, sizeof(good)) != 0;
        const uint64_t *g = (const uint64_t *)&good, *w0 = (const uint64_t *)&p->copy[0],
                       *w1 = (const uint64_t *)&p->copy[1];
        bool same_word = false; // hit in both copies: no vote can tell
        for (size_t i = 0; i < sizeof(good) / 8; i++) same_word |= w0[i] != g[i] && w1[i] != g[i];
        p = vmm_persist_open(&region, sizeof(region));
        if (same_word) {
            cr_assert_eq(p->sanitized, 1, "trial %u: kept, made safe", trial);
            continue;
        }
        cr_assert(!memcmp(vmm_committed(p), &good, sizeof(good)), "trial %u: not repaired", trial);
        cr_assert(!memcmp(&p->copy[0], &p->copy[1], sizeof(good)), "twins again");
        cr_assert_eq(p->sanitized, 0);
        voted += hit0 && hit1;
    }
    cr_assert_gt(voted, 500, "both copies hit in many trials");
}

Test(vmmcheck, the_running_vmm_checks_before_each_transaction)
{
    struct vmm_persist *p = committed_region(3);
    struct vmm_state good = *vmm_committed(p);
    ((struct vmm_state *)vmm_committed(p))->stopped = VMM_STOPPED; // a stray write, not a commit
    struct vmm_state *s = vmm_begin(p);
    cr_assert_eq(s->stopped, VMM_RUNNING, "the transaction starts from the state committed");
    cr_assert(!memcmp(vmm_committed(p), &good, sizeof(good)));
    cr_assert_eq(p->repaired, 1);
    // and an exit coming back is compared with the record as committed
    ((struct vmm_state *)vmm_committed(p))->last_fp ^= 1;
    cr_assert(!vmm_is_redelivery(p, good.last_fp), "its reply went out: a new exit");
    cr_assert_eq(vmm_committed(p)->last_fp, good.last_fp);
    cr_assert_eq(p->repaired, 2);
}

Test(vmmcheck, a_flipped_replied_seq_does_not_make_a_new_exit_a_redelivery)
{
    // A HLT's exit repeats the last one word for word: taken for a redelivery, it would be
    // answered from the record for ever and the guest would never get its timer again.
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
    p->sum[p->current & 1] ^= 1ull << 40;
    p = vmm_persist_open(&region, sizeof(region));
    cr_assert(!memcmp(vmm_committed(p), &good, sizeof(good)));
    cr_assert_eq(vmm_committed(p)->seq, 2);
}

Test(vmmcheck, the_state_before_an_unanswered_commit_is_a_valid_fallback)
{
    // The VMM died inside vmm_commit, after the switch and before the twin was made: the other
    // copy is the state before the exit, whose reply never went out. Then the committed copy
    // is hit too: the old state is used and the exit, delivered again, is emulated again.
    struct vmm_persist *p = committed_region(2);
    struct vmm_state before = *vmm_committed(p);
    uint64_t before_sum = p->sum[p->current & 1];
    struct vmm_state *s = vmm_begin(p);
    struct vmm_reply r = {.len = 1};
    vmm_record(s, 77, &r);
    vmm_commit(p);
    unsigned other = !(p->current & 1);
    p->copy[other] = before;
    p->sum[other] = before_sum;
    p->copy[p->current & 1].irqs ^= 4;
    p = vmm_persist_open(&region, sizeof(region));
    cr_assert_eq(vmm_committed(p)->seq, before.seq);
    cr_assert(!vmm_is_redelivery(p, 77), "emulated again: the record is the older one");
    cr_assert_eq(p->repaired, 1);
}

/* The twin is the state before the last commit (the VMM died before making it a twin) and the
 * guest has the reply of that commit: going back to the twin would undo what the guest saw. */
static struct vmm_persist *lagging_twin(struct vmm_state *newer)
{
    struct vmm_persist *p = committed_region(2);
    struct vmm_state before = *vmm_committed(p);
    uint64_t before_sum = p->sum[p->current & 1];
    struct vmm_state *s = vmm_begin(p);
    struct vmm_reply r = {.len = 1};
    vmm_record(s, 77, &r);
    s->irqs = 12345;
    vmm_commit(p);
    vmm_mark_replied(p);
    unsigned c = p->current & 1;
    *newer = p->copy[c];
    p->copy[!c] = before;
    p->sum[!c] = before_sum;
    return p;
}

Test(vmmcheck, an_older_copy_is_not_used_once_the_guest_saw_the_newer_reply)
{
    struct vmm_state newer;
    struct vmm_persist *p = lagging_twin(&newer);
    p->copy[p->current & 1].irqs ^= 8; // a word the commit changed: no vote can restore it
    p = vmm_persist_open(&region, sizeof(region));
    cr_assert_eq(vmm_committed(p)->seq, newer.seq, "the newer state, sanitized");
    cr_assert_eq(vmm_committed(p)->irqs, 12345 ^ 8);
    cr_assert_eq(p->repaired, 0);
    cr_assert_eq(p->sanitized, 1);
    cr_assert_eq(vmm_state_sum(vmm_committed(p)), p->sum[p->current & 1], "checksummed anew");
    // a word the commit left alone: the twin's value of it is the right one
    p = lagging_twin(&newer);
    p->copy[p->current & 1].now_ns ^= 1ull << 50;
    p = vmm_persist_open(&region, sizeof(region));
    cr_assert(!memcmp(vmm_committed(p), &newer, sizeof(newer)), "voted back exactly");
    cr_assert_eq(p->repaired, 1);
}

Test(vmmcheck, a_sealed_transaction_commits_as_sealed)
{
    struct vmm_persist *p = committed_region(2);
    struct vmm_state *s = vmm_begin(p);
    s->irqs = 99;
    vmm_seal(p);
    vmm_commit(p);
    cr_assert_eq(vmm_committed(p)->irqs, 99);
    s = vmm_begin(p);
    s->irqs = 100;
    vmm_commit(p); // unsealed transactions (ticks) commit as before
    cr_assert_eq(vmm_committed(p)->irqs, 100);
}

/* A stray write between the end of an exit's transaction and its commit (the fault point
 * before the commit): the commit crashes instead of committing it with a good checksum. */
Test(vmmcheck, a_transaction_changed_after_its_seal_is_not_committed, .signal = SIGILL)
{
    struct vmm_persist *p = committed_region(2);
    struct vmm_state *s = vmm_begin(p);
    s->irqs = 99;
    vmm_seal(p);
    s->pit.ch[0].start_ns ^= 1ull << 62;
    vmm_commit(p);
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
