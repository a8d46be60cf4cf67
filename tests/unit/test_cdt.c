// SPDX-License-Identifier: MIT
// Host tests of the capability derivation tree (kernel/cdt.c) over a fake object layer.
#include <criterion/criterion.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "cdt.h"

#define container_of(p, type, member) ((type *)((char *)(p)-offsetof(type, member)))

/* ---- Fake object layer ------------------------------------------------------------------- */

/* Endpoint caps point at one of these; cap.obj identifies the object. */
struct fake_ep {
    int destroyed;
    int waiters; /* threads queued on it: a deletion wakes them one by one, then finalises */
    int woken;
};

/* CNode caps point at `slots` (as the kernel's do at the slot array); bits = radix. */
struct fake_cnode {
    int finalised;
    int id;
    struct slot slots[];
};

static long finalise_calls;    /* every object_finalise */
static long cap_deleted_calls; /* every object_cap_deleted */
static long other_finalised;   /* finalise of a type the fake layer does not model */

/* The tree must hand over a slot whose cap still names the object: unlinked, or for a container
 * a leaf that keeps its place (it becomes the zombie that empties the container). */
struct slot_array object_finalise(struct cap *c)
{
    struct slot *s = container_of(c, struct slot, cap);
    if (c->type == RS_CAP_CNODE) cr_assert(!s->child, "finalised container has children");
    else
        cr_assert(!s->parent && !s->child && !s->next && !s->prev,
                  "finalised slot is still linked");
    finalise_calls++;
    switch (c->type) {
    case RS_CAP_ENDPOINT:
        cr_assert_eq(((struct fake_ep *)(uintptr_t)c->obj)->waiters, 0,
                     "endpoint finalised with threads still queued");
        ((struct fake_ep *)(uintptr_t)c->obj)->destroyed++;
        return (struct slot_array){0};
    case RS_CAP_CNODE: {
        struct fake_cnode *cn =
            container_of((struct slot *)(uintptr_t)c->obj, struct fake_cnode, slots);
        cn->finalised++;
        return (struct slot_array){cn->slots, 1ull << c->bits};
    }
    default: other_finalised++; return (struct slot_array){0};
    }
}

bool object_has_waiters(const struct cap *c)
{
    return c->type == RS_CAP_ENDPOINT && ((struct fake_ep *)(uintptr_t)c->obj)->waiters > 0;
}

bool object_cancel_one(const struct cap *c)
{
    cr_assert_eq(c->type, RS_CAP_ENDPOINT, "only endpoints have waiters here");
    struct fake_ep *ep = (struct fake_ep *)(uintptr_t)c->obj;
    cr_assert_eq(ep->destroyed, 0, "waking a destroyed endpoint's queue");
    if (!ep->waiters) return false;
    ep->waiters--;
    ep->woken++;
    return true;
}

/* Preemption points: with preempt_every = n, every n-th call says stop (0: never). */
static unsigned preempt_every;
static long preempt_calls, preempt_stops;
bool preempt_point(unsigned cost)
{
    (void)cost;
    preempt_calls++;
    return preempt_every && preempt_calls % preempt_every == 0 && ++preempt_stops;
}

void object_cap_deleted(struct cap *c)
{
    cr_assert(!cap_is_null(c), "null cap reported deleted");
    cap_deleted_calls++;
}

/* ---- Helpers ------------------------------------------------------------------------------ */

static struct cap untyped_cap(uint64_t addr, uint8_t bits)
{
    return (struct cap){.type = RS_CAP_UNTYPED, .bits = bits, .obj = addr};
}

static struct cap ep_cap(struct fake_ep *ep)
{
    return (struct cap){.type = RS_CAP_ENDPOINT, .rights = 0xF, .obj = (uintptr_t)ep};
}

static struct fake_cnode *new_cnode(unsigned bits)
{
    struct fake_cnode *cn = calloc(1, sizeof(*cn) + (sizeof(struct slot) << bits));
    cr_assert_not_null(cn);
    return cn;
}

static struct cap cnode_cap(struct fake_cnode *cn, uint8_t bits)
{
    return (struct cap){.type = RS_CAP_CNODE, .bits = bits, .obj = (uintptr_t)cn->slots};
}

/* Writes `c` into empty `s` and derives it from `parent` (a retype, or a root when NULL). */
static void put(struct slot *s, struct cap c, struct slot *parent)
{
    s->cap = c;
    cdt_insert(parent, s);
}

/* A CNode_Copy: `dst` gets a copy of `src`'s cap, derived from it. */
static void copy(struct slot *src, struct slot *dst)
{
    dst->cap = src->cap;
    cdt_insert(src, dst);
}

static void expect_links(const struct slot *s, const struct slot *parent, const struct slot *child,
                         const struct slot *prev, const struct slot *next)
{
    cr_expect_eq(s->parent, parent, "parent");
    cr_expect_eq(s->child, child, "child");
    cr_expect_eq(s->prev, prev, "prev");
    cr_expect_eq(s->next, next, "next");
}

static void expect_empty(const struct slot *s)
{
    cr_expect(cap_is_null(&s->cap), "cap not null (type %d)", s->cap.type);
    expect_links(s, NULL, NULL, NULL, NULL);
}

/* ---- Tree invariant checker --------------------------------------------------------------- */

/* The regions of slot storage the checker knows about; links must stay inside them. */
struct region {
    struct slot *base;
    size_t count;
};

static bool in_regions(const struct slot *p, const struct region *r, size_t nr)
{
    for (size_t i = 0; i < nr; i++)
        if (p >= r[i].base && p < r[i].base + r[i].count) return true;
    return false;
}

/* Returns NULL if `s` is consistent with its neighbours, else what is wrong. */
static const char *check_slot(const struct slot *s, const struct region *r, size_t nr, size_t bound)
{
    if (cap_is_null(&s->cap))
        return s->parent || s->child || s->next || s->prev ? "null slot has links" : NULL;
    if (s->cap.type >= RS_CAP_TYPE_COUNT) return "zombie or bad type left behind";
    const struct slot *links[] = {s->parent, s->child, s->next, s->prev};
    for (size_t i = 0; i < 4; i++)
        if (links[i] && (!in_regions(links[i], r, nr) || cap_is_null(&links[i]->cap)))
            return "link to a null or foreign slot";
    if (s->child && (s->child->parent != s || s->child->prev)) return "first child mismatch";
    if (s->next && (s->next->prev != s || s->next->parent != s->parent)) return "next mismatch";
    if (s->prev && (s->prev->next != s || s->prev->parent != s->parent)) return "prev mismatch";
    if (s->parent) {
        const struct slot *c = s->parent->child;
        size_t n = 0;
        while (c && c != s && n++ < bound) c = c->next;
        if (c != s) return "not in parent's child list";
        if (!s->prev && s->parent->child != s) return "first sibling is not parent's child";
    }
    size_t depth = 0;
    for (const struct slot *p = s->parent; p; p = p->parent)
        if (++depth > bound) return "cycle in parent chain";
    return NULL;
}

