// SPDX-License-Identifier: MIT
// Host tests of IRQ capabilities (kernel/arch/x86_64/irq.c) on a shared line: IRQControl issues
// up to IRQ_SHARE handlers per line, an interrupt masks the line and signals every bound handler,
// and the line is unmasked only once every signalled handler has acknowledged (or gone); a random
// sequence against a model of that rule, on an ISA line and on a GSI >= 16 (PCI INTx through the
// IO-APIC); IRQControl's range checks with the 8259's 16 lines and the IO-APIC's GSIs.
#include "inv_fixture.h"
#include "irq.h"
#include "notification.h"
#include <resurgo/invocation.h>

enum { CTL = 1, N0 = 2, H0 = 10 }; /* root slots: the control, notifications N0.., handlers H0.. */
#define LINE 11
#define NN   6

static struct notification *ntfn[NN];

static void setup(void)
{
    fx_world();
    for (unsigned i = 0; i < IRQ_COUNT; i++) fake_pic_masked[i] = true; // as at boot
    fake_irq_lines = IRQ_ISA_COUNT, fake_irq_isa_gsi = 0;               // the 8259
    fx_put(CTL, (struct cap){.type = RS_CAP_IRQ_CONTROL, .rights = RS_RIGHTS_ALL});
    for (unsigned i = 0; i < NN; i++) {
        ntfn[i] = fx_alloc(64, 64);
        fx_put(N0 + i, (struct cap){.type = RS_CAP_NOTIFICATION,
                                    .rights = RS_RIGHTS_ALL,
                                    .obj = (uintptr_t)ntfn[i],
                                    .w1 = 1ul << i});
    }
}

TestSuite(irq, .init = setup, .fini = fx_free_all);

/* IRQControl Get of `line` into root slot `dst`. */
static int get(uint64_t line, unsigned dst)
{
    uint64_t a[] = {line, dst, 64};
    struct slot *extra[] = {&fx.root};
    return fx_invoke(&fx.cnode[CTL], RS_IRQ_CONTROL_GET, a, 3, extra, 1);
}

static int bind(unsigned h, unsigned n)
{
    struct slot *extra[] = {&fx.cnode[n]};
    return fx_invoke(&fx.cnode[h], RS_IRQ_HANDLER_SET_NOTIFICATION, NULL, 0, extra, 1);
}

static int ack(unsigned h) { return fx_invoke(&fx.cnode[h], RS_IRQ_HANDLER_ACK, NULL, 0, NULL, 0); }
static int clear(unsigned h)
{
    return fx_invoke(&fx.cnode[h], RS_IRQ_HANDLER_CLEAR, NULL, 0, NULL, 0);
}

/* The bits notification i got since the last call. */
static uint64_t take(unsigned i)
{
    uint64_t b = ntfn[i]->pending;
    ntfn[i]->pending = 0;
    return b;
}

/* Two handlers on LINE (slots H0, H0+1) bound to notifications 0 and 1. */
static void two_bound(void)
{
    cr_assert_eq(get(LINE, H0), RS_OK);
    cr_assert_eq(get(LINE, H0 + 1), RS_OK);
    cr_assert_eq(bind(H0, N0), RS_OK);
    cr_assert_eq(bind(H0 + 1, N0 + 1), RS_OK);
}

Test(irq, handlers_of_one_line_are_distinct_objects)
{
    two_bound();
    struct cap *a = &fx.cnode[H0].cap, *b = &fx.cnode[H0 + 1].cap;
    cr_expect_eq(a->type, RS_CAP_IRQ_HANDLER);
    cr_expect_eq(cap_irq(a), LINE);
    cr_expect_eq(cap_irq(b), LINE);
    cr_expect_neq(cap_irq_handler(a), cap_irq_handler(b));
    cr_expect(!cap_same_object(a, b), "each handler is its own object");
    struct cap copy = *a;
    cr_expect(cap_same_object(a, &copy));
}

Test(irq, every_bound_handler_is_signalled_and_the_line_waits_for_every_ack)
{
    two_bound();
    cr_expect(!fake_pic_masked[LINE], "bound: unmasked");
    irq_deliver(LINE);
    cr_expect_eq(take(0), 1);
    cr_expect_eq(take(1), 2);
    cr_expect(fake_pic_masked[LINE]);
    cr_expect_eq(ack(H0), RS_OK);
    cr_expect(fake_pic_masked[LINE], "handler 1 has not acknowledged");
    cr_expect_eq(ack(H0), RS_OK);
    cr_expect(fake_pic_masked[LINE], "a second Ack from the same handler counts once");
    cr_expect_eq(ack(H0 + 1), RS_OK);
    cr_expect(!fake_pic_masked[LINE], "both acknowledged");
    irq_deliver(LINE); // again: both owe again
    cr_expect_eq(take(0) | take(1), 3);
    cr_expect_eq(ack(H0 + 1), RS_OK);
    cr_expect(fake_pic_masked[LINE]);
    cr_expect_eq(ack(H0), RS_OK);
    cr_expect(!fake_pic_masked[LINE]);
}

