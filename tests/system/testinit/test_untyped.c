// SPDX-License-Identifier: MIT
// Untyped tests: retype of every object type, placement and alignment, exhaustion, destination
// checks, and revoke/delete giving the memory back (the same region can be retyped again).
#include "suites.h"

#define ME RS_INIT_CNODE

/* The physical address of a frame (or large frame) retyped from `ut` now, kept in a new slot. */
static uint64_t next_frame_paddr(rs_cptr_t ut, unsigned type)
{
    rs_cptr_t s = new_slot();
    uint64_t pa = ~0ul;
    if (CHECK_OK(ps_untyped_retype(ut, ME, type, 0, 0, 0, s, 1)))
        CHECK_OK(ps_frame_get_address(s, &pa));
    return pa;
}

static void ut_every_type(void)
{
    static const struct {
        unsigned type, bits;
        int cap;
    } kinds[] = {
        {RS_OBJ_UNTYPED, 12, RS_CAP_UNTYPED},
        {RS_OBJ_TCB, 0, RS_CAP_TCB},
        {RS_OBJ_ENDPOINT, 0, RS_CAP_ENDPOINT},
        {RS_OBJ_NOTIFICATION, 0, RS_CAP_NOTIFICATION},
        {RS_OBJ_CNODE, 4, RS_CAP_CNODE},
        {RS_OBJ_FRAME, 0, RS_CAP_FRAME},
        {RS_OBJ_LARGE_FRAME, 0, RS_CAP_FRAME},
        {RS_OBJ_PAGE_TABLE, 0, RS_CAP_PAGE_TABLE},
        {RS_OBJ_PAGE_DIRECTORY, 0, RS_CAP_PAGE_DIRECTORY},
        {RS_OBJ_PDPT, 0, RS_CAP_PDPT},
        {RS_OBJ_VSPACE, 0, RS_CAP_VSPACE},
    };
    ps_ut_t ua;
    ps_untyped_t st;
    rs_cptr_t ut = new_untyped(23, &ua, &st);
    REQUIRE(ut);
    for (unsigned i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        rs_cptr_t s = new_slot();
        if (CHECK_OK(ps_ut_retype(&ua, ME, kinds[i].type, kinds[i].bits, 0, 0, s, 1, NULL)))
            CHECK_EQ(cap_type(s), kinds[i].cap);
    }
    // the virtualisation objects exist only with a backend for the CPU
    const unsigned virt[] = {RS_OBJ_VCPU, RS_OBJ_GUEST_SPACE},
                   virt_cap[] = {RS_CAP_VCPU, RS_CAP_GUEST_SPACE};
    for (unsigned i = 0; i < 2; i++) {
        rs_cptr_t s = new_slot();
        int err = ps_untyped_retype(ut, ME, virt[i], 0, 0, 0, s, 1);
        if (err == RS_OK) CHECK_EQ(cap_type(s), virt_cap[i]);
        else CHECK_ERR(err, RS_NOT_SUPPORTED);
    }
    rs_cptr_t s = new_slot();
    CHECK_ERR(ps_untyped_retype(ut, ME, RS_OBJ_TYPE_COUNT, 0, 0, 0, s, 1), RS_INVALID_ARGUMENT);
    CHECK_EQ(ps_mr(0), 0);
    CHECK_ERR(ps_untyped_retype(ut, ME, 1000, 0, 0, 0, s, 1), RS_INVALID_ARGUMENT);
    CHECK_EQ(cap_type(s), RS_CAP_NULL);
}

static void ut_occupied_destination(void)
{
    rs_cptr_t ut = new_object(RS_OBJ_UNTYPED, 16), first = ps_slot_alloc_range(env->slots, 3);
    REQUIRE(ut && first);
    REQUIRE_OK(ps_untyped_retype(ut, ME, RS_OBJ_NOTIFICATION, 0, 0, 0, first + 1, 1));
    CHECK_ERR(ps_untyped_retype(ut, ME, RS_OBJ_ENDPOINT, 0, 0, 0, first, 3), RS_DELETE_FIRST);
    CHECK_EQ(ps_mr(0), 4);
    CHECK_EQ(ps_mr(1), first + 1);
    CHECK_EQ(cap_type(first), RS_CAP_NULL); // all or nothing
    CHECK_EQ(cap_type(first + 2), RS_CAP_NULL);
    CHECK_EQ(cap_type(first + 1), RS_CAP_NOTIFICATION);
}

