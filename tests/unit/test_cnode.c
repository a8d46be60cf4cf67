// SPDX-License-Identifier: MIT
// Host tests of the CNode invocations' decode step (kernel/cnode.c): every rejection of Copy,
// Mint, Move, Mutate, Delete and Revoke, with its exact error and detail words, changes nothing.
#include "inv_fixture.h"
#include "cnode.h"
#include <resurgo/invocation.h>

enum { EP = 1, NTFN = 2, SUB = 3, FRAME = 4, UT = 5, DST = 10, EMPTY = 11 };
#define D 64 /* depth of a cptr in the single-level root CNode */

static struct slot sub_slots[16] __attribute__((aligned(64)));
static uint64_t objects[8][8] __attribute__((aligned(64))); /* stand-ins the caps point at */

static void setup(void)
{
    fx_world();
    memset(sub_slots, 0, sizeof(sub_slots));
    memset(objects, 0, sizeof(objects));
    fx_put(EP, (struct cap){
                   .type = RS_CAP_ENDPOINT, .rights = RS_RIGHTS_ALL, .obj = (uintptr_t)objects[0]});
    fx_put(NTFN, (struct cap){.type = RS_CAP_NOTIFICATION,
                              .rights = RS_RIGHTS_ALL,
                              .obj = (uintptr_t)objects[1]});
    fx_put(SUB, fx_cnode_cap(sub_slots, 4)); // a 16-slot CNode, guard 60 bits: depth 64 below it
    fx_put(FRAME, (struct cap){.type = RS_CAP_FRAME,
                               .rights = RS_RIGHTS_ALL,
                               .bits = 12,
                               .obj = (uintptr_t)objects[2]});
    fx_put(UT, (struct cap){.type = RS_CAP_UNTYPED,
                            .rights = RS_RIGHTS_ALL,
                            .bits = 12,
                            .obj = (uintptr_t)objects[3]});
}

TestSuite(cnode, .init = setup, .fini = fx_free_all);

/* Invokes the root CNode with (label, args) and the root itself as CAP0 (the source root). */
static int op(uint64_t label, const uint64_t *args, unsigned n)
{
    struct slot *extra[] = {&fx.root};
    return fx_invoke(&fx.root, label, args, n, extra, 1);
}

static void expect_empty(unsigned i)
{
    cr_expect(cap_is_null(&fx.cnode[i].cap), "slot %u stays empty", i);
}

Test(cnode, unknown_label_is_illegal)
{
    uint64_t a[6] = {DST, D, EP, D, RS_RIGHTS_ALL, 0};
    fx_expect_error(op(RS_CNODE_COPY - 1, a, 6), RS_ILLEGAL_OPERATION, 0, 0, 0);
    fx_expect_error(op(RS_CNODE_REVOKE + 1, a, 6), RS_ILLEGAL_OPERATION, 0, 0, 0);
    expect_empty(DST);
}

Test(cnode, short_messages_are_truncated)
{
    uint64_t a[6] = {DST, D, EP, D, RS_RIGHTS_ALL, 0};
    fx_expect_error(op(RS_CNODE_COPY, a, 3), RS_TRUNCATED_MESSAGE, 4, 3, 0);
    fx_expect_error(op(RS_CNODE_MOVE, a, 3), RS_TRUNCATED_MESSAGE, 4, 3, 0);
    fx_expect_error(op(RS_CNODE_MINT, a, 5), RS_TRUNCATED_MESSAGE, 6, 5, 0);
    fx_expect_error(op(RS_CNODE_MUTATE, a, 4), RS_TRUNCATED_MESSAGE, 5, 4, 0);
    fx_expect_error(op(RS_CNODE_DELETE, a, 1), RS_TRUNCATED_MESSAGE, 2, 1, 0);
    fx_expect_error(op(RS_CNODE_REVOKE, a, 0), RS_TRUNCATED_MESSAGE, 2, 0, 0);
    expect_empty(DST);
}

Test(cnode, source_root_must_be_a_cnode)
{
    uint64_t a[4] = {DST, D, EP, D};
    fx_expect_error(fx_invoke(&fx.root, RS_CNODE_COPY, a, 4, NULL, 0), RS_INVALID_CAPABILITY, 1, 0,
                    0);
    struct slot *extra[] = {&fx.cnode[EP]};
    fx_expect_error(fx_invoke(&fx.root, RS_CNODE_COPY, a, 4, extra, 1), RS_INVALID_CAPABILITY, 1, 0,
                    0);
    expect_empty(DST);
}

