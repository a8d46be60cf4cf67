// SPDX-License-Identifier: MIT
// The capability derivation tree: linking, finality, and iterative deletion and revocation.
#include "cdt.h"

/* Cap type of a slot whose final cap was deleted and whose object's slots are being emptied. A
 * zombie is a frame of cdt_delete's explicit stack, kept in the slot itself (it is unlinked, so
 * it has no tree neighbours and its fields are free):
 *   cap.obj = base of the slot array being emptied, cap.w1 = its length,
 *   cap.w2  = index of the next slot to delete,      next  = the frame below (NULL at bottom).
 * Deletion skips zombie slots, so a container holding the only cap to itself is not re-entered.
 * No zombie survives the return of cdt_delete. */
#define CAP_ZOMBIE 0xFF
_Static_assert(RS_CAP_TYPE_COUNT < CAP_ZOMBIE, "zombie type is not a real cap type");

static bool same_object(const struct slot *s, const struct slot *other)
{
    return other && cap_same_object(&s->cap, &other->cap);
}

/* Appends `child` to the end of `parent`'s child list: children stay in derivation order. */
void cdt_insert(struct slot *parent, struct slot *child)
{
    child->parent = parent;
    child->child = child->next = child->prev = 0;
    if (!parent) return;
    struct slot *last = parent->child;
    if (!last) {
        parent->child = child;
        return;
    }
    while (last->next)
        last = last->next;
    last->next = child;
    child->prev = last;
}

/* `dst` must be empty and distinct from `src`; every neighbour's pointer to `src` is redirected. */
void cdt_move(struct slot *src, struct slot *dst)
{
    if (src == dst) return;
    *dst = *src;
    if (dst->parent && dst->parent->child == src) dst->parent->child = dst;
    if (dst->prev) dst->prev->next = dst;
    if (dst->next) dst->next->prev = dst;
    for (struct slot *c = dst->child; c; c = c->next)
        c->parent = dst;
    *src = (struct slot){0};
}

/* The children of `s` take its place, in order, among its siblings. A root's children become
 * roots that stay linked as siblings of each other (and of the root's own siblings, if it was such
 * an orphan itself): siblings are how cdt_is_final sees the other caps to an object once the cap
 * they were derived from is gone. Afterwards all of `s`'s links are NULL. */
void cdt_unlink(struct slot *s)
{
    struct slot *parent = s->parent, *first = s->child, *last = 0;
    for (struct slot *c = first; c; c = c->next) {
        c->parent = parent;
        last = c;
    }
    /* The run first..last (possibly empty) replaces s between s->prev and s->next. */
    struct slot *head = first ? first : s->next;
    struct slot *tail = first ? last : s->prev;
    if (first) {
        first->prev = s->prev;
        last->next = s->next;
    }
    if (s->prev)
        s->prev->next = head;
    else if (parent)
        parent->child = head;
    if (s->next) s->next->prev = tail;
    s->parent = s->child = s->next = s->prev = 0;
}

/* Besides parent and children, the adjacent siblings are checked: deleting the top cap of an
 * object's subtree splices its copies in as siblings under the untyped, so the caps to one object
 * form a run of consecutive sibling subtrees (a contiguous range in pre-order, as in seL4's MDB),
 * and any other cap to the object is then a parent, child or adjacent sibling. */
bool cdt_is_final(const struct slot *s)
{
    if (same_object(s, s->parent) || same_object(s, s->prev) || same_object(s, s->next))
        return false;
    for (const struct slot *c = s->child; c; c = c->next)
        if (same_object(s, c)) return false;
    return true;
}

static bool deletable(const struct slot *s)
{
    return !cap_is_null(&s->cap) && s->cap.type != CAP_ZOMBIE;
}

/* Deletes the cap in `s` (neither null nor zombie). If it was the last cap to an object that
 * holds slots, `s` becomes a zombie frame pushed on `*top` instead of being cleared. */
static void delete_one(struct slot *s, struct slot **top)
{
    object_cap_deleted(&s->cap);
    bool final = cdt_is_final(s); /* needs the neighbours, so before unlinking */
    cdt_unlink(s);
    if (!final || !cap_has_object(&s->cap)) {
        s->cap = cap_null();
        return;
    }
    struct slot_array contents = object_finalise(&s->cap); /* may read the cap: still there */
    if (!contents.slots || contents.count == 0) {
        s->cap = cap_null();
        return;
    }
    s->cap = (struct cap){
        .type = CAP_ZOMBIE, .obj = (uintptr_t)contents.slots, .w1 = contents.count, .w2 = 0};
    s->next = *top;
    *top = s;
}

/* Containers nest to any depth a user likes, so instead of recursing, each emptied container's
 * final-cap slot serves as the stack frame for emptying it (see CAP_ZOMBIE). An empty or zombie
 * `s` is left alone. */
void cdt_delete(struct slot *s)
{
    struct slot *top = 0;
    if (!deletable(s)) return;
    delete_one(s, &top);
    while (top) {
        struct slot *z = top;
        if (z->cap.w2 == z->cap.w1) {
            top = z->next;
            *z = (struct slot){0};
            continue;
        }
        struct slot *victim = (struct slot *)(uintptr_t)z->cap.obj + z->cap.w2++;
        if (deletable(victim)) delete_one(victim, &top);
    }
}

/* Deletes leaves only (no splicing), resuming from the deleted leaf's parent so a long chain is
 * not re-walked from the top each time. A deletion can destroy the parent (it may live in a
 * container just destroyed), leaving it null: restart from `s`. It can even destroy `s` itself
 * (`s` inside a CNode retyped from it): `s` is then null and childless and the loop ends. While
 * `s` survives, a surviving parent is still `s` or a descendant, as deletion only splices. */
void cdt_revoke(struct slot *s)
{
    struct slot *cur = s;
    while (s->child) {
        if (cap_is_null(&cur->cap)) cur = s;
        while (cur->child)
            cur = cur->child;
        struct slot *up = cur->parent;
        cdt_delete(cur);
        cur = up;
    }
}