static void check_regions(const struct region *r, size_t nr, size_t bound)
{
    for (size_t i = 0; i < nr; i++)
        for (size_t j = 0; j < r[i].count; j++) {
            const char *err = check_slot(&r[i].base[j], r, nr, bound);
            if (err) cr_assert_fail("region %zu slot %zu: %s", i, j, err);
        }
}

static void check_array(struct slot *s, size_t n)
{
    struct region r = {s, n};
    check_regions(&r, 1, n);
}

/* ---- Insertion and finality --------------------------------------------------------------- */

/* Insertion takes constant time: the newest child comes first. */
Test(cdt, insert_puts_newest_child_first)
{
    struct slot s[5] = {0};
    struct fake_ep ep = {0};
    put(&s[0], untyped_cap(0x100000, 20), NULL);
    expect_links(&s[0], NULL, NULL, NULL, NULL);
    put(&s[1], ep_cap(&ep), &s[0]);
    copy(&s[1], &s[2]);
    put(&s[3], untyped_cap(0x100000, 12), &s[0]);
    put(&s[4], untyped_cap(0x101000, 12), &s[0]);
    expect_links(&s[0], NULL, &s[4], NULL, NULL);
    expect_links(&s[4], &s[0], NULL, NULL, &s[3]);
    expect_links(&s[3], &s[0], NULL, &s[4], &s[1]);
    expect_links(&s[1], &s[0], &s[2], &s[3], NULL);
    expect_links(&s[2], &s[1], NULL, NULL, NULL);
    cr_expect(cdt_has_children(&s[0]) && cdt_has_children(&s[1]) && !cdt_has_children(&s[2]));
    check_array(s, 5);
}

Test(cdt, copy_of_copy_finality)
{
    struct slot s[4] = {0};
    struct fake_ep ep = {0};
    put(&s[0], untyped_cap(0x100000, 20), NULL);
    put(&s[1], ep_cap(&ep), &s[0]);
    cr_expect(cdt_is_final(&s[1]), "sole cap is final");
    copy(&s[1], &s[2]);
    copy(&s[2], &s[3]);
    for (int i = 1; i < 4; i++) cr_expect(!cdt_is_final(&s[i]), "cap %d has copies", i);
    cdt_delete(&s[2]); /* the middle copy */
    expect_links(&s[3], &s[1], NULL, NULL, NULL);
    cr_expect(!cdt_is_final(&s[1]) && !cdt_is_final(&s[3]));
    cdt_delete(&s[1]); /* the original: the copy becomes the untyped's child */
    expect_links(&s[3], &s[0], NULL, NULL, NULL);
    cr_expect(cdt_is_final(&s[3]));
    cr_expect_eq(ep.destroyed, 0);
    cdt_delete(&s[3]);
    cr_expect_eq(ep.destroyed, 1);
    check_array(s, 4);
}

/* Deleting the original of two copies leaves them as siblings under the untyped: neither alone
 * is the last cap, although neither has a parent or child naming the object. */
Test(cdt, copies_spliced_as_siblings_are_not_final)
{
    struct slot s[5] = {0};
    struct fake_ep a = {0}, b = {0};
    put(&s[0], untyped_cap(0x100000, 20), NULL);
    put(&s[1], ep_cap(&a), &s[0]);
    copy(&s[1], &s[2]);
    copy(&s[1], &s[3]);
    put(&s[4], ep_cap(&b), &s[0]);
    cdt_delete(&s[1]); /* s0's children were s4, s1 (children s3, s2) */
    expect_links(&s[3], &s[0], NULL, &s[4], &s[2]);
    expect_links(&s[2], &s[0], NULL, &s[3], NULL);
    cr_expect(!cdt_is_final(&s[2]) && !cdt_is_final(&s[3]) && cdt_is_final(&s[4]));
    cdt_delete(&s[2]);
    cr_expect_eq(a.destroyed, 0, "destroyed while a sibling copy lives");
    cr_expect(cdt_is_final(&s[3]));
    cdt_delete(&s[3]);
    cr_expect_eq(a.destroyed, 1);
    cr_expect_eq(b.destroyed, 0);
    check_array(s, 5);
}

/* Caps without an object: an IRQ handler issued from IRQControl, and copies of it. */
Test(cdt, finality_of_objectless_caps)
{
    struct slot s[4] = {0};
    put(&s[0], (struct cap){.type = RS_CAP_IRQ_CONTROL}, NULL);
    put(&s[1], (struct cap){.type = RS_CAP_IRQ_HANDLER, .small = 4}, &s[0]);
    put(&s[2], (struct cap){.type = RS_CAP_IRQ_HANDLER, .small = 5}, &s[0]);
    cr_expect(cdt_is_final(&s[0]) && cdt_is_final(&s[1]) && cdt_is_final(&s[2]));
    copy(&s[1], &s[3]);
    cr_expect(!cdt_is_final(&s[1]) && !cdt_is_final(&s[3]) && cdt_is_final(&s[2]));
    cdt_delete(&s[1]);
    cr_expect(cdt_is_final(&s[3]));
    cr_expect_eq(finalise_calls, 0, "objectless caps are never finalised");
    cr_expect_eq(cap_deleted_calls, 1);
    check_array(s, 4);
}

/* ---- Unlink and delete -------------------------------------------------------------------- */

Test(cdt, delete_middle_reparents_children_in_place)
{
    /* s1 has children s2, s3, s6; s3 has s4, s5 (made newest first). Deleting s3 gives s1: s2,
     * s4, s5, s6. */
    struct slot s[7] = {0};
    struct fake_ep ep = {0};
    put(&s[0], untyped_cap(0x100000, 20), NULL);
    put(&s[1], ep_cap(&ep), &s[0]);
    copy(&s[1], &s[6]);
    copy(&s[1], &s[3]);
    copy(&s[3], &s[5]);
    copy(&s[3], &s[4]);
    copy(&s[1], &s[2]);
    cdt_delete(&s[3]);
    expect_empty(&s[3]);
    expect_links(&s[1], &s[0], &s[2], NULL, NULL);
    expect_links(&s[2], &s[1], NULL, NULL, &s[4]);
    expect_links(&s[4], &s[1], NULL, &s[2], &s[5]);
    expect_links(&s[5], &s[1], NULL, &s[4], &s[6]);
    expect_links(&s[6], &s[1], NULL, &s[5], NULL);
    /* And the first child: deleting s2 makes s4 first. */
    cdt_delete(&s[2]);
    expect_links(&s[1], &s[0], &s[4], NULL, NULL);
    expect_links(&s[4], &s[1], NULL, NULL, &s[5]);
    cr_expect_eq(ep.destroyed, 0);
    cr_expect_eq(cap_deleted_calls, 2);
    check_array(s, 7);
}