static void ut_exhausted(void)
{
    rs_cptr_t ut = new_object(RS_OBJ_UNTYPED, 12), tcb = new_slot(), ep = new_slot(),
              f = new_slot();
    rs_cptr_t eps = ps_slot_alloc_range(env->slots, 64);
    REQUIRE(ut && eps);
    REQUIRE_OK(ps_untyped_retype(ut, ME, RS_OBJ_TCB, 0, 0, 0, tcb, 1));
    REQUIRE_OK(ps_untyped_retype(ut, ME, RS_OBJ_ENDPOINT, 0, 0, 0, ep, 1));
    CHECK_ERR(ps_untyped_retype(ut, ME, RS_OBJ_FRAME, 0, 0, 0, f, 1), RS_NOT_ENOUGH_MEMORY);
    CHECK_EQ(ps_mr(0), 4096 - 2048 - 32); // bytes left
    CHECK_ERR(ps_untyped_retype(ut, ME, RS_OBJ_ENDPOINT, 0, 0, 0, eps, 64), RS_NOT_ENOUGH_MEMORY);
    CHECK_OK(ps_untyped_retype(ut, ME, RS_OBJ_ENDPOINT, 0, 0, 0, eps, 63));
    CHECK_ERR(ps_untyped_retype(ut, ME, RS_OBJ_NOTIFICATION, 0, 0, 0, eps + 63, 1),
              RS_NOT_ENOUGH_MEMORY);
    CHECK_EQ(ps_mr(0), 0);
    CHECK_EQ(cap_type(f), RS_CAP_NULL);
}

static void ut_revoke_resets(void)
{
    rs_cptr_t ut = new_object(RS_OBJ_UNTYPED, 16), objs = ps_slot_alloc_range(env->slots, 8);
    REQUIRE(ut && objs);
    uint64_t base = next_frame_paddr(ut, RS_OBJ_FRAME);
    REQUIRE_OK(ps_untyped_retype(ut, ME, RS_OBJ_ENDPOINT, 0, 0, 0, objs, 8));
    rs_cptr_t tcb = new_slot(), cn = new_slot();
    REQUIRE_OK(ps_untyped_retype(ut, ME, RS_OBJ_TCB, 0, 0, 0, tcb, 1));
    REQUIRE_OK(ps_untyped_retype(ut, ME, RS_OBJ_CNODE, 3, 0, 0, cn, 1));
    CHECK(next_frame_paddr(ut, RS_OBJ_FRAME) > base);
    CHECK_OK(ps_cnode_revoke(ME, ut, PS_DEPTH));
    CHECK_EQ(cap_type(objs), RS_CAP_NULL);
    CHECK_EQ(cap_type(objs + 7), RS_CAP_NULL);
    CHECK_EQ(cap_type(tcb), RS_CAP_NULL);
    CHECK_EQ(cap_type(cn), RS_CAP_NULL);
    CHECK_EQ(cap_type(ut), RS_CAP_UNTYPED);
    CHECK_EQ(next_frame_paddr(ut, RS_OBJ_FRAME), base); // the same region again
    CHECK_OK(ps_untyped_retype(ut, ME, RS_OBJ_ENDPOINT, 0, 0, 0, objs, 8));
    // deleting every child one by one empties it as well
    CHECK_OK(ps_cnode_revoke(ME, ut, PS_DEPTH));
    rs_cptr_t f = new_slot();
    REQUIRE_OK(ps_untyped_retype(ut, ME, RS_OBJ_FRAME, 0, 0, 0, f, 1));
    CHECK_OK(ps_cnode_delete(ME, f, PS_DEPTH));
    CHECK_EQ(next_frame_paddr(ut, RS_OBJ_FRAME), base);
}

