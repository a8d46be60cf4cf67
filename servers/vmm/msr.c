// SPDX-License-Identifier: MIT
// MSRs (guests/README.md): EFER as the guest writes it (it lives in the vCPU state: the caller
// writes it with VCPU WriteState), APIC base, a time-stamp counter; any other MSR reads 0 and
// ignores writes. An EFER write the architecture refuses gets #GP, as on hardware.
#include "vmm.h"

#define EFER_GUEST (EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE) /* what a guest of ours may set */
/* CPUID 0x80000001 EDX: the features that make an EFER bit writable */
#define XD_SYSCALL (1u << 11)
#define XD_NX      (1u << 20)
#define XD_LM      (1u << 29)

enum msr_result msr_read(uint32_t index, uint64_t efer, uint64_t tsc, uint64_t *value)
{
    switch (index) {
    case MSR_EFER: *value = efer & EFER_GUEST; break;
    case MSR_APIC_BASE: *value = APIC_BASE_VALUE; break;
    case MSR_TSC: *value = tsc; break;
    default: *value = 0; break;
    }
    return MSR_DONE;
}

/* The EFER rules of WRMSR (Intel SDM vol. 4 table 2-2 IA32_EFER and vol. 3A 9.8.5; AMD APM
 * vol. 2 3.1.7): bits the CPU does not have are reserved, and so are SCE, LME and NXE when
 * CPUID does not advertise SYSCALL, LM or NX; LME cannot change while CR0.PG = 1; LMA is
 * read-only (the value written is ignored). */
enum msr_result msr_write(uint32_t index, uint64_t value, const struct msr_guest *g, uint64_t *efer)
{
    if (index != MSR_EFER) return MSR_DONE;
    uint64_t allowed = EFER_LMA;
    if (g->ext_edx & XD_SYSCALL) allowed |= EFER_SCE;
    if (g->ext_edx & XD_LM) allowed |= EFER_LME;
    if (g->ext_edx & XD_NX) allowed |= EFER_NXE;
    if (value & ~allowed) return MSR_GP; // SVME among them: the guest has no SVM
    if ((g->cr0 & CR0_PG) && ((value ^ g->efer) & EFER_LME)) return MSR_GP;
    *efer = (value & ~EFER_LMA) | (g->efer & EFER_LMA);
    return MSR_SET_EFER;
}
