// SPDX-License-Identifier: MIT
// The slot allocator: a first-fit search of a bitmap, starting where the last one ended.
#include "slot_alloc.h"
#include "kstring.h"

void ps_slots_init(ps_slots_t *sa, rs_cptr_t start, rs_cptr_t end)
{
    memset(sa, 0, sizeof(*sa));
    if (start == 0) start = 1;
    if (end < start) end = start;
    if (end - start > PS_SLOTS_MAX) end = start + PS_SLOTS_MAX;
    sa->start = start;
    sa->end = end;
    sa->free_count = (uint32_t)(end - start);
}

static bool bit_get(const ps_slots_t *sa, uint64_t i) { return (sa->used[i / 64] >> (i % 64)) & 1; }
static void bit_set(ps_slots_t *sa, uint64_t i, bool v)
{
    if (v) sa->used[i / 64] |= 1ull << (i % 64);
    else sa->used[i / 64] &= ~(1ull << (i % 64));
}

rs_cptr_t ps_slot_alloc(ps_slots_t *sa) { return ps_slot_alloc_range(sa, 1); }

/* First-fit search for n free slots starting at the hint, wrapping once. */
rs_cptr_t ps_slot_alloc_range(ps_slots_t *sa, unsigned n)
{
    uint64_t len = sa->end - sa->start;
    if (n == 0 || n > sa->free_count) return 0;
    for (unsigned pass = 0; pass < 2; pass++) {
        uint64_t from = pass == 0 ? sa->hint : 0, to = pass == 0 ? len : sa->hint + n;
        if (to > len) to = len;
        uint64_t run = 0;
        for (uint64_t i = from; i < to; i++) {
            run = bit_get(sa, i) ? 0 : run + 1;
            if (run < n) continue;
            uint64_t first = i + 1 - n;
            for (uint64_t j = first; j <= i; j++) bit_set(sa, j, true);
            sa->free_count -= n;
            sa->hint = (uint32_t)(i + 1 < len ? i + 1 : 0);
            return sa->start + first;
        }
    }
    return 0;
}

void ps_slot_free_range(ps_slots_t *sa, rs_cptr_t first, unsigned n)
{
    for (rs_cptr_t s = first; s < first + n; s++) {
        if (s < sa->start || s >= sa->end || !bit_get(sa, s - sa->start)) continue;
        bit_set(sa, s - sa->start, false);
        sa->free_count++;
    }
}

void ps_slot_free(ps_slots_t *sa, rs_cptr_t slot) { ps_slot_free_range(sa, slot, 1); }

bool ps_slot_used(const ps_slots_t *sa, rs_cptr_t slot)
{
    return slot >= sa->start && slot < sa->end && bit_get(sa, slot - sa->start);
}
