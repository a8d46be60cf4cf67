// SPDX-License-Identifier: MIT
// CPUID as the guest sees it (guests/README.md): one CPU (APIC ID 0) with a local APIC in xAPIC
// mode, the host's features minus what this VMM and kernel cannot give a guest, the hypervisor
// bit and the hypervisor leaves at 0x40000000 ("ResurgoVMM  ").
//
// Features are allow-listed per register, so a newer host adds nothing by surprise. Hidden:
// - VMX, SVM, SMX (no nested virtualisation);
// - XSAVE and everything whose state XSAVE manages (AVX*, AVX-512, MPX, PKU, CET, AMX): the
//   kernel switches only the 512-byte FXSAVE image between guests (kernel/arch/x86_64/fpu.c);
// - x2APIC and the TSC-deadline timer: the VMM's local APIC is an xAPIC (lapic.c);
// - the PMU (leaf 0xA, PDCM, AMD's core/NB/LLC counters, IBS, LWP): RDPMC is intercepted and the
//   counter MSRs read 0;
// - MONITOR/MWAIT and MONITORX/MWAITX, WAITPKG: intercepted, not emulated;
// - PCID, INVPCID, FSGSBASE, SMEP, SMAP, LA57: WriteState refuses their CR4 bits
//   (docs/virtualization.md), so a guest that set them could not be given its state back;
// - speculation controls the host owns (leaf 7 EDX: IBRS/IBPB, STIBP, L1D_FLUSH,
//   ARCH_CAPABILITIES, SSBD...; leaf 0x80000008 EBX: AMD's IBPB, IBRS, STIBP, SSBD, VIRT_SSBD):
//   the guest's MSR writes would reach nothing, or the host's mitigation state;
// - SEV/SME (leaf 0x8000001F), SGX, Intel PT, RDT, TSC_ADJUST, thermal and power management
//   (leaf 6 keeps ARAT: the local APIC's timer always runs), AMD's topology extensions
//   (TOPOEXT: leaves 0x8000001D/1E), OSVW, and every leaf beyond 0xB and 0x80000008;
// - leaves 0x15 and 0x16 (TSC and crystal clock): from them Linux 6.1 (native_calibrate_tsc)
//   also takes the crystal as the local APIC timer's clock and skips calibrating it, but the
//   VMM's APIC counts at LAPIC_TIMER_HZ; without them Linux calibrates both against the PIT;
// - RDTSCP and RDPID unless VMM_TSC_AUX is 1 (meson c_args): they read IA32_TSC_AUX, which must
//   be the guest's, switched by both backends, before a guest may see them;
// - FFXSR and TCE: EFER bits neither the VMM nor WriteState accept.
// Topology: leaf 1 EBX says 1 logical processor and APIC ID 0, HTT and CmpLegacy are clear,
// leaf 4 says one core sharing each cache, leaf 0xB one thread in one core, 0x80000008 ECX one
// core.
#include "cpuid.h"
#include "vmm.h"

#ifndef VMM_TSC_AUX
#define VMM_TSC_AUX 0
#endif

enum { EAX, EBX, ECX, EDX };

#define LEAF_HV      0x40000000u
#define LEAF_HV_LAST 0x4FFFFFFFu
#define MAX_BASIC    0xBu
#define LEAF_EXT     0x80000000u
#define MAX_EXT      0x80000008u

#define BIT(n) (1u << (n))

/* leaf 1 ECX: SSE3, PCLMULQDQ, SSSE3, CX16, SSE4.1, SSE4.2, MOVBE, POPCNT, AES, RDRAND */
#define L1C_KEEP                                                                                   \
    (BIT(0) | BIT(1) | BIT(9) | BIT(13) | BIT(19) | BIT(20) | BIT(22) | BIT(23) | BIT(25) | BIT(30))
#define L1C_HV   BIT(31)
/* leaf 1 EDX: FPU VME DE PSE TSC MSR PAE MCE CX8 APIC SEP MTRR PGE MCA CMOV PAT PSE36 CLFSH MMX
 * FXSR SSE SSE2 SS (not PSN, DS, ACPI, HTT, TM, PBE) */
#define L1D_KEEP 0x0F8BFBFFu
/* leaf 7.0 EBX: BMI1, HLE, FDP_EXCPTN_ONLY, BMI2, ERMS, RTM, FPCSDS, RDSEED, ADX, CLFLUSHOPT,
 * CLWB, SHA */
#define L7B_KEEP                                                                                   \
    (BIT(3) | BIT(4) | BIT(6) | BIT(8) | BIT(9) | BIT(11) | BIT(13) | BIT(18) | BIT(19) |          \
     BIT(23) | BIT(24) | BIT(29))