static void ut_not_copyable(void)
{
    rs_cptr_t ut = new_object(RS_OBJ_UNTYPED, 16), dst = new_slot(), moved = new_slot();
    REQUIRE(ut && dst && moved);
    uint64_t base = next_frame_paddr(ut, RS_OBJ_FRAME);
    CHECK_ERR(ps_cnode_copy(ME, dst, PS_DEPTH, ME, ut, PS_DEPTH), RS_ILLEGAL_OPERATION);
    CHECK_EQ(ps_mr(0), 2);
    CHECK_ERR(ps_cnode_mint(ME, dst, PS_DEPTH, ME, ut, PS_DEPTH, RS_RIGHT_READ, 0),
              RS_ILLEGAL_OPERATION);
    CHECK_EQ(cap_type(dst), RS_CAP_NULL);
    // Move keeps the watermark with the cap: the next frame follows the first
    CHECK_OK(ps_cnode_move(ME, moved, PS_DEPTH, ME, ut, PS_DEPTH));
    CHECK_EQ(cap_type(ut), RS_CAP_NULL);
    CHECK_EQ(next_frame_paddr(moved, RS_OBJ_FRAME), base + RS_PAGE_SIZE);
}

static void ut_alignment_rules(void)
{
    rs_cptr_t ut = new_object(RS_OBJ_UNTYPED, 22), s = new_slot(), sub = new_slot();
    REQUIRE(ut && s && sub);
    uint64_t base = next_frame_paddr(ut, RS_OBJ_FRAME);
    CHECK_EQ(base & ((1ul << 22) - 1), 0); // an untyped is aligned to its size
    REQUIRE_OK(ps_untyped_retype(ut, ME, RS_OBJ_ENDPOINT, 0, 0, 0, s, 1));
    // the page after the endpoint's
    CHECK_EQ(next_frame_paddr(ut, RS_OBJ_FRAME), base + 2 * RS_PAGE_SIZE);
    REQUIRE_OK(ps_untyped_retype(ut, ME, RS_OBJ_UNTYPED, 14, 0, 0, sub, 1));
    CHECK_EQ(next_frame_paddr(sub, RS_OBJ_FRAME), base + (1ul << 14));      // aligned to its 16 KiB
    CHECK_EQ(next_frame_paddr(ut, RS_OBJ_LARGE_FRAME), base + (1ul << 21)); // to 2 MiB
    rs_cptr_t f = new_slot();
    CHECK_ERR(ps_untyped_retype(ut, ME, RS_OBJ_FRAME, 0, 0, 0, f, 1), RS_NOT_ENOUGH_MEMORY);
    CHECK_EQ(ps_mr(0), 0);
}

static void ut_bad_destination(void)
{
    rs_cptr_t ut = new_object(RS_OBJ_UNTYPED, 16), ep = new_object(RS_OBJ_ENDPOINT, 0),
              s = new_slot();
    REQUIRE(ut && ep && s);
    CHECK_ERR(ps_untyped_retype(ut, ep, RS_OBJ_ENDPOINT, 0, 0, 0, s, 1), RS_INVALID_CAPABILITY);
    CHECK_EQ(ps_mr(0), 1);
    CHECK_ERR(ps_untyped_retype(ut, ME, RS_OBJ_ENDPOINT, 0, ep, PS_DEPTH, 0, 1),
              RS_INVALID_CAPABILITY);
    CHECK_EQ(ps_mr(0), 2);
    CHECK_ERR(ps_untyped_retype(ut, ME, RS_OBJ_ENDPOINT, 0, s, PS_DEPTH, 0, 1),
              RS_INVALID_CAPABILITY);
    const uint64_t slots = 1ull << bootinfo->cnode_radix; // the root CNode's size
    CHECK_ERR(ps_untyped_retype(ut, ME, RS_OBJ_ENDPOINT, 0, 0, 0, slots, 1), RS_RANGE_ERROR);
    CHECK_EQ(ps_mr(0), 4);
    CHECK_ERR(ps_untyped_retype(ut, ME, RS_OBJ_ENDPOINT, 0, 0, 0, slots - 1, 2), RS_RANGE_ERROR);
    CHECK_EQ(ps_mr(2), slots - 2);
    CHECK_ERR(ps_invoke(ut, RS_CNODE_COPY, NULL, 0, NULL, 0), RS_ILLEGAL_OPERATION);
    CHECK_ERR(rs_recv(ut).error, RS_INVALID_CAPABILITY);
    CHECK_ERR(rs_nbsend(ut, 0).error, RS_ILLEGAL_OPERATION); // an invocation with label 0
}

