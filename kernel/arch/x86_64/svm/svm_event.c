// SPDX-License-Identifier: MIT
// SVM event injection (AMD64 APM vol. 2, 15.20 event injection, 15.21 interrupts, 15.7.2
// EXITINTINFO): the VMM's events around each VMRUN, from the VMCB and the vCPU alone, so the host
// unit tests drive it (tests/unit/test_svm_event.c).
//
// An external interrupt goes in as a virtual interrupt (V_IRQ with its vector, APM 15.21.4), not
// through EVENTINJ: the CPU takes it when the guest can (RFLAGS.IF set, no STI / MOV SS shadow),
// which is what the guest's CLI expects, and clears V_IRQ when it does, which tells the kernel it
// was taken. EVENTINJ would do neither, and QEMU's TCG (7.2) delivers an EVENTINJ interrupt
// inside VMRUN but leaves its vector as the CPU's pending exception: if its main loop asks the
// CPU to stop before the guest's next exit, the vector is delivered a second time, on top of the
// first, with IF clear (Linux: "BUG: ENTRY_TRAMPOLINE stack guard page was hit", a timer interrupt
// nested at the first instruction of its own handler; system-linux-vmm-crash found it).
// Exceptions, NMIs and software interrupts still go through EVENTINJ.
#include "svm.h"

static bool is_extint(uint64_t ev) { return VMCB_EVENT_TYPE(ev) == RS_EVENT_EXTINT; }

/* The external interrupt waiting for the guest, 0 if none. */
static uint64_t held_irq(const struct svm_vcpu *s)
{
    return (s->queued_event & VMCB_EVENT_VALID) && is_extint(s->queued_event) ? s->queued_event : 0;
}

void svm_update_window(struct vcpu *v)
{
    struct vmcb *vm = v->ctl;
    const struct svm_vcpu *s = svm_of(v);
    uint64_t bits =
        VMCB_INT_V_IRQ | VMCB_INT_V_IGN_TPR | VMCB_INT_V_PRIO_MASK | VMCB_INT_V_VECTOR_MASK;
    uint64_t irq = held_irq(s);
    vm->int_ctl &= ~bits;
    vm->intercept_misc1 &= ~VMCB_I1_VINTR;
    // priority 15 and V_IGN_TPR: the guest's TPR is its own business (the VMM's LAPIC model
    // applies it before the VMM injects)
    if (irq) { // the guest takes it: no VINTR intercept
        vm->int_ctl |= VMCB_INT_V_IRQ | VMCB_INT_V_IGN_TPR | (0xFull << VMCB_INT_V_PRIO_SHIFT) |
                       (uint64_t)VMCB_EVENT_VECTOR(irq) << VMCB_INT_V_VECTOR_SHIFT;
    } else if (s->vmm_window) { // exit when it could take one (APM 15.21.4, VINTR intercept)
        vm->int_ctl |= VMCB_INT_V_IRQ | VMCB_INT_V_IGN_TPR | (0xFull << VMCB_INT_V_PRIO_SHIFT);
        vm->intercept_misc1 |= VMCB_I1_VINTR;
    }
}

void svm_inject(struct vcpu *v, uint64_t event)
{
    struct vmcb *vm = v->ctl;
    struct svm_vcpu *s = svm_of(v);
    // an exception is not held back by IF: it goes in at the next VMRUN, after an event an exit
    // interrupted (already in EVENTINJ) and without displacing a held interrupt
    if (!is_extint(event) && !(vm->eventinj & VMCB_EVENT_VALID)) vm->eventinj = event;
    else s->queued_event = event;
    svm_update_window(v);
}

void svm_want_window(struct vcpu *v, bool on)
{
    svm_of(v)->vmm_window = on;
    svm_update_window(v);
}

/* V_IRQ needs no update here: every change of what it reflects (the held interrupt, the VMM's
 * window) updates it at once (svm_inject, svm_want_window, set_state, svm_events_after_exit), and
 * an exception moved into EVENTINJ was no held interrupt. */
void svm_events_before_run(struct vcpu *v)
{
    struct vmcb *vm = v->ctl;
    struct svm_vcpu *s = svm_of(v);
    if (!(vm->eventinj & VMCB_EVENT_VALID) && (s->queued_event & VMCB_EVENT_VALID) &&
        !is_extint(s->queued_event)) {
        vm->eventinj = s->queued_event;
        s->queued_event = 0;
    }
}

/* An interrupt whose delivery the exit interrupted: EXITINTINFO says INTR, or (QEMU, which
 * records every event it delivers in a guest as an exception) an exception vector above 31,
 * which no exception has. */
static bool is_interrupt(uint64_t ev)
{
    return is_extint(ev) ||
           (VMCB_EVENT_TYPE(ev) == RS_EVENT_EXCEPTION && VMCB_EVENT_VECTOR(ev) > 31);
}

void svm_events_after_exit(struct vcpu *v)
{
    struct vmcb *vm = v->ctl;
    struct svm_vcpu *s = svm_of(v);
    uint64_t ev = vm->exitintinfo, irq = held_irq(s);
    vm->eventinj = 0;
    // the usual exit: nothing held, nothing interrupted, so nothing in V_IRQ changed (a VMM
    // window's V_IRQ stays as svm_update_window set it)
    if (!((ev | s->queued_event) & VMCB_EVENT_VALID)) return;
    bool interrupted = ev & VMCB_EVENT_VALID;
    if (irq && interrupted && is_interrupt(ev) && VMCB_EVENT_VECTOR(ev) == VMCB_EVENT_VECTOR(irq)) {
        // the held interrupt's own delivery was cut short: it stays held and V_IRQ delivers it
        // again (once: not also through EVENTINJ)
        svm_update_window(v);
        return;
    }
    // V_IRQ clear: the guest took the held interrupt (APM 15.21.4)
    if (irq && !(vm->int_ctl & VMCB_INT_V_IRQ)) s->queued_event = 0;
    if (interrupted) {
        // any other event the exit interrupted is delivered again, else it would be lost (APM
        // 15.7.2); INTn, INT3 and INTO are not: their instruction did not complete and raises
        // them again when it runs again. An interrupt waits for the guest as a held one.
        uint64_t type = VMCB_EVENT_TYPE(ev), vec = VMCB_EVENT_VECTOR(ev);
        uint64_t kept = ev & 0xFFFFFFFF80000FFFull;
        if (is_interrupt(ev) && !held_irq(s))
            s->queued_event = RS_EVENT_MAKE(vec, RS_EVENT_EXTINT) | VMCB_EVENT_VALID;
        else if (is_interrupt(ev)) // a second interrupt (not made by this file): EVENTINJ's turn
            vm->eventinj = (kept & ~0x700ull) | (uint64_t)RS_EVENT_EXTINT << 8;
        else if (type != RS_EVENT_SOFT_INT &&
                 !(type == RS_EVENT_EXCEPTION && (vec == 3 || vec == 4)))
            vm->eventinj = kept;
    }
    svm_update_window(v);
}