/* Orphaned roots stay siblings: the copies of an endpoint whose original and untyped are gone
 * must still see each other, or the first one deleted would destroy the object. */
Test(cdt, unlink_of_root_keeps_children_as_sibling_roots)
{
    struct slot s[6] = {0};
    struct fake_ep ep = {0};
    put(&s[0], untyped_cap(0x100000, 20), NULL); /* children s1, s2, s5; s2's s3, s4 */
    put(&s[5], untyped_cap(0x120000, 16), &s[0]);
    put(&s[2], ep_cap(&ep), &s[0]);
    copy(&s[2], &s[4]);
    copy(&s[2], &s[3]);
    put(&s[1], untyped_cap(0x100000, 16), &s[0]);
    cdt_delete(&s[2]); /* copies s3, s4 now sit between s1 and s5 */
    cdt_unlink(&s[0]);
    cr_expect_eq(s[0].cap.type, RS_CAP_UNTYPED, "unlink keeps the cap");
    expect_links(&s[0], NULL, NULL, NULL, NULL);
    expect_links(&s[1], NULL, NULL, NULL, &s[3]);
    expect_links(&s[3], NULL, NULL, &s[1], &s[4]);
    expect_links(&s[4], NULL, NULL, &s[3], &s[5]);
    expect_links(&s[5], NULL, NULL, &s[4], NULL);
    check_array(s, 6);
    cr_expect(!cdt_is_final(&s[3]) && !cdt_is_final(&s[4]));
    cdt_delete(&s[3]);
    cr_expect_eq(ep.destroyed, 0);
    expect_links(&s[1], NULL, NULL, NULL, &s[4]);
    cr_expect(cdt_is_final(&s[4]));
    /* An orphan with children of its own: they take its place in the sibling run. */
    put(&s[2], untyped_cap(0x100000, 12), &s[1]);
    cdt_delete(&s[1]);
    expect_links(&s[2], NULL, NULL, NULL, &s[4]);
    expect_links(&s[4], NULL, NULL, &s[2], &s[5]);
    cdt_delete(&s[4]);
    cr_expect_eq(ep.destroyed, 1);
    expect_links(&s[5], NULL, NULL, &s[2], NULL);
    check_array(s, 6);
}

Test(cdt, unlink_keeps_cap_and_clears_links)
{
    struct slot s[5] = {0};
    struct fake_ep ep = {0};
    put(&s[0], untyped_cap(0x100000, 20), NULL);
    put(&s[1], ep_cap(&ep), &s[0]);
    copy(&s[1], &s[2]);
    put(&s[3], untyped_cap(0x100000, 12), &s[0]);
    cdt_unlink(&s[3]); /* last child, no children */
    expect_links(&s[3], NULL, NULL, NULL, NULL);
    expect_links(&s[1], &s[0], &s[2], NULL, NULL);
    cdt_unlink(&s[1]); /* only child, with a child */
    expect_links(&s[0], NULL, &s[2], NULL, NULL);
    expect_links(&s[2], &s[0], NULL, NULL, NULL);
    expect_links(&s[1], NULL, NULL, NULL, NULL);
    cr_expect_eq(s[1].cap.type, RS_CAP_ENDPOINT);
    cr_expect_eq(finalise_calls, 0, "unlink destroys nothing");
}

Test(cdt, delete_last_cap_destroys_once)
{
    struct slot s[3] = {0};
    struct fake_ep ep = {0};
    put(&s[0], untyped_cap(0x100000, 20), NULL);
    put(&s[1], ep_cap(&ep), &s[0]);
    copy(&s[1], &s[2]);
    cdt_delete(&s[1]);
    cr_expect_eq(ep.destroyed, 0, "a copy is left");
    cdt_delete(&s[2]);
    cr_expect_eq(ep.destroyed, 1);
    cdt_delete(&s[2]); /* deleting an empty slot does nothing */
    cr_expect_eq(ep.destroyed, 1);
    cr_expect_eq(cap_deleted_calls, 2);
    expect_empty(&s[1]);
    expect_empty(&s[2]);
    expect_links(&s[0], NULL, NULL, NULL, NULL);
}

Test(cdt, delete_non_final_does_not_destroy)
{
    struct slot s[4] = {0};
    struct fake_ep ep = {0};
    put(&s[0], untyped_cap(0x100000, 20), NULL);
    put(&s[1], ep_cap(&ep), &s[0]);
    copy(&s[1], &s[2]);
    copy(&s[2], &s[3]);
    cdt_delete(&s[3]); /* leaf copy */
    cdt_delete(&s[1]); /* original, with a copy below */
    cr_expect_eq(ep.destroyed, 0);
    cr_expect_eq(finalise_calls, 0);
    cr_expect_eq(cap_deleted_calls, 2);
    expect_links(&s[2], &s[0], NULL, NULL, NULL);
    check_array(s, 4);
}

/* ---- Revoke ------------------------------------------------------------------------------- */

Test(cdt, revoke_deletes_nested_descendants_keeps_node)
{
    /* A copy tree four levels deep below s[1], three children per node: 1 + 3 + 9 + 27 + 81. */
    enum { N = 2 + 3 + 9 + 27 + 81 };
    struct slot s[N] = {0};
    struct fake_ep ep = {0};
    put(&s[0], untyped_cap(0x100000, 20), NULL);
    put(&s[1], ep_cap(&ep), &s[0]);
    for (int i = 2; i < N; i++) copy(&s[1 + (i - 2) / 3], &s[i]);
    check_array(s, N);
    cdt_revoke(&s[1], NULL);
    cr_expect_eq(s[1].cap.type, RS_CAP_ENDPOINT);
    expect_links(&s[1], &s[0], NULL, NULL, NULL);
    for (int i = 2; i < N; i++) expect_empty(&s[i]);
    cr_expect_eq(ep.destroyed, 0);
    cr_expect_eq(cap_deleted_calls, N - 2);
    cdt_revoke(&s[1], NULL); /* nothing left to revoke */
    cr_expect_eq(cap_deleted_calls, N - 2);
}

