/* SPDX-License-Identifier: MIT */
/* What the two halves of the SVM backend share: svm.c (enabling SVM, VMCB set-up, guest state,
 * nested page-table entries) and svm_exit.c (running the guest, decoding exits). */
#pragma once
#include "vcpu.h"
#include "vmcb.h"

/* The backend's part of struct vcpu (its arch[] words). */
struct svm_vcpu {
    uint64_t queued_event; /* the VMM's injection: an external interrupt waits here, in V_IRQ,
                              until the guest takes it; any other event until EVENTINJ is free */
    uint32_t tag;          /* the GuestSpace's ASID (set_guest_root) */
    uint32_t hw_asid;      /* the hardware ASID of the last run (0: not run yet) */
    bool dr_live;          /* the guest touched a debug register: DR0-3 switch at each run */
    bool vmm_window;       /* the VMM asked for an interrupt-window exit */
    uint64_t dr[4];        /* the guest's DR0-DR3 (DR6 and DR7 are in the VMCB) */
    uint64_t tsc_aux;      /* the guest's TSC_AUX (not in the VMCB): switched by svm_run */
};
_Static_assert(sizeof(struct svm_vcpu) <= VCPU_ARCH_WORDS * 8, "fits struct vcpu's arch area");

static inline struct svm_vcpu *svm_of(struct vcpu *v) { return (struct svm_vcpu *)v->arch; }

extern uint32_t svm_asids;         /* CPUID 0x8000000A EBX: ASIDs 1..svm_asids-1 are the guests' */
extern uint32_t svm_features;      /* CPUID 0x8000000A EDX */
extern uint64_t svm_host_state_pa; /* VMSAVE image of the host's FS/GS/TR/LDTR/syscall MSRs */
extern bool svm_tsc_aux_hw;        /* the CPU has RDTSCP: TSC_AUX is the guest's own, switched */
extern uint64_t svm_host_tsc_aux;  /* the host's TSC_AUX, put back after each run */
extern bool svm_host_saved;        /* svm_host_save ran */
extern uint64_t svm_host_fs_base;  /* the FS base in that image: the host's after each exit */
/* VMSAVEs the host's FS/GS/TR/LDTR/syscall MSRs into the image every exit VMLOADs (once: the
 * kernel does not change them after boot, but the FS base). */
void svm_host_save(void);

#define MSR_PAT     0x277
#define MSR_TSC_AUX 0xC0000103

/* svm_decode.h (svm_exit_decode_inline; out of line in svm_decode.c, for the host unit tests):
 * the exit in v's VMCB vm as a vendor-neutral exit in *e (RS_EXIT_NONE: the host's
 * interrupt, or a debug-register access that made the guest the owner of its DR0-3). */
void svm_exit_decode(struct vcpu *v, struct vmcb *vm, struct vcpu_exit *e);

/* The backend's exit_seg (vcpu_backend.h); inline: svm_run fills every exit's word with it. */
static inline uint64_t svm_exit_seg(struct vcpu *v)
{
    const struct vmcb *vm = v->ctl;
    const struct svm_vcpu *s = svm_of(v);
    // bits 32 and up built in one word, shifted once (every exit's message has this word)
    _Static_assert(RS_EXIT_IRQ_SHADOW == 1ull << 40 && RS_EXIT_IRQ_PENDING == 1ull << 41 &&
                       RS_EXIT_IRQ_WINDOW == 1ull << 42 && VMCB_INT_SHADOW == 1 &&
                       VMCB_EVENT_VALID == 1ull << 31,
                   "the bit moves below");
    uint32_t hi = (vm->cpl & 3) | (uint32_t)(vm->int_state & VMCB_INT_SHADOW) << 8 |
                  (uint32_t)(((vm->eventinj | s->queued_event) & VMCB_EVENT_VALID) >> 22) |
                  (uint32_t)s->vmm_window << 10;
    return vm->cs.attrib | (uint32_t)vm->ss.attrib << 16 | (uint64_t)hi << 32;
}

/* svm_exit.c */
void svm_run(struct vcpu *v, struct vcpu_exit *e);
void svm_advance_rip(struct vcpu *v, uint64_t insn_len);

/* svm_event.c. Queues the VMM's event (one at a time: a newer one replaces it); an exception
 * goes straight to EVENTINJ when that is free. */
void svm_inject(struct vcpu *v, uint64_t event);
void svm_want_window(struct vcpu *v, bool on);
/* V_IRQ: the held external interrupt with its vector (the guest takes it), else the VMM's
 * interrupt window (VINTR intercepted), else off. */
void svm_update_window(struct vcpu *v);
/* Before VMRUN: a queued event other than an interrupt into a free EVENTINJ; V_IRQ set. */
void svm_events_before_run(struct vcpu *v);
/* After #VMEXIT: a held interrupt the guest took is done; an event whose delivery the exit
 * interrupted (EXITINTINFO) is delivered again, exactly once. */
void svm_events_after_exit(struct vcpu *v);
void svm_flush_guest(uint64_t root_phys, uint32_t tag);
/* The next VMRUN of v flushes its ASID: its guest TLB may hold stale translations (new guest
 * space, new CR3 written by the VMM) or v's memory is about to be reused. */
void svm_forget(struct vcpu *v);
