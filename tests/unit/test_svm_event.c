// SPDX-License-Identifier: MIT
// Host tests of SVM event injection (kernel/arch/x86_64/svm/svm_event.c): the VMM's external
// interrupt reaches the guest exactly once, through V_IRQ (AMD64 APM vol. 2, 15.21.4), never
// through EVENTINJ, whose interrupts QEMU's TCG can deliver twice; an event whose delivery an exit
// interrupted (EXITINTINFO, APM 15.7.2) is delivered again once, not also by a second path. Each
// test plays the CPU's part between svm_events_before_run and svm_events_after_exit.
#include <criterion/criterion.h>
#include <string.h>
#include "svm/svm.h"

static struct vmcb vmcb;
static struct vcpu vcpu;

#define TIMER  0xECu /* Linux's LAPIC timer vector */
#define IRQ(v) (RS_EVENT_MAKE(v, RS_EVENT_EXTINT) | RS_EVENT_VALID)
#define PF     (RS_EVENT_WITH_ERROR(RS_EVENT_MAKE(14, RS_EVENT_EXCEPTION), 2) | RS_EVENT_VALID)
#define GP     (RS_EVENT_WITH_ERROR(RS_EVENT_MAKE(13, RS_EVENT_EXCEPTION), 0) | RS_EVENT_VALID)

static void setup(void)
{
    memset(&vmcb, 0, sizeof(vmcb));
    memset(&vcpu, 0, sizeof(vcpu));
    vcpu.ctl = &vmcb;
    vmcb.int_ctl = VMCB_INT_V_INTR_MASKING;
}

static bool v_irq(void) { return vmcb.int_ctl & VMCB_INT_V_IRQ; }
static unsigned v_vector(void) { return (vmcb.int_ctl >> VMCB_INT_V_VECTOR_SHIFT) & 0xFF; }
static bool vintr_intercepted(void) { return vmcb.intercept_misc1 & VMCB_I1_VINTR; }
static bool eventinj(void) { return vmcb.eventinj & VMCB_EVENT_VALID; }

/* The CPU's side of one run: what a #VMEXIT leaves in the VMCB. took: the guest took the virtual
 * interrupt (the CPU clears V_IRQ); exitintinfo: the event whose delivery the exit cut short. */
static void run(bool took, uint64_t exitintinfo)
{
    svm_events_before_run(&vcpu);
    if (took) vmcb.int_ctl &= ~VMCB_INT_V_IRQ;
    vmcb.exitintinfo = exitintinfo;
    svm_events_after_exit(&vcpu);
}

/* Deliveries the next run would make: EVENTINJ's event and V_IRQ's interrupt. */
static unsigned deliveries(void)
{
    svm_events_before_run(&vcpu);
    return (unsigned)eventinj() + (unsigned)(v_irq() && !vintr_intercepted());
}

TestSuite(svm_event, .init = setup);

Test(svm_event, an_interrupt_goes_in_as_a_virtual_interrupt_not_through_eventinj)
{
    svm_inject(&vcpu, IRQ(TIMER));
    svm_events_before_run(&vcpu);
    cr_assert(!eventinj(), "EVENTINJ holds %lx: QEMU may deliver it twice",
              (unsigned long)vmcb.eventinj);
    cr_assert(v_irq() && v_vector() == TIMER, "V_IRQ with vector %x", v_vector());
    cr_assert(!vintr_intercepted(), "the guest takes it: no VINTR exit");
    cr_assert(vmcb.int_ctl & VMCB_INT_V_INTR_MASKING, "the guest's IF still masks it");
}

Test(svm_event, a_taken_interrupt_is_not_delivered_again)
{
    svm_inject(&vcpu, IRQ(TIMER));
    run(true, 0);
    cr_assert_eq(deliveries(), 0, "after the guest took it nothing is pending");
    cr_assert(!v_irq());
}

Test(svm_event, an_interrupt_waits_while_the_guest_cannot_take_it)
{
    svm_inject(&vcpu, IRQ(TIMER));
    for (int i = 0; i < 3; i++) run(false, 0); // IF clear: exits without taking it
    cr_assert_eq(deliveries(), 1);
    cr_assert(v_irq() && v_vector() == TIMER && !eventinj());
}

/* The exit cut the interrupt's delivery short (a nested page fault on the guest's stack, say).
 * QEMU leaves V_IRQ set and reports the interrupt as an exception vector > 31; a CPU may clear
 * V_IRQ and report it as INTR. Either way it is delivered again exactly once. */
Test(svm_event, an_interrupted_interrupt_is_delivered_again_once)
{
    const struct {
        bool took;
        uint64_t info;
    } cpus[] = {{false, RS_EVENT_MAKE(TIMER, RS_EVENT_EXCEPTION) | RS_EVENT_VALID},
                {true, IRQ(TIMER)},
                {false, IRQ(TIMER)}};
    for (unsigned i = 0; i < 3; i++) {
        setup();
        svm_inject(&vcpu, IRQ(TIMER));
        run(cpus[i].took, cpus[i].info);
        cr_assert_eq(deliveries(), 1, "case %u: once, not %u times", i, deliveries());
        cr_assert(v_irq() && v_vector() == TIMER && !eventinj(), "case %u: by V_IRQ", i);
        run(true, 0);
        cr_assert_eq(deliveries(), 0, "case %u: and then not again", i);
    }
}

Test(svm_event, an_interrupted_exception_is_delivered_again_and_int3_is_not)
{
    run(false, PF);
    cr_assert_eq(vmcb.eventinj, PF, "#PF with its error code: %lx", (unsigned long)vmcb.eventinj);
    run(false, 0);
    cr_assert(!eventinj(), "delivered: not again");
    run(false, RS_EVENT_MAKE(3, RS_EVENT_EXCEPTION) | RS_EVENT_VALID);
    cr_assert(!eventinj(), "INT3 raises itself again when it runs again");
    run(false, RS_EVENT_MAKE(0x80, RS_EVENT_SOFT_INT) | RS_EVENT_VALID);
    cr_assert(!eventinj(), "so does INT 80h");
}

Test(svm_event, an_exception_does_not_displace_a_held_interrupt)
{
    svm_inject(&vcpu, IRQ(TIMER));
    run(false, 0);
    svm_inject(&vcpu, GP); // the VMM's reply to an MMIO access it cannot emulate
    svm_events_before_run(&vcpu);
    cr_assert_eq(vmcb.eventinj, GP);
    cr_assert(v_irq() && v_vector() == TIMER, "the interrupt still waits");
}

Test(svm_event, the_vmm_window_is_an_intercepted_v_irq_and_waits_for_a_held_interrupt)
{
    svm_want_window(&vcpu, true);
    svm_events_before_run(&vcpu);
    cr_assert(v_irq() && vintr_intercepted(), "window: VINTR exits before the guest takes it");
    svm_inject(&vcpu, IRQ(0x30));
    svm_events_before_run(&vcpu);
    cr_assert(v_irq() && v_vector() == 0x30 && !vintr_intercepted(), "the interrupt first");
    run(true, 0);
    svm_events_before_run(&vcpu);
    cr_assert(v_irq() && vintr_intercepted(), "then the window again");
    svm_want_window(&vcpu, false);
    cr_assert(!v_irq() && !vintr_intercepted());
}
