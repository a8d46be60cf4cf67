// SPDX-License-Identifier: MIT
// CPU identification: vendor, brand, the virtualisation features that pick a vCPU backend, and the
// supervisor-mode protections (SMEP, SMAP) that are switched on where the CPU has them.
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
    cpuid(0, 0, r);
    if (r[0] >=
        7) { // structured extended features: SMEP EBX bit 7, SMAP EBX bit 20 (SDM vol. 2A CPUID)
        cpuid(7, 0, r);
        f->smep = (r[1] >> 7) & 1;
        f->smap = (r[1] >> 20) & 1;
        // Rogue data cache load (Meltdown): Intel CPUs unless IA32_ARCH_CAPABILITIES (MSR 0x10A,
        // present if CPUID.7.0:EDX bit 29) says RDCL_NO (bit 0); AMD's are not affected
        bool arch_caps = (r[3] >> 29) & 1;
        f->meltdown = !strcmp(f->vendor, "GenuineIntel") && !(arch_caps && (rdmsr(0x10A) & 1));
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

/* Read by the interrupt entry (entry.S), which clears RFLAGS.AC only where clac exists. */
uint8_t smap_enabled;

void arch_cpu_protect(void)
{
    const struct cpu_features *f = &cpu_features;
    // SMEP: the kernel never runs code from a user page; SMAP: it never reads or writes one (it
    // reaches user memory only through the physmap), so neither needs stac/clac around kernel
    // code (Intel SDM vol. 3A 4.6.1, 4.6.2).
    uint64_t cr4 = read_cr4();
    if (f->smep) cr4 |= CR4_SMEP;
    if (f->smap) cr4 |= CR4_SMAP;
    write_cr4(cr4);
    smap_enabled = f->smap;
}
