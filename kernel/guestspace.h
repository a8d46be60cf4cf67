/* SPDX-License-Identifier: MIT */
/* GuestSpace objects: the root table of a guest-physical address space (NPT or EPT, in the
 * chosen backend's format), with an ASID from the same table as VSpaces. Frames and PDPT/PD/PT
 * objects are mapped into it; their caps record the mapping (CAP_FLAG_MAPPED | CAP_FLAG_GUEST,
 * ASID, guest-physical address) so that deleting them removes it. */
#pragma once
#include "cap.h"
#include "invoke.h"
#include "asid.h"

/* Guest-physical addresses a GuestSpace maps: four levels of 9 bits over 4 KiB pages. */
#define GUEST_PHYS_TOP (1ull << 48)

/* Prepares a freshly retyped (zeroed) GuestSpace root; *asid gets its ASID (cap.small). */
void guest_space_init(void *root, uint32_t *asid);
/* The GuestSpace object is going: releases its ASID and flushes its cached translations. */
void guest_space_finalise(const struct cap *c);
/* True if c is a GuestSpace cap whose object still holds its ASID (inline: every guest entry
 * checks it). */
static inline bool guest_space_live(const struct cap *c)
{
    return c->type == RS_CAP_GUEST_SPACE && asid_root(c->small, true) == (void *)c->obj;
}
/* Removes the guest mapping a frame or table cap records, if still in place, and clears the
 * record (a table is emptied, as for VSpaces). */
void guest_space_unmap_cap(struct cap *c);

/* GuestSpace invocations: Map (CAP0 frame, MR0 gpa, MR1 rights) and Unmap (CAP0 frame). */
int guest_space_decode(struct invocation *inv);
/* PageTable/PageDirectory/PDPT Map whose CAP0 is a GuestSpace (MR0 guest-physical address). */
int guest_space_map_table(struct invocation *inv);
