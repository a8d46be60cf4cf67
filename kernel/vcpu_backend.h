/* SPDX-License-Identifier: MIT */
/* The one interface behind which the two virtualisation backends live: AMD SVM (arch/x86_64/svm)
 * and Intel VT-x (arch/x86_64/vmx). Generic code (vcpu.c, guestspace.c) calls only this; the
 * backend is picked once at boot from CPUID. Generic code never includes a vendor header.
 *
 * Shared contract (struct vcpu is in vcpu.h):
 * - v->gpr[16] (x86 encoding order: rax rcx rdx rbx rsp rbp rsi rdi r8..r15) holds ALL guest
 *   GPRs between runs; a backend moves the ones its hardware keeps in the control page (SVM:
 *   rax, rsp; VMX: rsp) in before entry and out after the exit. Everything else (rip, rflags,
 *   control registers, segments, pending event) lives in the control page.
 * - The generic layer loads the guest's FPU image v->fpu before run() (fpu_claim, which clears
 *   CR0.TS; when v->fpu owns the registers already TS may be set, as the guest runs on its own
 *   CR0) and leaves it in the registers, owned by v->fpu, after it; host threads reach the FPU
 *   only through #NM (CR0.TS, fpu.h). run() must not depend on TS and must return with fpu_ts
 *   telling the host CR0's TS: VMX's exit loads VMCS_HOST_CR0, whose TS may differ
 *   (fpu_leave_guest reads it); SVM's #VMEXIT restores the CR0 VMRUN saved, unchanged.
 *   Generic code validates state before set_state. */
#pragma once
#include <stdint.h>
#include <stdbool.h>
#include <resurgo/vcpu.h>

struct vcpu; /* the generic VCPU object (kernel/vcpu.h) */

/* What a backend reports after one guest run, vendor-neutral. */
struct vcpu_exit {
    uint32_t reason; /* rs_vcpu_exit_reason; RS_EXIT_NONE: a host interrupt, nothing for the VMM */
    uint64_t qual, gpa, insn_len;
    uint64_t raw_reason, raw_qual;
    uint64_t rip, rflags, cr0, cr3, cr4, efer; /* guest state at the exit, for the message */
    uint64_t event; /* the event whose delivery the exit interrupted (RS_EXIT_MR_EVENT), 0: none */
    uint64_t seg;   /* RS_EXIT_MR_SEG (exit_seg), kept current while the exit is held */
};

struct vcpu_backend {
    const char *name;   /* short, in the boot log: "svm", "vmx" */
    const char *vendor; /* the extension's full name */
    /* True when this CPU offers what the backend needs (from cpu_features: SVM with nested
     * paging; VMX with EPT and unrestricted guest). Changes nothing. */
    bool (*probe)(void);
    /* Enables the extension on this CPU (EFER.SVME + host save area / VMXON region). Called
     * once, after probe() and fpu_init (CR4.OSFXSR is set). Returns false if it cannot be used
     * (then no VCPU can be made). */
    bool (*cpu_init)(void);
    /* Prepares a fresh VCPU whose control page (VMCB / VMCS) is at `ctl` (4 KiB, zeroed, its
     * physical address ctl_phys): controls, intercepts and what rs_vcpu_state_t does not hold.
     * The generic layer then gives it the x86 reset state with set_state. */
    void (*vcpu_init)(struct vcpu *v, void *ctl, uint64_t ctl_phys);
    /* The VCPU object is being destroyed (e.g. VMCLEAR its VMCS). May be NULL. */
    void (*vcpu_destroy)(struct vcpu *v);
    /* Points the VCPU at a guest-physical root table and tags its TLB entries (ASID / VPID).
     * tag is the GuestSpace's ASID, 1..4095. */
    void (*set_guest_root)(struct vcpu *v, uint64_t root_phys, uint32_t tag);
    /* State other than the GPRs (see above); the GPR fields of *s are the generic layer's. */
    void (*get_state)(struct vcpu *v, rs_vcpu_state_t *s);
    /* Checks nothing: the generic layer validated what it must (canonical RIP, control register
     * combinations); what the hardware still refuses comes back as RS_EXIT_INVALID_STATE. */
    void (*set_state)(struct vcpu *v, const rs_vcpu_state_t *s);
    /* Runs the guest until an exit the VMM must see or a host interrupt; fills *e (its seg
     * with exit_seg's word: the generic layer computes it again after an invocation that may
     * change it while the exit is held, vcpu_exit_seg_refresh). Called with
     * interrupts off; host interrupts that caused the exit are taken before it returns. An event
     * whose delivery the exit interrupted is kept for the next entry. Failed entry (invalid
     * state) is RS_EXIT_INVALID_STATE, never a kernel crash. */
    void (*run)(struct vcpu *v, struct vcpu_exit *e);
    /* The exit message's RS_EXIT_MR_SEG word (CS / SS attribs, CPL, the interrupt bits), from
     * the guest state now (nothing changes it between an exit and its reply but the reply,
     * WriteState / SetRegister and the VMM's own requests, which only the interrupt bits show;
     * run fills e->seg with it, vcpu_exit_seg_refresh calls it after those). May be NULL
     * (then 0). */
    uint64_t (*exit_seg)(struct vcpu *v);
    /* The four segment-base words RS_EXIT_MR_CS_SS_BASE .. RS_EXIT_MR_GS_BASE into w[0..3], as
     * exit_seg. May be NULL (then 0). */
    void (*exit_bases)(struct vcpu *v, uint64_t *w);
    /* Sets RFLAGS (already checked: reserved bits clear, bit 1 set). */
    void (*set_rflags)(struct vcpu *v, uint64_t rflags);
    /* Adds insn_len (modulo 2^64) to RIP: the exiting instruction completed, so also ends an
     * interrupt shadow (STI / MOV SS). */
    void (*advance_rip)(struct vcpu *v, uint64_t insn_len);
    /* Queues an event (RS_EVENT_* layout, RS_EVENT_VALID set) for the next entry. An external
     * interrupt waits until the guest can take it (RFLAGS.IF set, no STI / MOV SS shadow): the
     * backend asks the hardware for an interrupt window itself and delivers it then, with no
     * exit to the VMM. */
    void (*inject)(struct vcpu *v, uint64_t event);
    /* Asks for (or cancels) an RS_EXIT_INTR_WINDOW exit once the guest can take an interrupt;
     * the request ends with that exit. */
    void (*want_window)(struct vcpu *v, bool on);
    /* Guest-physical table entry for the vendor's format (NPT = x86 page tables with U set;
     * EPT = its own bits): `leaf` maps a 4 KiB frame with RS_RIGHT_* rights, else points to the
     * next-level table. A 2 MiB leaf is the 4 KiB leaf with bit 7 (PS) set in both formats. */
    uint64_t (*guest_pte)(uint64_t phys, unsigned rights, bool leaf);
    bool (*guest_pte_present)(uint64_t pte);
    /* A mapping under root_phys / tag was removed or reduced: no entry may use translations
     * cached before this call (SVM: flush the ASID at the next VMRUN; VMX: INVEPT). */
    void (*flush_guest)(uint64_t root_phys, uint32_t tag);
};

/* The backend chosen at boot, or NULL when the CPU offers neither. */
extern const struct vcpu_backend *vcpu_backend;
extern const struct vcpu_backend svm_backend, vmx_backend;

/* Picks the first backend whose probe() and cpu_init() succeed (SVM, then VMX) and logs it;
 * without one vcpu_backend stays NULL and Retype refuses VCPU and GuestSpace. Once, at boot. */
void vcpu_backend_select(void);
