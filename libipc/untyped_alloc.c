// SPDX-License-Identifier: MIT
// The untyped allocator: best fit over the untyped caps by the kernel's placement rule, with the
// kernel's answer (its watermark) taken over whenever it knows better (see untyped_alloc.h).
#include "untyped_alloc.h"
#include "invoke_stubs.h"

uint64_t ps_object_size(unsigned type, unsigned bits) { return rs_object_size(type, bits); }

/* The kernel's placement rule (kernel/untyped.c): small objects align to their size, page-sized
 * ones to 4 KiB, large frames to 2 MiB, untyped and CNodes to their full size. */
static uint64_t object_align(unsigned type, uint64_t size)
{
    if (type == RS_OBJ_UNTYPED || type == RS_OBJ_CNODE) return size;
    if (size < 4096) return size;
    return type == RS_OBJ_LARGE_FRAME ? 1ull << 21 : 4096;
}

void ps_ut_init(ps_ut_t *ua, ps_untyped_t *storage, unsigned capacity)
{
    ua->ut = storage;
    ua->count = 0;
    ua->capacity = capacity;
}

int ps_ut_add(ps_ut_t *ua, rs_cptr_t cap, unsigned size_bits, uint64_t paddr, bool is_device)
{
    if (size_bits < RS_MIN_UNTYPED_BITS || size_bits > RS_MAX_UNTYPED_BITS)
        return RS_INVALID_ARGUMENT;
    if (ua->count >= ua->capacity) return RS_RANGE_ERROR;
    ua->ut[ua->count++] = (ps_untyped_t){.cap = cap,
                                         .paddr = paddr,
                                         .used = 0,
                                         .size_bits = (uint8_t)size_bits,
                                         .is_device = is_device};
    return RS_OK;
}

int ps_ut_add_bootinfo(ps_ut_t *ua, const rs_bootinfo_t *bi)
{
    for (rs_cptr_t c = bi->untyped.start; c < bi->untyped.end; c++) {
        const rs_untyped_desc_t *d = &bi->untyped_list[c - bi->untyped.start];
        int err = ps_ut_add(ua, c, d->size_bits, d->paddr, d->is_device);
        if (err) return err;
    }
    return RS_OK;
}

/* Where `count` objects would start in u, or ~0 if they do not fit. */
static uint64_t fit_start(const ps_untyped_t *u, uint64_t size, uint64_t align, unsigned count)
{
    uint64_t total = 1ull << u->size_bits;
    uint64_t start = (u->used + align - 1) & ~(align - 1);
    if (start > total || count > (total - start) / size) return ~0ull;
    return start;
}

int ps_ut_retype(ps_ut_t *ua, rs_cptr_t root, unsigned type, unsigned size_bits,
                 rs_cptr_t node_index, unsigned node_depth, rs_cptr_t offset, unsigned count,
                 unsigned *which)
{
    uint64_t size = ps_object_size(type, size_bits), align = object_align(type, size);
    if (size == 0 || count == 0) { // let the kernel say what is wrong, with its detail words
        return ua->count ? ps_untyped_retype(ua->ut[0].cap, root, type, size_bits, node_index,
                                             node_depth, offset, count)
                         : RS_NOT_ENOUGH_MEMORY;
    }
    for (;;) {
        int best = -1;
        for (unsigned i = 0; i < ua->count; i++) {
            const ps_untyped_t *u = &ua->ut[i];
            if (u->is_device || fit_start(u, size, align, count) == ~0ull) continue;
            if (best < 0 || u->size_bits < ua->ut[best].size_bits) best = (int)i;
        }
        if (best < 0) return RS_NOT_ENOUGH_MEMORY;
        ps_untyped_t *u = &ua->ut[best];
        uint64_t start = fit_start(u, size, align, count);
        int err =
            ps_untyped_retype(u->cap, root, type, size_bits, node_index, node_depth, offset, count);
        if (err == RS_NOT_ENOUGH_MEMORY) {
            // VSpaces out of ASIDs get the same error with MR0 0: no other untyped would help
            if (type == RS_OBJ_VSPACE && rs_mr_get(0) == 0) return err;
            // else the kernel knows better: take its watermark (MR0 = bytes left), try again
            uint64_t total = 1ull << u->size_bits, left = rs_mr_get(0);
            u->used = left < total && total - left > u->used ? total - left : total;
            continue;
        }
        if (err == RS_OK) {
            u->used = start + (uint64_t)count * size;
            if (which) *which = (unsigned)best;
        }
        return err;
    }
}

void ps_ut_reset(ps_ut_t *ua, rs_cptr_t cap)
{
    for (unsigned i = 0; i < ua->count; i++)
        if (ua->ut[i].cap == cap) ua->ut[i].used = 0;
}
