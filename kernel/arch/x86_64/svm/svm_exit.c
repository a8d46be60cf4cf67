// SPDX-License-Identifier: MIT
// One run of an SVM guest: its ASID and TLB flush, the event to inject, VMRUN, the
// host interrupt that ended it, and the exit code decoded into a vendor-neutral reason (AMD64 APM
// vol. 2, 15.6 #VMEXIT, 15.7 intercepts during event delivery, 15.20 event injection, and
// appendix C for the exit codes).
#include "svm.h"
#include "svm_decode.h"
#include "cpu.h"
#include "switch.h"
#include "vcpu_prof.h"

/* Hardware ASIDs: GuestSpace tags (1..4095) share the ones the CPU has (QEMU: 15) by residue. The
 * guest TLB entries of an ASID belong to the last vCPU that ran with it (its nested and guest
 * page tables both), so any other vCPU, or the same one after its tables changed, flushes first. */
#define ASID_TABLE 4096
static struct vcpu *asid_owner[ASID_TABLE];

static uint32_t hw_asid(uint32_t tag)
{
    uint32_t n = svm_asids < ASID_TABLE ? svm_asids : ASID_TABLE;
    return 1 + (tag - 1) % (n - 1);
}

void svm_forget(struct vcpu *v)
{
    uint32_t hw = svm_of(v)->hw_asid;
    if (hw && asid_owner[hw] == v) asid_owner[hw] = NULL;
}

void svm_flush_guest(uint64_t root_phys, uint32_t tag)
{
    (void)root_phys;
    asid_owner[hw_asid(tag)] = NULL; // whichever vCPU of the space ran last: it flushes next time
}

/* RDMSR / WRMSR of the MSRs the kernel answers itself (no exit reaches the VMM): PAT, which is
 * G_PAT under nested paging (APM 15.25.8), and TSC_AUX on a CPU without RDTSCP (a plain value
 * then). A reserved PAT memory type or TSC_AUX bits 63:32 get #GP, as WRMSR gives. Returns false
 * for any other MSR. */
static bool msr_local(struct vcpu *v, struct vmcb *vm, const struct vcpu_exit *e)
{
    struct svm_vcpu *s = svm_of(v);
    uint64_t *val = e->qual == MSR_PAT                          ? &vm->g_pat
                    : e->qual == MSR_TSC_AUX && !svm_tsc_aux_hw ? &s->tsc_aux
                                                                : NULL;
    if (!val) return false;
    uint64_t *g = v->gpr;
    if (e->reason == RS_EXIT_MSR_READ) {
        g[RS_GPR_RAX] = (uint32_t)*val;
        g[RS_GPR_RDX] = *val >> 32;
    } else {
        uint64_t w = (uint32_t)g[RS_GPR_RAX] | g[RS_GPR_RDX] << 32;
        bool ok = e->qual == MSR_PAT ? vcpu_pat_ok(w) : !(w >> 32);
        if (!ok) {
            vm->eventinj =
                RS_EVENT_WITH_ERROR(RS_EVENT_MAKE(13, RS_EVENT_EXCEPTION), 0) | VMCB_EVENT_VALID;
            return true;
        }
        *val = w;
    }
    svm_advance_rip(v, e->insn_len);
    return true;
}

/* One VMRUN of v's guest (AMD64 APM vol. 2, 15.5), inline in svm_run so that the host's
 * callee-saved registers are saved once, by svm_run's own prologue (the asm clobbers every GPR
 * but rbp, which it keeps on the stack with gpr).
 *
 * VMRUN saves and #VMEXIT restores only part of the host (rip, rsp, rax, rflags, CR0/3/4, EFER,
 * the descriptor tables and ES/CS/SS/DS, into VM_HSAVE_PA); FS, GS, TR, LDTR, STAR, LSTAR,
 * CSTAR, SFMASK, KernelGSBase and SYSENTER_* are switched with VMSAVE/VMLOAD (15.5.2): the
 * guest's VMLOADed before and VMSAVEd after VMRUN, the host's VMLOADed after it from the image
 * svm_host_save made once (the kernel never changes them, but FS base, svm_run), and the GPRs
 * other than rax and rsp are ours to switch (the guest's rax and rsp are in the VMCB).
 *
 * Interrupts: GIF is cleared before anything is switched and set only when the host is whole
 * again. In between, RFLAGS.IF = 1 at VMRUN makes physical interrupts exit the guest (INTR
 * intercept, V_INTR_MASKING: 15.21); they stay pending (GIF 0) until the caller takes them.
 * The nop after STI takes its one-instruction shadow: QEMU's TCG carries a shadow VMRUN is in
 * into the guest, which then cannot take a virtual interrupt (V_IRQ, svm_event.c) before its
 * first instruction, a CLI say. */
