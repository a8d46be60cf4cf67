// SPDX-License-Identifier: MIT
// CNode tests: Copy, Mint (badge, rights, guards), Move, Mutate, Delete, Revoke with the
// derivation tree, multi-level addressing, and invocations on caps of the wrong type.
#include "suites.h"

#define ME RS_INIT_CNODE
#define D  PS_DEPTH

static void cap_copy(void)
{
    rs_cptr_t ep = new_object(RS_OBJ_ENDPOINT, 0), a = new_slot(), b = new_slot(), t = new_slot();
    REQUIRE(ep && a && b && t);
    CHECK_OK(ps_cnode_copy(ME, a, D, ME, ep, D));
    CHECK_OK(ps_cnode_copy(ME, b, D, ME, a, D)); // a copy of a copy
    CHECK_EQ(cap_type(a), RS_CAP_ENDPOINT);
    CHECK_EQ(cap_type(b), RS_CAP_ENDPOINT);
    CHECK_ERR(rs_nbsend(b, 0).error, RS_WOULD_BLOCK); // usable, with all rights
    CHECK_ERR(rs_nbrecv(b).error, RS_WOULD_BLOCK);
    CHECK_OK(ps_cnode_copy(ME, t, D, ME, RS_INIT_TCB, D)); // a kernel-made cap copies too
    CHECK_OK(ps_tcb_set_name(t, "init"));
    CHECK_ERR(ps_cnode_copy(ME, a, D, ME, ep, D), RS_DELETE_FIRST);
    CHECK_EQ(ps_mr(0), 0);
}

static void cap_mint(void)
{
    rs_cptr_t n = new_object(RS_OBJ_NOTIFICATION, 0), ep = new_object(RS_OBJ_ENDPOINT, 0);
    rs_cptr_t f = new_object(RS_OBJ_FRAME, 0), b1 = new_slot(), b2 = new_slot(), ro = new_slot(),
              x = new_slot();
    REQUIRE(n && ep && f && b1 && b2 && ro && x);
    CHECK_OK(ps_cnode_mint(ME, b1, D, ME, n, D, RS_RIGHTS_ALL, 0x5));
    CHECK_ERR(rs_signal(b1), RS_OK);
    CHECK_EQ(rs_poll(n).badge, 0x5);
    CHECK_ERR(ps_cnode_mint(ME, b2, D, ME, b1, D, RS_RIGHTS_ALL, 0x9),
              RS_ILLEGAL_OPERATION); // badged already
    CHECK_EQ(ps_mr(0), 5);
    CHECK_OK(ps_cnode_mint(ME, b2, D, ME, b1, D, RS_RIGHTS_ALL, 0)); // badge 0 keeps the badge
    CHECK_ERR(rs_signal(b2), RS_OK);
    CHECK_EQ(rs_poll(n).badge, 0x5);
    CHECK_ERR(ps_cnode_mint(ME, x, D, ME, n, D, 0x10, 0), RS_INVALID_ARGUMENT);
    CHECK_EQ(ps_mr(0), 4);
    CHECK_ERR(ps_cnode_mint(ME, x, D, ME, f, D, RS_RIGHTS_ALL, 7),
              RS_INVALID_ARGUMENT); // frames have no badge
    CHECK_EQ(ps_mr(0), 5);
    CHECK_OK(ps_cnode_mint(ME, ro, D, ME, ep, D, RS_RIGHT_READ, 0));
    CHECK_ERR(rs_nbsend(ro, 0).error, RS_INSUFFICIENT_RIGHTS);
    CHECK_ERR(rs_nbrecv(ro).error, RS_WOULD_BLOCK);
    CHECK_OK(ps_cnode_mint(ME, x, D, ME, ro, D, RS_RIGHTS_ALL, 0)); // rights never grow
    CHECK_ERR(rs_nbsend(x, 0).error, RS_INSUFFICIENT_RIGHTS);
    CHECK_EQ(cap_type(x), RS_CAP_ENDPOINT);
}

