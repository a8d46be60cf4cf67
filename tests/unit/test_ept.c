// SPDX-License-Identifier: MIT
// Host tests of the EPT entry format (kernel/arch/x86_64/vmx/ept.c): a guest's RAM is
// write-back with the guest's PAT ignored, as in the kernel's physmap, whatever the rights.
#include <criterion/criterion.h>
#include <resurgo/rights.h>
#include "vmx/vmx.h"

struct vmx_caps vmx_caps; /* vmx.c's, which this test does not link */
void vmx_insn_failed(const char *insn, uint64_t arg)
{
    cr_assert_fail("%s %lx", insn, (unsigned long)arg);
}

#define EPT_MEMTYPE(e) (((e) >> 3) & 7)
#define EPT_IPAT       (1ull << 6)

Test(ept, leaves_are_write_back_and_ignore_the_guest_pat)
{
    const unsigned rights[] = {RS_RIGHT_READ, RS_RIGHT_READ | RS_RIGHT_WRITE,
                               RS_RIGHT_READ | RS_RIGHT_EXEC, RS_RIGHTS_ALL};
    for (unsigned i = 0; i < sizeof(rights) / sizeof(rights[0]); i++) {
        uint64_t e = vmx_guest_pte(0x12345000, rights[i], true);
        cr_assert_eq(EPT_MEMTYPE(e), 6, "rights %x: memory type %llu, not WB", rights[i],
                     (unsigned long long)EPT_MEMTYPE(e));
        // without IPAT the guest's PAT (or its PCD/PWT bits) could make the page UC or WC while
        // the physmap maps it WB: conflicting memory types (SDM vol. 3A 11.12.4)
        cr_assert(e & EPT_IPAT, "rights %x: the guest's PAT is not ignored", rights[i]);
        cr_assert_eq(e & 0x000FFFFFFFFFF000ull, 0x12345000);
    }
}

Test(ept, tables_carry_no_memory_type)
{
    uint64_t e = vmx_guest_pte(0x5000, RS_RIGHTS_ALL, false);
    cr_assert_eq(e & 0x78, 0, "bits 6:3 are reserved in non-leaf entries (SDM 28.2.2)");
    cr_assert_eq(e & 7, 7);
}