static void ut_into_other_cnode(void)
{
    rs_cptr_t ut = new_object(RS_OBJ_UNTYPED, 16), cn = new_object(RS_OBJ_CNODE, 4), s = new_slot();
    REQUIRE(ut && cn && s);
    CHECK_OK(ps_untyped_retype(ut, ME, RS_OBJ_ENDPOINT, 0, cn, PS_DEPTH, 0, 16));
    CHECK_ERR(ps_untyped_retype(ut, ME, RS_OBJ_ENDPOINT, 0, cn, PS_DEPTH, 0, 17), RS_RANGE_ERROR);
    // depth 0: the root CNode itself
    CHECK_ERR(ps_untyped_retype(ut, cn, RS_OBJ_ENDPOINT, 0, 0, 0, 3, 1), RS_DELETE_FIRST);
    CHECK_OK(ps_cnode_copy(ME, s, PS_DEPTH, cn, 3, 4)); // radix 4, no guard: depth 4 names a slot
    CHECK_EQ(cap_type(s), RS_CAP_ENDPOINT);
    CHECK_OK(ps_cnode_revoke(ME, ut, PS_DEPTH));
    CHECK_EQ(cap_type(s), RS_CAP_NULL); // the copy was derived from one of them
}

/* A chain of CNodes, each holding the only cap to the next: deleting the first destroys all. */
static void ut_nested_destruction(void)
{
    enum { N = 64 };
    rs_cptr_t ut = new_object(RS_OBJ_UNTYPED, 16), cn = ps_slot_alloc_range(env->slots, N);
    REQUIRE(ut && cn);
    uint64_t base = next_frame_paddr(ut, RS_OBJ_FRAME);
    REQUIRE_OK(ps_cnode_revoke(ME, ut, PS_DEPTH));
    REQUIRE_OK(ps_untyped_retype(ut, ME, RS_OBJ_CNODE, 1, 0, 0, cn, N));
    for (int i = N - 2; i >= 0; i--)
        REQUIRE_OK(ps_cnode_move(cn + i, 0, 1, ME, cn + i + 1, PS_DEPTH));
    CHECK_EQ(cap_type(cn + 1), RS_CAP_NULL);
    CHECK_OK(ps_cnode_delete(ME, cn, PS_DEPTH));
    CHECK_EQ(cap_type(cn), RS_CAP_NULL);
    CHECK_EQ(next_frame_paddr(ut, RS_OBJ_FRAME), base); // no child left: the untyped is empty
}

/* A CNode that holds the only cap to itself is unreachable once the outside cap goes; revoking
 * its untyped still finds and destroys it. */
static void ut_revoke_cycle(void)
{
    rs_cptr_t ut = new_object(RS_OBJ_UNTYPED, 16), cn = new_slot(), ep = new_slot();
    REQUIRE(ut && cn && ep);
    uint64_t base = next_frame_paddr(ut, RS_OBJ_FRAME);
    REQUIRE_OK(ps_cnode_revoke(ME, ut, PS_DEPTH));
    REQUIRE_OK(ps_untyped_retype(ut, ME, RS_OBJ_CNODE, 2, 0, 0, cn, 1));
    REQUIRE_OK(ps_untyped_retype(ut, ME, RS_OBJ_ENDPOINT, 0, 0, 0, ep, 1));
    REQUIRE_OK(ps_cnode_copy(cn, 0, 2, ME, cn, PS_DEPTH));
    REQUIRE_OK(ps_cnode_move(cn, 1, 2, ME, ep, PS_DEPTH));
    CHECK_OK(ps_cnode_delete(ME, cn, PS_DEPTH)); // not the last cap: the CNode lives on
    CHECK_OK(ps_cnode_revoke(ME, ut, PS_DEPTH));
    CHECK_EQ(next_frame_paddr(ut, RS_OBJ_FRAME), base);
}

static void ut_allocator_fills(void)
{
    ps_ut_t ua;
    ps_untyped_t st;
    rs_cptr_t ut = new_untyped(14, &ua, &st), first = ps_slot_alloc_range(env->slots, 513);
    REQUIRE(ut && first);
    unsigned made = 0;
    while (made < 513 &&
           ps_ut_retype(&ua, ME, RS_OBJ_ENDPOINT, 0, 0, 0, first + made, 1, NULL) == RS_OK)
        made++;
    CHECK_EQ(made, (1u << 14) / (1u << RS_ENDPOINT_BITS));
    CHECK_ERR(ps_untyped_retype(ut, ME, RS_OBJ_ENDPOINT, 0, 0, 0, first + made, 1),
              RS_NOT_ENOUGH_MEMORY);
    CHECK_OK(ps_cnode_revoke(ME, ut, PS_DEPTH));
    ps_ut_reset(&ua, ut);
    CHECK_OK(ps_ut_retype(&ua, ME, RS_OBJ_FRAME, 0, 0, 0, first, 4, NULL));
    CHECK_EQ(cap_type(first + 3), RS_CAP_FRAME);
}