Test(cdt, revoke_untyped_destroys_everything_made_from_it)
{
    /* root: u, ep a + copy, ep b, cnode c (holds a copy of b and a cap to cnode d, which holds a
     * copy of a), sub-untyped v with ep e made from it. */
    struct slot s[8] = {0};
    struct fake_ep a = {0}, b = {0}, e = {0};
    struct fake_cnode *c = new_cnode(2), *d = new_cnode(1);
    put(&s[0], untyped_cap(0x100000, 20), NULL);
    put(&s[1], ep_cap(&a), &s[0]);
    copy(&s[1], &s[2]);
    put(&s[3], ep_cap(&b), &s[0]);
    put(&s[4], cnode_cap(c, 2), &s[0]);
    copy(&s[3], &c->slots[1]);
    put(&c->slots[3], cnode_cap(d, 1), &s[0]);
    copy(&s[2], &d->slots[0]);
    put(&s[5], untyped_cap(0x180000, 19), &s[0]);
    put(&s[6], ep_cap(&e), &s[5]);
    copy(&s[6], &s[7]);
    cdt_revoke(&s[0], NULL);
    cr_expect(a.destroyed == 1 && b.destroyed == 1 && e.destroyed == 1);
    cr_expect(c->finalised == 1 && d->finalised == 1);
    cr_expect_eq(finalise_calls, 5);
    cr_expect_eq(cap_deleted_calls, 10);
    cr_expect_eq(s[0].cap.type, RS_CAP_UNTYPED);
    for (int i = 1; i < 8; i++) expect_empty(&s[i]);
    for (int i = 0; i < 4; i++) expect_empty(&c->slots[i]);
    for (int i = 0; i < 2; i++) expect_empty(&d->slots[i]);
    expect_links(&s[0], NULL, NULL, NULL, NULL);
    free(c);
    free(d);
}

/* A 10,000-deep copy chain: revoke must neither recurse nor rewalk the chain per deletion. */
Test(cdt, revoke_long_copy_chain)
{
    enum { N = 10000 };
    struct slot *s = calloc(N + 2, sizeof(*s));
    struct fake_ep ep = {0};
    put(&s[0], untyped_cap(0x100000, 20), NULL);
    put(&s[1], ep_cap(&ep), &s[0]);
    for (int i = 2; i < N + 2; i++) copy(&s[i - 1], &s[i]);
    cdt_revoke(&s[0], NULL);
    cr_expect_eq(ep.destroyed, 1);
    cr_expect_eq(cap_deleted_calls, N + 1);
    for (int i = 1; i < N + 2; i++) expect_empty(&s[i]);
    free(s);
}

/* ---- Move --------------------------------------------------------------------------------- */

Test(cdt, move_keeps_every_link)
{
    /* u: a, m, z; m has children x, y. Move m (a middle sibling with children) to d. */
    struct slot s[6] = {0}, d = {0}, d2 = {0}, d3 = {0};
    struct fake_ep ep = {0};
    struct slot *u = &s[0], *a = &s[1], *m = &s[2], *z = &s[3], *x = &s[4], *y = &s[5];
    put(u, untyped_cap(0x100000, 20), NULL); /* children a, m, z; m's x, y */
    put(z, untyped_cap(0x101000, 12), u);
    put(m, ep_cap(&ep), u);
    put(a, untyped_cap(0x100000, 12), u);
    copy(m, y);
    copy(m, x);
    cdt_move(m, &d);
    expect_empty(m);
    cr_expect_eq(d.cap.type, RS_CAP_ENDPOINT);
    cr_expect_eq(d.cap.obj, (uintptr_t)&ep);
    expect_links(&d, u, x, a, z);
    expect_links(a, u, NULL, NULL, &d);
    expect_links(z, u, NULL, &d, NULL);
    expect_links(x, &d, NULL, NULL, y);
    expect_links(y, &d, NULL, x, NULL);
    /* The first child: the parent's child pointer moves along. */
    cdt_move(a, &d2);
    expect_links(u, NULL, &d2, NULL, NULL);
    expect_links(&d2, u, NULL, NULL, &d);
    expect_links(&d, u, x, &d2, z);
    /* A root with children. */
    cdt_move(u, &d3);
    expect_empty(u);
    expect_links(&d3, NULL, &d2, NULL, NULL);
    cr_expect(d2.parent == &d3 && d.parent == &d3 && z->parent == &d3);
    /* A leaf copy. */
    cdt_move(y, m);
    expect_links(m, &d, NULL, x, NULL);
    expect_links(x, &d, NULL, NULL, m);
    cr_expect_eq(finalise_calls + cap_deleted_calls, 0, "moves delete nothing");
    struct region r[] = {{s, 6}, {&d, 1}, {&d2, 1}, {&d3, 1}};
    check_regions(r, 4, 16);
}

/* ---- Containers --------------------------------------------------------------------------- */

/* 10,000 CNodes, each holding the only cap to the next: far deeper than any kernel stack would
 * allow recursion. Deleting the first cap must tear them all down, each finalised once. */
Test(cdt, chain_of_cnodes_destroyed_iteratively)
{
    enum { N = 10000, BITS = 1 };
    struct fake_cnode **cn = calloc(N, sizeof(*cn));
    struct slot root[2] = {0};
    put(&root[0], untyped_cap(0x100000000, 40), NULL);
    for (int i = 0; i < N; i++) cn[i] = new_cnode(BITS);
    put(&root[1], cnode_cap(cn[0], BITS), &root[0]);
    for (int i = 0; i + 1 < N; i++) put(&cn[i]->slots[1], cnode_cap(cn[i + 1], BITS), &root[0]);
    cdt_delete(&root[1]);
    for (int i = 0; i < N; i++) {
        if (cn[i]->finalised != 1)
            cr_assert_fail("cnode %d finalised %d times", i, cn[i]->finalised);
        for (int j = 0; j < 1 << BITS; j++)
            if (!cap_is_null(&cn[i]->slots[j].cap) || cn[i]->slots[j].parent)
                cr_assert_fail("cnode %d slot %d not emptied", i, j);
    }
    cr_expect_eq(finalise_calls, N);
    cr_expect_eq(cap_deleted_calls, N);
    expect_empty(&root[1]);
    expect_links(&root[0], NULL, NULL, NULL, NULL);
    for (int i = 0; i < N; i++) free(cn[i]);
    free(cn);
}

