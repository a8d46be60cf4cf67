// SPDX-License-Identifier: MIT
// The ASID table VSpaces and GuestSpaces share: each live space holds one ASID, which names its
// root table; a mapped frame's or table's cap records the ASID, so the table tells whether the
// space it was mapped into still lives (see asid.h).
#include "asid.h"
#include <stddef.h>
#include <resurgo/errors.h>

uint64_t *asid_table[ASID_COUNT]; /* asid.h */
uint64_t asid_guest[ASID_COUNT / 64];
static uint32_t asid_next = 1;
static uint64_t asid_used = 1;

uint64_t vspace_free_asids(void) { return ASID_COUNT - asid_used; }

int asid_assign(void *root, bool guest, uint32_t *asid_out)
{
    for (uint32_t i = 0; i < ASID_COUNT; i++) {
        uint32_t a = (asid_next + i) % ASID_COUNT;
        if (a && !asid_table[a]) {
            asid_table[a] = root;
            if (guest) asid_guest[a / 64] |= 1ull << (a % 64);
            else asid_guest[a / 64] &= ~(1ull << (a % 64));
            asid_next = a + 1;
            asid_used++;
            *asid_out = a;
            return RS_OK;
        }
    }
    return RS_NOT_ENOUGH_MEMORY;
}

void asid_release(uint32_t asid, const void *root)
{
    if (asid < ASID_COUNT && asid_table[asid] == root) {
        asid_table[asid] = NULL;
        asid_used--;
    }
}
