/* SPDX-License-Identifier: MIT */
/* The slot allocator: which slots of one CNode are free, as a bitmap over a range. It never
 * looks at the CNode itself. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <resurgo/types.h>

#define PS_SLOTS_MAX 8192

typedef struct ps_slots {
    rs_cptr_t start, end;
    uint32_t free_count;
    uint32_t hint; /* where the next search starts: allocation is mostly sequential */
    uint64_t used[PS_SLOTS_MAX / 64];
} ps_slots_t;

/* Manages the slots [start, end) (clamped to PS_SLOTS_MAX slots; start 0 is moved to 1 because
 * slot 0 must stay null, and 0 is this allocator's failure value). All slots start free. */
void ps_slots_init(ps_slots_t *sa, rs_cptr_t start, rs_cptr_t end);
/* A free slot, now marked used; 0 when none is left. Does not look at the CNode: the caller
 * must only hand this allocator slots that are empty. */
rs_cptr_t ps_slot_alloc(ps_slots_t *sa);
/* The first of n consecutive free slots, now used; 0 when there is no such run (or n == 0). */
rs_cptr_t ps_slot_alloc_range(ps_slots_t *sa, unsigned n);
/* Marks a slot free again (it should be empty by then); slots outside the range are ignored. */
void ps_slot_free(ps_slots_t *sa, rs_cptr_t slot);
void ps_slot_free_range(ps_slots_t *sa, rs_cptr_t first, unsigned n);
/* True if `slot` is inside the range and allocated. */
bool ps_slot_used(const ps_slots_t *sa, rs_cptr_t slot);
