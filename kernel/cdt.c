// SPDX-License-Identifier: MIT
// The capability derivation tree: linking, finality, and iterative deletion and revocation.
#include "cdt.h"

/* Cap type of a slot whose final cap was deleted and whose object's slots are being emptied. A
 * zombie is a frame of the deletion's explicit stack, kept in the slot itself. It stays in the
 * tree where the final cap was (a leaf: a final cap has no children, as every derived cap names
 * the same object), so its untyped keeps a child and cannot be reset under it, and a Revoke of
 * that untyped reaches it and finishes it. Its cap fields:
 *   cap.obj = base of the slot array being emptied, cap.small = its length,
 *   cap.w2  = index of the next slot to delete,     cap.w1 = the frame below (0 at the bottom),
 *   cap.bits = the type of the cap it was.
 * A frame pushed while emptying frame z lies at z's index w2 - 1 and points back to z, so a
 * stack left by a preempted deletion is found again from its bottom (stack_top).
 * A queue zombie (cap.bits = RS_CAP_ENDPOINT or RS_CAP_NOTIFICATION, cap.small = 0) is the final
 * cap of an object that threads still wait on, cap.obj the object: each step wakes one of them,
 * so that a queue of thousands is woken between preemption points, and the object is finalised
 * once none is left. Nothing can queue a thread meanwhile: the zombie was its last cap. */
#define CAP_ZOMBIE 0xFF
_Static_assert(RS_CAP_TYPE_COUNT < CAP_ZOMBIE, "zombie type is not a real cap type");

static struct slot *z_array(const struct slot *z) { return (struct slot *)(uintptr_t)z->cap.obj; }
static struct slot *z_below(const struct slot *z) { return (struct slot *)(uintptr_t)z->cap.w1; }

static bool same_object(const struct slot *s, const struct slot *other)
{
    return other && cap_same_object(&s->cap, &other->cap);
}

/* Puts `child` first among `parent`'s children: constant time however many children the parent
 * has (a retype into an untyped with a million children must not walk them). Order among
 * siblings means nothing but adjacency, and a new first child splits no run of caps. */
void cdt_insert(struct slot *parent, struct slot *child)
{
    child->parent = parent;
    child->child = child->prev = 0;
    child->next = parent ? parent->child : 0;
    if (!parent) return;
    if (parent->child) parent->child->prev = child;
    parent->child = child;
}

