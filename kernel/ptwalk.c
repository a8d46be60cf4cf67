// SPDX-License-Identifier: MIT
// The page-table walk VSpaces and GuestSpaces share (see ptwalk.h).
#include <stddef.h>
#include "ptwalk.h"
#include "arch/x86_64/arch.h"

/* Host unit tests build this file with tables at their own addresses (identity). */
#ifndef PT_PHYS_TO_VIRT
#define PT_PHYS_TO_VIRT(p) PHYS_TO_VIRT(p)
#endif

unsigned pt_cap_level(const struct cap *c)
{
    switch (c->type) {
    case RS_CAP_PDPT: return 4;
    case RS_CAP_PAGE_DIRECTORY: return 3;
    case RS_CAP_PAGE_TABLE: return 2;
    case RS_CAP_FRAME: return c->bits == 21 ? 2 : 1;
    default: return 0;
    }
}

uint64_t *pt_walk(uint64_t *root, uint64_t addr, unsigned level, bool (*present)(uint64_t),
                  unsigned *missing)
{
    uint64_t *table = root;
    for (unsigned l = 4; l > level; l--) {
        uint64_t e = table[pt_index(addr, l)];
        if (!present(e) || (e & PT_ENTRY_PS)) {
            if (missing) *missing = l;
            return NULL;
        }
        table = PT_PHYS_TO_VIRT(e & PT_ENTRY_ADDR);
    }
    return &table[pt_index(addr, level)];
}
