// SPDX-License-Identifier: MIT
// CNodes: slot addressing (guarded radix lookup) and the Copy, Mint, Move, Mutate, Delete and
// Revoke invocations, each checked in full by its decode step before anything changes.
#include "cnode.h"
#include "cdt.h"
#include "untyped.h"
#include "console.h"
#include "kstring.h"
#include <resurgo/invocation.h>

void cnode_init(struct slot *slots, unsigned radix)
{
    memset(slots, 0, sizeof(struct slot) << radix);
}

struct slot *cnode_resolve(const struct cap *root, uint64_t cptr, unsigned depth, bool exact,
                           struct lookup_fault *f)
{
    struct lookup_fault dummy;
    if (!f) f = &dummy;
    f->error = RS_FAILED_LOOKUP;
    f->bits_left = depth;
    if (depth < 1 || depth > 64 || root->type != RS_CAP_CNODE) {
        f->error = root->type != RS_CAP_CNODE ? RS_INVALID_CAPABILITY : RS_RANGE_ERROR;
        return NULL;
    }
    const struct cap *cn = root;
    unsigned left = depth;
    for (;;) {
        unsigned guard_bits = cap_guard_bits(cn), radix = cn->bits, level = guard_bits + radix;
        if (level == 0 || level > left) {
            f->bits_left = left;
            return NULL;
        }
        uint64_t rest = left == 64 ? cptr : cptr & ((1ull << left) - 1);
        uint64_t guard =
            guard_bits ? (rest >> (left - guard_bits)) & ((1ull << guard_bits) - 1) : 0;
        if (guard != cap_guard(cn)) {
            f->bits_left = left;
            return NULL;
        }
        uint64_t index = radix ? (rest >> (left - level)) & ((1ull << radix) - 1) : 0;
        struct slot *s = (struct slot *)cn->obj + index;
        left -= level;
        if (left == 0) {
            f->error = RS_OK;
            f->bits_left = 0;
            return s;
        }
        if (s->cap.type != RS_CAP_CNODE) {
            if (exact) {
                f->bits_left = left;
                return NULL;
            }
            f->error = RS_OK;
            f->bits_left = left;
            return s;
        }
        cn = &s->cap;
    }
}

struct slot *cspace_lookup_slot(struct tcb *t, uint64_t cptr, unsigned depth,
                                struct lookup_fault *f)
{
    return cnode_resolve(&t->slots[TCB_SLOT_CSPACE].cap, cptr, depth, depth != 64, f);
}

struct slot *cspace_lookup_slot_in(struct tcb *t, uint64_t cnode_cptr, uint64_t index,
                                   uint64_t depth)
{
    if (depth < 1 || depth > 64) return NULL;
    struct slot *cn = cspace_lookup_slot(t, cnode_cptr, 64, NULL);
    if (!cn || cn->cap.type != RS_CAP_CNODE) return NULL;
    return cnode_resolve(&cn->cap, index, (unsigned)depth, true, NULL);
}

int cap_derive(const struct cap *src, struct cap *out)
{
    if (cap_is_zombie(src)) return RS_ILLEGAL_OPERATION; // an object halfway through destruction
    switch (src->type) {
    case RS_CAP_NULL:
    case RS_CAP_UNTYPED: // untyped caps are never copied: their watermark lives in the one cap
        return RS_ILLEGAL_OPERATION;
    case RS_CAP_PAGE_TABLE:
    case RS_CAP_PAGE_DIRECTORY:
    case RS_CAP_PDPT:
        // Nor are table caps: a table's mapping is recorded in its one cap. A copy mapped in a
        // second VSpace would keep every frame under the table reachable there after the first
        // VSpace died, since the frames' unmap can no longer find their entries.
        return RS_ILLEGAL_OPERATION;
    default:
        *out = *src;
        out->flags &=
            ~(CAP_FLAG_MAPPED | CAP_FLAG_GUEST); // a copy of a mapped frame is not mapped itself
        if (src->flags & CAP_FLAG_MAPPED) cap_set_mapping(out, 0, 0);
        return RS_OK;
    }
}

