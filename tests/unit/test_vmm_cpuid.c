// SPDX-License-Identifier: MIT
// Host tests of the VMM's CPUID filtering (servers/vmm/cpuid.c), against guests/README.md.
#include <criterion/criterion.h>
#include "cpuid.h"
#include "vmm_fake.h"

TestSuite(cpuid, .init = fake_setup);

Test(cpuid, vmx_svm_and_xsave_are_hidden_and_the_hypervisor_bit_set)
{
    uint32_t r[4];
    cpuid_guest(&fake_ops, 1, 0, r);
    cr_assert_eq(r[2] & (1u << 5), 0, "VMX");
    cr_assert_eq(r[2] & (1u << 26 | 1u << 27 | 1u << 28), 0, "XSAVE, OSXSAVE, AVX");
    cr_assert_eq(r[2] & (1u << 31), 1u << 31, "hypervisor");
    cr_assert_eq(r[3], 0x0F8BFBFFu, "EDX: the host's but PSN, DS, ACPI, HTT, TM, PBE");
    cpuid_guest(&fake_ops, 0x80000001, 0, r);
    cr_assert_eq(r[2] & (1u << 2 | 1u << 17), 0, "SVM, TCE (no EFER bit for them)");
    cr_assert_eq(r[3] & (1u << 25), 0, "FFXSR (no EFER bit for it)");
    cr_assert_eq(r[3] & (1u << 11 | 1u << 20 | 1u << 29), 1u << 11 | 1u << 20 | 1u << 29,
                 "SYSCALL, NX, LM are the host's");
    cpuid_guest(&fake_ops, 0xD, 1, r);
    cr_assert(!r[0] && !r[1] && !r[2] && !r[3], "no XSAVE leaf");
    cpuid_guest(&fake_ops, 7, 0, r);
    cr_assert_eq(r[1] & (1u << 5 | 1u << 16), 0, "AVX2, AVX-512F");
    cpuid_guest(&fake_ops, 2, 0, r);
    cr_assert_eq(r[0] & r[1] & r[2] & r[3], 0xFFFFFFFFu, "cache descriptors are the host's");
}

Test(cpuid, hypervisor_leaves)
{
    uint32_t r[4];
    cpuid_guest(&fake_ops, 0x40000000, 0, r);
    cr_assert_eq(r[0], 0x40000000);
    cr_assert_eq(memcmp(&r[1], "ResurgoVMM  ", 12), 0);
    cpuid_guest(&fake_ops, 0x40000001, 0, r);
    cr_assert(!r[0] && !r[1] && !r[2] && !r[3]);
    cpuid_guest(&fake_ops, 0x4FFFFFFF, 0, r);
    cr_assert(!r[0] && !r[1] && !r[2] && !r[3]);
}

/* Host answers all ones: every bit the filter lets through shows. */
static void guest(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    cpuid_guest(&fake_ops, leaf, sub, r);
}

Test(cpuid, one_cpu_with_apic_id_0)
{
    uint32_t r[4];
    guest(1, 0, r);
    cr_assert_eq(r[1] >> 24, 0, "leaf 1 EBX 31:24: initial APIC ID 0 (lapic_reset(0))");
    cr_assert_eq(r[1] >> 16 & 0xFF, 1, "one logical processor");
    cr_assert_eq(r[1] & 0xFFFF, 0xFFFF, "brand index and CLFLUSH size are the host's");
    cr_assert_eq(r[3] & (1u << 28), 0, "no HTT");
    cr_assert_eq(r[3] & (1u << 9), 1u << 9, "the APIC is there");
    guest(4, 0, r);
    cr_assert_eq(r[0] >> 14, 0, "leaf 4: one core, one thread sharing the cache");
    cr_assert_eq(r[0] & 0x3FFF, 0x3FFF, "cache type and level are the host's");
    guest(0xB, 0, r);
    cr_assert(r[0] == 0 && r[1] == 1 && r[2] == 0x100 && r[3] == 0, "thread level: one");
    guest(0xB, 1, r);
    cr_assert(r[0] == 0 && r[1] == 1 && r[2] == 0x201 && r[3] == 0, "core level: one");
    guest(0xB, 2, r);
    cr_assert(r[0] == 0 && r[1] == 0 && r[2] == 2 && r[3] == 0, "no third level");
    guest(0x80000001, 0, r);
    cr_assert_eq(r[2] & (1u << 1 | 1u << 22), 0, "no CmpLegacy, no TOPOEXT");
    guest(0x80000008, 0, r);
    cr_assert_eq(r[2], 0, "ECX: one core, no core bits in the APIC ID");
    cr_assert_eq(r[0], 0xFFFFFFFFu, "address sizes are the host's");
    guest(0x8000001E, 0, r);
    cr_assert(!r[0] && !r[1] && !r[2] && !r[3], "no AMD topology leaf");
}

