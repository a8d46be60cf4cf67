/* SPDX-License-Identifier: MIT */
/* The x86 four-level radix tree that VSpaces (arch/x86_64/vspace.c, x86 page tables) and
 * GuestSpaces (guestspace.c, NPT or EPT) share: 9 bits per level over 4 KiB pages, the address
 * in bits 51:12 of an entry, a 2 MiB leaf marked by bit 7 (PS) in a PD entry (Intel SDM vol. 3A
 * 4.5 and 29.3.2; AMD APM vol. 2 5.3 and 15.25). Only "is this entry present" differs. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "cap.h"

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