static inline __attribute__((always_inline)) void svm_world_switch(uint64_t *gpr, uint64_t vmcb_pa)
{
    // gpr[n] is at 8 * n(%rdi), x86 order: rax rcx rdx rbx rsp rbp rsi rdi r8..r15
    __asm__ volatile("push %%rbp\n\t"
                     "push %%rdi\n\t" // gpr
                     "clgi\n\t"
                     "vmload\n\t" // rax = vmcb_pa: the guest's FS/GS/TR/LDTR/syscall MSRs
                     "movq 8(%%rdi), %%rcx\n\t"
                     "movq 16(%%rdi), %%rdx\n\t"
                     "movq 24(%%rdi), %%rbx\n\t"
                     "movq 40(%%rdi), %%rbp\n\t"
                     "movq 48(%%rdi), %%rsi\n\t"
                     "movq 64(%%rdi), %%r8\n\t"
                     "movq 72(%%rdi), %%r9\n\t"
                     "movq 80(%%rdi), %%r10\n\t"
                     "movq 88(%%rdi), %%r11\n\t"
                     "movq 96(%%rdi), %%r12\n\t"
                     "movq 104(%%rdi), %%r13\n\t"
                     "movq 112(%%rdi), %%r14\n\t"
                     "movq 120(%%rdi), %%r15\n\t"
                     "movq 56(%%rdi), %%rdi\n\t"
                     "sti\n\t"
                     "nop\n\t"
                     "vmrun\n\t"  // back here at #VMEXIT with the host's rax, rsp
                     "vmsave\n\t" // the guest's FS/GS/TR/LDTR/syscall MSRs
                     "push %%rdi\n\t"
                     "movq 8(%%rsp), %%rdi\n\t" // gpr
                     "popq 56(%%rdi)\n\t"
                     "movq %%rcx, 8(%%rdi)\n\t"
                     "movq %%rdx, 16(%%rdi)\n\t"
                     "movq %%rbx, 24(%%rdi)\n\t"
                     "movq %%rbp, 40(%%rdi)\n\t"
                     "movq %%rsi, 48(%%rdi)\n\t"
                     "movq %%r8, 64(%%rdi)\n\t"
                     "movq %%r9, 72(%%rdi)\n\t"
                     "movq %%r10, 80(%%rdi)\n\t"
                     "movq %%r11, 88(%%rdi)\n\t"
                     "movq %%r12, 96(%%rdi)\n\t"
                     "movq %%r13, 104(%%rdi)\n\t"
                     "movq %%r14, 112(%%rdi)\n\t"
                     "movq %%r15, 120(%%rdi)\n\t"
                     "movq %2, %%rax\n\t"
                     "vmload\n\t" // the host's again
                     "cli\n\t"
                     "stgi\n\t"
                     "pop %%rdi\n\t"
                     "pop %%rbp"
                     : "+a"(vmcb_pa), "+D"(gpr)
                     : "m"(svm_host_state_pa)
                     : "rbx", "rcx", "rdx", "rsi", "r8", "r9", "r10", "r11", "r12", "r13", "r14",
                       "r15", "memory", "cc");
}