/* `dst` must be empty and distinct from `src`; every neighbour's pointer to `src` is redirected. */
void cdt_move(struct slot *src, struct slot *dst)
{
    if (src == dst) return;
    *dst = *src;
    if (dst->parent && dst->parent->child == src) dst->parent->child = dst;
    if (dst->prev) dst->prev->next = dst;
    if (dst->next) dst->next->prev = dst;
    for (struct slot *c = dst->child; c; c = c->next) c->parent = dst;
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
    if (s->prev) s->prev->next = head;
    else if (parent) parent->child = head;
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

bool cap_is_zombie(const struct cap *c) { return c->type == CAP_ZOMBIE; }
static bool is_zombie(const struct slot *s) { return cap_is_zombie(&s->cap); }
static bool is_queue_zombie(const struct slot *s)
{
    return is_zombie(s) && (s->cap.bits == RS_CAP_ENDPOINT || s->cap.bits == RS_CAP_NOTIFICATION);
}

/* Containers: objects whose destruction hands back slots (object_finalise). */
static bool holds_slots(const struct cap *c)
{
    return c->type == RS_CAP_CNODE || c->type == RS_CAP_TCB || c->type == RS_CAP_VCPU ||
           c->type == RS_CAP_IRQ_HANDLER || c->type == RS_CAP_TIMER;
}

/* Deletes the cap in `s` (neither null nor zombie). If it was the last cap to an object that
 * holds slots, `s` becomes a zombie frame above `top` and is returned; otherwise NULL. */
static struct slot *delete_one(struct slot *s, struct slot *top)
{
    object_cap_deleted(&s->cap);
    bool final = cdt_is_final(s); /* needs the neighbours, so before unlinking */
    bool queue = final && cap_has_object(&s->cap) && object_has_waiters(&s->cap);
    bool container = final && cap_has_object(&s->cap) && (holds_slots(&s->cap) || queue);
    if (!container) {
        cdt_unlink(s);
    } else if (s->child) { /* (not expected: derived caps name the same object) stay a leaf */
        struct slot *parent = s->parent;
        cdt_unlink(s);
        cdt_insert(parent, s);
    } /* a container's final cap keeps its place in the tree as the zombie */
    if (!final || !cap_has_object(&s->cap)) {
        s->cap = cap_null();
        return 0;
    }
    if (queue) {
        s->cap = (struct cap){
            .type = CAP_ZOMBIE, .bits = s->cap.type, .obj = s->cap.obj, .w1 = (uintptr_t)top};
        return s;
    }
    struct slot_array contents = object_finalise(&s->cap); /* may read the cap: still there */
    if (!container || !contents.slots || contents.count == 0) {
        if (container) cdt_unlink(s);
        s->cap = cap_null();
        return 0;
    }
    s->cap = (struct cap){.type = CAP_ZOMBIE,
                          .bits = s->cap.type,
                          .small = (uint32_t)contents.count,
                          .obj = (uintptr_t)contents.slots,
                          .w1 = (uintptr_t)top};
    return s;
}

/* Work units a deletion of `c` costs: a mapped page table is cleared when it goes (4 KiB), which
 * is worth a poll of its own. */
static unsigned deletion_cost(const struct cap *c)
{
    bool table =
        c->type == RS_CAP_PAGE_TABLE || c->type == RS_CAP_PAGE_DIRECTORY || c->type == RS_CAP_PDPT;
    return table && (c->flags & CAP_FLAG_MAPPED) ? PREEMPT_WORK_UNITS : PREEMPT_DELETE_COST;
}

/* The top of the zombie stack above frame `z`: the frame pushed last lies at z's index w2 - 1
 * and points back to z (a zombie there that does not is a stack of its own, not yet adopted). */
static struct slot *stack_top(struct slot *z)
{
    for (;;) {
        if (z->cap.w2 == 0) return z;
        struct slot *u = z_array(z) + z->cap.w2 - 1;
        if (u == z || !is_zombie(u) || z_below(u) != z) return z;
        z = u;
    }
}

/* Whether waking the queue of zombie `z` may stop: as a CNode frame may (see run_stack), and
 * also in a dead TCB's slots (its fault endpoint) if that TCB is not itself in a VCPU's. Never
 * over an IRQ line's or a VCPU's slots. */
static bool queue_may_stop(const struct slot *z)
{
    const struct slot *below = z_below(z);
    if (below && below->cap.bits == RS_CAP_TCB) below = z_below(below);
    return !below || below->cap.bits == RS_CAP_CNODE;
}

/* Empties the zombie stack with bottom `bottom` and top `top`. Each slot looked at is a unit of
 * work, a deletion a few; after each unit, while `guard` holds a cap, it asks preempt_point
 * whether to stop. Returns false if it stopped: every frame stays a zombie in its slot, and
 * deleting `bottom` (or any of the frames) again carries on where this left off. `guard` is
 * what the caller will repeat the operation on: once that is gone (destroyed on the way), a
 * repeat could not find this stack again, so it runs to the end. */
static bool run_stack(struct slot *bottom, struct slot *top, const struct slot *guard)
{
    while (top) {
        struct slot *z = top;
        if (is_queue_zombie(z)) {
            struct cap obj = {.type = z->cap.bits, .obj = z->cap.obj};
            if (!object_cancel_one(&obj)) {
                /* no waiter left: the rest of the object's teardown, from an unlinked slot
                 * holding (the type and object of) the cap it was, as for any other object */
                top = z_below(z);
                cdt_unlink(z);
                z->cap = obj;
                object_finalise(&z->cap);
                *z = (struct slot){0};
                continue;
            }
            if (guard && !cap_is_null(&guard->cap) && queue_may_stop(z) &&
                preempt_point(PREEMPT_DELETE_COST))
                return false;
            continue;
        }
        if (z->cap.w2 == z->cap.small) {
            top = z_below(z);
            cdt_unlink(z);
            *z = (struct slot){0};
            continue;
        }
        struct slot *victim = z_array(z) + z->cap.w2++;
        unsigned cost = 1;
        if (is_zombie(victim)) {
            /* A frame of this stack (a container holding its own last cap) is skipped; the
             * bottom of a stack some earlier deletion left behind is carried on from here. */
            if (victim != bottom && !z_below(victim)) {
                victim->cap.w1 = (uintptr_t)z;
                top = stack_top(victim);
            }
        } else if (!cap_is_null(&victim->cap)) {
            cost = deletion_cost(&victim->cap);
            struct slot *nz = delete_one(victim, z);
            if (nz) top = nz;
        }
        /* Stop only on a CNode frame: a frame over a TCB, VCPU, IRQ line or timer (4 slots at
         * most) is finished first, as an IRQ line could be handed out again meanwhile with its
         * notification slot still due to be emptied. Below a CNode frame lie only dead objects
         * that nothing but this stack reaches. */
        if (guard && !cap_is_null(&guard->cap) && top && top->cap.bits == RS_CAP_CNODE &&
            preempt_point(cost))
            return false;
    }
    return true;
}

static bool delete_slot(struct slot *s, const struct slot *guard)
{
    if (cap_is_null(&s->cap)) return true;
    struct slot *bottom;
    if (is_zombie(s)) {
        /* carry on with a stack a preempted deletion left: from its very bottom, so that every
         * frame on it is recognised as one when met again */
        bottom = s;
        while (z_below(bottom)) bottom = z_below(bottom);
    } else {
        bottom = delete_one(s, 0);
        if (!bottom) return true;
    }
    return run_stack(bottom, stack_top(bottom), guard);
}

/* Containers nest to any depth a user likes, so instead of recursing, each emptied container's
 * final-cap slot serves as the stack frame for emptying it (see CAP_ZOMBIE). */
void cdt_delete(struct slot *s) { delete_slot(s, 0); }

/* `s` itself guards: it is the stack's bottom, which its own stack skips. */
bool cdt_delete_preemptible(struct slot *s) { return delete_slot(s, s); }

/* Deletes leaves only (no splicing), resuming from the deleted leaf's parent so a long chain is
 * not re-walked from the top each time. A deletion can destroy the parent (it may live in a
 * container just destroyed), leaving it null: restart from `s`. It can even destroy `s` itself
 * (`s` inside a CNode retyped from it): `s` is then null and childless and the loop ends. While
 * `s` survives, a surviving parent is still `s` or a descendant, as deletion only splices.
 * Stopped and called again, it restarts from `s` and does exactly what it would have done: the
 * parent it would resume from lies on the path of first children from `s` (deletion keeps first
 * children first), and a leaf left a zombie stays the first leaf on that path. */
bool cdt_revoke(struct slot *s, const struct slot *keep)
{
    const struct slot *guard = keep ? keep : s;
    struct slot *cur = s;
    while (s->child) {
        if (cap_is_null(&cur->cap)) cur = s;
        while (cur->child) cur = cur->child;
        struct slot *up = cur->parent;
        unsigned cost = deletion_cost(&cur->cap);
        if (!delete_slot(cur, guard)) return false;
        cur = up;
        if (!cap_is_null(&guard->cap) && s->child && preempt_point(cost)) return false;
    }
    return true;
}
