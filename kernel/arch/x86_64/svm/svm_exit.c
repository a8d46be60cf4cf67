// SPDX-License-Identifier: MIT
// One run of an SVM guest: its ASID and TLB flush, the event to inject, VMRUN (svm_entry.S), the
// host interrupt that ended it, and the exit code decoded into a vendor-neutral reason (AMD64 APM
// vol. 2, 15.6 #VMEXIT, 15.7 intercepts during event delivery, 15.20 event injection, and
// appendix C for the exit codes).
#include "svm.h"
#include "cpu.h"

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

/* Without the NRIPS feature (QEMU has none) the length of the intercepted instruction is its
 * length without prefixes; with it, the CPU reports the next RIP (APM 15.7.1). */
static uint64_t insn_len(const struct vmcb *vm, uint64_t plain)
{
    return (svm_features & SVM_FEAT_NRIPS) ? vm->nrip - vm->rip : plain;
}

/* An event whose delivery the exit interrupted (EXITINTINFO) is injected again at the next
 * VMRUN, else it would be lost (APM 15.7.2); INTn, INT3 and INTO are not: their instruction did
 * not complete and raises them again when it runs again. */
static void keep_interrupted_event(struct vmcb *vm)
{
    uint64_t ev = vm->exitintinfo;
    vm->eventinj = 0;
    if (!(ev & VMCB_EVENT_VALID)) return;
    uint64_t type = VMCB_EVENT_TYPE(ev), vec = VMCB_EVENT_VECTOR(ev);
    if (type == RS_EVENT_SOFT_INT || (type == RS_EVENT_EXCEPTION && (vec == 3 || vec == 4))) return;
    vm->eventinj = ev;
}

static void decode_io(const struct vmcb *vm, struct vcpu_exit *e)
{
    // EXITINFO1 (APM 15.10.2): bit 0 IN, 2 string, 3 REP, 4/5/6 size 8/16/32, 31:16 port;
    // EXITINFO2 is the RIP of the next instruction
    uint64_t i1 = vm->exitinfo1;
    uint64_t size = (i1 & (1u << 4)) ? 1 : (i1 & (1u << 5)) ? 2 : 4;
    e->reason = RS_EXIT_IO;
    e->qual = rs_io_qual((uint16_t)(i1 >> 16), (unsigned)size, i1 & 1, i1 & 4, i1 & 8);
    e->insn_len = vm->exitinfo2 - vm->rip;
}

static void decode_npf(const struct vmcb *vm, struct vcpu_exit *e)
{
    // EXITINFO1 is a #PF error code (APM 15.25.6): bit 0 present, 1 write, 4 fetch; EXITINFO2
    // the guest-physical address
    uint64_t i1 = vm->exitinfo1;
    bool write = i1 & 2, fetch = i1 & 16;
    e->reason = RS_EXIT_GUEST_FAULT;
    e->gpa = vm->exitinfo2;
    e->qual = rs_fault_qual(!write && !fetch, write, fetch, i1 & 1);
}

/* The guest's first debug-register access (intercept_dr, svm.c): from now on it owns DR0-3,
 * which svm_run switches around each VMRUN, and its accesses no longer exit. The instruction
 * runs again, on the guest's own values. Without this a guest would read the DR0-3 another
 * guest left in the CPU, and its own would leak to the next. */
static void dr_own(struct vcpu *v, struct vmcb *vm)
{
    svm_of(v)->dr_live = true;
    vm->intercept_dr = 0;
}