static void cap_move(void)
{
    rs_cptr_t ep = new_object(RS_OBJ_ENDPOINT, 0), c = new_slot(), m = new_slot(), e = new_slot();
    REQUIRE(ep && c && m && e);
    REQUIRE_OK(ps_cnode_copy(ME, c, D, ME, ep, D));
    CHECK_OK(ps_cnode_move(ME, m, D, ME, ep, D));
    CHECK_EQ(cap_type(ep), RS_CAP_NULL);
    CHECK_EQ(cap_type(m), RS_CAP_ENDPOINT);
    CHECK_ERR(ps_cnode_move(ME, c, D, ME, m, D), RS_DELETE_FIRST);
    CHECK_ERR(ps_cnode_move(ME, m, D, ME, m, D), RS_DELETE_FIRST);
    CHECK_ERR(ps_cnode_move(ME, e, D, ME, ep, D), RS_FAILED_LOOKUP); // nothing to move
    CHECK_EQ(ps_mr(0), 2);
    CHECK_OK(ps_cnode_revoke(ME, m, D)); // the moved cap kept its place in the tree
    CHECK_EQ(cap_type(c), RS_CAP_NULL);
}

static void cap_mutate(void)
{
    rs_cptr_t ep = new_object(RS_OBJ_ENDPOINT, 0), n = new_object(RS_OBJ_NOTIFICATION, 0);
    rs_cptr_t m = new_slot(), c = new_slot(), nb = new_slot();
    REQUIRE(ep && n && m && c && nb);
    CHECK_OK(ps_cnode_mutate(ME, m, D, ME, ep, D, RS_RIGHT_READ));
    CHECK_EQ(cap_type(ep), RS_CAP_NULL);
    CHECK_ERR(rs_nbsend(m, 0).error, RS_INSUFFICIENT_RIGHTS);
    REQUIRE_OK(ps_cnode_copy(ME, c, D, ME, m, D));
    CHECK_ERR(ps_cnode_mutate(ME, ep, D, ME, m, D, RS_RIGHT_READ), RS_REVOKE_FIRST);
    CHECK_EQ(ps_mr(0), 2);
    CHECK_EQ(cap_type(m), RS_CAP_ENDPOINT); // left as it was
    const rs_word_t a[] = {nb, D, n, D, RS_RIGHTS_ALL, 0x33};
    const rs_cptr_t root[] = {ME};
    CHECK_OK(ps_invoke(ME, RS_CNODE_MUTATE, a, 6, root, 1)); // with a sixth word: the badge
    CHECK_ERR(rs_signal(nb), RS_OK);
    CHECK_EQ(rs_poll(nb).badge, 0x33);
}

static void cap_delete(void)
{
    rs_cptr_t ep = new_object(RS_OBJ_ENDPOINT, 0), c = new_slot(), e = new_slot();
    REQUIRE(ep && c && e);
    REQUIRE_OK(ps_cnode_copy(ME, c, D, ME, ep, D));
    CHECK_OK(ps_cnode_delete(ME, ep, D));
    CHECK_EQ(cap_type(ep), RS_CAP_NULL);
    CHECK_ERR(rs_nbsend(c, 0).error, RS_WOULD_BLOCK); // the object lives on in the copy
    CHECK_OK(ps_cnode_delete(ME, e, D));              // deleting nothing is fine
    CHECK_OK(ps_cnode_delete(ME, c, D));
    CHECK_ERR(rs_nbsend(c, 0).error, RS_FAILED_LOOKUP);
}

static void cap_revoke_tree(void)
{
    rs_cptr_t ep = new_object(RS_OBJ_ENDPOINT, 0), cn = new_object(RS_OBJ_CNODE, 3),
              out = new_slot();
    rs_cptr_t b = new_slot(), c = new_slot(), d = new_slot(), e = new_slot();
    REQUIRE(ep && cn && b && c && d && e && out);
    REQUIRE_OK(ps_cnode_copy(ME, b, D, ME, ep, D));
    REQUIRE_OK(ps_cnode_copy(ME, c, D, ME, b, D));
    REQUIRE_OK(ps_cnode_mint(ME, d, D, ME, ep, D, RS_RIGHT_WRITE, 7));
    REQUIRE_OK(ps_cnode_copy(ME, e, D, ME, d, D));
    REQUIRE_OK(ps_cnode_copy(cn, 5, 3, ME, c, D)); // a descendant in another CNode
    CHECK_OK(ps_cnode_revoke(ME, b, D));           // only b's subtree
    CHECK_EQ(cap_type(c), RS_CAP_NULL);
    CHECK_ERR(ps_cnode_copy(ME, out, D, cn, 5, 3), RS_FAILED_LOOKUP);
    CHECK_EQ(cap_type(b), RS_CAP_ENDPOINT);
    CHECK_EQ(cap_type(d), RS_CAP_ENDPOINT);
    REQUIRE_OK(ps_cnode_copy(cn, 6, 3, ME, e, D));
    CHECK_OK(ps_cnode_revoke(ME, ep, D));
    CHECK_EQ(cap_type(b), RS_CAP_NULL);
    CHECK_EQ(cap_type(d), RS_CAP_NULL);
    CHECK_EQ(cap_type(e), RS_CAP_NULL);
    CHECK_ERR(ps_cnode_copy(ME, out, D, cn, 6, 3), RS_FAILED_LOOKUP);
    CHECK_EQ(cap_type(ep), RS_CAP_ENDPOINT); // revoke keeps the cap itself
    CHECK_OK(ps_cnode_revoke(ME, ep, D));    // nothing left to revoke
    CHECK_OK(ps_cnode_revoke(ME, new_slot(), D));
}

