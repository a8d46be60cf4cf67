// SPDX-License-Identifier: MIT
// Host tests of the VMM's CPUID filtering (servers/vmm/cpuid.c), against guests/README.md.
#include <criterion/criterion.h>
#include "vmm_fake.h"

TestSuite(cpuid, .init = fake_setup);

Test(cpuid, vmx_svm_and_xsave_are_hidden_and_the_hypervisor_bit_set)
{
    uint32_t r[4];
    cpuid_guest(&fake_ops, 1, 0, r);
    cr_assert_eq(r[2] & (1u << 5), 0, "VMX");
    cr_assert_eq(r[2] & (1u << 26 | 1u << 27 | 1u << 28), 0, "XSAVE, OSXSAVE, AVX");
    cr_assert_eq(r[2] & (1u << 31), 1u << 31, "hypervisor");
    cr_assert_eq(r[3], 0xFFFFFFFFu, "EDX is the host's");
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
    cr_assert_eq(r[0] & r[1] & r[2] & r[3], 0xFFFFFFFFu, "other leaves are the host's");
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