/* Cap type of the marker that holds a revoked cap's place while the cap is parked (below). It
 * owns nothing and has no links: deleting it just empties the slot. */
#define CAP_REVOKE_MARK 0xFE
_Static_assert(RS_CAP_TYPE_COUNT < CAP_REVOKE_MARK, "the marker is not a real cap type");

/* Revoke with the cap parked in a slot outside every object. A descendant may be the very CNode
 * that holds `s` (an untyped cap moved into a CNode made from it, or a chain of CNodes leading
 * there): destroying it would delete `s` halfway, and the descendants not yet deleted would be
 * spliced up to `s`'s parent and survive the Revoke. A marker keeps `s`'s place: if its
 * container goes, the marker goes with it, and so does the parked cap. The Revoke stops at a
 * preemption point (RS_PREEMPTED) only while the marker stands: the cap goes back to `s` and a
 * repeat carries on; once the marker is gone it runs to the end. */
static int revoke_parked(struct slot *s)
{
    static struct slot park;
    cdt_move(s, &park);
    s->cap.type = CAP_REVOKE_MARK;
    bool done = cdt_revoke(&park, s);
    if (done) untyped_revoked(&park);
    if (s->cap.type == CAP_REVOKE_MARK) {
        s->cap = cap_null();
        cdt_move(&park, s);
    } else {
        cdt_delete(&park); // its slot was destroyed: the cap goes as if it had been there
    }
    return done ? RS_OK : RS_PREEMPTED;
}

/* Delete: cannot fail, but stops at a preemption point (the syscall restarts and carries on). */
static int cnode_invoke_delete(struct slot *s)
{
    return cdt_delete_preemptible(s) ? RS_OK : RS_PREEMPTED;
}

/* Delete MR0 index, MR1 depth: the slot must resolve (it may be empty). */
static int cnode_decode_delete(struct invocation *inv)
{
    int err;
    INV_NEED_ARGS(inv, 2);
    struct slot *s = cnode_lookup_arg(inv, inv->slot, inv_arg(inv, 0), inv_arg(inv, 1), 0, 1, &err);
    if (!s) return err;
    return cnode_invoke_delete(s);
}

/* Revoke: cannot fail, but may stop at a preemption point (revoke_parked). */
static int cnode_invoke_revoke(struct slot *s)
{
    // nothing to revoke in an empty slot; a zombie has no children: only Delete carries on with it
    if (cap_is_null(&s->cap) || cap_is_zombie(&s->cap)) return RS_OK;
    return revoke_parked(s);
}

/* Revoke MR0 index, MR1 depth: the slot must resolve (it may be empty). */
static int cnode_decode_revoke(struct invocation *inv)
{
    int err;
    INV_NEED_ARGS(inv, 2);
    struct slot *s = cnode_lookup_arg(inv, inv->slot, inv_arg(inv, 0), inv_arg(inv, 1), 0, 1, &err);
    if (!s) return err;
    return cnode_invoke_revoke(s);
}

/* Copy and Mint: the new cap `c` goes into the empty dst as a child of src. Cannot fail. */
static int cnode_invoke_copy(struct slot *src, struct slot *dst, const struct cap *c)
{
    dst->cap = *c;
    cdt_insert(src, dst);
    return RS_OK;
}

/* Move and Mutate: src's cap, as `c`, takes its place in the empty dst. Cannot fail. */
static int cnode_invoke_move(struct slot *src, struct slot *dst, const struct cap *c)
{
    cdt_move(src, dst);
    dst->cap = *c;
    return RS_OK;
}

/* Copy, Mint, Move and Mutate (invoked on the destination root): MR0/MR1 destination index and
 * depth, MR2/MR3 source index and depth below CAP0, MR4 rights (Mint, Mutate), MR5 badge (Mint;
 * optional for Mutate). Builds the new cap and checks everything before the invoke step. Rights
 * only shrink; a badge goes only on an unbadged endpoint or notification cap; for a CNode the
 * "badge" is the new guard (size << 58 | value). */