/* The same nesting reached by revoking the untyped, with an endpoint at the bottom. */
Test(cdt, chain_of_cnodes_via_revoke)
{
    enum { N = 10000, BITS = 2 };
    struct fake_cnode **cn = calloc(N, sizeof(*cn));
    struct slot root[2] = {0};
    struct fake_ep ep = {0};
    put(&root[0], untyped_cap(0x100000000, 40), NULL);
    for (int i = 0; i < N; i++) cn[i] = new_cnode(BITS);
    /* cn[0]'s cap is the untyped's first child (made last), so the walk deletes it first and
     * each finalise then meets the next CNode's only cap. */
    put(&cn[N - 1]->slots[0], ep_cap(&ep), &root[0]);
    for (int i = N - 1; i >= 1; i--) put(&cn[i - 1]->slots[2], cnode_cap(cn[i], BITS), &root[0]);
    put(&root[1], cnode_cap(cn[0], BITS), &root[0]);
    cdt_revoke(&root[0], NULL);
    for (int i = 0; i < N; i++)
        if (cn[i]->finalised != 1)
            cr_assert_fail("cnode %d finalised %d times", i, cn[i]->finalised);
    cr_expect_eq(ep.destroyed, 1);
    cr_expect_eq(finalise_calls, N + 1);
    expect_links(&root[0], NULL, NULL, NULL, NULL);
    for (int i = 0; i < N; i++) free(cn[i]);
    free(cn);
}

/* A CNode whose only cap sits in its own slot 0 is garbage reachable only from its untyped. */
Test(cdt, cnode_holding_only_cap_to_itself)
{
    struct slot u = {0}, tmp = {0};
    struct fake_ep ep = {0};
    struct fake_cnode *c = new_cnode(2);
    put(&u, untyped_cap(0x100000, 20), NULL);
    put(&tmp, cnode_cap(c, 2), &u);
    put(&c->slots[2], ep_cap(&ep), &u);
    copy(&c->slots[2], &c->slots[3]);
    cdt_move(&tmp, &c->slots[0]);
    cr_expect_eq(c->slots[0].parent, &u);
    cdt_revoke(&u, NULL);
    cr_expect_eq(c->finalised, 1);
    cr_expect_eq(ep.destroyed, 1);
    cr_expect_eq(finalise_calls, 2);
    for (int i = 0; i < 4; i++) expect_empty(&c->slots[i]);
    expect_links(&u, NULL, NULL, NULL, NULL);
    cr_expect_eq(u.cap.type, RS_CAP_UNTYPED);
    free(c);
}

/* Two CNodes each holding the only cap to the other. */
Test(cdt, cnode_cycle)
{
    struct slot u = {0};
    struct fake_cnode *a = new_cnode(1), *b = new_cnode(1);
    put(&u, untyped_cap(0x100000, 20), NULL);
    put(&a->slots[1], cnode_cap(b, 1), &u);
    put(&b->slots[0], cnode_cap(a, 1), &u);
    cdt_revoke(&u, NULL);
    cr_expect(a->finalised == 1 && b->finalised == 1);
    for (int i = 0; i < 2; i++) {
        expect_empty(&a->slots[i]);
        expect_empty(&b->slots[i]);
    }
    expect_links(&u, NULL, NULL, NULL, NULL);
    free(a);
    free(b);
}

/* Revoking an untyped cap that lives inside the CNode retyped from it: the revoke destroys the
 * CNode and with it the very slot being revoked, and must stop cleanly. */
Test(cdt, revoke_destroys_its_own_slot)
{
    struct slot outer = {0}, c_cap = {0};
    struct fake_ep ep = {0};
    struct fake_cnode *c = new_cnode(2);
    put(&outer, untyped_cap(0x100000, 20), NULL);
    put(&c_cap, cnode_cap(c, 2), &outer);
    put(&c->slots[1], ep_cap(&ep), &outer);
    cdt_move(&outer, &c->slots[0]); /* the untyped now lives in the CNode made from it */
    struct slot *s = &c->slots[0];
    cdt_revoke(s, NULL);
    cr_expect_eq(c->finalised, 1);
    cr_expect_eq(ep.destroyed, 1);
    cr_expect(cap_is_null(&s->cap) && !cdt_has_children(s));
    for (int i = 0; i < 4; i++) expect_empty(&c->slots[i]);
    expect_empty(&c_cap);
    free(c);
}

/* Revoke resumes from the deleted leaf's parent; here that parent (a sub-untyped kept in the
 * CNode retyped from it) is destroyed by the deletion, while the revoked cap lives on. */
Test(cdt, revoke_survives_destroyed_cursor)
{
    struct slot u = {0}, c_cap = {0}, e = {0};
    struct fake_ep ep = {0};
    struct fake_cnode *c = new_cnode(1);
    put(&u, untyped_cap(0x100000, 20), NULL);
    put(&c->slots[0], untyped_cap(0x100000, 16), &u);
    put(&c_cap, cnode_cap(c, 1), &c->slots[0]);
    put(&e, ep_cap(&ep), &u);
    cdt_revoke(&u, NULL);
    cr_expect_eq(c->finalised, 1);
    cr_expect_eq(ep.destroyed, 1);
    expect_empty(&c->slots[0]);
    expect_empty(&c_cap);
    expect_empty(&e);
    expect_links(&u, NULL, NULL, NULL, NULL);
    free(c);
}

/* A container deleted while it is not final only loses the one cap. */
Test(cdt, cnode_with_copy_not_emptied)
{
    struct slot s[3] = {0};
    struct fake_ep ep = {0};
    struct fake_cnode *c = new_cnode(1);
    put(&s[0], untyped_cap(0x100000, 20), NULL);
    put(&s[1], cnode_cap(c, 1), &s[0]);
    copy(&s[1], &s[2]);
    put(&c->slots[0], ep_cap(&ep), &s[0]);
    cdt_delete(&s[1]);
    cr_expect_eq(c->finalised, 0);
    cr_expect_eq(c->slots[0].cap.type, RS_CAP_ENDPOINT);
    cdt_delete(&s[2]);
    cr_expect_eq(c->finalised, 1);
    cr_expect_eq(ep.destroyed, 1);
    expect_empty(&c->slots[0]);
    free(c);
}

/* ---- Preemption ---------------------------------------------------------------------------- */

/* A CNode of `n` slots holding copies of one endpoint and the only cap to a smaller CNode. */
static struct fake_cnode *filled_cnode(unsigned bits, struct slot *ep_orig,
                                       struct fake_cnode *inner, struct slot *u)
{
    struct fake_cnode *c = new_cnode(bits);
    for (unsigned i = 1; i < 1u << bits; i++) copy(ep_orig, &c->slots[i]);
    put(&c->slots[0], cnode_cap(inner, 2), u);
    return c;
}

/* A Delete stopped at a preemption point leaves a zombie in the slot, still a child of the
 * untyped (so the untyped cannot be reset under it), that refuses nothing but deletion; the
 * repeated Delete finishes it, every object destroyed once. */
