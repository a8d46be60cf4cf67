// SPDX-License-Identifier: MIT
// Host tests of the VMM's walk through the guest's page tables (servers/vmm/gmem.c) in each
// paging mode, including tables pointing outside RAM and fetches where memory ends.
#include <criterion/criterion.h>
#include "vmm_fake.h"

TestSuite(gmem, .init = fake_setup);

static void put64(uint64_t gpa, uint64_t v) { memcpy(fake_ram + gpa, &v, 8); }
static void put32(uint64_t gpa, uint32_t v) { memcpy(fake_ram + gpa, &v, 4); }

Test(gmem, without_paging_linear_is_physical)
{
    struct gmem_cpu c = {.cr0 = 0x11};
    uint64_t gpa;
    cr_assert(gmem_translate(&fake_vmm, &c, 0x1FED00000ull, &gpa));
    cr_assert_eq(gpa, 0xFED00000, "32-bit: the address wraps at 4 GiB");
}

Test(gmem, four_level_paging_with_4k_2m_and_1g_pages)
{
    struct gmem_cpu c = {.cr0 = 0x80000011, .cr3 = 0x1000, .cr4 = 0x20, .efer = 0x500};
    put64(0x1000, 0x2003);                        // PML4[0] -> PDPT at 0x2000
    put64(0x2000, 0x3003);                        // PDPT[0] -> PD at 0x3000
    put64(0x2008, 0x40000083);                    // PDPT[1]: a 1 GiB page at 1 GiB
    put64(0x3000, 0x4003);                        // PD[0] -> PT at 0x4000
    put64(0x3008, 0x200083);                      // PD[1]: a 2 MiB page at 2 MiB
    put64(0x4000 + 5 * 8, 0x8000000000007003ull); // PT[5]: 0x7000, NX set
    uint64_t gpa;
    cr_assert(gmem_translate(&fake_vmm, &c, 0x5123, &gpa));
    cr_assert_eq(gpa, 0x7123);
    cr_assert(gmem_translate(&fake_vmm, &c, 0x212345, &gpa));
    cr_assert_eq(gpa, 0x212345);
    cr_assert(gmem_translate(&fake_vmm, &c, 0x40001234, &gpa));
    cr_assert_eq(gpa, 0x40001234);
    cr_assert(!gmem_translate(&fake_vmm, &c, 0x6000, &gpa), "not present");
    put64(0x4000 + 6 * 8, 0x7F000001); // PT[6] present, but...
    put64(0x3010, 0x7FFFF003);         // PD[2] -> a table beyond RAM
    cr_assert(!gmem_translate(&fake_vmm, &c, 0x400000, &gpa), "a table outside RAM ends the walk");
}

Test(gmem, pae_and_32_bit_paging)
{
    uint64_t gpa;
    struct gmem_cpu pae = {.cr0 = 0x80000011, .cr3 = 0x1000, .cr4 = 0x20};
    put64(0x1000 + 3 * 8, 0x2001);     // PDPTE[3] -> PD at 0x2000
    put64(0x2000 + 502 * 8, 0x200083); // 0xFEC00000: a 2 MiB page at 2 MiB
    cr_assert(gmem_translate(&fake_vmm, &pae, 0xFEC01234, &gpa));
    cr_assert_eq(gpa, 0x201234);
    struct gmem_cpu p32 = {.cr0 = 0x80000011, .cr3 = 0x3000, .cr4 = 0x10};
    put32(0x3000 + 1 * 4, 0x00400083); // PDE[1]: a 4 MiB page (PSE)
    put32(0x3000 + 2 * 4, 0x00005003); // PDE[2] -> PT at 0x5000
    put32(0x5000 + 3 * 4, 0x00009003); // PTE[3] -> 0x9000
    cr_assert(gmem_translate(&fake_vmm, &p32, 0x00412345, &gpa));
    cr_assert_eq(gpa, 0x412345);
    cr_assert(gmem_translate(&fake_vmm, &p32, 0x00803ABC, &gpa));
    cr_assert_eq(gpa, 0x9ABC);
    p32.cr4 = 0; // without PSE, PS means nothing: PDE[1] is a table at 4 MiB, outside RAM
    cr_assert(!gmem_translate(&fake_vmm, &p32, 0x00400000, &gpa));
}

Test(gmem, a_fetch_follows_pages_and_stops_where_memory_ends)
{
    struct gmem_cpu c = {.cr0 = 0x80000011, .cr3 = 0x1000, .cr4 = 0x20, .efer = 0x500};
    put64(0x1000, 0x2003);
    put64(0x2000, 0x3003);
    put64(0x3000, 0x4003);
    put64(0x4000 + 1 * 8, 0x9003); // 0x1000 -> 0x9000
    put64(0x4000 + 2 * 8, 0x7003); // 0x2000 -> 0x7000 (not contiguous)
    fake_ram[0x9FFE] = 0xAA, fake_ram[0x9FFF] = 0xBB, fake_ram[0x7000] = 0xCC;
    uint8_t b[4];
    cr_assert_eq(gmem_fetch(&fake_vmm, &c, 0x1FFE, b, 3), 3);
    cr_assert(b[0] == 0xAA && b[1] == 0xBB && b[2] == 0xCC);
    cr_assert_eq(gmem_fetch(&fake_vmm, &c, 0x2FFE, b, 4), 2, "0x3000 is not mapped");
    struct gmem_cpu flat = {.cr0 = 0x11};
    cr_assert_eq(gmem_fetch(&fake_vmm, &flat, FAKE_RAM_SIZE - 1, b, 4), 1, "RAM ends");
}
