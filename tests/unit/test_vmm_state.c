// SPDX-License-Identifier: MIT
// Host tests of the VMM's persistent state (servers/vmm/state.c): commits, lost transactions,
// an exit coming back after a crash answered with the same reply, and the output ring filled
// exactly once across crashes.
#include <criterion/criterion.h>
#include <stdio.h>
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
    uint64_t fa = vmm_fingerprint(a), fb = vmm_fingerprint(b);
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
    a[RS_EXIT_MR_SEQ] = b[RS_EXIT_MR_SEQ] = 41;
    b[RS_EXIT_MR_SEG] = a[RS_EXIT_MR_SEG] | RS_EXIT_IRQ_WINDOW | RS_EXIT_IRQ_PENDING;
    cr_assert_eq(vmm_fingerprint(a), vmm_fingerprint(b));
    b[RS_EXIT_MR_RIP] ^= 1; // another instruction is another exit
    cr_assert_neq(vmm_fingerprint(a), vmm_fingerprint(b));
    // the guest doing the same thing again (an interrupt-window exit at the same RIP with the
    // same registers) is a new exit: the kernel numbers it
    b[RS_EXIT_MR_RIP] = a[RS_EXIT_MR_RIP];
    b[RS_EXIT_MR_SEQ] = 42;
    cr_assert_neq(vmm_fingerprint(a), vmm_fingerprint(b));
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

/* init's side of the output ring (servers/init/vm.c): prints [tail, head), moves tail. */
static void init_prints(struct vmm_output_ring *r, char *out, size_t *n, size_t cap)
{
    for (uint64_t pos = r->tail; pos < r->head && *n < cap; pos++)
        out[(*n)++] = (char)r->buf[pos % VMM_OUTPUT_RING];
    r->tail = r->head;
}

Test(vmmstate, output_copy_waits_for_room_and_repeats_harmlessly)
{
    static struct vmm_output_ring r;
    memset(&r, 0, sizeof(r));
    struct vmm_out o = {.len = 300};
    memset(o.text, 'a', o.len);
    cr_assert(vmm_output_copy(&r, &o, 300));
    cr_assert_eq(r.head, 300);
    o.len = 300;
    memset(o.text, 'b', o.len);
    cr_assert(vmm_output_copy(&r, &o, 600));
    memset(o.text, 'c', o.len);
    cr_assert(!vmm_output_copy(&r, &o, 900), "900 - 0 > the ring: 'a's not printed would go");
    cr_assert_eq(r.head, 600, "nothing published");
    cr_assert_eq(r.buf[0], 'a', "nothing overwritten");
    char out[2048];
    size_t n = 0;
    init_prints(&r, out, &n, sizeof(out)); // REGISTRY_FLUSH_OUTPUT
    cr_assert(vmm_output_copy(&r, &o, 900));
    cr_assert(vmm_output_copy(&r, &o, 900), "a restarted VMM copies it again");
    init_prints(&r, out, &n, sizeof(out));
    cr_assert(vmm_output_copy(&r, &o, 900), "printed already: nothing to do");
    init_prints(&r, out, &n, sizeof(out));
    cr_assert_eq(n, 900);
    for (size_t i = 0; i < n; i++) cr_assert_eq(out[i], "abc"[i / 300], "byte %zu", i);
}

/* Random transactions, a VMM that dies before or after its copy (a successor copies again), and
 * an init that prints at random moments: the console gets every byte once and in order. */
Test(vmmstate, output_exactly_once_across_random_crashes)
{
    memset(&region, 0, sizeof(region));
    struct vmm_persist *p = vmm_persist_open(&region, sizeof(region));
    static struct vmm_output_ring r;
    memset(&r, 0, sizeof(r));
    static char want[3000 * VMM_OUT_MAX], got[3000 * VMM_OUT_MAX];
    size_t nwant = 0, ngot = 0;
    uint64_t x = 0x9E3779B97F4A7C15ull;
#define RND() (x ^= x << 13, x ^= x >> 7, x ^= x << 17, x)
    struct vmm v = {.name = "vm"};
    for (unsigned t = 0; t < 3000; t++) {
        v.st = vmm_begin(p);
        uint8_t bytes[VMM_OUT_MAX];
        unsigned len = (unsigned)(RND() % 4 ? RND() % VMM_OUT_MAX : 0);
        for (unsigned i = 0; i < len; i++) bytes[i] = (uint8_t)('!' + (nwant + i) % 90);
        vmm_guest_raw(&v, bytes, len);
        vmm_commit(p);
        memcpy(want + nwant, bytes, len);
        nwant += len;
        for (unsigned life = 0;; life++) { // instances until one copies and records it
            const struct vmm_out *o = vmm_unprinted(p);
            uint64_t end = vmm_committed(p)->out_end;
            if (RND() % 3 == 0) init_prints(&r, got, &ngot, sizeof(got)); // init's tick
            if (RND() % 4 == 0) continue;                                 // died before the copy
            if (!vmm_output_copy(&r, o, end)) {
                init_prints(&r, got, &ngot, sizeof(got)); // REGISTRY_FLUSH_OUTPUT
                cr_assert(vmm_output_copy(&r, o, end));
            }
            if (life < 3 && RND() % 4 == 0) continue; // died after it, before vmm_mark_printed
            vmm_mark_printed(p);
            break;
        }
    }
    init_prints(&r, got, &ngot, sizeof(got));
    cr_assert_eq(ngot, nwant);
    cr_assert_eq(memcmp(got, want, nwant), 0, "every byte once, in order");
#undef RND
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

/* issue 15: bits a stray write flipped in out_end (committed with the state) had every line
 * after it lost ("N bytes of output lost: init prints nothing") or cut: the ring's positions
 * are init's, and new output goes where the published bytes end. */
Test(vmmstate, a_flipped_output_position_loses_no_line)
{
    static const unsigned bits[] = {3, 9, 20, 40, 63};
    for (unsigned b = 0; b < sizeof(bits) / sizeof(bits[0]); b++) {
        memset(&region, 0, sizeof(region));
        struct vmm_persist *p = vmm_persist_open(&region, sizeof(region));
        static struct vmm_output_ring r;
        memset(&r, 0, sizeof(r));
        static char got[64 * 32];
        size_t ngot = 0;
        struct vmm v = {.name = "vm1"};
        for (unsigned t = 0; t < 64; t++) {
            v.st = vmm_begin(p);
            if (t == 20) v.st->out_end ^= 1ull << bits[b]; // hit between exit and commit
            vmm_guest_printf(&v, "tick %u", t + 1000);
            vmm_commit(p);
            const struct vmm_out *o = vmm_unprinted(p);
            uint64_t end = vmm_committed(p)->out_end;
            if (!vmm_output_copy(&r, o, end)) {
                init_prints(&r, got, &ngot, sizeof(got));
                cr_assert(vmm_output_copy(&r, o, end), "bit %u: line %u lost", bits[b], t);
            }
            vmm_mark_printed(p);
            if (t % 3 == 0) init_prints(&r, got, &ngot, sizeof(got));
        }
        init_prints(&r, got, &ngot, sizeof(got));
        char want[64 * 32];
        size_t nwant = 0;
        for (unsigned t = 0; t < 64; t++)
            nwant +=
                (size_t)snprintf(want + nwant, sizeof(want) - nwant, "[vm1] tick %u\n", t + 1000);
        cr_assert_eq(ngot, nwant, "bit %u", bits[b]);
        cr_assert_eq(memcmp(got, want, nwant), 0, "bit %u: every line whole, in order", bits[b]);
    }
}