Test(cdt, preempted_delete_carries_on)
{
    struct slot u = {0}, e = {0}, top = {0};
    struct fake_ep ep = {0};
    put(&u, untyped_cap(0x100000, 30), NULL);
    put(&e, ep_cap(&ep), &u);
    struct fake_cnode *inner = new_cnode(2), *c = filled_cnode(6, &e, inner, &u);
    put(&top, cnode_cap(c, 6), &u);
    preempt_every = 5;
    cr_assert(!cdt_delete_preemptible(&top), "64 slots took no preemption point");
    cr_expect(cap_is_zombie(&top.cap));
    cr_expect_eq(top.parent, &u, "the zombie keeps its place under the untyped");
    cr_expect_eq(c->finalised, 1);
    int rounds = 1;
    while (!cdt_delete_preemptible(&top)) rounds++;
    preempt_every = 0;
    cr_expect_gt(rounds, 5);
    expect_empty(&top);
    cr_expect_eq(inner->finalised, 1);
    for (int i = 0; i < 64; i++) expect_empty(&c->slots[i]);
    cr_expect(cdt_is_final(&e) && ep.destroyed == 0);
    cr_expect_eq(finalise_calls, 2);
    free(c);
    free(inner);
}

/* Deleting the last cap to an endpoint with a long queue wakes the threads between preemption
 * points: the slot is a zombie meanwhile, still under the untyped, and the endpoint is finalised
 * (once) only after the last thread is woken; each repeat wakes some. Before, all 1,000 were
 * woken at once and the Delete never stopped. */
Test(cdt, deleting_endpoint_with_long_queue_stops_and_carries_on)
{
    struct slot u = {0}, e = {0}, copy_slot = {0};
    struct fake_ep ep = {.waiters = 1000};
    put(&u, untyped_cap(0x100000, 30), NULL);
    put(&e, ep_cap(&ep), &u);
    copy(&e, &copy_slot);
    preempt_every = 1;
    cr_expect(cdt_delete_preemptible(&e), "not the last cap: nothing to wake");
    cr_expect_eq(ep.woken, 0);
    int rounds = 0;
    while (!cdt_delete_preemptible(&copy_slot)) {
        rounds++;
        cr_assert(cap_is_zombie(&copy_slot.cap));
        cr_assert_eq(copy_slot.parent, &u, "the zombie keeps its place under the untyped");
        cr_assert_eq(ep.destroyed, 0);
        cr_assert_eq(ep.woken, rounds, "one thread woken per preemption point");
    }
    preempt_every = 0;
    cr_expect_eq(rounds, 1000);
    cr_expect(ep.woken == 1000 && ep.waiters == 0 && ep.destroyed == 1);
    expect_empty(&copy_slot);
    cr_expect_null(u.child);
    cr_expect_eq(finalise_calls, 1);
}

/* The same queue behind a CNode, and the CNode revoked through its untyped at every preemption
 * point: the queue zombie in the CNode is found again from the stack's bottom each time. */
Test(cdt, revoking_untyped_over_cnode_holding_queued_endpoint)
{
    struct slot u = {0}, e = {0};
    struct fake_ep ep = {.waiters = 300};
    put(&u, untyped_cap(0x100000, 30), NULL);
    struct fake_cnode *c = new_cnode(3);
    put(&e, cnode_cap(c, 3), &u);
    put(&c->slots[5], ep_cap(&ep), &u);
    preempt_every = 1;
    long stops = 0;
    while (!cdt_revoke(&u, NULL)) stops++;
    preempt_every = 0;
    cr_expect_geq(stops, 300);
    cr_expect(ep.woken == 300 && ep.destroyed == 1 && c->finalised == 1);
    expect_empty(&e);
    cr_expect_null(u.child);
    free(c);
}

/* Someone else finishes a stopped deletion: a Revoke of the untyped reaches the zombie (a leaf
 * child) and carries it on; the Delete repeated afterwards finds the slot empty. */
Test(cdt, revoke_of_untyped_finishes_stopped_delete)
{
    struct slot u = {0}, e = {0}, top = {0};
    struct fake_ep ep = {0};
    put(&u, untyped_cap(0x100000, 30), NULL);
    put(&e, ep_cap(&ep), &u);
    struct fake_cnode *inner = new_cnode(2), *c = filled_cnode(6, &e, inner, &u);
    put(&top, cnode_cap(c, 6), &u);
    preempt_every = 3;
    cr_assert(!cdt_delete_preemptible(&top));
    preempt_every = 0;
    cr_assert(cdt_revoke(&u, NULL));
    expect_links(&u, NULL, NULL, NULL, NULL);
    expect_empty(&top);
    cr_expect(c->finalised == 1 && inner->finalised == 1 && ep.destroyed == 1);
    cr_expect(cdt_delete_preemptible(&top));
    cr_expect_eq(finalise_calls, 3);
    free(c);
    free(inner);
}

/* A stopped deletion's zombie lies in a CNode that then dies: that CNode's deletion adopts the
 * zombie's stack and finishes it rather than skip it as one of its own frames. */
Test(cdt, dying_cnode_adopts_a_stopped_deletion)
{
    struct slot u = {0}, e = {0}, outer_cap = {0};
    struct fake_ep ep = {0};
    put(&u, untyped_cap(0x100000, 30), NULL);
    put(&e, ep_cap(&ep), &u);
    struct fake_cnode *inner = new_cnode(2), *c = filled_cnode(6, &e, inner, &u);
    struct fake_cnode *outer = new_cnode(3);
    put(&outer_cap, cnode_cap(outer, 3), &u);
    put(&outer->slots[5], cnode_cap(c, 6), &u);
    preempt_every = 7;
    cr_assert(!cdt_delete_preemptible(&outer->slots[5]));
    cr_expect(cap_is_zombie(&outer->slots[5].cap));
    preempt_every = 0;
    cdt_delete(&outer_cap);
    cr_expect(outer->finalised == 1 && c->finalised == 1 && inner->finalised == 1);
    for (int i = 0; i < 8; i++) expect_empty(&outer->slots[i]);
    for (int i = 0; i < 64; i++) expect_empty(&c->slots[i]);
    expect_links(&u, NULL, &e, NULL, NULL);
    free(outer);
    free(c);
    free(inner);
}

/* Revoking an untyped that lives in a CNode made from it (revoke_destroys_its_own_slot), stopped
 * at every point: once the revoked slot is destroyed there is nothing to repeat the call on, so
 * from there it runs to the end, and nothing is left half-destroyed. */
