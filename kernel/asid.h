/* SPDX-License-Identifier: MIT */
/* ASIDs: the table VSpaces and GuestSpaces share (asid.c). A mapped frame's or table's cap
 * records an ASID, and the table tells whether that space still lives. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ASID_COUNT 4096

/* How many ASIDs (and so VSpaces and GuestSpaces) can still be made. */
uint64_t vspace_free_asids(void);
/* Gives `root` (a VSpace's or, with guest, a GuestSpace's root table) a free ASID in *asid_out.
 * Fails with RS_NOT_ENOUGH_MEMORY when none is free. */
int asid_assign(void *root, bool guest, uint32_t *asid_out);
/* Frees the ASID; ignores one no longer naming `root`. */
void asid_release(uint32_t asid, const void *root);
/* The table (asid.c's; read-only elsewhere, so that every guest entry checks its GuestSpace
 * without a call): ASID -> root table (kernel address; 0 is never used), and a bit per ASID
 * naming a GuestSpace. */
extern uint64_t *asid_table[ASID_COUNT];
extern uint64_t asid_guest[ASID_COUNT / 64];

/* The root table of the live space of that kind with this ASID, or NULL. */
static inline void *asid_root(uint32_t asid, bool guest)
{
    if (asid >= ASID_COUNT || ((asid_guest[asid / 64] >> (asid % 64)) & 1) != guest) return NULL;
    return asid_table[asid];
}