Test(cpuid, apic_timer_and_pmu_features_the_vmm_does_not_emulate_are_hidden)
{
    uint32_t r[4];
    guest(1, 0, r);
    cr_assert_eq(r[2] & (1u << 21), 0, "x2APIC");
    cr_assert_eq(r[2] & (1u << 24), 0, "TSC-deadline");
    cr_assert_eq(r[2] & (1u << 3), 0, "MONITOR/MWAIT");
    cr_assert_eq(r[2] & (1u << 15), 0, "PDCM");
    cr_assert_eq(r[2] & (1u << 17), 0, "PCID");
    cr_assert_eq(r[2] & (1u << 12 | 1u << 29), 0, "FMA, F16C (VEX)");
    cr_assert_eq(r[2] & (1u << 0 | 1u << 19 | 1u << 20 | 1u << 25 | 1u << 30),
                 1u << 0 | 1u << 19 | 1u << 20 | 1u << 25 | 1u << 30, "SSE3, SSE4, AES, RDRAND");
    guest(0xA, 0, r);
    cr_assert(!r[0] && !r[1] && !r[2] && !r[3], "leaf 0xA: no PMU");
    guest(5, 0, r);
    cr_assert(!r[0] && !r[1] && !r[2] && !r[3], "leaf 5: no MONITOR");
    guest(6, 0, r);
    cr_assert(r[0] == 4 && !r[1] && !r[2] && !r[3], "leaf 6: ARAT only");
    guest(0x80000001, 0, r);
    cr_assert_eq(r[2] & (1u << 23 | 1u << 24 | 1u << 28 | 1u << 10 | 1u << 15 | 1u << 29), 0,
                 "AMD perf counters, IBS, LWP, MONITORX");
    cr_assert_eq(r[2] & (1u << 11 | 1u << 16), 0, "XOP, FMA4 (VEX)");
}

Test(cpuid, leaf_7_hides_cr4_features_xsave_state_and_speculation_controls)
{
    uint32_t r[4];
    guest(7, 0, r);
    cr_assert_eq(r[0], 0, "no subleaf 1");
    cr_assert_eq(r[1] & (1u << 0 | 1u << 7 | 1u << 10 | 1u << 20), 0,
                 "FSGSBASE, SMEP, INVPCID, SMAP (WriteState refuses their CR4 bits)");
    cr_assert_eq(r[1] & (1u << 1 | 1u << 2 | 1u << 14 | 1u << 25), 0, "TSC_ADJUST, SGX, MPX, PT");
    cr_assert_eq(r[1] & (1u << 3 | 1u << 8 | 1u << 9 | 1u << 18 | 1u << 19),
                 1u << 3 | 1u << 8 | 1u << 9 | 1u << 18 | 1u << 19, "BMI1/2, ERMS, RDSEED, ADX");
    cr_assert_eq(r[2] & (1u << 3 | 1u << 5 | 1u << 7 | 1u << 16 | 1u << 22), 0,
                 "PKU, WAITPKG, CET, LA57, RDPID");
    cr_assert_eq(r[2] & (1u << 2), 1u << 2, "UMIP");
    cr_assert_eq(r[3], 0, "EDX: IBRS/IBPB, STIBP, L1D_FLUSH, ARCH_CAPABILITIES, SSBD");
    guest(7, 1, r);
    cr_assert(!r[0] && !r[1] && !r[2] && !r[3], "subleaf 1");
    guest(0x80000008, 0, r);
    cr_assert_eq(r[1], 1u << 0 | 1u << 2, "EBX: CLZERO and XSaveErPtr; no IBPB, IBRS, STIBP, SSBD");
    guest(0x80000007, 0, r);
    cr_assert(!r[0] && !r[1] && !r[2] && r[3] == 1u << 8, "invariant TSC only");
}

Test(cpuid, sev_and_leaves_beyond_the_maximum_are_zero)
{
    uint32_t r[4];
    guest(0, 0, r);
    cr_assert_eq(r[0], 0xB, "basic leaves up to 0xB");
    cr_assert_eq(r[1] & r[2] & r[3], 0xFFFFFFFFu, "the host's vendor");
    guest(0x80000000, 0, r);
    cr_assert_eq(r[0], 0x80000008, "extended leaves up to 0x80000008");
    static const uint32_t gone[] = {3,          0xD,        0x15,       0x16,       0x12,
                                    0x14,       0x1F,       0x8000000A, 0x8000001D, 0x8000001F,
                                    0x80000021, 0xC0000000, 0x90000000};
    for (unsigned i = 0; i < sizeof(gone) / sizeof(gone[0]); i++) {
        guest(gone[i], 0, r);
        cr_assert(!r[0] && !r[1] && !r[2] && !r[3], "leaf %#x", gone[i]);
    }
}

Test(cpuid, rdtscp_and_rdpid_follow_the_tsc_aux_switch)
{
    uint32_t r[4] = {~0u, ~0u, ~0u, ~0u};
    cpuid_filter(0x80000001, 0, 0, r);
    cr_assert_eq(r[3] & (1u << 27), 0, "RDTSCP hidden without TSC_AUX");
    r[0] = r[1] = r[2] = r[3] = ~0u;
    cpuid_filter(0x80000001, 0, CPUID_TSC_AUX, r);
    cr_assert_eq(r[3] & (1u << 27), 1u << 27, "shown with it");
    r[0] = r[1] = r[2] = r[3] = ~0u;
    cpuid_filter(7, 0, 0, r);
    cr_assert_eq(r[2] & (1u << 22), 0, "RDPID hidden");
    r[0] = r[1] = r[2] = r[3] = ~0u;
    cpuid_filter(7, 0, CPUID_TSC_AUX, r);
    cr_assert_eq(r[2] & (1u << 22), 1u << 22, "RDPID shown");
    guest(0x80000001, 0, r);
    cr_assert_eq(r[3] & (1u << 27), 0, "the VMM's default (VMM_TSC_AUX 0): hidden");
}
