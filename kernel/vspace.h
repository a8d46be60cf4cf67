/* SPDX-License-Identifier: MIT */
/* Address spaces: VSpace (PML4) objects, page tables and frames mapped into them. Caps of mapped
 * frames and tables record (ASID, vaddr); the ASID table tells whether that VSpace still lives. */
#pragma once
#include <stdint.h>
#include "cap.h"
#include "invoke.h"

#define ASID_COUNT 4096

/* Physical address of the PML4 a VSpace cap names, 0 if the cap is not a VSpace. */
uint64_t vspace_root_phys(const struct cap *c);
/* How many ASIDs (and so VSpaces and GuestSpaces) can still be made. */
uint64_t vspace_free_asids(void);
/* The ASID table, shared by VSpaces and GuestSpaces (guestspace.c): a mapped frame's or table's
 * cap records an ASID, and the table tells whether that space still lives. Assign fails with
 * RS_NOT_ENOUGH_MEMORY when none is free; release ignores an ASID no longer naming `root`. */
int asid_assign(void *root, bool guest, uint32_t *asid_out);
void asid_release(uint32_t asid, const void *root);
/* The root table of the live space of that kind with this ASID, or NULL. */
void *asid_root(uint32_t asid, bool guest);
/* Prepares a freshly retyped (zeroed) VSpace: kernel half, ASID. Fails if ASIDs ran out. */
int vspace_init(void *pml4, uint32_t *asid_out);
/* The VSpace object is going: release its ASID. */
void vspace_finalise(const struct cap *c);
/* Removes the mapping a frame or table cap holds, if that mapping is still in place. */
void vspace_unmap_cap(struct cap *c);

/* RS_FAILED_LOOKUP's detail for a page-table walk that found the entry at `level` (4 = PML4 ..
 * 1 = PT) empty: the address bits left unresolved below it (39: no PDPT, 30: no PD, 21: no PT),
 * as for a cptr (resurgo/errors.h). */
static inline unsigned vspace_bits_left(unsigned level) { return 12 + 9 * (level - 1); }

/* Invocations on Frame, PageTable/PageDirectory/PDPT caps. */
int frame_decode(struct invocation *inv);
int page_table_decode(struct invocation *inv);

/* Kernel-internal mapping used to build init: maps a frame at vaddr in the VSpace of
 * `vspace_cap`, creating intermediate tables from `alloc_table` as needed. */
int vspace_map_boot(struct cap *vspace_cap, uint64_t vaddr, uint64_t frame_phys, unsigned rights,
                    uint64_t (*alloc_table)(void));