void svm_run(struct vcpu *v, struct vcpu_exit *e)
{
    struct vmcb *vm = v->ctl;
    struct svm_vcpu *s = svm_of(v);
    // v still owns the ASID of its last run: that is its tag's (set_guest_root and every flush
    // end the ownership), and its TLB entries are v's own. tlb_control is VMCB_TLB_NONE here:
    // zero in a new VMCB, and set so again after each run.
    uint32_t hw = s->hw_asid;
    if (!hw || asid_owner[hw] != v) {
        hw = hw_asid(s->tag);
        vm->tlb_control =
            (svm_features & SVM_FEAT_FLUSH_ASID) ? VMCB_TLB_FLUSH_ASID : VMCB_TLB_FLUSH_ALL;
        asid_owner[hw] = v;
        s->hw_asid = hw;
    }
    vm->asid = hw; // never 0: that is the host's (APM 15.16 "TLB Control")
    // the VMM's event: EVENTINJ, or V_IRQ for an interrupt (nothing to do with none queued)
    if (s->queued_event & VMCB_EVENT_VALID) svm_events_before_run(v);
    if (svm_tsc_aux_hw && s->tsc_aux != svm_host_tsc_aux) wrmsr(MSR_TSC_AUX, s->tsc_aux);
    vm->rax = v->gpr[RS_GPR_RAX];
    vm->rsp = v->gpr[RS_GPR_RSP];
    if (s->dr_live)
        __asm__ volatile(
            "mov %0, %%db0; mov %1, %%db1; mov %2, %%db2; mov %3, %%db3" ::"r"(s->dr[0]),
            "r"(s->dr[1]), "r"(s->dr[2]), "r"(s->dr[3]));
    if (!svm_host_saved) svm_host_save();
    VCPU_PROF(0);
    svm_world_switch(v->gpr, v->ctl_phys);
    VCPU_PROF(1);
    vm = v->ctl; // loaded again rather than kept on the stack: only v (rbp) survives the switch
    arch_fs_base = svm_host_fs_base; // what the VMLOAD left in FS base: switch_to's cache
    // (CR0 is the one VMRUN saved: fpu_ts is still right, vcpu_backend.h)
    if (s->dr_live)
        __asm__ volatile("mov %%db0, %0; mov %%db1, %1; mov %%db2, %2; mov %%db3, %3"
                         : "=r"(s->dr[0]), "=r"(s->dr[1]), "=r"(s->dr[2]), "=r"(s->dr[3]));
    if (svm_tsc_aux_hw) { // the guest may have written it (passed through): the host's again
        s->tsc_aux = rdmsr(MSR_TSC_AUX);
        if (s->tsc_aux != svm_host_tsc_aux) wrmsr(MSR_TSC_AUX, svm_host_tsc_aux);
    }
    v->gpr[RS_GPR_RAX] = vm->rax;
    v->gpr[RS_GPR_RSP] = vm->rsp;
    vm->tlb_control = VMCB_TLB_NONE;
    // the usual exit, nothing held and nothing interrupted, is svm_events_after_exit's first
    // step alone
    if ((vm->exitintinfo | s->queued_event) & VMCB_EVENT_VALID) svm_events_after_exit(v);
    else vm->eventinj = 0;
    bool vmm_window = s->vmm_window;
    svm_exit_decode_inline(v, vm, e);
    // VINTR is intercepted only for the VMM's window (svm_event.c); one it no longer wants (a
    // stale request) is no news for it
    if (e->reason == RS_EXIT_INTR_WINDOW && !vmm_window) e->reason = RS_EXIT_NONE;
    if ((e->reason == RS_EXIT_MSR_READ || e->reason == RS_EXIT_MSR_WRITE) && msr_local(v, vm, e))
        e->reason = RS_EXIT_NONE;
    e->seg = svm_exit_seg(v);
    // The host interrupt that ended the run (INTR intercept) is pending since STGI: let it in
    // through the kernel's own vector table (trap_from_kernel), then go back to the scheduler.
    __asm__ volatile("sti; nop; cli" ::: "memory");
}

void svm_advance_rip(struct vcpu *v, uint64_t len)
{
    struct vmcb *vm = v->ctl;
    vm->rip += len;
    vm->int_state &= ~VMCB_INT_SHADOW; // the instruction completed: no STI / MOV SS shadow left
}