static void cap_copy_errors(void)
{
    rs_cptr_t ep = new_object(RS_OBJ_ENDPOINT, 0), a = new_slot(), e = new_slot();
    REQUIRE(ep && a && e);
    CHECK_ERR(ps_cnode_copy(ME, a, D, ME, e, D), RS_FAILED_LOOKUP); // empty source
    CHECK_EQ(ps_mr(0), 2);
    CHECK_ERR(ps_cnode_copy(ME, ep, D, ME, ep, D), RS_DELETE_FIRST);      // onto itself
    CHECK_ERR(ps_cnode_copy(ME, a, D, ep, ep, D), RS_INVALID_CAPABILITY); // source root no CNode
    CHECK_EQ(ps_mr(0), 1);
    CHECK_ERR(ps_cnode_copy(ME, 0xDEAD0000ul, D, ME, ep, D), RS_FAILED_LOOKUP); // guard unmet
    CHECK_EQ(ps_mr(0), 0);
    CHECK_EQ(ps_mr(1), 64);
    CHECK_ERR(ps_invoke(ME, RS_CNODE_REVOKE + 1, NULL, 0, NULL, 0), RS_ILLEGAL_OPERATION);
    CHECK_ERR(ps_invoke(ME, RS_UNTYPED_RETYPE, NULL, 0, NULL, 0), RS_ILLEGAL_OPERATION);
    CHECK_EQ(cap_type(a), RS_CAP_NULL);
}

static void cap_multilevel(void)
{
    rs_cptr_t l1 = new_object(RS_OBJ_CNODE, 4), l2 = new_object(RS_OBJ_CNODE, 3);
    rs_cptr_t ep = new_object(RS_OBJ_ENDPOINT, 0), out = new_slot();
    REQUIRE(l1 && l2 && ep && out);
    REQUIRE_OK(ps_cnode_copy(l1, 3, 4, ME, l2, D)); // unguarded: 4 + 3 bits
    CHECK_OK(ps_cnode_copy(l1, (3 << 3) | 5, 7, ME, ep, D));
    CHECK_OK(ps_cnode_copy(ME, out, D, l2, 5, 3));
    CHECK_EQ(cap_type(out), RS_CAP_ENDPOINT);
    REQUIRE_OK(
        ps_cnode_mint(l1, 6, 4, ME, l2, D, RS_RIGHTS_ALL, ps_cnode_guard(2, 2))); // 4 + 2 + 3 bits
    CHECK_OK(ps_cnode_copy(l1, (6 << 5) | (2 << 3) | 4, 9, ME, ep, D));
    CHECK_ERR(ps_cnode_copy(l1, (6 << 5) | (1 << 3) | 6, 9, ME, ep, D), RS_FAILED_LOOKUP);
    CHECK_EQ(ps_mr(1), 5); // the guard below slot 6 did not match: 5 bits unresolved
    CHECK_ERR(ps_cnode_copy(l1, 3 << 2, 6, ME, ep, D), RS_FAILED_LOOKUP);
    CHECK_EQ(ps_mr(1), 2); // 2 bits are not enough for the next level
    CHECK_ERR(ps_cnode_copy(l1, 3, 4, ME, ep, D), RS_DELETE_FIRST); // depth 4 names the CNode cap
    CHECK_OK(ps_cnode_delete(ME, out, D));
    CHECK_OK(ps_cnode_copy(ME, out, D, l2, 4, 3));
    CHECK_EQ(cap_type(out), RS_CAP_ENDPOINT);
    rs_cptr_t g = new_slot();
    CHECK_ERR(ps_cnode_mint(ME, g, D, ME, l2, D, RS_RIGHTS_ALL, ps_cnode_guard(62, 0)),
              RS_RANGE_ERROR);
    CHECK_EQ(ps_mr(2), 61);
    CHECK_ERR(ps_cnode_mint(ME, g, D, ME, l2, D, RS_RIGHTS_ALL, ps_cnode_guard(2, 5)),
              RS_RANGE_ERROR);
    CHECK_EQ(ps_mr(2), 3);
}

