/* SPDX-License-Identifier: MIT */
/* CNodes and capability addressing. A cptr is resolved through guarded CNodes (seL4 scheme):
 * each CNode cap has a guard (size, value) and a radix; the bits of the cptr are consumed
 * most-significant first, guard then index, until `depth` bits are used. */
#pragma once
#include "cap.h"
#include "tcb.h"
#include "invoke.h"

struct lookup_fault {
    int error;          /* RS_FAILED_LOOKUP or RS_INVALID_CAPABILITY... */
    unsigned bits_left; /* how many bits were left unresolved */
};

/* Resolves `cptr` of `depth` bits starting at the CNode cap `root`. When `exact`, it must
 * consume exactly depth bits; otherwise it stops at the first slot not holding a CNode (seL4's
 * rule for invoked caps). Returns the slot or NULL, with the reason in *f (may be NULL). */
struct slot *cnode_resolve(const struct cap *root, uint64_t cptr, unsigned depth, bool exact,
                           struct lookup_fault *f);
/* The slot `cptr` names in thread t's CSpace, as used for the invoked cap (depth 64). */
struct slot *cspace_lookup_slot(struct tcb *t, uint64_t cptr, unsigned depth,
                                struct lookup_fault *f);
/* The slot (index, depth) relative to the CNode that `cnode_cptr` names in t's CSpace. */
struct slot *cspace_lookup_slot_in(struct tcb *t, uint64_t cnode_cptr, uint64_t index,
                                   uint64_t depth);

/* Resolves the slot (index, depth) below the CNode in slot `root` for an invocation: `arg_index`
 * is index's argument number and arg_index + 1 depth's. Depth 0 (allowed when min_depth is 0)
 * names `root` itself. NULL with *err set on RS_RANGE_ERROR (arg_index + 1, min_depth, 64) for
 * the depth, or RS_FAILED_LOOKUP (arg_index, bits left, 0). The caller checks root's type. */
static inline struct slot *cnode_lookup_arg(struct invocation *inv, struct slot *root,
                                            uint64_t index, uint64_t depth, unsigned arg_index,
                                            unsigned min_depth, int *err)
{
    // inline: every CNode, Retype and Issue invocation resolves one or two of these
    struct lookup_fault f;
    if (depth < min_depth || depth > 64) {
        *err = inv_error(inv, RS_RANGE_ERROR, arg_index + 1, min_depth, 64);
        return NULL;
    }
    if (depth == 0) return root;
    struct slot *s = cnode_resolve(&root->cap, index, (unsigned)depth, true, &f);
    if (!s) *err = inv_error(inv, f.error, arg_index, f.bits_left, 0);
    return s;
}

/* Makes the cap a Copy of `src` would hold: returns RS_ILLEGAL_OPERATION for caps that cannot
 * be copied (untyped), else RS_OK. */
int cap_derive(const struct cap *src, struct cap *out);

int cnode_decode(struct invocation *inv);
/* Prepares a freshly retyped CNode object (all slots empty). */
void cnode_init(struct slot *slots, unsigned radix);
