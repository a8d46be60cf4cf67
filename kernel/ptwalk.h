/* SPDX-License-Identifier: MIT */
/* The x86 four-level radix tree that VSpaces (arch/x86_64/vspace.c, x86 page tables) and
 * GuestSpaces (guestspace.c, NPT or EPT) share: 9 bits per level over 4 KiB pages, the address
 * in bits 51:12 of an entry, a 2 MiB leaf marked by bit 7 (PS) in a PD entry (Intel SDM vol. 3A
 * 4.5 and 29.3.2; AMD APM vol. 2 5.3 and 15.25). Only "is this entry present" differs. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "cap.h"
#include "arch/x86_64/arch.h"

/* Host unit tests build the walk with tables at their own addresses (identity). */
#ifndef PT_PHYS_TO_VIRT
#define PT_PHYS_TO_VIRT(p) PHYS_TO_VIRT(p)
#endif

#define PT_ENTRY_ADDR 0x000FFFFFFFFFF000ull /* address bits of an entry, every format */
#define PT_ENTRY_PS   (1ull << 7)           /* a large leaf above level 1 */

/* Level numbering: 4 = PML4 entry, 3 = PDPT entry, 2 = PD entry, 1 = PT entry. */
static inline unsigned pt_index(uint64_t addr, unsigned level)
{
    return (addr >> (12 + 9 * (level - 1))) & 511;
}
/* Bytes one entry at `level` covers. */
static inline uint64_t pt_level_size(unsigned level) { return 1ull << (12 + 9 * (level - 1)); }

/* The level of the entry that maps cap c: 4 PDPT, 3 page directory, 2 page table or 2 MiB frame,
 * 1 4 KiB frame; 0 for anything else. */
unsigned pt_cap_level(const struct cap *c);

/* The entry for `addr` at `level` under `root` (kernel address), or NULL if a table above it is
 * missing: then *missing (if not NULL) is the level whose entry was not present. A large leaf on
 * the way counts as missing. `present` tells the format's present entries. */
uint64_t *pt_walk(uint64_t *root, uint64_t addr, unsigned level, bool (*present)(uint64_t),
                  unsigned *missing);

/* pt_walk inline, for a caller on a hot path (a pager's Frame Map): with `present` a constant
 * function the test inlines too (pt_walk calls it through the pointer at every level). */
static inline __attribute__((always_inline)) uint64_t *pt_walk_inline(uint64_t *root, uint64_t addr,
                                                                      unsigned level,
                                                                      bool (*present)(uint64_t),
                                                                      unsigned *missing)
{
    uint64_t *table = root;
    for (unsigned l = 4; l > level; l--) {
        uint64_t e = table[pt_index(addr, l)];
        if (!present(e) || (e & PT_ENTRY_PS)) {
            if (missing) *missing = l;
            return (uint64_t *)0;
        }
        table = PT_PHYS_TO_VIRT(e & PT_ENTRY_ADDR);
    }
    return &table[pt_index(addr, level)];
}