/* Runs in a two-level CSpace (see cap_two_level_cspace); arg = report cptr. */
static void child_two_level(uint64_t report)
{
    rs_word_t direct = rs_nbsend(0x3AB, 0).error; // R slot 3 holds an endpoint: bits left over
    rs_word_t wrong = rs_nbsend((2 << 8) | (4 << 4) | 7, 0).error; // guard 4 instead of 5
    rs_word_t inner = rs_nbsend((2 << 8) | (5 << 4) | 6, 0).error; // L slot 6: a notification
    rs_mr_set(0, direct);
    rs_mr_set(1, wrong);
    rs_mr_set(2, inner);
    rs_mr_set(3, 0);
    rs_send(report, rs_msginfo(1, 0, 0, 4));
}

static void cap_two_level_cspace(void)
{
    rs_cptr_t report = new_object(RS_OBJ_ENDPOINT, 0), ep = new_object(RS_OBJ_ENDPOINT, 0);
    rs_cptr_t n = new_object(RS_OBJ_NOTIFICATION, 0);
    rs_cptr_t r = new_object(RS_OBJ_CNODE, 4), l = new_object(RS_OBJ_CNODE, 4), rg = new_slot();
    REQUIRE(report && ep && n && r && l && rg);
    // R: guard 52 + radix 4 leaves 8 bits; L under slot 2: guard 4 (value 5) + radix 4
    REQUIRE_OK(ps_cnode_mint(ME, rg, D, ME, r, D, RS_RIGHTS_ALL, ps_cnode_guard(52, 0)));
    REQUIRE_OK(ps_cnode_mint(r, 2, 4, ME, l, D, RS_RIGHTS_ALL, ps_cnode_guard(4, 5)));
    REQUIRE_OK(ps_cnode_copy(r, 3, 4, ME, ep, D));
    REQUIRE_OK(ps_cnode_mint(l, 7, 4, ME, report, D, RS_RIGHTS_ALL, CHILD_BADGE));
    REQUIRE_OK(ps_cnode_copy(l, 6, 4, ME, n, D));
    ps_process_t p;
    uint64_t report_cptr = (2 << 8) | (5 << 4) | 7;
    REQUIRE_OK(child_create(&p, child_two_level, report_cptr, report));
    REQUIRE_OK(ps_cnode_copy(r, 0, 4, ME, p.tcb, D)); // cptr 1 (the exit path) resolves to slot 0
    REQUIRE_OK(ps_tcb_configure(p.tcb, rg, p.vspace, p.ipc_frame, p.ipc_vaddr));
    REQUIRE_OK(ps_process_start(&p));
    uint64_t mr[4];
    if (!expect_report(report, 1, mr)) return;
    CHECK_ERR(mr[0], RS_WOULD_BLOCK);
    CHECK_ERR(mr[1], RS_FAILED_LOOKUP);
    CHECK_ERR(mr[2], RS_OK); // a Send to a notification signals it
    CHECK_EQ(rs_poll(n).badge, 0);
}

static void cap_container_delete(void)
{
    rs_cptr_t ep = new_object(RS_OBJ_ENDPOINT, 0), cn = new_object(RS_OBJ_CNODE, 2), m = new_slot();
    REQUIRE(ep && cn && m);
    REQUIRE_OK(ps_cnode_copy(cn, 1, 2, ME, ep, D));
    // ep has a child: Mutate refuses
    CHECK_ERR(ps_cnode_mutate(ME, m, D, ME, ep, D, RS_RIGHTS_ALL), RS_REVOKE_FIRST);
    CHECK_OK(ps_cnode_delete(ME, cn, D)); // the last CNode cap: its contents go with it
    CHECK_OK(ps_cnode_mutate(ME, m, D, ME, ep, D, RS_RIGHTS_ALL));
    CHECK_EQ(cap_type(m), RS_CAP_ENDPOINT);
}