Test(irq, at_most_irq_share_handlers_per_line)
{
    for (unsigned h = 0; h < IRQ_SHARE; h++)
        cr_assert_eq(get(LINE, H0 + h), RS_OK, "handler %u", h);
    fx_expect_error(get(LINE, H0 + IRQ_SHARE), RS_REVOKE_FIRST, 0, IRQ_SHARE, 0);
    cr_expect_eq(fx.cnode[H0 + IRQ_SHARE].cap.type, RS_CAP_NULL);
    cr_expect_eq(get(LINE + 1, H0 + IRQ_SHARE), RS_OK, "another line is free");
    unsigned freed = cap_irq_handler(&fx.cnode[H0 + 2].cap);
    cdt_delete(&fx.cnode[H0 + 2]);
    cr_expect_eq(get(LINE, H0 + 2), RS_OK, "a handler gone frees its place");
    cr_expect_eq(cap_irq_handler(&fx.cnode[H0 + 2].cap), freed);
}

Test(irq, a_handler_that_goes_no_longer_holds_the_line)
{
    two_bound();
    irq_deliver(LINE);
    cr_expect_eq(ack(H0), RS_OK);
    cdt_delete(&fx.cnode[H0 + 1]); // its driver died before acknowledging
    cr_expect(!fake_pic_masked[LINE], "the other handler's Ack suffices now");
    irq_deliver(LINE);
    cr_expect_eq(take(0), 1);
    cr_expect_eq(take(1), 2, "the first delivery only");
    cdt_delete(&fx.cnode[H0]);
    cr_expect(fake_pic_masked[LINE], "no handler left: masked");
}

Test(irq, clear_and_rebind_settle_the_handlers_debt)
{
    two_bound();
    irq_deliver(LINE);
    cr_expect_eq(take(0) | take(1), 3);
    cr_expect_eq(clear(H0), RS_OK);
    cr_expect(fake_pic_masked[LINE], "handler 1 still owes");
    cr_expect_eq(ack(H0 + 1), RS_OK);
    cr_expect(!fake_pic_masked[LINE]);
    irq_deliver(LINE);
    cr_expect_eq(take(0), 0, "a cleared handler is not signalled");
    cr_expect_eq(take(1), 2);
    cr_expect_eq(bind(H0 + 1, N0 + 2), RS_OK); // a new notification owes nothing
    cr_expect(!fake_pic_masked[LINE]);
}

Test(irq, a_revoked_notification_releases_its_handler)
{
    two_bound();
    irq_deliver(LINE);
    cr_expect(cdt_revoke(&fx.cnode[N0], NULL)); // removes the handler's copy of notification 0
    cr_expect_eq(ack(H0 + 1), RS_OK);
    cr_expect(!fake_pic_masked[LINE], "handler 0 has no notification: it owes nothing");
    cdt_revoke(&fx.cnode[N0 + 1], NULL);
    cr_expect_eq(ack(H0 + 1), RS_OK);
    cr_expect(fake_pic_masked[LINE], "no notification left: masked");
}

Test(irq, an_unbound_line_stays_masked)
{
    cr_assert_eq(get(LINE, H0), RS_OK);
    cr_expect_eq(ack(H0), RS_OK);
    cr_expect(fake_pic_masked[LINE], "Ack without a notification does not unmask");
    irq_deliver(LINE);
    cr_expect(fake_pic_masked[LINE]);
}

Test(irq, lines_beyond_the_8259s_are_out_of_range)
{
    fx_expect_error(get(16, H0), RS_RANGE_ERROR, 0, 0, 15);
    cr_expect_eq(fx.cnode[H0].cap.type, RS_CAP_NULL);
    fx_expect_error(get(2, H0), RS_RANGE_ERROR, 0, 0, 15); // the cascade
    fx_expect_error(get(22, H0), RS_RANGE_ERROR, 0, 0, 15);
    fx_expect_error(get(1ull << 32 | 11, H0), RS_RANGE_ERROR, 0, 0, 15); // not truncated to 11
    fx_expect_error(get(~0ull, H0), RS_RANGE_ERROR, 0, 0, 15);
    cr_expect_eq(fx.cnode[H0].cap.type, RS_CAP_NULL);
    cr_expect_eq(get(15, H0), RS_OK);
}

Test(irq, gsis_up_to_the_io_apics_pins)
{
    fake_irq_lines = 24; // one 24-pin IO-APIC at GSI base 0 (QEMU, most chipsets)
    cr_expect_eq(get(16, H0), RS_OK);
    cr_expect_eq(cap_irq(&fx.cnode[H0].cap), 16);
    cr_expect_eq(get(23, H0 + 1), RS_OK);
    cr_expect_eq(cap_irq(&fx.cnode[H0 + 1].cap), 23);
    fx_expect_error(get(24, H0 + 2), RS_RANGE_ERROR, 0, 0, 23);
    fx_expect_error(get(IRQ_COUNT, H0 + 2), RS_RANGE_ERROR, 0, 0, 23);
    fx_expect_error(get(1ull << 32 | 20, H0 + 2), RS_RANGE_ERROR, 0, 0, 23);
    fx_expect_error(get(2, H0 + 2), RS_RANGE_ERROR, 0, 0, 23);
    cr_expect_eq(fx.cnode[H0 + 2].cap.type, RS_CAP_NULL);
    fake_irq_isa_gsi = 20; // an ISA IRQ's override routes GSI 20: it is that ISA line
    fx_expect_error(get(20, H0 + 2), RS_INVALID_ARGUMENT, 0, 0, 0);
    cr_expect_eq(fx.cnode[H0 + 2].cap.type, RS_CAP_NULL);
    cr_expect_eq(get(21, H0 + 2), RS_OK);
}

