// SPDX-License-Identifier: MIT
// Intel VT-x events: skipping the exiting instruction, injecting the VMM's events (and holding
// them behind one an exit interrupted), and interrupt-window exiting. Section numbers: Intel SDM
// vol. 3C (see vmx_fields.h).
#include "vmx.h"

/* Skips the instruction that exited; it completed, so the STI / MOV SS interrupt shadow it may
 * have been in is over (24.4.2). */
void vmx_advance_rip(struct vcpu *v, uint64_t insn_len)
{
    vmx_load(vmx_of(v));
    vmwrite(VMCS_GUEST_RIP, vmread(VMCS_GUEST_RIP) + insn_len);
    uint64_t irq = vmread(VMCS_GUEST_INTERRUPTIBILITY);
    if (irq & (INTERRUPTIBILITY_STI | INTERRUPTIBILITY_MOVSS))
        vmwrite(VMCS_GUEST_INTERRUPTIBILITY,
                irq & ~(uint64_t)(INTERRUPTIBILITY_STI | INTERRUPTIBILITY_MOVSS));
}

/* Event injection (24.8.3, 26.5): RS_EVENT_* has the VMX interruption-information layout.
 * Injecting an interrupt or NMI ends an STI / MOV SS shadow, as SVM's EVENTINJ ignores it;
 * VM entry would fail otherwise (26.3.1.5). A software interrupt or exception returns to the
 * current RIP, as on SVM: it is injected with instruction length 0 where the CPU allows that
 * (A.6), else with length 1 from RIP - 1. */
void vmx_inject_event(uint64_t event)
{
    uint32_t info = (uint32_t)(event & 0xFFF) | INTR_INFO_VALID;
    vmwrite(VMCS_ENTRY_INTR_INFO, info);
    if (info & INTR_INFO_HAS_ERROR) vmwrite(VMCS_ENTRY_EXC_ERROR, (uint32_t)(event >> 32));
    unsigned type = INTR_INFO_TYPE(info);
    if (type == INTR_TYPE_EXTINT || type == INTR_TYPE_NMI) {
        uint64_t irq = vmread(VMCS_GUEST_INTERRUPTIBILITY);
        vmwrite(VMCS_GUEST_INTERRUPTIBILITY,
                irq & ~(uint64_t)(INTERRUPTIBILITY_STI | INTERRUPTIBILITY_MOVSS));
    } else if (type >= INTR_TYPE_SW_INT) {
        vmwrite(VMCS_ENTRY_INSN_LEN, vmx_caps.soft_len0 ? 0 : 1);
        if (!vmx_caps.soft_len0) vmwrite(VMCS_GUEST_RIP, vmread(VMCS_GUEST_RIP) - 1);
    }
}

/* Queues the VMM's event. While the entry field holds an event an exit interrupted, which
 * must be delivered first, the VMM's waits (one at a time: a newer one replaces it). So does an
 * external interrupt, always: VM entry refuses to inject one while RFLAGS.IF is clear or an STI /
 * MOV SS shadow blocks it (26.3.1.5), and the guest's CLI must hold; vmx_deliver_deferred puts it
 * in when the guest can take it, the interrupt window telling when. */
void vmx_inject(struct vcpu *v, uint64_t event)
{
    struct vmx_vcpu *x = vmx_of(v);
    vmx_load(x);
    if (x->requeued || INTR_INFO_TYPE(event) == INTR_TYPE_EXTINT) {
        if (!x->requeued) vmwrite(VMCS_ENTRY_INTR_INFO, 0); // a previous VMM event it replaces
        x->deferred = event;
        vmx_update_window(x);
        return;
    }
    x->deferred = 0;
    vmx_inject_event(event);
    vmx_update_window(x);
}

/* Before an entry with the entry field free: a deferred external interrupt goes in once the
 * guest can take it (IF set, no STI / MOV SS shadow; interrupt-window exiting waits for that),
 * any other deferred event at once. */
void vmx_deliver_deferred(struct vmx_vcpu *x)
{
    if (INTR_INFO_TYPE(x->deferred) == INTR_TYPE_EXTINT &&
        (!(vmread(VMCS_GUEST_RFLAGS) & (1u << 9)) ||
         (vmread(VMCS_GUEST_INTERRUPTIBILITY) & (INTERRUPTIBILITY_STI | INTERRUPTIBILITY_MOVSS))))
        return;
    vmx_inject_event(x->deferred);
    x->deferred = 0;
    vmx_update_window(x);
}

void vmx_update_window(struct vmx_vcpu *x)
{
    bool on = x->vmm_window || (x->deferred && INTR_INFO_TYPE(x->deferred) == INTR_TYPE_EXTINT);
    uint32_t proc = on ? x->proc | PROC_INTR_WINDOW : x->proc & ~PROC_INTR_WINDOW;
    if (proc == x->proc) return;
    x->proc = proc;
    vmwrite(VMCS_PROC_CTLS, proc);
}

/* Interrupt-window exiting (24.6.2): exit as soon as RFLAGS.IF = 1 and no shadow blocks. The
 * exit ends the request (vmx_exit.c). */
void vmx_want_window(struct vcpu *v, bool on)
{
    struct vmx_vcpu *x = vmx_of(v);
    vmx_load(x);
    x->vmm_window = on;
    vmx_update_window(x);
}