static void cap_wrong_type(void)
{
    rs_cptr_t f = new_object(RS_OBJ_FRAME, 0), tcb = new_object(RS_OBJ_TCB, 0),
              vs = new_object(RS_OBJ_VSPACE, 0);
    REQUIRE(f && tcb && vs);
    CHECK_ERR(ps_invoke(ME, RS_TCB_SUSPEND, NULL, 0, NULL, 0), RS_ILLEGAL_OPERATION);
    CHECK_ERR(ps_untyped_retype(f, ME, RS_OBJ_ENDPOINT, 0, 0, 0, new_slot(), 1),
              RS_ILLEGAL_OPERATION);
    CHECK_ERR(ps_frame_map(tcb, RS_INIT_VSPACE, 0x10000000, RS_RIGHT_READ, 0),
              RS_ILLEGAL_OPERATION);
    CHECK_ERR(ps_invoke(vs, RS_FRAME_MAP, NULL, 0, NULL, 0), RS_ILLEGAL_OPERATION);
    CHECK_ERR(ps_invoke(RS_INIT_IOPORT_CONTROL, RS_IRQ_CONTROL_GET, NULL, 0, NULL, 0),
              RS_ILLEGAL_OPERATION);
    CHECK_ERR(ps_invoke(RS_INIT_IRQ_CONTROL, RS_IOPORT_CONTROL_ISSUE, NULL, 0, NULL, 0),
              RS_ILLEGAL_OPERATION);
    CHECK_ERR(rs_recv(tcb).error, RS_INVALID_CAPABILITY);
    CHECK_ERR(rs_nbrecv(f).error, RS_INVALID_CAPABILITY);
    CHECK_ERR(ps_frame_map(f, tcb, 0x10000000, RS_RIGHT_READ, 0),
              RS_INVALID_CAPABILITY); // no VSpace
    CHECK_EQ(ps_mr(0), 1);
}

/* A chain of 1000 copies, each derived from the one before, revoked from the top. */
static void cap_long_chain(void)
{
    enum { N = 1000 };
    rs_cptr_t ep = new_object(RS_OBJ_ENDPOINT, 0), chain = ps_slot_alloc_range(env->slots, N);
    REQUIRE(ep && chain);
    rs_cptr_t prev = ep;
    for (unsigned i = 0; i < N; i++, prev = chain + i - 1)
        REQUIRE_OK(ps_cnode_copy(ME, chain + i, D, ME, prev, D));
    CHECK_OK(ps_cnode_delete(ME, chain + N / 2, D)); // a gap in the middle: its child moves up
    CHECK_OK(ps_cnode_revoke(ME, ep, D));
    unsigned left = 0;
    for (unsigned i = 0; i < N; i++) left += cap_type(chain + i) != RS_CAP_NULL;
    CHECK_EQ(left, 0);
    CHECK_EQ(cap_type(ep), RS_CAP_ENDPOINT);
}

/* Deletes the last cap to its own TCB (arg: the shared page counts 1, then would count 2). */
static void child_delete_own_tcb(uint64_t arg)
{
    volatile uint64_t *p = (volatile uint64_t *)CHILD_SHARED_VADDR;
    p[0] = 1;
    p[1] = ps_cnode_delete(PS_SLOT_CNODE, PS_SLOT_TCB, PS_DEPTH) + 100;
    p[0] = 2;
}

static void cap_delete_own_tcb(void)
{
    ps_process_t p;
    REQUIRE_OK(child_create(&p, child_delete_own_tcb, 0, 0));
    volatile uint64_t *c = child_share(&p);
    REQUIRE(c);
    REQUIRE_OK(ps_process_start(&p));          // (it runs once init yields)
    REQUIRE_OK(ps_cnode_delete(ME, p.tcb, D)); // the child's own copy is the last one now
    REQUIRE(wait_word(c, 1, WAIT_MS));
    for (int i = 0; i < 20; i++) rs_yield();
    CHECK_EQ(c[0], 1); // the thread went with its TCB, in the middle of its own syscall
    CHECK_EQ(c[1], 0);
    CHECK_OK(ps_cnode_delete(ME, new_slot(), D));
}

