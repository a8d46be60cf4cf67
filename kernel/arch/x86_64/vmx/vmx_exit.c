// SPDX-License-Identifier: MIT
// VT-x exits: from the exit reason and qualification in the VMCS to the vendor-neutral exit the
// VMM sees (include/resurgo/vcpu.h). Host interrupts and guest writes of CR bits that VMX keeps
// fixed are dealt with here and never reach the VMM.
#include "vmx.h"
#include "../cpu.h"

/* An exit in the middle of delivering an event through the guest IDT (an EPT violation on the
 * guest's stack, say) loses that event unless it is injected again on the next entry (SDM
 * 27.2.3). It goes into the entry field at once (every exit cleared that field, 24.8.3); an
 * event the VMM injects meanwhile waits behind it (vmx.c, deferred). */
static void vmx_requeue_vectoring(struct vmx_vcpu *x)
{
    uint32_t info = (uint32_t)vmread(VMCS_IDT_VECT_INFO);
    x->requeued = info & INTR_INFO_VALID;
    if (!x->requeued) return;
    vmwrite(VMCS_ENTRY_INTR_INFO, info & ~(1u << 12)); /* bit 12 is undefined here */
    if (info & INTR_INFO_HAS_ERROR) vmwrite(VMCS_ENTRY_EXC_ERROR, vmread(VMCS_IDT_VECT_ERROR));
    unsigned type = INTR_INFO_TYPE(info);
    if (type == INTR_TYPE_SW_INT || type == INTR_TYPE_PRIV_SW_EXC || type == INTR_TYPE_SW_EXC)
        vmwrite(VMCS_ENTRY_INSN_LEN, vmread(VMCS_EXIT_INSN_LEN));
}

/* The IDT-vectoring information (SDM 27.2.4) in the neutral layout (RS_EXIT_MR_EVENT): the
 * same vector, error-code and valid bits; the software exceptions (INT1, INT3, INTO: types 5, 6)
 * are exceptions there. */
static uint64_t vmx_vectoring_event(void)
{
    uint32_t info = (uint32_t)vmread(VMCS_IDT_VECT_INFO);
    if (!(info & INTR_INFO_VALID)) return 0;
    unsigned type = INTR_INFO_TYPE(info);
    if (type == INTR_TYPE_PRIV_SW_EXC || type == INTR_TYPE_SW_EXC) type = INTR_TYPE_HW_EXC;
    uint64_t ev = INTR_INFO_VECTOR(info) | (uint64_t)type << 8 | RS_EVENT_VALID;
    if (info & INTR_INFO_HAS_ERROR)
        ev |= RS_EVENT_HAS_ERROR | (uint64_t)(uint32_t)vmread(VMCS_IDT_VECT_ERROR) << 32;
    return ev;
}

/* MOV to CR0/CR4 that changes a bit VMX holds fixed (NE, VMXE, CD/NW; see vmx.c) exits because
 * the bit is in the guest/host mask (SDM 25.1.3). The guest owns its view of those bits: take
 * the value as the new read shadow and let the guest execute the same MOV again, which then
 * does not exit and performs the rest of the write (paging, long-mode activation) in hardware.
 * Returns false for any other control-register access (left to the VMM). */
static bool vmx_cr_write(struct vcpu *v, uint64_t q)
{
    unsigned cr = q & 15, type = (q >> 4) & 3;
    if (type != 0 || (cr != 0 && cr != 4)) return false;
    /* Bits 11:8 name the source GPR in the x86 encoding, the order of v->gpr (27.2.1). */
    vmwrite(cr == 0 ? VMCS_CR0_SHADOW : VMCS_CR4_SHADOW, v->gpr[(q >> 8) & 15]);
    return true;
}

/* MOV to / from CR8 (CR8-load / CR8-store exiting, vmx.c): the guest's task priority is kept
 * here and never reaches the host's local APIC. The VMM has no local APIC to model, so it only
 * has to read back what was written (bits 3:0; 64-bit mode only, SDM vol. 3A 10.8.6.1).
 * Returns false for any other control-register access. */
static bool vmx_cr8(struct vcpu *v, uint64_t q)
{
    struct vmx_vcpu *x = vmx_of(v);
    unsigned cr = q & 15, type = (q >> 4) & 3, reg = (q >> 8) & 15;
    if (cr != 8 || type > 1) return false;
    if (type == 0) x->tpr = v->gpr[reg] & 15;
    else v->gpr[reg] = x->tpr;
    vmx_advance_rip(v, vmread(VMCS_EXIT_INSN_LEN));
    return true;
}

/* An intercepted #DB (vmx.c): a VM exit leaves DR6 alone and puts what the CPU would have
 * written there (B0-B3, BD, BS) in the qualification, nor does it clear DR7.GD (27.1). Do both
 * now, as the delivery the VMM asks for would have, so the guest's handler sees the hardware's
 * DR6 and can touch its debug registers (SDM vol. 3B 17.2.3, 17.2.4). The guest then owns its
 * debug registers (their values switch at each run). #DB from INT1 (ICEBP) reports the
 * instruction, not yet executed (27.2.3, type 5): skip it, or the reinjected #DB would return
 * to it and raise it again. */
static void vmx_db(struct vcpu *v, uint32_t info, uint64_t q)
{
    struct vmx_vcpu *x = vmx_of(v);
    if (INTR_INFO_TYPE(info) == INTR_TYPE_PRIV_SW_EXC) {
        vmx_advance_rip(v, vmread(VMCS_EXIT_INSN_LEN));
        return;
    }
    vmx_dr_own(x);
    x->dr6 = (x->dr6 & ~DR6_TRAP_BITS) | (q & (DR6_TRAP_BITS | DR6_BD | DR6_BS));
    if (q & DR6_BD) vmwrite(VMCS_GUEST_DR7, vmread(VMCS_GUEST_DR7) & ~DR7_GD);
}

