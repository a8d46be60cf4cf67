/* SPDX-License-Identifier: MIT */
/* The VT-x backend's private interface: per-VCPU state, CPU capabilities, VMX instructions.
 * Only files in arch/x86_64/vmx/ include this. */
#pragma once
#include <stdint.h>
#include <stdbool.h>
#include "../../../vcpu.h"
#include "vmx_fields.h"
#include <resurgo/x86.h>

/* Per-VCPU backend state, in the generic VCPU object's arch[] words (vmx_of). The guest GPRs
 * are in v->gpr (x86 encoding order; vmx_entry.S loads and saves them there), its FPU image in
 * v->fpu (loaded by the generic layer, fpu.h), the VMCS in the control page given to vcpu_init. */
/* An entry of a VM-entry / VM-exit MSR area (SDM 24.7.2, 24.8.2, table 24-12). */
struct vmx_msr {
    uint32_t index, reserved;
    uint64_t value;
};
/* The MSRs the guest owns outright that the VMCS has no field for, in this order in each area:
 * the syscall MSRs and KERNEL_GS_BASE (SWAPGS), then TSC_AUX (RDTSCP) when the CPU has it
 * (vmx_msr_count). Loaded at entry, stored at exit (one area, as Xen does), the host's loaded
 * at exit. */
enum vmx_guest_msr {
    VMX_KERNEL_GS,
    VMX_STAR,
    VMX_LSTAR,
    VMX_CSTAR,
    VMX_SFMASK,
    VMX_TSC_AUX,
    VMX_MSRS
};
extern unsigned vmx_msr_count; /* VMX_MSRS, or VMX_TSC_AUX without RDTSCP */

struct vmx_vcpu {
    struct vmx_msr msr[VMX_MSRS] __attribute__((aligned(16))); /* the guest's (physical: vmx.c) */
    uint64_t vmcs_phys;
    uint64_t cr2;         /* CR2 is not part of the VMCS (SDM 24.4.1) */
    uint64_t deferred;    /* a VMM event waiting behind a re-queued one (RS layout), or 0 */
    uint32_t proc, proc2; /* the processor-based controls as last written */
    uint32_t vpid_gen;    /* the VPID generation vpid belongs to (vmx.c) */
    uint64_t dr[4], dr6;  /* the guest's DR0-DR3 and DR6 (DR7 is in the VMCS), once dr_live */
    uint16_t vpid;
    uint8_t tpr;     /* the guest's CR8 (task priority), emulated: never the host's */
    bool dr_live;    /* the guest touched a debug register: its DR0-3/DR6 switch at each run */
    bool launched;   /* VMCS launch state is "launched": VMRESUME, not VMLAUNCH */
    bool requeued;   /* the entry field holds an event an exit interrupted */
    bool vmm_window; /* the VMM asked for an interrupt-window exit */
};
_Static_assert(sizeof(struct vmx_vcpu) <= sizeof(((struct vcpu *)0)->arch), "vmx_vcpu fits arch[]");
static inline struct vmx_vcpu *vmx_of(struct vcpu *v) { return (struct vmx_vcpu *)v->arch; }

/* What cpu_init found and chose, for every VMCS this CPU sets up. */
struct vmx_caps {
    uint32_t revision;
    uint32_t pin, proc, proc2, exit, entry;      /* controls after the allowed-0/1 adjustment */
    uint64_t cr0_set, cr0_clr, cr4_set, cr4_clr; /* guest CR bits VMX forces on / off */
    uint64_t ept_vpid;                           /* IA32_VMX_EPT_VPID_CAP */
    bool vpid;                                   /* VPIDs usable (control and INVVPID) */
    bool soft_len0;        /* software events injectable with instruction length 0 (A.6) */
    bool preempt;          /* the VMX-preemption timer bounds every guest run (vmx.c) */
    uint8_t preempt_shift; /* it counts down once every 2^preempt_shift TSC ticks (A.6) */
};
extern struct vmx_caps vmx_caps;

/* The host's GDTR and IDTR as the kernel set them, taken before any guest ran (vmx_caps.c): a
 * VM exit loads only their bases and sets both limits to 0xFFFF (SDM 27.5.2), so each exit
 * puts them back (vmx_run). */
struct __attribute__((packed)) vmx_dtr {
    uint16_t limit;
    uint64_t base;
};
extern struct vmx_dtr vmx_host_gdtr, vmx_host_idtr;

/* vmx_decode.c: an I/O / EPT-violation exit qualification as the neutral one (rs_io_qual,
 * rs_fault_qual). */
