/* SPDX-License-Identifier: MIT */
/* SVM exits decoded into the vendor-neutral exit (AMD64 APM vol. 2, 15.6 #VMEXIT, 15.7, and
 * appendix C for the exit codes): from the VMCB alone, no instruction that needs the CPU, so the
 * host unit tests feed it VMCBs (tests/unit/test_exit_decode.c, through svm_decode.c's
 * svm_exit_decode). Inline: svm_run decodes every exit. */
#pragma once
#include "svm.h"
#include "cpu.h"

/* Without the NRIPS feature (QEMU has none) the length of the intercepted instruction is its
 * length without prefixes; with it, the CPU reports the next RIP (APM 15.7.1). */
static inline uint64_t svm_insn_len(const struct vmcb *vm, uint64_t plain)
{
    return (svm_features & SVM_FEAT_NRIPS) ? vm->nrip - vm->rip : plain;
}

static inline void svm_decode_io(const struct vmcb *vm, struct vcpu_exit *e)
{
    // EXITINFO1 (APM 15.10.2): bit 0 IN, 2 string, 3 REP, 4/5/6 size 8/16/32, 31:16 port;
    // EXITINFO2 is the RIP of the next instruction
    uint64_t i1 = vm->exitinfo1;
    uint64_t size = (i1 & (1u << 4)) ? 1 : (i1 & (1u << 5)) ? 2 : 4;
    e->reason = RS_EXIT_IO;
    e->qual = rs_io_qual((uint16_t)(i1 >> 16), (unsigned)size, i1 & 1, i1 & 4, i1 & 8);
    e->insn_len = vm->exitinfo2 - vm->rip;
}

static inline void svm_decode_npf(const struct vmcb *vm, struct vcpu_exit *e)
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
static inline void svm_dr_own(struct vcpu *v, struct vmcb *vm)
{
    svm_of(v)->dr_live = true;
    vm->intercept_dr = 0;
}

/* svm_exit_decode, inline for svm_run (svm.h). */
static inline __attribute__((always_inline)) void svm_exit_decode_inline(struct vcpu *v,
                                                                         struct vmcb *vm,
                                                                         struct vcpu_exit *e)
{
    uint64_t code = vm->exitcode;
    if ((uint32_t)code == (uint32_t)SVM_EXIT_INVALID)
        code = SVM_EXIT_INVALID; // QEMU writes 32 bits
    // field by field: a compound literal would zero the whole struct first (every exit pays)
    e->reason = RS_EXIT_OTHER;
    e->qual = e->gpa = e->insn_len = 0;
    e->raw_reason = code;
    e->raw_qual = vm->exitinfo1;
    e->rip = vm->rip;
    e->rflags = vm->rflags;
    e->cr0 = vm->cr0;
    e->cr3 = vm->cr3;
    e->cr4 = vm->cr4;
    e->efer = vm->efer & ~(uint64_t)EFER_SVME;
    // EXITINTINFO (APM 15.7.2) has EVENTINJ's layout, the neutral one: vector, type, EV, V, error
    e->event = vm->exitintinfo & VMCB_EVENT_VALID ? vm->exitintinfo & 0xFFFFFFFF80000FFFull : 0;
    if (__builtin_expect(code == SVM_EXIT_IOIO, 1)) { // the most frequent: one test, no table
        svm_decode_io(vm, e);
        return;
    }
    switch (code) {
    case SVM_EXIT_INTR:
    case SVM_EXIT_NMI:
    case SVM_EXIT_SMI:
    case SVM_EXIT_INIT:
        e->reason = RS_EXIT_NONE; // the host's: taken below, the guest goes on afterwards
        return;
    case SVM_EXIT_NPF: svm_decode_npf(vm, e); return;
    case SVM_EXIT_CPUID:
        e->reason = RS_EXIT_CPUID;
        e->insn_len = svm_insn_len(vm, 2);
        return;
    case SVM_EXIT_MSR: // EXITINFO1: 0 RDMSR, 1 WRMSR
        e->reason = vm->exitinfo1 ? RS_EXIT_MSR_WRITE : RS_EXIT_MSR_READ;
        e->qual = (uint32_t)v->gpr[RS_GPR_RCX];
        e->insn_len = svm_insn_len(vm, 2);
        return;
    case SVM_EXIT_HLT:
        e->reason = RS_EXIT_HLT;
        e->insn_len = svm_insn_len(vm, 1);
        return;
    case SVM_EXIT_VMMCALL:
        e->reason = RS_EXIT_VMCALL;
        e->insn_len = svm_insn_len(vm, 3);
        return;
    case SVM_EXIT_VINTR: // the window the VMM asked for: the request ends here
        e->reason = RS_EXIT_INTR_WINDOW;
        svm_want_window(v, false);
        return;
    case SVM_EXIT_SHUTDOWN: // a triple fault; the VMCB state is undefined now (APM "Shutdown Intercept")
        e->reason = RS_EXIT_TRIPLE_FAULT;
        return;
    case SVM_EXIT_INVALID: e->reason = RS_EXIT_INVALID_STATE; return;
    default:
        if (code >= SVM_EXIT_READ_DR0 && code <= SVM_EXIT_WRITE_DR15) {
            svm_dr_own(v, vm);
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
