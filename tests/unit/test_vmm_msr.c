// SPDX-License-Identifier: MIT
// Host tests of the VMM's MSRs (servers/vmm/msr.c), EFER's architectural rules included.
#include <criterion/criterion.h>
#include "vmm_fake.h"

TestSuite(msr);

Test(msr, reads)
{
    uint64_t v = 1;
    cr_assert_eq(msr_read(MSR_APIC_BASE, 0, 0, &v), MSR_DONE);
    cr_assert_eq(v, 0xFEE00900);
    msr_read(MSR_TSC, 0, 777, &v);
    cr_assert_eq(v, 777);
    msr_read(MSR_EFER, 0xD01 | 1u << 12, 0, &v);
    cr_assert_eq(v, 0xD01, "EFER as the guest has it, without the kernel's SVME");
    msr_read(0x12345678, 0, 0, &v);
    cr_assert_eq(v, 0);
}

Test(msr, efer_writes)
{
    const struct msr_guest g = {.efer = 0, .cr0 = 0x11, .ext_edx = ~0u};
    uint64_t efer = 0;
    cr_assert_eq(msr_write(MSR_EFER, 0x901, &g, &efer), MSR_SET_EFER);
    cr_assert_eq(efer, 0x901);
    cr_assert_eq(msr_write(MSR_EFER, 0x500, &g, &efer), MSR_SET_EFER);
    cr_assert_eq(efer, 0x100, "LMA is the CPU's");
    cr_assert_eq(msr_write(MSR_EFER, 1u << 12, &g, &efer), MSR_GP, "no SVME for the guest");
    cr_assert_eq(msr_write(MSR_EFER, 1u << 14, &g, &efer), MSR_GP, "no FFXSR");
    cr_assert_eq(msr_write(MSR_EFER, 1u << 15, &g, &efer), MSR_GP, "no TCE");
    cr_assert_eq(msr_write(MSR_EFER, 1ull << 40, &g, &efer), MSR_GP, "reserved");
    cr_assert_eq(msr_write(MSR_APIC_BASE, 0, &g, &efer), MSR_DONE, "other writes are ignored");
}

/* Issue 16 item 11: the architectural EFER rules (SDM vol. 4 IA32_EFER, APM vol. 2 3.1.7). */
Test(msr, efer_rules)
{
    uint64_t efer = 0x77;
    struct msr_guest lm = {.efer = 0x500, .cr0 = 0x80000011, .ext_edx = ~0u};
    cr_assert_eq(msr_write(MSR_EFER, 0x000, &lm, &efer), MSR_GP, "LME cleared under paging");
    cr_assert_eq(msr_write(MSR_EFER, 0x400, &lm, &efer), MSR_GP, "LMA alone does not keep LME");
    cr_assert_eq(msr_write(MSR_EFER, 0x101, &lm, &efer), MSR_SET_EFER);
    cr_assert_eq(efer, 0x501, "LMA keeps its value: the bit written is ignored");
    struct msr_guest pg32 = {.efer = 0, .cr0 = 0x80000011, .ext_edx = ~0u};
    cr_assert_eq(msr_write(MSR_EFER, 0x100, &pg32, &efer), MSR_GP, "LME set under paging");
    cr_assert_eq(msr_write(MSR_EFER, 0x801, &pg32, &efer), MSR_SET_EFER, "NXE, SCE: fine");
    cr_assert_eq(efer, 0x801);
    struct msr_guest bare = {.efer = 0, .cr0 = 0x11, .ext_edx = 0};
    cr_assert_eq(msr_write(MSR_EFER, 0x800, &bare, &efer), MSR_GP, "NXE without CPUID NX");
    cr_assert_eq(msr_write(MSR_EFER, 0x100, &bare, &efer), MSR_GP, "LME without CPUID LM");
    cr_assert_eq(msr_write(MSR_EFER, 0x001, &bare, &efer), MSR_GP, "SCE without CPUID SYSCALL");
    cr_assert_eq(msr_write(MSR_EFER, 0x000, &bare, &efer), MSR_SET_EFER);
    cr_assert_eq(efer, 0);
}