uint64_t vmx_io_qual(uint64_t q);
uint64_t vmx_ept_qual(uint64_t q);
/* vmx_caps.c: true when the CPU has VMX with EPT and unrestricted guest. */
bool vmx_probe(void);
/* vmx_caps.c: chooses the controls and turns VMX on; false (saying why) if it cannot. */
bool vmx_cpu_init(void);
/* vmx_event.c: the backend's inject and want_window (vcpu_backend.h). */
void vmx_inject(struct vcpu *v, uint64_t event);
void vmx_want_window(struct vcpu *v, bool on);
/* vmx_event.c: before an entry with the entry field free, injects the deferred VMM event if the
 * guest can take it now. */
void vmx_deliver_deferred(struct vmx_vcpu *x);

/* VMREAD / VMWRITE on the current VMCS (SDM 30.3). A failure is a kernel bug (wrong field or
 * no current VMCS), so it panics. */
void vmx_insn_failed(const char *insn, uint64_t field);
static inline uint64_t vmread(uint64_t field)
{
    uint64_t v;
    bool bad;
    __asm__ volatile("vmread %2, %0; setna %1" : "=r"(v), "=qm"(bad) : "r"(field) : "cc");
    if (bad) vmx_insn_failed("vmread", field);
    return v;
}
static inline void vmwrite(uint64_t field, uint64_t v)
{
    bool bad;
    __asm__ volatile("vmwrite %1, %2; setna %0"
                     : "=qm"(bad)
                     : "rm"(v), "r"(field)
                     : "cc", "memory");
    if (bad) vmx_insn_failed("vmwrite", field);
}

/* A guest control register as the guest sees it: its own value (the read shadow) for the bits
 * the guest/host mask gives the host, the real one elsewhere (SDM 25.3). */
static inline uint64_t vmx_guest_cr(uint64_t field, uint64_t mask_field, uint64_t shadow_field)
{
    uint64_t mask = vmread(mask_field);
    return (vmread(field) & ~mask) | (vmread(shadow_field) & mask);
}

/* Makes the VCPU's VMCS the current one (VMPTRLD) unless it already is. */
void vmx_load(struct vmx_vcpu *x);

/* vmx_entry.S: loads the guest GPRs but RSP from gpr[] (struct vcpu's, x86 encoding order),
 * VMLAUNCH (launched = 0) or VMRESUME, and after the VM exit saves them there again. Returns 0
 * after a VM exit, 1 on VMfailValid (see the VM-instruction error), 2 on VMfailInvalid. */
int vmx_enter(uint64_t *gpr, uint64_t launched);
void vmx_exit_stub(void); /* HOST_RIP */

/* vmx_exit.c: turns the exit just taken into a vendor-neutral one. Returns false when the
 * backend handled the exit itself and the guest should simply be entered again. */
bool vmx_exit_decode(struct vcpu *v, struct vcpu_exit *e);
/* Fills the guest registers the exit message carries besides the GPRs (rip, rflags, CR0/3/4
 * as the guest sees them, EFER) from the current VMCS. */
void vmx_exit_regs(struct vcpu_exit *e);

/* vmx.c: queues an event (RS_EVENT_* layout, valid bit set) in the current VMCS. */
void vmx_inject_event(uint64_t event);
/* vmx.c: the backend's advance_rip: skips insn_len bytes and ends an STI / MOV SS shadow. */
void vmx_advance_rip(struct vcpu *v, uint64_t insn_len);
/* vmx.c: the guest owns the debug registers from now on: MOV DR no longer exits, and its DR0-3
 * and DR6 (x->dr, x->dr6) are loaded before each entry and saved after each exit. */
void vmx_dr_own(struct vmx_vcpu *x);
/* vmx.c: sets interrupt-window exiting iff the VMM asked for it or a deferred external
 * interrupt waits for the guest to take it. */
void vmx_update_window(struct vmx_vcpu *x);

/* vmx_state.c: guest state to and from the VMCS (the backend's get_state / set_state). */
void vmx_get_state(struct vcpu *v, rs_vcpu_state_t *s);
void vmx_set_state(struct vcpu *v, const rs_vcpu_state_t *s);
/* vmx_state.c: the backend's exit_seg, exit_bases and set_rflags (vcpu_backend.h). */
uint64_t vmx_exit_seg(struct vcpu *v);
void vmx_exit_bases(struct vcpu *v, uint64_t *w);
void vmx_set_rflags(struct vcpu *v, uint64_t rflags);

/* ept.c: EPT entries, EPT pointer and the invalidations that go with them (SDM 28.2, 28.3). */
uint64_t vmx_guest_pte(uint64_t phys, unsigned rights, bool leaf);
bool vmx_guest_pte_present(uint64_t pte);
uint64_t ept_pointer(uint64_t root_phys);
void ept_invalidate(uint64_t root_phys);
void vpid_invalidate(uint16_t vpid);