/* leaf 7.0 ECX: UMIP (WriteState takes CR4.UMIP), GFNI (its SSE forms), CLDEMOTE, MOVDIRI,
 * MOVDIR64B; RDPID with TSC_AUX */
#define L7C_KEEP   (BIT(2) | BIT(8) | BIT(25) | BIT(27) | BIT(28))
#define L7C_RDPID  BIT(22)
/* leaf 6 EAX: ARAT */
#define L6A_ARAT   BIT(2)
/* leaf 0x80000001 ECX: LAHF/SAHF, ABM (LZCNT), SSE4A, misaligned SSE, PREFETCHW, TBM */
#define LXC_KEEP   (BIT(0) | BIT(5) | BIT(6) | BIT(7) | BIT(8) | BIT(21))
/* leaf 0x80000001 EDX: leaf 1's bits AMD repeats (0-9, 12-17, 23, 24), SYSCALL, NX, MMXEXT,
 * 1 GiB pages, LM, 3DNow!ext, 3DNow!; RDTSCP with TSC_AUX */
#define LXD_KEEP   0xE5D3FBFFu
#define LXD_RDTSCP BIT(27)
/* leaf 0x80000007 EDX: invariant TSC */
#define L87D_KEEP  BIT(8)
/* leaf 0x80000008 EBX: CLZERO, FXSAVE's error pointers */
#define L88B_KEEP  (BIT(0) | BIT(2))

static void zero(uint32_t r[4]) { r[EAX] = r[EBX] = r[ECX] = r[EDX] = 0; }

static void basic(uint32_t leaf, uint32_t sub, unsigned flags, uint32_t r[4])
{
    switch (leaf) {
    case 0: r[EAX] = r[EAX] < MAX_BASIC ? r[EAX] : MAX_BASIC; break;
    case 1:
        r[EBX] = (r[EBX] & 0xFFFF) | 1u << 16; // APIC ID 0, one logical processor
        r[ECX] = (r[ECX] & L1C_KEEP) | L1C_HV;
        r[EDX] &= L1D_KEEP;
        break;
    case 2: break;                   // cache descriptors
    case 4: r[EAX] &= 0x3FFF; break; // one core, one thread per cache (bits 31:14 zero)
    case 6:
        zero(r);
        r[EAX] = L6A_ARAT;
        break;
    case 7:
        if (sub) {
            zero(r);
            break;
        }
        r[EAX] = 0; // no subleaf 1
        r[EBX] &= L7B_KEEP;
        r[ECX] &= L7C_KEEP | (flags & CPUID_TSC_AUX ? L7C_RDPID : 0);
        r[EDX] = 0;
        break;
    case 0xB: // x2APIC topology: sub 0 the thread level, sub 1 the core level, one of each
        r[EAX] = 0;
        r[EBX] = sub < 2 ? 1 : 0;
        r[ECX] = (sub & 0xFF) | (sub < 2 ? (sub + 1) << 8 : 0);
        r[EDX] = 0; // x2APIC ID
        break;
    default: zero(r); break;
    }
}

static void extended(uint32_t leaf, unsigned flags, uint32_t r[4])
{
    switch (leaf) {
    case LEAF_EXT:
        if (r[EAX] > MAX_EXT) r[EAX] = MAX_EXT;
        break;
    case 0x80000001:
        r[ECX] &= LXC_KEEP;
        r[EDX] &= LXD_KEEP | (flags & CPUID_TSC_AUX ? LXD_RDTSCP : 0);
        break;
    case 0x80000002: // brand string
    case 0x80000003:
    case 0x80000004:
    case 0x80000005: // AMD L1 caches and TLBs
    case 0x80000006: break;
    case 0x80000007:
        r[EAX] = r[EBX] = r[ECX] = 0;
        r[EDX] &= L87D_KEEP;
        break;
    case 0x80000008: // EAX: address sizes; ECX: one core (NC 0, no APIC ID core bits)
        r[EBX] &= L88B_KEEP;
        r[ECX] = r[EDX] = 0;
        break;
    default: zero(r); break;
    }
}

void cpuid_filter(uint32_t leaf, uint32_t sub, unsigned flags, uint32_t r[4])
{
    if (leaf < LEAF_HV) basic(leaf, sub, flags, r);
    else if (leaf >= LEAF_EXT && leaf <= 0x8FFFFFFFu) extended(leaf, flags, r);
    else zero(r);
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
    cpuid_filter(leaf, sub, VMM_TSC_AUX ? CPUID_TSC_AUX : 0, r);
}
