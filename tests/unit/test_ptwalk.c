// SPDX-License-Identifier: MIT
// Host tests of the page-table walker VSpaces and GuestSpaces share (kernel/ptwalk.c), over
// tables at their host addresses (identity "physical" addresses).
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#define PT_PHYS_TO_VIRT(p) ((void *)(uintptr_t)(p))
#include "../../kernel/ptwalk.c"

static bool x86_present(uint64_t e) { return e & 1; } /* x86 and NPT: P */
static bool ept_present(uint64_t e) { return e & 7; } /* EPT: any of R, W, X */

static uint64_t *table(void)
{
    uint64_t *t = aligned_alloc(4096, 4096);
    cr_assert_not_null(t);
    memset(t, 0, 4096);
    return t;
}

static uint64_t link(uint64_t *t, uint64_t bits) { return (uint64_t)(uintptr_t)t | bits; }

/* 0x0000_7FFF_FFFF_F000: the last page below the canonical hole, index 255 then 511 thrice. */
#define ADDR 0x00007FFFFFFFF000ull

Test(ptwalk, indices_and_sizes)
{
    cr_assert_eq(pt_index(ADDR, 4), 255);
    cr_assert_eq(pt_index(ADDR, 3), 511);
    cr_assert_eq(pt_index(ADDR, 2), 511);
    cr_assert_eq(pt_index(ADDR, 1), 511);
    cr_assert_eq(pt_index(0x40201000, 1), 1);
    cr_assert_eq(pt_index(0x40201000, 2), 1);
    cr_assert_eq(pt_index(0x40201000, 3), 1);
    cr_assert_eq(pt_level_size(1), 4096);
    cr_assert_eq(pt_level_size(2), 2u << 20);
    cr_assert_eq(pt_level_size(3), 1u << 30);
    cr_assert_eq(pt_level_size(4), 512ull << 30);
}

Test(ptwalk, missing_tables_name_the_level)
{
    uint64_t *pml4 = table(), *pdpt = table(), *pd = table(), *pt = table();
    unsigned missing = 0;
    cr_assert_null(pt_walk(pml4, ADDR, 1, x86_present, &missing));
    cr_assert_eq(missing, 4);
    cr_assert_eq(pt_walk(pml4, ADDR, 4, x86_present, &missing), &pml4[255], "the root's own entry");
    pml4[255] = link(pdpt, 7);
    cr_assert_null(pt_walk(pml4, ADDR, 1, x86_present, &missing));
    cr_assert_eq(missing, 3);
    pdpt[511] = link(pd, 7);
    cr_assert_null(pt_walk(pml4, ADDR, 1, x86_present, &missing));
    cr_assert_eq(missing, 2);
    cr_assert_eq(pt_walk(pml4, ADDR, 2, x86_present, NULL), &pd[511]);
    pd[511] = link(pt, 7);
    cr_assert_eq(pt_walk(pml4, ADDR, 1, x86_present, &missing), &pt[511]);
    cr_assert_eq(pt_walk(pml4, ADDR - 4096, 1, x86_present, NULL), &pt[510]);
    cr_assert_null(pt_walk(pml4, 0, 1, x86_present, NULL), "another PML4 slot is empty");
    free(pml4), free(pdpt), free(pd), free(pt);
}

Test(ptwalk, a_large_leaf_on_the_way_counts_as_missing)
{
    uint64_t *pml4 = table(), *pdpt = table(), *pd = table();
    pml4[0] = link(pdpt, 7);
    pdpt[0] = link(pd, 7);
    pd[1] = 0x200000 | 0x80 | 7; // a 2 MiB leaf at 2 MiB
    unsigned missing = 0;
    cr_assert_null(pt_walk(pml4, 0x201000, 1, x86_present, &missing));
    cr_assert_eq(missing, 2);
    cr_assert_eq(pt_walk(pml4, 0x201000, 2, x86_present, NULL), &pd[1], "the leaf itself");
    pdpt[1] = 0x40000000 | 0x80 | 7; // a 1 GiB leaf: also in the way
    cr_assert_null(pt_walk(pml4, 0x40000000, 2, x86_present, &missing));
    cr_assert_eq(missing, 3);
    free(pml4), free(pdpt), free(pd);
}

Test(ptwalk, present_is_the_formats)
{
    uint64_t *pml4 = table(), *pdpt = table();
    pml4[0] = link(pdpt, 4); // EPT: execute only, present; x86: P clear
    unsigned missing = 0;
    cr_assert_eq(pt_walk(pml4, 0, 3, ept_present, NULL), &pdpt[0]);
    cr_assert_null(pt_walk(pml4, 0, 3, x86_present, &missing));
    cr_assert_eq(missing, 4);
    pml4[0] = link(pdpt, 1 | (1ull << 63)); // x86 with NX: the address bits exclude bit 63
    cr_assert_eq(pt_walk(pml4, 0, 3, x86_present, NULL), &pdpt[0]);
    free(pml4), free(pdpt);
}

Test(ptwalk, cap_levels)
{
    struct cap c = {0};
    c.type = RS_CAP_PDPT;
    cr_assert_eq(pt_cap_level(&c), 4);
    c.type = RS_CAP_PAGE_DIRECTORY;
    cr_assert_eq(pt_cap_level(&c), 3);
    c.type = RS_CAP_PAGE_TABLE;
    cr_assert_eq(pt_cap_level(&c), 2);
    c.type = RS_CAP_FRAME, c.bits = 12;
    cr_assert_eq(pt_cap_level(&c), 1);
    c.bits = 21;
    cr_assert_eq(pt_cap_level(&c), 2);
    c.type = RS_CAP_ENDPOINT;
    cr_assert_eq(pt_cap_level(&c), 0);
}
