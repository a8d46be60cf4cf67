// SPDX-License-Identifier: MIT
// Host tests of vmm_commit_exit (servers/vmm/state.c; issue 13): an exit whose transaction
// changed nothing (an OUT to port 0x80) is neither recorded nor committed and leaves the spare
// the committed copy's twin; an exit that changed anything (a device, output, an interrupt
// taken) is recorded and committed as vmm_record + vmm_commit did; an exit that was not recorded
// and comes back after a crash is emulated again, to the same reply.
#include <criterion/criterion.h>
#include "vmm_random_exit.h"
#include "xorshift.h"

TestSuite(vmmcommit, .init = fake_setup);

static union {
    struct vmm_persist p;
    uint8_t bytes[8192];
} region;

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static uint64_t next(void) { return xorshift64(&rng); }

static struct vmm_persist *fresh(void)
{
    memset(&region, 0, sizeof(region));
    static struct vmm_console_ring ring;
    memset(&ring, 0, sizeof(ring));
    fake_vmm.ring = &ring;
    return vmm_persist_open(&region, sizeof(region));
}

/* Two states alike in everything a VMM reads (test_vmm_persist_check.c's rule). */
static bool same(const struct vmm_state *a, const struct vmm_state *b)
{
    for (unsigned seg = 0; seg < VMM_SEGS; seg++)
        if (vmm_seg_sum(a, seg) != vmm_seg_sum(b, seg)) return false;
    return a->seq == b->seq && a->last.len == b->last.len && a->out.len == b->out.len &&
           a->dirty == b->dirty && !memcmp(&a->uart, &b->uart, sizeof(a->uart)) &&
           !memcmp(&a->pit, &b->pit, sizeof(a->pit)) && !memcmp(&a->pc, &b->pc, sizeof(a->pc));
}

/* The spare is the committed copy's twin, with the same checksums, and these are right. */
static void assert_twins(const struct vmm_persist *p, unsigned step)
{
    unsigned c = p->current & 1;
    cr_assert(same(&p->copy[0], &p->copy[1]), "step %u: the spare is no twin", step);
    for (unsigned seg = 0; seg < VMM_SEGS; seg++) {
        cr_assert_eq(p->sum[c][seg], vmm_seg_sum(&p->copy[c], seg), "step %u seg %u", step, seg);
        cr_assert_eq(p->sum[!c][seg], p->sum[c][seg], "step %u seg %u", step, seg);
    }
}

/* An I/O exit (not string) to port, as the kernel sends it; seq: the vCPU's exit number. */
static void io_exit_words(uint64_t *w, uint16_t port, bool in, uint64_t rax, uint64_t seq)
{
    memset(w, 0, RS_EXIT_MR_COUNT * sizeof(*w));
    w[RS_EXIT_MR_REASON] = RS_EXIT_IO;
    w[RS_EXIT_MR_QUAL] = rs_io_qual(port, 1, in, false, false);
    w[RS_EXIT_MR_RIP] = 0x100010;
    w[RS_EXIT_MR_RFLAGS] = RFLAGS_IF;
    w[RS_EXIT_MR_SEQ] = seq;
    w[RS_EXIT_MR_RAX] = rax;
}

/* One exit as main.c's on_exit handles it; returns whether it was committed. */
static bool exit_once(struct vmm_persist *p, const uint64_t *w, struct vmm_reply *r)
{
    fake_vmm.st = vmm_begin(p);
    cr_assert_eq(vmm_exit(&fake_vmm, w, r), VMM_REPLY);
    return vmm_commit_exit(p, w, r);
}

Test(vmmcommit, an_out_to_port_0x80_is_not_recorded)
{
    struct vmm_persist *p = fresh();
    uint64_t w[RS_EXIT_MR_COUNT];
    struct vmm_reply r;
    io_exit_words(w, 0x43, false, 0x34, 1); // the PIT's control word: a device changes
    cr_assert(exit_once(p, w, &r));
    cr_assert_eq(vmm_committed(p)->seq, 1);
    cr_assert_eq(vmm_committed(p)->last_fp, vmm_fingerprint(w));
    vmm_mark_replied(p);
    struct vmm_persist before = *p;
    io_exit_words(w, 0x80, false, 0x55, 2);
    cr_assert(!exit_once(p, w, &r), "nothing changed: nothing committed");
    cr_assert_eq(r.label, 0);
    cr_assert_eq(r.len, 1);
    cr_assert_eq(r.w[RS_REPLY_MR_FLAGS], RS_REPLY_ADVANCE_RIP);
    cr_assert_eq(p->current, before.current, "no switch");
    cr_assert(!memcmp(&p->copy[p->current & 1], &before.copy[before.current & 1],
                      sizeof(struct vmm_state)),
              "the committed copy is untouched");
    cr_assert(!memcmp(p->sum, before.sum, sizeof(p->sum)));
    cr_assert_eq(vmm_committed(p)->seq, 1, "not recorded");
    assert_twins(p, 0);
    cr_assert_eq(p->copy[!(p->current & 1)].dirty, 0, "the next transaction copies nothing");
    // an IN from it: the reply carries RAX (all ones) but the state is the same
    io_exit_words(w, 0x80, true, 0x1122334455667700ull, 3);
    cr_assert(!exit_once(p, w, &r));
    cr_assert_eq(r.w[RS_REPLY_MR_RAX], 0x11223344556677FFull);
    assert_twins(p, 1);
}