Test(cnode, depths_out_of_range)
{
    uint64_t dst0[4] = {DST, 0, EP, D}, dst65[4] = {DST, 65, EP, D};
    uint64_t src0[4] = {DST, D, EP, 0}, src65[4] = {DST, D, EP, 65};
    fx_expect_error(op(RS_CNODE_COPY, dst0, 4), RS_RANGE_ERROR, 1, 1, 64);
    fx_expect_error(op(RS_CNODE_COPY, dst65, 4), RS_RANGE_ERROR, 1, 1, 64);
    fx_expect_error(op(RS_CNODE_COPY, src0, 4), RS_RANGE_ERROR, 3, 1, 64);
    fx_expect_error(op(RS_CNODE_MOVE, src65, 4), RS_RANGE_ERROR, 3, 1, 64);
    uint64_t del[2] = {EP, 0};
    fx_expect_error(op(RS_CNODE_DELETE, del, 2), RS_RANGE_ERROR, 1, 1, 64);
    del[1] = 65;
    fx_expect_error(op(RS_CNODE_REVOKE, del, 2), RS_RANGE_ERROR, 1, 1, 64);
    cr_expect_eq(fx.cnode[EP].cap.type, RS_CAP_ENDPOINT);
    expect_empty(DST);
}

/* Failed lookups name the argument and the bits left unresolved. */
Test(cnode, lookups_that_fail)
{
    uint64_t guard = 1ull << 60; // a guard bit set: nothing resolves, 64 bits left
    uint64_t bad_dst[4] = {guard | DST, D, EP, D}, bad_src[4] = {DST, D, guard | EP, D};
    fx_expect_error(op(RS_CNODE_COPY, bad_dst, 4), RS_FAILED_LOOKUP, 0, 64, 0);
    fx_expect_error(op(RS_CNODE_COPY, bad_src, 4), RS_FAILED_LOOKUP, 2, 64, 0);
    // depth 8 is less than the root's guard + radix (64): the level does not fit
    uint64_t short_src[4] = {DST, D, EP, 8};
    fx_expect_error(op(RS_CNODE_COPY, short_src, 4), RS_FAILED_LOOKUP, 2, 8, 0);
    uint64_t del[2] = {guard | EP, D};
    fx_expect_error(op(RS_CNODE_DELETE, del, 2), RS_FAILED_LOOKUP, 0, 64, 0);
    fx_expect_error(op(RS_CNODE_REVOKE, del, 2), RS_FAILED_LOOKUP, 0, 64, 0);
    cr_expect_eq(fx.cnode[EP].cap.type, RS_CAP_ENDPOINT);
    expect_empty(DST);
}

Test(cnode, occupied_destination_and_empty_source)
{
    uint64_t occupied[4] = {NTFN, D, EP, D}, empty_src[4] = {DST, D, EMPTY, D};
    fx_expect_error(op(RS_CNODE_COPY, occupied, 4), RS_DELETE_FIRST, 0, 0, 0);
    fx_expect_error(op(RS_CNODE_MOVE, occupied, 4), RS_DELETE_FIRST, 0, 0, 0);
    fx_expect_error(op(RS_CNODE_COPY, empty_src, 4), RS_FAILED_LOOKUP, 2, 0, 0);
    uint64_t self[4] = {EP, D, EP, D}; // onto itself: the destination is occupied
    fx_expect_error(op(RS_CNODE_MOVE, self, 4), RS_DELETE_FIRST, 0, 0, 0);
    cr_expect_eq(fx.cnode[NTFN].cap.type, RS_CAP_NOTIFICATION);
    cr_expect_eq(fx.cnode[EP].cap.type, RS_CAP_ENDPOINT);
    expect_empty(DST);
}

Test(cnode, only_delete_touches_a_zombie)
{
    fx.cnode[EP].cap.type = 0xFF; // cdt.c's zombie marker
    cr_assert(cap_is_zombie(&fx.cnode[EP].cap));
    uint64_t a[6] = {DST, D, EP, D, RS_RIGHTS_ALL, 0};
    for (uint64_t l = RS_CNODE_COPY; l <= RS_CNODE_MUTATE; l++)
        fx_expect_error(op(l, a, 6), RS_ILLEGAL_OPERATION, 2, 0, 0);
    expect_empty(DST);
    fx.cnode[EP].cap.type = RS_CAP_ENDPOINT;
}

Test(cnode, caps_that_cannot_be_copied)
{
    uint64_t ut[6] = {DST, D, UT, D, RS_RIGHTS_ALL, 0};
    fx_expect_error(op(RS_CNODE_COPY, ut, 4), RS_ILLEGAL_OPERATION, 2, 0, 0);
    fx_expect_error(op(RS_CNODE_MINT, ut, 6), RS_ILLEGAL_OPERATION, 2, 0, 0);
    fx_put(EMPTY, (struct cap){.type = RS_CAP_PAGE_TABLE,
                               .rights = RS_RIGHTS_ALL,
                               .obj = (uintptr_t)objects[4]});
    uint64_t pt[4] = {DST, D, EMPTY, D};
    fx_expect_error(op(RS_CNODE_COPY, pt, 4), RS_ILLEGAL_OPERATION, 2, 0, 0);
    expect_empty(DST);
    // Move is no copy: an untyped cap may move
    cr_expect_eq(op(RS_CNODE_MOVE, ut, 4), RS_OK);
    cr_expect_eq(fx.cnode[DST].cap.type, RS_CAP_UNTYPED);
    cr_expect(cap_is_null(&fx.cnode[UT].cap));
}

