// SPDX-License-Identifier: MIT
// Untyped_Retype: its decode step checks type, size, count, destination slots and room; its
// invoke step creates the objects and their caps as children of the untyped (so that revoking it
// destroys them all).
#include "untyped.h"
#include "object.h"
#include "cnode.h"
#include "cdt.h"
#include "kstring.h"
#include <resurgo/invocation.h>

uint64_t object_size(unsigned type, unsigned bits) { return rs_object_size(type, bits); }

void untyped_revoked(struct slot *s)
{
    if (s->cap.type == RS_CAP_UNTYPED && !cdt_has_children(s))
        cap_ut_set_watermark(&s->cap, 0), cap_ut_set_zeroed(&s->cap, 0);
}

/* Zeroes [from, end) of the untyped's region, a page at a time with a preemption point after
 * each, recording in w2 how far it got. Returns false if it stopped. */
static bool zero_region(struct cap *ut, uint64_t from, uint64_t end)
{
    while (from < end) {
        uint64_t n = end - from < UNTYPED_ZERO_CHUNK ? end - from : UNTYPED_ZERO_CHUNK;
        // 8 bytes a store (kstring's memset goes a byte at a time): objects are at least 32
        // bytes and 32-byte aligned, so from and n are multiples of 8
        volatile uint64_t *p = (uint64_t *)(uintptr_t)(ut->obj + from);
        for (uint64_t i = 0; i < n / 8; i++) p[i] = 0;
        from += n;
        cap_ut_set_zeroed(ut, from);
        if (from < end && preempt_point(UNTYPED_ZERO_COST)) return false;
    }
    return true;
}

/* Retype: `count` objects of `type` and `bits`, `size` bytes each, at offset `start` of the
 * untyped in slot `ut_slot`, their caps into the empty slots dst[0..count). `empty`: the untyped
 * had no children. Cannot fail, but may stop at a preemption point (RS_PREEMPTED) and be
 * repeated. An emptied untyped forgets what was zeroed in it, once: a repeat must not. */
static int untyped_invoke_retype(struct slot *ut_slot, unsigned type, unsigned bits, uint64_t size,
                                 uint64_t start, uint64_t count, struct slot *dst, bool empty)
{
    struct cap *ut = &ut_slot->cap;
    uint64_t used = empty ? 0 : cap_ut_watermark(ut);
    if (empty && cap_ut_watermark(ut)) cap_ut_set_watermark(ut, 0), cap_ut_set_zeroed(ut, 0);
    uint64_t end = start + count * size;
    bool device = ut->flags & CAP_FLAG_DEVICE;
    if (!device && type != RS_OBJ_UNTYPED) {
        // [watermark, zeroed) is known to be zero: nothing has touched memory above the watermark
        uint64_t from = cap_ut_zeroed(ut) > used ? cap_ut_zeroed(ut) : used;
        if (!zero_region(ut, from, end)) return RS_PREEMPTED;
    }
    for (uint64_t i = 0; i < count; i++) {
        uint64_t obj = ut->obj + start + i * size;
        dst[i].cap = object_create(type, bits, obj, device);
        cdt_insert(ut_slot, &dst[i]);
    }
    cap_ut_set_watermark(ut, end);
    if (cap_ut_zeroed(ut) < end) cap_ut_set_zeroed(ut, end);
    return RS_OK;
}

/* Retype MR0 type, MR1 size_bits, MR2 node_index, MR3 node_depth, MR4 node_offset, MR5 count;
 * CAP0 the root CNode: checks type, size, count, the destination slots and room. */
static int untyped_decode_retype(struct invocation *inv)
{
    INV_NEED_ARGS(inv, 6);
    INV_NEED_CAPS(inv, 1);
    struct cap *ut = inv->cap;
    uint64_t type = inv_arg(inv, 0), bits = inv_arg(inv, 1), index = inv_arg(inv, 2);
    uint64_t depth = inv_arg(inv, 3), offset = inv_arg(inv, 4), count = inv_arg(inv, 5);

    if (type >= RS_OBJ_TYPE_COUNT) return inv_error(inv, RS_INVALID_ARGUMENT, 0, 0, 0);
    if (type == RS_OBJ_VCPU || type == RS_OBJ_GUEST_SPACE) {
        if (!object_virt_supported()) return inv_error(inv, RS_NOT_SUPPORTED, 0, 0, 0);
    }
    uint64_t size = object_size((unsigned)type, bits > 63 ? 0 : (unsigned)bits);
    if (!size) {
        uint64_t lo = type == RS_OBJ_CNODE ? 1 : RS_MIN_UNTYPED_BITS;
        uint64_t hi = type == RS_OBJ_CNODE ? RS_MAX_CNODE_RADIX : RS_MAX_UNTYPED_BITS;
        return inv_error(inv, RS_RANGE_ERROR, 1, lo, hi);
    }
    if (count < 1 || count > 256) return inv_error(inv, RS_RANGE_ERROR, 5, 1, 256);
    if ((ut->flags & CAP_FLAG_DEVICE) && type != RS_OBJ_FRAME && type != RS_OBJ_LARGE_FRAME &&
        type != RS_OBJ_UNTYPED)
        return inv_error(inv, RS_INVALID_ARGUMENT, 0, 0,
                         0); // device memory holds no kernel objects

    // destination: `count` consecutive empty slots at `offset` in the CNode (index, depth)
    if (inv->extra[0]->cap.type != RS_CAP_CNODE)
        return inv_error(inv, RS_INVALID_CAPABILITY, 1, 0, 0);
    int err;
    struct slot *cn =
        cnode_lookup_arg(inv, inv->extra[0], index, depth, 2, 0, &err); // 0: CAP0 itself
    if (!cn) return err;
    if (cn->cap.type != RS_CAP_CNODE) return inv_error(inv, RS_INVALID_CAPABILITY, 2, 0, 0);
    uint64_t slots = 1ull << cn->cap.bits;
    if (count > slots) return inv_error(inv, RS_RANGE_ERROR, 5, 1, slots);
    if (offset > slots - count) return inv_error(inv, RS_RANGE_ERROR, 4, 0, slots - count);
    struct slot *dst = (struct slot *)cn->cap.obj + offset;
    for (uint64_t i = 0; i < count; i++)
        if (!cap_is_null(&dst[i].cap)) return inv_error(inv, RS_DELETE_FIRST, 4, offset + i, 0);

    // room: an untyped without children is empty, whatever its watermark said
    bool empty = !cdt_has_children(inv->slot);
    uint64_t used = empty ? 0 : cap_ut_watermark(ut);
    uint64_t align = size < 4096 ? size : (type == RS_OBJ_LARGE_FRAME ? 1ull << 21 : 4096);
    if (type == RS_OBJ_UNTYPED || type == RS_OBJ_CNODE) align = size;
    uint64_t start = (used + align - 1) & ~(align - 1);
    uint64_t total = 1ull << ut->bits;
    if (start > total || count * size > total - start)
        return inv_error(inv, RS_NOT_ENOUGH_MEMORY, total > used ? total - used : 0, 0, 0);
    if (object_prepare_check((unsigned)type, count) != RS_OK)
        return inv_error(inv, RS_NOT_ENOUGH_MEMORY, 0, 0, 0);
    return untyped_invoke_retype(inv->slot, (unsigned)type, (unsigned)bits, size, start, count, dst,
                                 empty);
}

int untyped_decode(struct invocation *inv)
{
    if (inv->label != RS_UNTYPED_RETYPE) return inv_error(inv, RS_ILLEGAL_OPERATION, 0, 0, 0);
    return untyped_decode_retype(inv);
}