Test(vmmcommit, an_exit_that_changes_anything_is_committed)
{
    struct vmm_persist *p = fresh();
    uint64_t w[RS_EXIT_MR_COUNT];
    struct vmm_reply r;
    // a byte of a guest line: the console's line buffer
    io_exit_words(w, 0x3F8, false, 'h', 1);
    cr_assert(exit_once(p, w, &r));
    // the line's end: output
    io_exit_words(w, 0x3F8, false, '\n', 2);
    cr_assert(exit_once(p, w, &r));
    uint32_t line = vmm_committed(p)->out.len;
    cr_assert_gt(line, 0);
    cr_assert_eq(vmm_committed(p)->out_seq, 1);
    assert_twins(p, 0);
    // after a commit with output, an exit without: dropped, the output stays committed
    io_exit_words(w, 0x80, false, 0, 3);
    cr_assert(!exit_once(p, w, &r));
    cr_assert_gt(vmm_committed(p)->out.len, 0);
    assert_twins(p, 1);
    // the timer's interrupt pending: it rides on the reply and is taken (state changes)
    fake_vmm.st = vmm_begin(p);
    fake_vmm.st->irq_pending = 1;
    vmm_commit(p);
    io_exit_words(w, 0x80, false, 0, 4);
    cr_assert(exit_once(p, w, &r));
    cr_assert(r.w[RS_REPLY_MR_FLAGS] & RS_REPLY_INJECT);
    cr_assert_eq(vmm_committed(p)->irq_pending, 0);
    cr_assert_eq(vmm_committed(p)->irqs, 1);
    cr_assert_eq(vmm_committed(p)->seq, 3);
    cr_assert_eq(vmm_committed(p)->out_seq, 1, "no output with it");
    assert_twins(p, 2);
    // the output's positions moved by the one line only
    cr_assert_eq(vmm_committed(p)->out_end, line);
}

Test(vmmcommit, an_unrecorded_exit_that_comes_back_is_emulated_again_to_the_same_reply)
{
    struct vmm_persist *p = fresh();
    uint64_t a[RS_EXIT_MR_COUNT], b[RS_EXIT_MR_COUNT];
    struct vmm_reply ra, rb, again;
    io_exit_words(a, 0x43, false, 0x34, 1);
    cr_assert(exit_once(p, a, &ra));
    // the VMM dies before a's reply: a comes back and is answered from the record
    p = vmm_persist_open(&region, sizeof(region));
    cr_assert(vmm_reply_owed(p));
    cr_assert(vmm_is_redelivery(p, vmm_fingerprint(a)));
    vmm_mark_replied(p);
    cr_assert(!vmm_reply_owed(p));
    // b changes nothing and is not recorded; the VMM dies before its reply: b comes back
    io_exit_words(b, 0x80, true, 0, 2);
    cr_assert(!exit_once(p, b, &rb));
    p = vmm_persist_open(&region, sizeof(region));
    cr_assert(!vmm_reply_owed(p), "a's reply went out: nothing to answer from the record");
    cr_assert(!vmm_is_redelivery(p, vmm_fingerprint(b)));
    cr_assert(!exit_once(p, b, &again));
    cr_assert_eq(again.len, rb.len);
    cr_assert(!memcmp(again.w, rb.w, rb.len * sizeof(rb.w[0])), "the same reply");
    cr_assert_eq(vmm_committed(p)->seq, 1);
}

static const uint16_t flat_ports[] = {0x3F8, 0x3F9, 0x3FA, 0x3FB, 0x3FC, 0x3FD, 0x3FE,
                                      0x3FF, 0x40,  0x41,  0x42,  0x43,  0x61,  0x80,
                                      0x80,  0x80,  0x80,  0x20,  0x1234};

