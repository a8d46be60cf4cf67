// SPDX-License-Identifier: MIT
// The page-table walk VSpaces and GuestSpaces share (see ptwalk.h).
#include <stddef.h>
#include "ptwalk.h"
#include "arch/x86_64/arch.h"

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
    return pt_walk_inline(root, addr, level, present, missing);
}
