// SPDX-License-Identifier: MIT
// CPU identification: vendor, brand and the virtualisation features that pick a vCPU backend.
#include "arch.h"
#include "cpu.h"
#include "kstring.h"

struct cpu_features cpu_features;

void arch_cpu_probe(void)
{
    uint32_t r[4];
    struct cpu_features *f = &cpu_features;
    cpuid(0, 0, r);
    memcpy(f->vendor, &r[1], 4);
    memcpy(f->vendor + 4, &r[3], 4);
    memcpy(f->vendor + 8, &r[2], 4);
    f->vendor[12] = 0;
    uint32_t max_ext;
    cpuid(0x80000000, 0, r);
    max_ext = r[0];
    if (max_ext >= 0x80000004) {
        for (uint32_t i = 0; i < 3; i++) {
            cpuid(0x80000002 + i, 0, r);
            memcpy(f->brand + 16 * i, r, 16);
        }
        f->brand[48] = 0;
    }
    cpuid(1, 0, r);
    f->vmx = (r[2] >> 5) & 1;
    if (f->vmx) {
        // Secondary controls tell EPT (bit 1), VPID (bit 5), unrestricted guest (bit 7); SDM A.3.3
        uint64_t fc = rdmsr(0x3A);
        uint64_t proc = rdmsr(0x482);
        if ((fc & 1) && !(fc & 4)) f->vmx = false; // locked with VMX off: unusable
        if ((proc >> 63) & 1) {
            uint64_t proc2 = rdmsr(0x48B) >> 32;
            f->ept = (proc2 >> 1) & 1;
            f->vpid = (proc2 >> 5) & 1;
            f->unrestricted = (proc2 >> 7) & 1;
        }
    }
    if (max_ext >= 0x80000001) {
        cpuid(0x80000001, 0, r);
        f->svm = (r[2] >> 2) & 1;
    }
    if (f->svm && max_ext >= 0x8000000A) {
        cpuid(0x8000000A, 0, r);
        f->npt = r[3] & 1;
        f->svm_asids = r[1];
    }
}
