/* SPDX-License-Identifier: MIT */
/* Address spaces: VSpace (PML4) objects, page tables and frames mapped into them. Caps of mapped
 * frames and tables record (ASID, vaddr); the ASID table tells whether that VSpace still lives. */
#pragma once
#include <stdint.h>
#include "cap.h"
#include "invoke.h"
#include "asid.h"

/* Physical address of the PML4 a VSpace cap names, 0 if the cap is not a VSpace. */
uint64_t vspace_root_phys(const struct cap *c);
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
/* Frame Map by the running thread t (a system call on frame cap c, message info `info`) when
 * every check passes and nothing is unusual (a RAM frame, default attributes, one extra cap):
 * maps it and returns to t from the kernel. Otherwise returns having changed nothing: the
 * general invocation path then maps it or reports the error. */
void frame_map_fast(struct tcb *t, struct cap *c, uint64_t info);

/* Kernel-internal mapping used to build init: maps a frame at vaddr in the VSpace of
 * `vspace_cap`, creating intermediate tables from `alloc_table` as needed. */
int vspace_map_boot(struct cap *vspace_cap, uint64_t vaddr, uint64_t frame_phys, unsigned rights,
                    uint64_t (*alloc_table)(void));
