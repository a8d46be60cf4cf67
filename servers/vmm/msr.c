// SPDX-License-Identifier: MIT
// MSRs (guests/README.md): EFER as the guest writes it (it lives in the vCPU state: the caller
// writes it with VCPU WriteState), APIC base, a time-stamp counter; any other MSR reads 0 and
// ignores writes. An EFER value with bits the architecture reserves gets #GP, as on hardware.
#include "vmm.h"

#define EFER_SCE (1ull << 0)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define EFER_NXE (1ull << 11)
#define EFER_GUEST (EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE) /* what a guest of ours may set */

enum msr_result msr_read(uint32_t index, uint64_t efer, uint64_t tsc, uint64_t *value)
{
    switch (index) {
    case MSR_EFER:
        *value = efer & EFER_GUEST;
        break;
    case MSR_APIC_BASE:
        *value = APIC_BASE_VALUE;
        break;
    case MSR_TSC:
        *value = tsc;
        break;
    default:
        *value = 0;
        break;
    }
    return MSR_DONE;
}

enum msr_result msr_write(uint32_t index, uint64_t value, uint64_t *efer)
{
    if (index != MSR_EFER) return MSR_DONE;
    if (value & ~EFER_GUEST) return MSR_GP; // SVME among them: the guest has no SVM
    *efer = value & ~EFER_LMA;              // LMA is the CPU's to set (WriteState derives it)
    return MSR_SET_EFER;
}