static void decode_exit(struct vcpu *v, struct vmcb *vm, struct vcpu_exit *e)
{
    uint64_t code = vm->exitcode;
    if ((uint32_t)code == (uint32_t)SVM_EXIT_INVALID) code = SVM_EXIT_INVALID; // QEMU writes 32 bits
    *e = (struct vcpu_exit){
        .reason = RS_EXIT_OTHER, .raw_reason = code, .raw_qual = vm->exitinfo1, .rip = vm->rip,
        .rflags = vm->rflags, .cr0 = vm->cr0, .cr3 = vm->cr3, .cr4 = vm->cr4,
        .efer = vm->efer & ~(uint64_t)EFER_SVME};
    // EXITINTINFO (APM 15.7.2) has EVENTINJ's layout, the neutral one: vector, type, EV, V, error
    if (vm->exitintinfo & VMCB_EVENT_VALID) e->event = vm->exitintinfo & 0xFFFFFFFF80000FFFull;
    switch (code) {
    case SVM_EXIT_INTR:
    case SVM_EXIT_NMI:
    case SVM_EXIT_SMI:
    case SVM_EXIT_INIT:
        e->reason = RS_EXIT_NONE; // the host's: taken below, the guest goes on afterwards
        return;
    case SVM_EXIT_IOIO:
        decode_io(vm, e);
        return;
    case SVM_EXIT_NPF:
        decode_npf(vm, e);
        return;
    case SVM_EXIT_CPUID:
        e->reason = RS_EXIT_CPUID;
        e->insn_len = insn_len(vm, 2);
        return;
    case SVM_EXIT_MSR: // EXITINFO1: 0 RDMSR, 1 WRMSR
        e->reason = vm->exitinfo1 ? RS_EXIT_MSR_WRITE : RS_EXIT_MSR_READ;
        e->qual = (uint32_t)v->gpr[RS_GPR_RCX];
        e->insn_len = insn_len(vm, 2);
        return;
    case SVM_EXIT_HLT:
        e->reason = RS_EXIT_HLT;
        e->insn_len = insn_len(vm, 1);
        return;
    case SVM_EXIT_VMMCALL:
        e->reason = RS_EXIT_VMCALL;
        e->insn_len = insn_len(vm, 3);
        return;
    case SVM_EXIT_VINTR: // the window the VMM asked for: the request ends here
        e->reason = RS_EXIT_INTR_WINDOW;
        svm_want_window(v, false);
        return;
    case SVM_EXIT_SHUTDOWN: // a triple fault; the VMCB state is undefined now (APM "Shutdown Intercept")
        e->reason = RS_EXIT_TRIPLE_FAULT;
        return;
    case SVM_EXIT_INVALID:
        e->reason = RS_EXIT_INVALID_STATE;
        return;
    default:
        if (code >= SVM_EXIT_READ_DR0 && code <= SVM_EXIT_WRITE_DR15) {
            dr_own(v, vm);
            e->reason = RS_EXIT_NONE;
            return;
        }
        if (code == SVM_EXIT_EXCP_BASE + 1) {
            // an intercepted #DB already wrote DR6 (in the VMCB), but the delivery the VMM asks
            // for must also clear DR7.GD after a general-detect #DB (APM vol. 2, 13.1.1.5)
            if (vm->dr6 & (1u << 13)) vm->dr7 &= ~(1ull << 13);
        }
        if (code >= SVM_EXIT_EXCP_BASE && code < SVM_EXIT_EXCP_BASE + 32) {
            e->reason = RS_EXIT_EXCEPTION; // EXITINFO1: the error code, if the vector has one
            e->qual = (code - SVM_EXIT_EXCP_BASE) | (uint64_t)(uint32_t)vm->exitinfo1 << 32;
            return;
        }
        e->insn_len = (svm_features & SVM_FEAT_NRIPS) && vm->nrip ? vm->nrip - vm->rip : 0;
        return;
    }
}

void svm_run(struct vcpu *v, struct vcpu_exit *e)
{
    struct vmcb *vm = v->ctl;
    struct svm_vcpu *s = svm_of(v);
    uint32_t hw = hw_asid(s->tag);
    vm->asid = hw; // never 0: that is the host's (APM 15.16 "TLB Control")
    vm->tlb_control = VMCB_TLB_NONE;
    if (asid_owner[hw] != v || s->hw_asid != hw) {
        vm->tlb_control = (svm_features & SVM_FEAT_FLUSH_ASID) ? VMCB_TLB_FLUSH_ASID : VMCB_TLB_FLUSH_ALL;
        asid_owner[hw] = v;
        s->hw_asid = hw;
    }
    if (!(vm->eventinj & VMCB_EVENT_VALID) && (s->queued_event & VMCB_EVENT_VALID)) {
        vm->eventinj = s->queued_event;
        s->queued_event = 0;
    }
    vm->rax = v->gpr[RS_GPR_RAX];
    vm->rsp = v->gpr[RS_GPR_RSP];
    if (s->dr_live)
        __asm__ volatile("mov %0, %%db0; mov %1, %%db1; mov %2, %%db2; mov %3, %%db3"
                         ::"r"(s->dr[0]), "r"(s->dr[1]), "r"(s->dr[2]), "r"(s->dr[3]));
    svm_enter(v->gpr, v->ctl_phys, svm_host_state_pa);
    if (s->dr_live)
        __asm__ volatile("mov %%db0, %0; mov %%db1, %1; mov %%db2, %2; mov %%db3, %3"
                         : "=r"(s->dr[0]), "=r"(s->dr[1]), "=r"(s->dr[2]), "=r"(s->dr[3]));
    v->gpr[RS_GPR_RAX] = vm->rax;
    v->gpr[RS_GPR_RSP] = vm->rsp;
    vm->tlb_control = VMCB_TLB_NONE;
    keep_interrupted_event(vm);
    decode_exit(v, vm, e);
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

void svm_inject(struct vcpu *v, uint64_t event) { svm_of(v)->queued_event = event; }

/* A virtual interrupt that VINTR intercepts: the exit comes as soon as the guest could take it
 * (IF set, no shadow), before it does (APM 15.21.4). */
void svm_want_window(struct vcpu *v, bool on)
{
    struct vmcb *vm = v->ctl;
    uint64_t bits = VMCB_INT_V_IRQ | VMCB_INT_V_IGN_TPR | (0xFull << VMCB_INT_V_PRIO_SHIFT);
    if (on) {
        vm->int_ctl |= bits;
        vm->intercept_misc1 |= VMCB_I1_VINTR;
    } else {
        vm->int_ctl &= ~bits;
        vm->intercept_misc1 &= ~VMCB_I1_VINTR;
    }
}