/* Revoking an untyped whose own cap sits in a CNode made from it: the revoke destroys the very
 * slot it was invoked on. */
static void ut_revoke_destroys_itself(void)
{
    rs_cptr_t ut = new_object(RS_OBJ_UNTYPED, 16), cn = new_slot(), ep = new_slot();
    REQUIRE(ut && cn && ep);
    REQUIRE_OK(ps_untyped_retype(ut, ME, RS_OBJ_CNODE, 2, 0, 0, cn, 1));
    REQUIRE_OK(ps_untyped_retype(ut, ME, RS_OBJ_ENDPOINT, 0, 0, 0, ep, 1));
    REQUIRE_OK(ps_cnode_move(cn, 0, 2, ME, ut, PS_DEPTH));
    CHECK_OK(ps_cnode_revoke(cn, 0, 2));
    CHECK_EQ(cap_type(cn), RS_CAP_NULL);
    CHECK_EQ(cap_type(ep), RS_CAP_NULL);
    CHECK_OK(ps_cnode_delete(ME, new_slot(), PS_DEPTH)); // still answering
}

/* Deleting an untyped cap that has children leaves them alive, hung under its parent. */
static void ut_delete_with_children(void)
{
    rs_cptr_t ut = new_object(RS_OBJ_UNTYPED, 16), ep = new_slot(), n = new_slot();
    REQUIRE(ut && ep && n);
    REQUIRE_OK(ps_untyped_retype(ut, ME, RS_OBJ_ENDPOINT, 0, 0, 0, ep, 1));
    CHECK_OK(ps_cnode_delete(ME, ut, PS_DEPTH));
    CHECK_EQ(cap_type(ep), RS_CAP_ENDPOINT);
    CHECK_ERR(rs_nbsend(ep, 0).error, RS_WOULD_BLOCK);
    // the pool's own revoke (in the clean-up) must still find it: checked by the leak check
    REQUIRE_OK(ps_ut_retype(env->ut, ME, RS_OBJ_NOTIFICATION, 0, 0, 0, n, 1, NULL));
    CHECK_EQ(cap_type(n), RS_CAP_NOTIFICATION);
}

const struct test untyped_tests[] = {
    {"UT-0001", "Retype makes every object type with the right cap type; unknown types are refused",
     ut_every_type},
    {"UT-0002", "Retype into an occupied slot fails with RS_DELETE_FIRST and makes nothing",
     ut_occupied_destination},
    {"UT-0003", "an exhausted untyped fails with RS_NOT_ENOUGH_MEMORY and says how much is left",
     ut_exhausted},
    {"UT-0004",
     "Revoke (or deleting every child) resets an untyped: the same region is retyped again",
     ut_revoke_resets},
    {"UT-0005", "untyped caps cannot be copied or minted (RS_ILLEGAL_OPERATION), only moved",
     ut_not_copyable},
    {"UT-0006", "objects are placed at the alignment the ABI gives (size, page, 2 MiB)",
     ut_alignment_rules},
    {"UT-0007", "a bad destination CNode or offset fails with the exact error", ut_bad_destination},
    {"UT-0008", "Retype places objects into another CNode named by index and depth",
     ut_into_other_cnode},
    {"UT-0009", "deleting the head of a 64-deep chain of CNodes destroys them all",
     ut_nested_destruction},
    {"UT-0010", "Revoke of an untyped destroys a CNode that holds the only cap to itself",
     ut_revoke_cycle},
    {"UT-0011",
     "the toolkit's untyped allocator fills an untyped exactly and reuses it after Revoke",
     ut_allocator_fills},
    {"UT-0012",
     "Revoke of an untyped whose cap lies in a CNode made from it destroys that CNode too",
     ut_revoke_destroys_itself},
    {"UT-0013", "deleting an untyped cap keeps its children alive until its parent is revoked",
     ut_delete_with_children},
    {0},
};