Test(cdt, preempted_revoke_that_destroys_its_own_slot)
{
    struct slot outer = {0}, c_cap = {0};
    struct fake_ep ep = {0};
    struct fake_cnode *c = new_cnode(6);
    put(&outer, untyped_cap(0x100000, 20), NULL);
    put(&c_cap, cnode_cap(c, 6), &outer);
    put(&c->slots[1], ep_cap(&ep), &outer);
    for (int i = 2; i < 64; i++) copy(&c->slots[1], &c->slots[i]);
    cdt_move(&outer, &c->slots[0]);
    struct slot *s = &c->slots[0];
    preempt_every = 1;
    int rounds = 1;
    while (!cdt_revoke(s, NULL)) rounds++;
    preempt_every = 0;
    cr_expect_gt(rounds, 2);
    cr_expect_eq(c->finalised, 1);
    cr_expect_eq(ep.destroyed, 1);
    for (int i = 0; i < 64; i++) expect_empty(&c->slots[i]);
    expect_empty(&c_cap);
    free(c);
}

/* ---- Randomised ---------------------------------------------------------------------------- */

enum { ROOT_SLOTS = 96, RCN_BITS = 3, RCN_SLOTS = 1 << RCN_BITS, MAX_CNODES = 2000 };
enum { MAX_EPS = 12000, MAX_LIVE = 4096, STEPS = 10000 };
enum { MAX_SLOTS = ROOT_SLOTS + MAX_CNODES * RCN_SLOTS };

/* The randomised test's world: root slots, every CNode ever made, every endpoint ever made, and
 * the objects not yet seen destroyed (with the number of caps naming each, recounted per step). */
struct world {
    uint64_t rng;
    struct slot root[ROOT_SLOTS];
    struct fake_cnode *cn[MAX_CNODES];
    int ncn;
    struct fake_ep ep[MAX_EPS];
    int nep;
    uint64_t next_untyped;
    struct region regions[1 + MAX_CNODES];
    size_t nregions;
    struct slot *full[MAX_SLOTS], *empty[MAX_SLOTS];
    size_t nfull, nempty;
    int live_ep[MAX_LIVE], live_cn[MAX_LIVE], nlive_ep, nlive_cn;
    int ep_caps[MAX_EPS], cn_caps[MAX_CNODES];
    long destroyed_total;
    bool preempt; /* delete and revoke stop at every preemption point and are repeated */
    long stops;   /* how often they stopped */
};

static uint64_t rnd(struct world *w)
{
    w->rng ^= w->rng << 13;
    w->rng ^= w->rng >> 7;
    w->rng ^= w->rng << 17;
    return w->rng;
}

static size_t pick(struct world *w, size_t n) { return (size_t)(rnd(w) % n); }

/* Collects the storage that is alive: root slots and slots of CNodes not yet finalised. */
static void survey(struct world *w)
{
    w->nregions = w->nfull = w->nempty = 0;
    w->regions[w->nregions++] = (struct region){w->root, ROOT_SLOTS};
    for (int i = 0; i < w->nlive_cn; i++)
        w->regions[w->nregions++] = (struct region){w->cn[w->live_cn[i]]->slots, RCN_SLOTS};
    for (size_t r = 0; r < w->nregions; r++)
        for (size_t j = 0; j < w->regions[r].count; j++) {
            struct slot *s = &w->regions[r].base[j];
            if (cap_is_null(&s->cap)) w->empty[w->nempty++] = s;
            else w->full[w->nfull++] = s;
        }
}

/* Counts the caps naming each object not yet seen destroyed, in one pass over the storage. */
static void count_caps(struct world *w)
{
    for (int i = 0; i < w->nlive_ep; i++) w->ep_caps[w->live_ep[i]] = 0;
    for (int i = 0; i < w->nlive_cn; i++) w->cn_caps[w->live_cn[i]] = 0;
    for (size_t i = 0; i < w->nfull; i++) {
        const struct cap *c = &w->full[i]->cap;
        if (c->type == RS_CAP_ENDPOINT) w->ep_caps[(struct fake_ep *)(uintptr_t)c->obj - w->ep]++;
        else if (c->type == RS_CAP_CNODE)
            w->cn_caps[container_of((struct slot *)(uintptr_t)c->obj, struct fake_cnode, slots)
                           ->id]++;
    }
}

/* After each step: an object is destroyed exactly when no cap names it any more, and only once
 * (every finalise call is accounted for by an object that went). */
static void check_objects(struct world *w, int step)
{
    count_caps(w);
    for (int i = 0; i < w->nlive_ep; i++) {
        int id = w->live_ep[i], n = w->ep_caps[id], d = w->ep[id].destroyed;
        if (d ? n != 0 || d != 1 : n == 0)
            cr_assert_fail("step %d: ep %d destroyed %d times with %d caps", step, id, d, n);
        if (!d) continue;
        w->live_ep[i--] = w->live_ep[--w->nlive_ep];
        w->destroyed_total++;
    }
    for (int i = 0; i < w->nlive_cn; i++) {
        int id = w->live_cn[i], n = w->cn_caps[id];
        struct fake_cnode *cn = w->cn[id];
        if (cn->finalised ? n != 0 || cn->finalised != 1 : n == 0)
            cr_assert_fail("step %d: cnode %d finalised %d times with %d caps", step, id,
                           cn->finalised, n);
        if (!cn->finalised) continue;
        for (int j = 0; j < RCN_SLOTS; j++)
            if (!cap_is_null(&cn->slots[j].cap) || cn->slots[j].parent || cn->slots[j].next)
                cr_assert_fail("step %d: finalised cnode %d slot %d not empty", step, id, j);
        w->live_cn[i--] = w->live_cn[--w->nlive_cn];
        w->destroyed_total++;
    }
    if (w->destroyed_total != finalise_calls)
        cr_assert_fail("step %d: %ld finalise calls for %ld destroyed objects", step,
                       finalise_calls, w->destroyed_total);
}

/* Makes a new object (endpoint, CNode or smaller untyped) from the untyped in `u` into `dst`. */
static void random_retype(struct world *w, struct slot *u, struct slot *dst)
{
    unsigned kind = (unsigned)pick(w, 20);
    if (kind < 3 && w->ncn < MAX_CNODES && w->nlive_cn < MAX_LIVE) {
        struct fake_cnode *cn = new_cnode(RCN_BITS);
        cn->id = w->ncn;
        w->cn[w->ncn] = cn;
        w->live_cn[w->nlive_cn++] = w->ncn++;
        put(dst, cnode_cap(cn, RCN_BITS), u);
    } else if (kind < 6) {
        put(dst, untyped_cap(w->next_untyped += 0x10000, 16), u);
    } else if (w->nep < MAX_EPS && w->nlive_ep < MAX_LIVE) {
        w->ep[w->nep].waiters = (int)pick(w, 40); /* woken when its last cap goes */
        w->live_ep[w->nlive_ep++] = w->nep;
        put(dst, ep_cap(&w->ep[w->nep++]), u);
    }
}