Test(cnode, mint_rights_and_badges)
{
    uint64_t bad_rights[6] = {DST, D, EP, D, RS_RIGHTS_ALL + 1, 0};
    fx_expect_error(op(RS_CNODE_MINT, bad_rights, 6), RS_INVALID_ARGUMENT, 4, 0, 0);
    uint64_t frame_badge[6] = {DST, D, FRAME, D, RS_RIGHTS_ALL, 7};
    fx_expect_error(op(RS_CNODE_MINT, frame_badge, 6), RS_INVALID_ARGUMENT, 5, 0, 0);
    expect_empty(DST);
    // a badged endpoint cap cannot be badged again
    uint64_t badge[6] = {DST, D, EP, D, RS_RIGHTS_ALL, 7};
    cr_assert_eq(op(RS_CNODE_MINT, badge, 6), RS_OK);
    cr_expect_eq(cap_badge(&fx.cnode[DST].cap), 7);
    uint64_t again[6] = {EMPTY, D, DST, D, RS_RIGHTS_ALL, 8};
    fx_expect_error(op(RS_CNODE_MINT, again, 6), RS_ILLEGAL_OPERATION, 5, 0, 0);
    expect_empty(EMPTY);
    // the same with Mutate (which takes the badge when six words are sent)
    uint64_t mutate_again[6] = {EMPTY, D, DST, D, RS_RIGHTS_ALL, 9};
    fx_expect_error(op(RS_CNODE_MUTATE, mutate_again, 6), RS_ILLEGAL_OPERATION, 5, 0, 0);
    cr_expect_eq(cap_badge(&fx.cnode[DST].cap), 7);
    expect_empty(EMPTY);
}

/* For a CNode the "badge" is the new guard: size << 58 | value. */
Test(cnode, mint_guards_out_of_range)
{
    uint64_t too_long[6] = {DST, D, SUB, D, RS_RIGHTS_ALL, 61ull << 58}; // 61 + radix 4 > 64
    fx_expect_error(op(RS_CNODE_MINT, too_long, 6), RS_RANGE_ERROR, 5, 0, 60);
    uint64_t too_big[6] = {DST, D, SUB, D, RS_RIGHTS_ALL, 3ull << 58 | 8}; // 8 needs 4 bits
    fx_expect_error(op(RS_CNODE_MINT, too_big, 6), RS_RANGE_ERROR, 5, 0, 7);
    expect_empty(DST);
    uint64_t ok[6] = {DST, D, SUB, D, RS_RIGHTS_ALL, 3ull << 58 | 5};
    cr_assert_eq(op(RS_CNODE_MINT, ok, 6), RS_OK);
    cr_expect_eq(cap_guard_bits(&fx.cnode[DST].cap), 3);
    cr_expect_eq(cap_guard(&fx.cnode[DST].cap), 5);
}

Test(cnode, mutate_needs_a_cap_without_children)
{
    uint64_t copy[4] = {DST, D, EP, D};
    cr_assert_eq(op(RS_CNODE_COPY, copy, 4), RS_OK);
    uint64_t mutate[5] = {EMPTY, D, EP, D, RS_RIGHT_READ};
    fx_expect_error(op(RS_CNODE_MUTATE, mutate, 5), RS_REVOKE_FIRST, 2, 0, 0);
    cr_expect_eq(fx.cnode[EP].cap.rights, RS_RIGHTS_ALL);
    expect_empty(EMPTY);
    // without the child it goes through, rights reduced
    uint64_t del[2] = {DST, D};
    cr_assert_eq(op(RS_CNODE_DELETE, del, 2), RS_OK);
    cr_expect_eq(op(RS_CNODE_MUTATE, mutate, 5), RS_OK);
    cr_expect_eq(fx.cnode[EMPTY].cap.rights, RS_RIGHT_READ);
    cr_expect(cap_is_null(&fx.cnode[EP].cap));
}

/* Delete and Revoke of an empty slot are no errors. */
Test(cnode, delete_and_revoke_of_an_empty_slot)
{
    uint64_t a[2] = {EMPTY, D};
    cr_expect_eq(op(RS_CNODE_DELETE, a, 2), RS_OK);
    cr_expect_eq(op(RS_CNODE_REVOKE, a, 2), RS_OK);
}