void vmx_exit_regs(struct vcpu_exit *e)
{
    e->rip = vmread(VMCS_GUEST_RIP);
    e->rflags = vmread(VMCS_GUEST_RFLAGS);
    e->cr0 = vmx_guest_cr(VMCS_GUEST_CR0, VMCS_CR0_MASK, VMCS_CR0_SHADOW);
    e->cr3 = vmread(VMCS_GUEST_CR3);
    e->cr4 = vmx_guest_cr(VMCS_GUEST_CR4, VMCS_CR4_MASK, VMCS_CR4_SHADOW);
    e->efer = vmread(VMCS_GUEST_EFER);
}

/* Fills *e from the exit just taken. Returns false when the exit was handled here and the
 * guest is to be entered again at once. */
bool vmx_exit_decode(struct vcpu *v, struct vcpu_exit *e)
{
    struct vmx_vcpu *x = vmx_of(v);
    uint32_t reason = (uint32_t)vmread(VMCS_EXIT_REASON);
    uint64_t q = vmread(VMCS_EXIT_QUAL);
    *e = (struct vcpu_exit){.reason = RS_EXIT_OTHER, .raw_reason = reason, .raw_qual = q};
    vmx_exit_regs(e);
    if (reason & EXIT_REASON_ENTRY_FAIL) {
        /* Guest-state or MSR-load check failed (26.7): the qualification says which. */
        e->reason = RS_EXIT_INVALID_STATE;
        e->qual = q;
        return true;
    }
    vmx_requeue_vectoring(x);
    e->event = vmx_vectoring_event();
    switch (reason & 0xFFFF) {
    case EXIT_EXCEPTION_NMI: {
        uint32_t info = (uint32_t)vmread(VMCS_EXIT_INTR_INFO);
        if (INTR_INFO_TYPE(info) == INTR_TYPE_NMI) {
            /* A host NMI, consumed by the exit ("NMI exiting", 24.6.1). */
            e->reason = RS_EXIT_NONE;
            return true;
        }
        if (INTR_INFO_VECTOR(info) == VEC_DB) {
            vmx_db(v, info, q);
            e->rip = vmread(VMCS_GUEST_RIP); /* after an INT1 */
        }
        e->reason = RS_EXIT_EXCEPTION;
        e->qual = INTR_INFO_VECTOR(info);
        if (info & INTR_INFO_HAS_ERROR) e->qual |= vmread(VMCS_EXIT_INTR_ERROR) << 32;
        return true;
    }
    case EXIT_PREEMPT_TIMER:
        /* The guest ran its time (vmx.c, vmx_preempt_value): a host tick may be pending with
         * no external-interrupt exit for it; take it like one. */
    case EXIT_EXTINT:
        /* "Acknowledge interrupt on exit" is off, so the interrupt is still pending at the
         * interrupt controller: open a one-instruction window and let the host IDT take it. */
        __asm__ volatile("sti; nop; cli" ::: "memory");
        e->reason = RS_EXIT_NONE;
        return true;
    case EXIT_TRIPLE_FAULT: e->reason = RS_EXIT_TRIPLE_FAULT; return true;
    case EXIT_INTR_WINDOW: {
        /* One-shot for the VMM: it asks again (RS_REPLY_WANT_WINDOW) if it still wants one.
         * A window only the kernel wanted (for a deferred interrupt) is not the VMM's news:
         * the interrupt goes in before the next entry (vmx_run). */
        bool for_vmm = x->vmm_window;
        x->vmm_window = false;
        vmx_update_window(x);
        if (!for_vmm) return false;
        e->reason = RS_EXIT_INTR_WINDOW;
        return true;
    }
    case EXIT_CR_ACCESS:
        if (vmx_cr_write(v, q) || vmx_cr8(v, q)) return false;
        break;
    case EXIT_DR_ACCESS:
        /* The guest's first MOV DR: it owns its debug registers from now on (vmx.c); the
         * instruction runs again, on its own values. */
        vmx_dr_own(x);
        return false;
    case EXIT_IO:
        e->reason = RS_EXIT_IO;
        e->qual = vmx_io_qual(q);
        break;
    case EXIT_CPUID: e->reason = RS_EXIT_CPUID; break;
    case EXIT_HLT: e->reason = RS_EXIT_HLT; break;
    case EXIT_VMCALL: e->reason = RS_EXIT_VMCALL; break;
    case EXIT_RDMSR:
    case EXIT_WRMSR:
        e->reason = (reason & 0xFFFF) == EXIT_RDMSR ? RS_EXIT_MSR_READ : RS_EXIT_MSR_WRITE;
        e->qual = (uint32_t)v->gpr[RS_GPR_RCX];
        break;
    case EXIT_EPT_VIOLATION:
        e->reason = RS_EXIT_GUEST_FAULT;
        e->qual = vmx_ept_qual(q);
        e->gpa = vmread(VMCS_GUEST_PHYS_ADDR);
        return true;
    case EXIT_EPT_MISCONFIG:
        /* A GuestSpace entry the CPU cannot use (28.2.3.1): a kernel bug, not the VMM's. */
        e->reason = RS_EXIT_INVALID_STATE;
        e->gpa = vmread(VMCS_GUEST_PHYS_ADDR);
        return true;
    default: break;
    }
    /* Exits caused by an instruction report its length (27.2.4); advance_rip skips it. */
    e->insn_len = vmread(VMCS_EXIT_INSN_LEN);
    return true;
}
