// SPDX-License-Identifier: MIT
// CPUID as the guest sees it (guests/README.md): the host's values, minus what this VMM cannot
// give a guest — VMX and SVM (no nested virtualisation), and XSAVE/AVX, whose state the kernel
// does not switch between guests (docs/virtualization.md) — plus the hypervisor bit and the
// hypervisor leaves at 0x40000000 ("ResurgoVMM  ").
#include "vmm.h"

enum { EAX, EBX, ECX, EDX };

#define LEAF_HV      0x40000000u
#define LEAF_HV_LAST 0x4FFFFFFFu

/* leaf 1 ECX */
#define L1C_MONITOR (1u << 3) /* MONITOR/MWAIT are intercepted: the guest must not rely on them */
#define L1C_VMX     (1u << 5)
#define L1C_SMX     (1u << 6)
#define L1C_FMA     (1u << 12)
#define L1C_XSAVE   (1u << 26)
#define L1C_OSXSAVE (1u << 27)
#define L1C_AVX     (1u << 28)
#define L1C_F16C    (1u << 29)
#define L1C_HV      (1u << 31)
/* leaf 7 EBX: AVX2 and AVX-512 (XSAVE-managed state) */
#define L7B_AVX                                                                                    \
    (1u << 5 | 1u << 16 | 1u << 17 | 1u << 21 | 1u << 26 | 1u << 27 | 1u << 28 | 1u << 30 |        \
     1u << 31)
/* leaf 7 ECX: AVX-512 extensions, PKU/OSPKE */
#define L7C_AVX   (1u << 1 | 1u << 3 | 1u << 4 | 1u << 6 | 1u << 11 | 1u << 12 | 1u << 14)
/* leaf 0x80000001: SVM, and the features whose EFER bits (TCE 15, FFXSR 14) neither the VMM
 * nor the kernel's WriteState accept, so that EFER's writable bits match what CPUID says */
#define LXC_SVM   (1u << 2)
#define LXC_TCE   (1u << 17)
#define LXD_FFXSR (1u << 25)

static void filter(uint32_t leaf, uint32_t r[4])
{
    switch (leaf) {
    case 1:
        r[ECX] &= ~(L1C_MONITOR | L1C_VMX | L1C_SMX | L1C_FMA | L1C_XSAVE | L1C_OSXSAVE | L1C_AVX |
                    L1C_F16C);
        r[ECX] |= L1C_HV;
        break;
    case 7:
        r[EBX] &= ~L7B_AVX;
        r[ECX] &= ~L7C_AVX;
        r[EDX] = 0; // AMX, AVX-512 4VNNIW/4FMAPS and speculation controls: nothing to offer
        break;
    case 0xD:        // XSAVE enumeration
    case 0x8000000A: // SVM features
        r[EAX] = r[EBX] = r[ECX] = r[EDX] = 0;
        break;
    case 0x80000001:
        r[ECX] &= ~(LXC_SVM | LXC_TCE);
        r[EDX] &= ~LXD_FFXSR;
        break;
    default: break;
    }
}

void cpuid_guest(const struct vmm_ops *ops, uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    if (leaf >= LEAF_HV && leaf <= LEAF_HV_LAST) {
        static const char sig[12] = "ResurgoVMM  ";
        r[EAX] = leaf == LEAF_HV ? LEAF_HV : 0;
        r[EBX] = r[ECX] = r[EDX] = 0;
        if (leaf == LEAF_HV) memcpy(&r[EBX], sig, 12);
        return;
    }
    ops->host_cpuid(leaf, sub, r);
    filter(leaf, r);
}
