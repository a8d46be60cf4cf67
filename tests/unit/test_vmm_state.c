// SPDX-License-Identifier: MIT
// Host tests of the VMM's persistent state (servers/vmm/state.c): commits, lost transactions,
// and an exit coming back after a crash answered with the same reply.
#include <criterion/criterion.h>
#include "vmm_fake.h"

TestSuite(vmmstate);

static union {
    struct vmm_persist p;
    uint8_t bytes[8192];
} region;

Test(vmmstate, open_begin_commit)
{
    memset(&region, 0xEE, sizeof(region));
    cr_assert_null(vmm_persist_open(&region, sizeof(struct vmm_persist) - 1));
    struct vmm_persist *p = vmm_persist_open(&region, sizeof(region));
    cr_assert_not_null(p);
    cr_assert_eq(vmm_committed(p)->seq, 0, "initialised on first use");
    struct vmm_state *s = vmm_begin(p);
    s->irqs = 5;
    cr_assert_eq(vmm_committed(p)->irqs, 0, "not before the commit");
    vmm_commit(p);
    cr_assert_eq(vmm_committed(p)->irqs, 5);
    s = vmm_begin(p);
    s->irqs = 6; // and the VMM dies: the transaction is lost
    p = vmm_persist_open(&region, sizeof(region));
    cr_assert_eq(vmm_committed(p)->irqs, 5);
    p->current = 0xFFFF; // a wild write cannot take the index out of the two copies
    p = vmm_persist_open(&region, sizeof(region));
    cr_assert_leq(p->current, 1);
}

Test(vmmstate, an_exit_that_comes_back_gets_the_same_reply)
{
    memset(&region, 0, sizeof(region));
    struct vmm_persist *p = vmm_persist_open(&region, sizeof(region));
    uint64_t a[RS_EXIT_MR_COUNT] = {RS_EXIT_IO, 0x3F8}, b[RS_EXIT_MR_COUNT] = {RS_EXIT_IO, 0x3F9};
    uint64_t fa = vmm_fingerprint(a, RS_EXIT_MR_COUNT), fb = vmm_fingerprint(b, RS_EXIT_MR_COUNT);
    cr_assert_neq(fa, fb);
    cr_assert(!vmm_is_redelivery(p, fa), "nothing recorded yet");
    struct vmm_reply rep = {.len = 1, .w = {RS_REPLY_ADVANCE_RIP}};
    vmm_record(vmm_begin(p), fa, &rep);
    vmm_commit(p);
    // the VMM dies before its reply went out: the kernel delivers `a` again
    p = vmm_persist_open(&region, sizeof(region));
    cr_assert(vmm_is_redelivery(p, fa));
    cr_assert(!vmm_is_redelivery(p, fb), "another exit is new");
    cr_assert_eq(vmm_committed(p)->last.w[0], RS_REPLY_ADVANCE_RIP);
    vmm_mark_replied(p);
    cr_assert(!vmm_is_redelivery(p, fa), "once the reply is out, the same exit again is a new one");
    cr_assert_eq(vmm_committed(p)->seq, 1);
}

Test(vmmstate, the_same_exit_with_other_interrupt_bits_is_still_the_same)
{
    // A restarted VMM asks for an interrupt window before the held exit comes back: the kernel
    // then reports the window bit in the exit, and the exit is still the one already answered.
    uint64_t a[RS_EXIT_MR_COUNT] = {RS_EXIT_IO, 0x3F8}, b[RS_EXIT_MR_COUNT] = {RS_EXIT_IO, 0x3F8};
    a[RS_EXIT_MR_SEG] = 0x93 | 0x93ull << 16;
    b[RS_EXIT_MR_SEG] = a[RS_EXIT_MR_SEG] | RS_EXIT_IRQ_WINDOW | RS_EXIT_IRQ_PENDING;
    cr_assert_eq(vmm_fingerprint(a, RS_EXIT_MR_COUNT), vmm_fingerprint(b, RS_EXIT_MR_COUNT));
    b[RS_EXIT_MR_SEG] ^= 1; // a different CS is a different exit
    cr_assert_neq(vmm_fingerprint(a, RS_EXIT_MR_COUNT), vmm_fingerprint(b, RS_EXIT_MR_COUNT));
    // the guest doing the same thing again (an interrupt-window exit at the same RIP with the
    // same registers) is a new exit: the kernel numbers it
    b[RS_EXIT_MR_SEG] = a[RS_EXIT_MR_SEG];
    a[RS_EXIT_MR_SEQ] = 41;
    b[RS_EXIT_MR_SEQ] = 42;
    cr_assert_neq(vmm_fingerprint(a, RS_EXIT_MR_COUNT), vmm_fingerprint(b, RS_EXIT_MR_COUNT));
}

Test(vmmstate, output_is_printed_once_after_its_commit)
{
    memset(&region, 0, sizeof(region));
    struct vmm_persist *p = vmm_persist_open(&region, sizeof(region));
    struct vmm v = {.name = "vm7"};
    v.st = vmm_begin(p);
    vmm_guest_line(&v, "hi", 2);
    cr_assert_eq(vmm_unprinted(p)->len, 0, "nothing before the commit");
    vmm_commit(p);
    cr_assert_eq(vmm_unprinted(p)->len, 9);
    cr_assert_eq(memcmp(vmm_unprinted(p)->text, "[vm7] hi\n", 9), 0);
    p = vmm_persist_open(&region, sizeof(region)); // died before printing: the next one prints
    cr_assert_eq(vmm_unprinted(p)->len, 9);
    vmm_mark_printed(p);
    cr_assert_eq(vmm_unprinted(p)->len, 0);
    v.st = vmm_begin(p);
    vmm_commit(p);
    cr_assert_eq(vmm_unprinted(p)->len, 0, "a commit without output prints nothing");
}

Test(vmmstate, once)
{
    struct vmm_once o = {0};
    cr_assert(vmm_once(&o, 7));
    cr_assert(!vmm_once(&o, 7));
    for (uint64_t k = 100; k < 100 + VMM_ONCE_MAX; k++) vmm_once(&o, k);
    cr_assert(!vmm_once(&o, 5), "full");
    o.n = 0xFFFFFFFF; // garbage count: still bounded
    cr_assert(!vmm_once(&o, 6));
}