Test(irq, a_gsi_line_is_shared_like_an_isa_line)
{
    fake_irq_lines = 24;
    enum { GSI = 22 };
    for (unsigned h = 0; h < IRQ_SHARE; h++) cr_assert_eq(get(GSI, H0 + h), RS_OK, "handler %u", h);
    fx_expect_error(get(GSI, H0 + IRQ_SHARE), RS_REVOKE_FIRST, 0, IRQ_SHARE, 0);
    cdt_delete(&fx.cnode[H0 + 2]);
    cdt_delete(&fx.cnode[H0 + 3]);
    cr_assert_eq(bind(H0, N0), RS_OK);
    cr_assert_eq(bind(H0 + 1, N0 + 1), RS_OK);
    cr_expect(!fake_pic_masked[GSI]);
    cr_expect(fake_pic_masked[LINE], "another line is untouched");
    irq_deliver(GSI);
    cr_expect_eq(take(0), 1);
    cr_expect_eq(take(1), 2);
    cr_expect(fake_pic_masked[GSI]);
    cr_expect_eq(ack(H0 + 1), RS_OK);
    cr_expect(fake_pic_masked[GSI], "handler 0 has not acknowledged");
    cr_expect_eq(ack(H0), RS_OK);
    cr_expect(!fake_pic_masked[GSI]);
    cdt_delete(&fx.cnode[H0]);
    cdt_delete(&fx.cnode[H0 + 1]);
    cr_expect(fake_pic_masked[GSI], "no handler left: masked");
}

/* Random Get, SetNotification, Clear, Ack, delete and interrupts on one line; after each step
 * the line is masked exactly when no handler is bound or a bound one owes an Ack, and an
 * interrupt signals exactly the bound handlers. */
static void random_sequence(unsigned line, uint64_t seed);
Test(irq, random_sequence_against_a_model) { random_sequence(LINE, 0x9E3779B97F4A7C15ull); }
Test(irq, random_sequence_on_a_gsi)
{
    fake_irq_lines = 24;
    random_sequence(19, 0xD1B54A32D192ED03ull);
}

static void random_sequence(unsigned line, uint64_t seed)
{
    uint64_t x = seed;
    bool issued[IRQ_SHARE + 1] = {0}; /* by root slot H0 + i */
    int bound[IRQ_SHARE + 1];         /* notification index, -1: none */
    bool owes[IRQ_SHARE + 1] = {0};
    for (unsigned i = 0; i <= IRQ_SHARE; i++) bound[i] = -1;
    for (unsigned step = 0; step < 20000; step++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        unsigned i = (unsigned)(x >> 8) % (IRQ_SHARE + 1), n = (unsigned)(x >> 20) % NN;
        unsigned nissued = 0;
        for (unsigned k = 0; k <= IRQ_SHARE; k++) nissued += issued[k];
        switch ((x >> 32) % 6) {
        case 0:
            if (issued[i]) break;
            if (nissued == IRQ_SHARE) {
                cr_assert_eq(get(line, H0 + i), RS_REVOKE_FIRST);
                break;
            }
            cr_assert_eq(get(line, H0 + i), RS_OK);
            issued[i] = true;
            break;
        case 1:
            if (!issued[i]) break;
            cr_assert_eq(bind(H0 + i, N0 + n), RS_OK);
            bound[i] = (int)n, owes[i] = false;
            break;
        case 2:
            if (!issued[i]) break;
            cr_assert_eq(clear(H0 + i), RS_OK);
            bound[i] = -1, owes[i] = false;
            break;
        case 3:
            if (!issued[i]) break;
            cr_assert_eq(ack(H0 + i), RS_OK);
            owes[i] = false;
            break;
        case 4:
            cdt_delete(&fx.cnode[H0 + i]);
            issued[i] = false, bound[i] = -1, owes[i] = false;
            break;
        case 5: {
            uint64_t want[NN] = {0};
            for (unsigned k = 0; k <= IRQ_SHARE; k++)
                if (bound[k] >= 0) want[bound[k]] |= 1ul << bound[k], owes[k] = true;
            for (unsigned k = 0; k < NN; k++) take(k);
            irq_deliver(line);
            for (unsigned k = 0; k < NN; k++)
                cr_assert_eq(take(k), want[k], "step %u notification %u", step, k);
            break;
        }
        }
        bool any = false, owing = false;
        for (unsigned k = 0; k <= IRQ_SHARE; k++) any |= bound[k] >= 0, owing |= owes[k];
        cr_assert_eq(fake_pic_masked[line], !any || owing, "step %u", step);
    }
}