Test(vmmcommit, random_exits_committed_or_dropped_keep_the_twins_equal, .timeout = 120)
{
    // Dropping an exit relies on the marks as committing one does: a change in an unmarked
    // segment would be taken for none and stay in the spare, which is then no twin.
    struct vmm_persist *p = fresh();
    struct vmm_console_ring *ring = fake_vmm.ring;
    unsigned dropped = 0, recorded = 0;
    for (unsigned step = 0; step < 100000; step++) {
        fake_vmm.st = vmm_begin(p);
        uint64_t what = next() % 16;
        if (what == 0) { // one of init's ticks
            vmm_tick(&fake_vmm);
            vmm_console_tick(&fake_vmm);
            vmm_commit(p);
        } else if (what == 1) { // typed input
            ring->buf[ring->head % VMM_CONSOLE_RING] = (uint8_t)next();
            ring->head++;
            vmm_console_feed(&fake_vmm);
            vmm_commit(p);
        } else {
            uint64_t w[RS_EXIT_MR_COUNT] = {0};
            random_flat_exit(w, step, next, flat_ports, sizeof(flat_ports) / sizeof(flat_ports[0]));
            struct vmm_reply r;
            if (vmm_exit(&fake_vmm, w, &r) == VMM_WAIT) continue; // dropped: begun again
            struct vmm_state committed = *vmm_committed(p);
            uint64_t seq = committed.seq;
            if (vmm_commit_exit(p, w, &r)) {
                recorded++;
                cr_assert_eq(vmm_committed(p)->seq, seq + 1);
                cr_assert_eq(vmm_committed(p)->last.len, r.len);
            } else {
                dropped++;
                cr_assert(!memcmp(vmm_committed(p), &committed, sizeof(committed)),
                          "step %u: a dropped exit changed the committed copy", step);
                cr_assert_eq(p->copy[!(p->current & 1)].dirty, 0);
            }
        }
        assert_twins(p, step);
        if (vmm_committed(p)->stopped) { // a stopped guest does nothing: start it again
            fake_vmm.st = vmm_begin(p);
            fake_vmm.st->stopped = VMM_RUNNING;
            vmm_commit(p);
        }
    }
    cr_assert_gt(dropped, 1000);
    cr_assert_gt(recorded, 1000);
}

static uint64_t tsc_now = FAKE_TSC;
static uint64_t moving_tsc(void) { return tsc_now += next() % 4 ? 0 : 1000 + next() % 100000; }
static const struct vmm_ops moving_ops = {fake_read_state, fake_write_state, fake_cpuid,
                                          moving_tsc};

static const uint16_t pc_ports[] = {0x20,  0x21,  0xA0,  0xA1,  0x40,  0x41,  0x42,  0x43,
                                    0x61,  0x70,  0x71,  0x3F8, 0x3F9, 0x3FA, 0x3FB, 0x3FC,
                                    0x3FD, 0x3FE, 0x3FF, 0x4D0, 0x4D1, 0x92,  0x80};

Test(vmmcommit, random_pc_exits_committed_or_dropped_keep_the_twins_equal, .timeout = 120)
{
    struct vmm_persist *p = fresh();
    fake_vmm.ops = &moving_ops;
    fake_vmm.st = vmm_begin(p);
    fake_vmm.st->dirty = VMM_DIRTY_ALL;
    fake_vmm.st->platform = VMM_PLATFORM_PC;
    cr_assert(pc_reset(&fake_vmm, tsc_now, 1000000, 1700000000, tsc_now));
    vmm_commit(p);
    unsigned dropped = 0;
    for (unsigned step = 1; step < 20000; step++) {
        uint64_t w[RS_EXIT_MR_COUNT];
        io_exit_words(w, pc_ports[next() % (sizeof(pc_ports) / sizeof(pc_ports[0]))], next() & 1,
                      next(), step);
        w[RS_EXIT_MR_RFLAGS] = next() & RFLAGS_IF;
        struct vmm_reply r;
        fake_vmm.st = vmm_begin(p);
        if (vmm_exit(&fake_vmm, w, &r) == VMM_WAIT) continue;
        struct vmm_state committed = *vmm_committed(p);
        if (!vmm_commit_exit(p, w, &r)) {
            dropped++;
            cr_assert(!memcmp(vmm_committed(p), &committed, sizeof(committed)), "step %u", step);
        }
        assert_twins(p, step);
        if (vmm_committed(p)->stopped) {
            fake_vmm.st = vmm_begin(p);
            fake_vmm.st->stopped = VMM_RUNNING;
            fake_vmm.st->pc.reset_wanted = 0;
            fake_vmm.st->dirty |= VMM_DIRTY_PC;
            vmm_commit(p);
        }
    }
    cr_assert_gt(dropped, 100);
}
