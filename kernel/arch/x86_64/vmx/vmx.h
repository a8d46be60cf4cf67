/* SPDX-License-Identifier: MIT */
/* The VT-x backend's private interface: per-VCPU state, CPU capabilities, VMX instructions.
 * Only files in arch/x86_64/vmx/ include this. */
#pragma once
#include <stdint.h>
#include <stdbool.h>
#include "vcpu_backend.h"
#include "vmx_fields.h"

/* Guest GPR slots, in rs_vcpu_state_t order so get/set_state copy them as they are. The RSP
 * slot is unused: the guest RSP lives in the VMCS. vmx_entry.S uses these offsets. */
enum vmx_gpr {
    GPR_RAX, GPR_RBX, GPR_RCX, GPR_RDX, GPR_RSI, GPR_RDI, GPR_RBP, GPR_RSP,
    GPR_R8, GPR_R9, GPR_R10, GPR_R11, GPR_R12, GPR_R13, GPR_R14, GPR_R15, GPR_COUNT
};

/* Per-VCPU backend state, kept in the generic VCPU object (vmx_of). The VMCS itself is the
 * control page the generic layer gave to vcpu_init. */
struct vmx_vcpu {
    uint64_t gpr[GPR_COUNT];   /* guest GPRs while the host runs (first: vmx_entry.S) */
    uint64_t cr2;              /* CR2 is not part of the VMCS (SDM 24.4.1) */
    uint64_t kernel_gs_base;   /* neither is IA32_KERNEL_GS_BASE, which SWAPGS changes */
    uint64_t vmcs_phys;
    void *vmcs;
    uint32_t proc, proc2;      /* the processor-based controls as last written */
    bool launched;             /* VMCS launch state is "launched": VMRESUME, not VMLAUNCH */
    uint8_t fpu[512] __attribute__((aligned(16))); /* guest x87/SSE state (FXSAVE image) */
};

/* Where the generic VCPU object keeps the backend's per-VCPU state (at least
 * VCPU_BACKEND_DATA_SIZE bytes, 64-byte aligned, zeroed before vcpu_init). */
#ifndef VCPU_BACKEND_DATA_SIZE
#define VCPU_BACKEND_DATA_SIZE 1024
#endif
void *vcpu_backend_data(struct vcpu *v);
_Static_assert(sizeof(struct vmx_vcpu) <= VCPU_BACKEND_DATA_SIZE, "vmx_vcpu too big");
static inline struct vmx_vcpu *vmx_of(struct vcpu *v) { return vcpu_backend_data(v); }

/* What cpu_init found and chose, for every VMCS this CPU sets up. */
struct vmx_caps {
    uint32_t revision;
    uint32_t pin, proc, proc2, exit, entry; /* controls after the allowed-0/1 adjustment */
    uint64_t cr0_set, cr0_clr, cr4_set, cr4_clr; /* guest CR bits VMX forces on / off */
    uint64_t ept_vpid;                     /* IA32_VMX_EPT_VPID_CAP */
    bool vpid;                             /* VPIDs usable (control and INVVPID) */
};
extern struct vmx_caps vmx_caps;

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
    __asm__ volatile("vmwrite %1, %2; setna %0" : "=qm"(bad) : "rm"(v), "r"(field) : "cc", "memory");
    if (bad) vmx_insn_failed("vmwrite", field);
}

/* Makes the VCPU's VMCS the current one (VMPTRLD) unless it already is. */
void vmx_load(struct vmx_vcpu *x);

/* vmx_entry.S: loads the guest GPRs, VMLAUNCH (launched = 0) or VMRESUME, and after the VM exit
 * saves them again. Returns 0 after a VM exit, 1 on VMfailValid (see VM-instruction error),
 * 2 on VMfailInvalid. */
int vmx_enter(uint64_t *gpr, uint64_t launched);
void vmx_exit_stub(void); /* HOST_RIP */

/* vmx_exit.c: turns the exit just taken into a vendor-neutral one. Returns false when the
 * backend handled the exit itself and the guest should simply be entered again. */
bool vmx_exit_decode(struct vmx_vcpu *x, struct vcpu_exit *e);

/* vmx_state.c: guest state to and from the VMCS (the backend's get_state / set_state). */
void vmx_get_state(struct vcpu *v, rs_vcpu_state_t *s);
void vmx_set_state(struct vcpu *v, const rs_vcpu_state_t *s);

/* Backend operations the interface does not have yet (see the report / vcpu_backend.h). */
void vmx_vcpu_fini(struct vcpu *v);
void vmx_guest_flush(uint64_t root_phys, uint32_t tag);

/* ept.c: EPT entries, EPT pointer and the invalidations that go with them (SDM 28.2, 28.3). */
uint64_t vmx_guest_pte(uint64_t phys, unsigned rights, bool leaf);
bool vmx_guest_pte_present(uint64_t pte);
uint64_t ept_pointer(uint64_t root_phys);
void ept_invalidate(uint64_t root_phys);
void vpid_invalidate(uint16_t vpid);