static struct slot *find_untyped(struct world *w)
{
    size_t start = pick(w, w->nfull);
    for (size_t i = 0; i < w->nfull; i++) {
        struct slot *s = w->full[(start + i) % w->nfull];
        if (s->cap.type == RS_CAP_UNTYPED) return s;
    }
    return NULL;
}

/* One random operation on the surveyed world. */
static void random_op(struct world *w)
{
    struct slot *dst = w->nempty ? w->empty[pick(w, w->nempty)] : NULL;
    struct slot *src = w->nfull ? w->full[pick(w, w->nfull)] : NULL;
    struct slot *u = w->nfull ? find_untyped(w) : NULL;
    unsigned op = (unsigned)pick(w, 100);
    if (!u) {
        for (int i = 0; i < ROOT_SLOTS; i++)
            if (cap_is_null(&w->root[i].cap)) {
                put(&w->root[i], untyped_cap(w->next_untyped += 0x1000000, 24), NULL);
                return;
            }
        op = 50; /* no room: delete */
    }
    if (dst && op < 25) {
        copy(src, dst);
    } else if (dst && op < 42) {
        random_retype(w, u, dst);
    } else if (op < 70 || !dst) {
        if (w->preempt) {
            while (!cdt_delete_preemptible(src)) w->stops++;
        } else {
            cdt_delete(src);
        }
        cr_assert(cap_is_null(&src->cap) && !src->parent && !src->child);
    } else if (op < 80) {
        while (!cdt_revoke(src, NULL)) w->stops++;
        cr_assert(!cdt_has_children(src));
    } else {
        struct cap c = src->cap;
        cdt_move(src, dst);
        cr_assert(cap_is_null(&src->cap) && dst->cap.type == c.type && dst->cap.obj == c.obj);
    }
}

/* A number for a slot that does not depend on where the storage was allocated: its index among
 * the root slots and then the slots of every CNode ever made, in order of making. */
static uint64_t slot_number(const struct world *w, const struct slot *p)
{
    if (!p) return 0;
    if (p >= w->root && p < w->root + ROOT_SLOTS) return 1 + (uint64_t)(p - w->root);
    for (int i = 0; i < w->ncn; i++)
        if (p >= w->cn[i]->slots && p < w->cn[i]->slots + RCN_SLOTS)
            return 1 + ROOT_SLOTS + (uint64_t)i * RCN_SLOTS + (uint64_t)(p - w->cn[i]->slots);
    cr_assert_fail("link to a slot outside the world");
    return 0;
}

/* A hash of the whole world: every slot's cap (objects by number) and links (slots by number). */
static uint64_t world_hash(const struct world *w)
{
    uint64_t h = 1469598103934665603ull;
#define MIX(v) (h = (h ^ (uint64_t)(v)) * 1099511628211ull)
    for (int r = -1; r < w->ncn; r++)
        for (int j = 0; j < (r < 0 ? ROOT_SLOTS : RCN_SLOTS); j++) {
            const struct slot *sl = r < 0 ? &w->root[j] : &w->cn[r]->slots[j];
            const struct cap *c = &sl->cap;
            MIX(c->type);
            if (c->type == RS_CAP_ENDPOINT) MIX((struct fake_ep *)(uintptr_t)c->obj - w->ep);
            else if (c->type == RS_CAP_CNODE)
                MIX(container_of((struct slot *)(uintptr_t)c->obj, struct fake_cnode, slots)->id);
            else MIX(c->obj);
            MIX(slot_number(w, sl->parent));
            MIX(slot_number(w, sl->child));
            MIX(slot_number(w, sl->next));
            MIX(slot_number(w, sl->prev));
        }
    for (int i = 0; i < w->nep; i++) MIX(w->ep[i].destroyed);
    for (int i = 0; i < w->ncn; i++) MIX(w->cn[i]->finalised);
#undef MIX
    return h;
}

enum { HASH_EVERY = 1 };

/* Runs the random walk; with `preempt`, every deletion and revocation stops at each preemption
 * point and is repeated until done. Fills hashes[] with the world's hash every HASH_EVERY steps. */
static long run_world(uint64_t seed, bool preempt, uint64_t *hashes)
{
    finalise_calls = cap_deleted_calls = other_finalised = 0;
    preempt_every = preempt ? 1 : 0;
    struct world *w = calloc(1, sizeof(*w));
    cr_assert_not_null(w);
    w->rng = seed;
    w->preempt = preempt;
    w->next_untyped = 0x100000000;
    for (int i = 0; i < 4; i++)
        put(&w->root[i], untyped_cap(w->next_untyped += 0x1000000, 24), NULL);
    for (int step = 0; step < STEPS; step++) {
        survey(w);
        random_op(w);
        survey(w);
        check_regions(w->regions, w->nregions, ROOT_SLOTS + (size_t)w->ncn * RCN_SLOTS);
        check_objects(w, step);
        if (hashes && step % HASH_EVERY == 0) hashes[step / HASH_EVERY] = world_hash(w);
    }
    cr_log_info("seed %llu: %d endpoints, %d cnodes made, %ld destroyed, %ld stops",
                (unsigned long long)seed, w->nep, w->ncn, w->destroyed_total, w->stops);
    cr_expect_gt(w->destroyed_total, 100, "the random walk destroyed too little to mean much");
    cr_expect_eq(other_finalised, 0);
    long stops = w->stops;
    for (int i = 0; i < w->ncn; i++) free(w->cn[i]);
    free(w);
    preempt_every = 0;
    return stops;
}

static void run_random(uint64_t seed) { run_world(seed, false, NULL); }

/* Preempted at every point and repeated, each deletion and revocation ends in exactly the world
 * the uninterrupted one makes (same caps, same links, same objects destroyed), step by step. */
static void run_preempted(uint64_t seed)
{
    static uint64_t plain[STEPS / HASH_EVERY], preempted[STEPS / HASH_EVERY];
    cr_expect_eq(run_world(seed, false, plain), 0);
    long stops = run_world(seed, true, preempted);
    cr_expect_gt(stops, 1000, "only %ld preemptions: the walk did not test much", stops);
    for (int i = 0; i < STEPS / HASH_EVERY; i++)
        if (plain[i] != preempted[i]) cr_assert_fail("worlds differ after step %d", i * HASH_EVERY);
}

Test(cdt_random, preempted_seed_1) { run_preempted(0x9E3779B97F4A7C15ull); }
Test(cdt_random, preempted_seed_2) { run_preempted(777); }

Test(cdt_random, seed_1) { run_random(0x9E3779B97F4A7C15ull); }
Test(cdt_random, seed_2) { run_random(12345); }
Test(cdt_random, seed_3) { run_random(0xDEADBEEFCAFEull); }