/* Revokes the untyped that its own TCB, CNode and VSpace came from (moved into slot 9). */
static void child_revoke_self(uint64_t arg)
{
    volatile uint64_t *p = (volatile uint64_t *)CHILD_SHARED_VADDR;
    p[0] = 1;
    ps_cnode_revoke(PS_SLOT_CNODE, CHILD_SLOT_FREE, PS_DEPTH);
    p[0] = 2;
}

static void cap_process_revokes_itself(void)
{
    ps_process_t p;
    REQUIRE_OK(child_create(&p, child_revoke_self, 0, 0));
    volatile uint64_t *c = child_share(&p);
    REQUIRE(c);
    REQUIRE_OK(ps_cnode_move(p.cnode, CHILD_SLOT_FREE, D, ME, p.untyped, D));
    REQUIRE_OK(ps_process_start(&p));
    REQUIRE(wait_word(c, 1, WAIT_MS));
    // The Revoke is preemptible (seL4's restart): a timer tick may stop it, and the child then
    // executes its `syscall` again, which it cannot once the code page it runs from is gone: it
    // faults (no handler: it stops) with the Revoke half done, as an seL4 thread would. Its
    // parent finishes the job with the same Revoke through its own cap to the child's CNode.
    for (uint64_t t0 = now_ms(); cap_type(p.tcb) != RS_CAP_NULL && now_ms() - t0 < WAIT_MS / 3;)
        rs_yield();
    if (cap_type(p.tcb) != RS_CAP_NULL) {
        rt_printf(
            "[testinit] CAP-0014: the child stopped half-way (preempted, then lost its code); "
            "init finishes its Revoke\n");
        if (cap_type(p.cnode) == RS_CAP_CNODE)
            CHECK_OK(ps_cnode_revoke(p.cnode, CHILD_SLOT_FREE, D));
    }
    CHECK_EQ(c[0], 1);
    CHECK_EQ(cap_type(p.tcb), RS_CAP_NULL); // everything made from it is gone
    CHECK_EQ(cap_type(p.cnode), RS_CAP_NULL);
    CHECK_EQ(cap_type(p.vspace), RS_CAP_NULL);
    CHECK_OK(ps_process_destroy(&p)); // and the toolkit copes with what is left
}

const struct test cnode_tests[] = {
    {"CAP-0001",
     "Copy makes a working cap to the same object; an occupied target is RS_DELETE_FIRST",
     cap_copy},
    {"CAP-0002", "Mint sets badges once and only removes rights", cap_mint},
    {"CAP-0003", "Move transfers a cap with its place in the derivation tree", cap_move},
    {"CAP-0004",
     "Mutate changes rights and badge in place, refused with RS_REVOKE_FIRST when derived from",
     cap_mutate},
    {"CAP-0005", "Delete removes one cap; the object lives while other caps remain", cap_delete},
    {"CAP-0006", "Revoke deletes exactly the derived caps, in any CNode", cap_revoke_tree},
    {"CAP-0007", "CNode invocations report empty sources, bad roots and bad indices exactly",
     cap_copy_errors},
    {"CAP-0008", "multi-level addressing follows guards and radices bit by bit", cap_multilevel},
    {"CAP-0009", "a thread with a two-level CSpace resolves its cptrs through both levels",
     cap_two_level_cspace},
    {"CAP-0010", "deleting the last cap of a CNode deletes the caps inside it",
     cap_container_delete},
    {"CAP-0011",
     "operations on caps of the wrong type fail with RS_ILLEGAL_OPERATION or RS_INVALID_CAPABILITY",
     cap_wrong_type},
    {"CAP-0012", "Revoke clears a 1000-deep derivation chain with a gap in it", cap_long_chain},
    {"CAP-0013", "a thread that deletes the last cap to its own TCB stops there",
     cap_delete_own_tcb},
    {"CAP-0014",
     "a process that revokes the untyped it was made from destroys itself cleanly, or, "
     "preempted after losing its code, stops and its parent's Revoke finishes the job",
     cap_process_revokes_itself},
    {0},
};