static int cnode_decode_transfer(struct invocation *inv)
{
    uint64_t label = inv->label;
    bool derive = label == RS_CNODE_COPY || label == RS_CNODE_MINT;
    bool mint = label == RS_CNODE_MINT || label == RS_CNODE_MUTATE;
    int err = RS_OK;
    INV_NEED_ARGS(inv, mint ? (label == RS_CNODE_MINT ? 6 : 5) : 4);
    INV_NEED_CAPS(inv, 1);
    if (inv->extra[0]->cap.type != RS_CAP_CNODE)
        return inv_error(inv, RS_INVALID_CAPABILITY, 1, 0, 0);
    struct slot *dst =
        cnode_lookup_arg(inv, inv->slot, inv_arg(inv, 0), inv_arg(inv, 1), 0, 1, &err);
    if (!dst) return err;
    struct slot *src =
        cnode_lookup_arg(inv, inv->extra[0], inv_arg(inv, 2), inv_arg(inv, 3), 2, 1, &err);
    if (!src) return err;
    if (!cap_is_null(&dst->cap)) return inv_error(inv, RS_DELETE_FIRST, 0, 0, 0);
    if (cap_is_null(&src->cap)) return inv_error(inv, RS_FAILED_LOOKUP, 2, 0, 0);
    if (src == dst) return inv_error(inv, RS_DELETE_FIRST, 0, 0, 0);
    // the zombie stack finds its frames by slot address: only Delete may touch one
    if (cap_is_zombie(&src->cap)) return inv_error(inv, RS_ILLEGAL_OPERATION, 2, 0, 0);

    struct cap c = src->cap;
    if (derive && (err = cap_derive(&src->cap, &c)) != RS_OK) return inv_error(inv, err, 2, 0, 0);
    if (mint) {
        uint64_t rights = inv_arg(inv, 4);
        uint64_t badge = inv->length >= 6 ? inv_arg(inv, 5) : 0;
        if (rights & ~(uint64_t)RS_RIGHTS_ALL) return inv_error(inv, RS_INVALID_ARGUMENT, 4, 0, 0);
        c.rights &= (uint8_t)rights;
        if (c.type == RS_CAP_ENDPOINT || c.type == RS_CAP_NOTIFICATION) {
            if (badge && cap_badge(&c))
                return inv_error(inv, RS_ILLEGAL_OPERATION, 5, 0, 0); // badged already
            if (badge) cap_set_badge(&c, badge);
        } else if (c.type == RS_CAP_CNODE) {
            uint64_t gsize = badge >> 58, gval = badge & ((1ull << 58) - 1);
            if (gsize + c.bits > 64) return inv_error(inv, RS_RANGE_ERROR, 5, 0, 64 - c.bits);
            if (gsize < 58 && (gval >> gsize))
                return inv_error(inv, RS_RANGE_ERROR, 5, 0, (1ull << gsize) - 1);
            cap_set_guard(&c, (unsigned)gsize, gval);
        } else if (badge) {
            return inv_error(inv, RS_INVALID_ARGUMENT, 5, 0, 0);
        }
        // Mutate changes a cap in place of its original: only if nothing was derived from it
        if (label == RS_CNODE_MUTATE && cdt_has_children(src))
            return inv_error(inv, RS_REVOKE_FIRST, 2, 0, 0);
    }
    return derive ? cnode_invoke_copy(src, dst, &c) : cnode_invoke_move(src, dst, &c);
}

int cnode_decode(struct invocation *inv)
{
    switch (inv->label) {
    case RS_CNODE_DELETE: return cnode_decode_delete(inv);
    case RS_CNODE_REVOKE: return cnode_decode_revoke(inv);
    case RS_CNODE_COPY:
    case RS_CNODE_MINT:
    case RS_CNODE_MOVE:
    case RS_CNODE_MUTATE: return cnode_decode_transfer(inv);
    default: return inv_error(inv, RS_ILLEGAL_OPERATION, 0, 0, 0);
    }
}
