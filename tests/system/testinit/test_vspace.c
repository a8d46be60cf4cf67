// SPDX-License-Identifier: MIT
// Address-space tests: Frame and PageTable map/unmap, missing tables by level, rights and
// attributes, large frames, memory shared between two address spaces, stale mappings.
#include "suites.h"

#define ME RS_INIT_CNODE
#define RW (RS_RIGHT_READ | RS_RIGHT_WRITE)
#define VA 0x0000123456600000ul /* 2 MiB aligned, in no table of a fresh VSpace */

static void vs_map_unmap(void)
{
    rs_cptr_t f;
    volatile uint64_t *p = map_page(&f);
    REQUIRE(p);
    p[0] = 0x1122334455667788ul;
    p[511] = 42;
    CHECK_EQ(p[0], 0x1122334455667788ul);
    rs_cptr_t g = new_object(RS_OBJ_FRAME, 0);
    REQUIRE(g);
    CHECK_ERR(ps_frame_map(g, RS_INIT_VSPACE, (uint64_t)p, RW, 0), RS_DELETE_FIRST); // taken
    CHECK_ERR(ps_frame_map(f, RS_INIT_VSPACE, (uint64_t)p + 0x100000, RW, 0),
              RS_ILLEGAL_OPERATION); // mapped
    CHECK_OK(ps_frame_unmap(f));
    CHECK_OK(ps_frame_unmap(f)); // unmapping twice is harmless
    CHECK_OK(ps_frame_map(g, RS_INIT_VSPACE, (uint64_t)p, RW, 0));
    CHECK_EQ(p[0], 0);                        // a fresh frame is zero
    volatile uint64_t *q = map_frame_copy(f); // the old contents, seen elsewhere
    REQUIRE(q);
    CHECK_EQ(q[0], 0x1122334455667788ul);
    CHECK_EQ(q[511], 42);
}

static void vs_tables_by_level(void)
{
    rs_cptr_t vs = new_object(RS_OBJ_VSPACE, 0), f = new_object(RS_OBJ_FRAME, 0);
    rs_cptr_t pdpt = new_object(RS_OBJ_PDPT, 0), pd = new_object(RS_OBJ_PAGE_DIRECTORY, 0);
    rs_cptr_t pt = new_object(RS_OBJ_PAGE_TABLE, 0), pt2 = new_object(RS_OBJ_PAGE_TABLE, 0);
    REQUIRE(vs && f && pdpt && pd && pt && pt2);
    CHECK_ERR(ps_frame_map(f, vs, VA, RW, 0), RS_FAILED_LOOKUP);
    CHECK_EQ(ps_mr(1), 39); // no PDPT: 39 address bits left unresolved
    CHECK_ERR(ps_page_table_map(pd, vs, VA), RS_FAILED_LOOKUP);
    CHECK_EQ(ps_mr(1), 39);
    CHECK_OK(ps_page_table_map(pdpt, vs, VA & ~((1ul << 39) - 1)));
    CHECK_ERR(ps_frame_map(f, vs, VA, RW, 0), RS_FAILED_LOOKUP);
    CHECK_EQ(ps_mr(1), 30); // no PD
    CHECK_OK(ps_page_table_map(pd, vs, VA & ~((1ul << 30) - 1)));
    CHECK_ERR(ps_frame_map(f, vs, VA, RW, 0), RS_FAILED_LOOKUP);
    CHECK_EQ(ps_mr(1), 21); // no PT
    CHECK_OK(ps_page_table_map(pt, vs, VA));
    CHECK_OK(ps_frame_map(f, vs, VA + 0x5000, RW, 0));
    CHECK_ERR(ps_page_table_map(pt2, vs, VA), RS_DELETE_FIRST);
    CHECK_ERR(ps_page_table_map(pt, vs, VA + (1ul << 21)), RS_ILLEGAL_OPERATION); // mapped already
    CHECK_ERR(ps_page_table_map(pt2, RS_INIT_TCB, VA), RS_INVALID_CAPABILITY);
    CHECK_ERR(ps_page_table_map(pt2, vs, 0x0000800000000000ul), RS_RANGE_ERROR);
    CHECK_EQ(cap_type(vs), RS_CAP_VSPACE);
}

static void vs_rights_and_attributes(void)
{
    rs_cptr_t f = new_object(RS_OBJ_FRAME, 0), wo = new_slot(), va = 0x0000400000100000ul;
    REQUIRE(f && wo);
    CHECK_ERR(ps_frame_map(f, RS_INIT_VSPACE, va, 0, 0), RS_INSUFFICIENT_RIGHTS);
    CHECK_EQ(ps_mr(0), 1);
    CHECK_ERR(ps_frame_map(f, RS_INIT_VSPACE, va, RS_RIGHT_READ | 0x10, 0), RS_INVALID_ARGUMENT);
    CHECK_EQ(ps_mr(0), 1);
    CHECK_ERR(ps_frame_map(f, RS_INIT_VSPACE, va, RS_RIGHT_READ, RS_ATTR_WRITECOMBINE + 1),
              RS_RANGE_ERROR);
    CHECK_EQ(ps_mr(0), 2);
    REQUIRE_OK(ps_cnode_mint(ME, wo, PS_DEPTH, ME, f, PS_DEPTH, RS_RIGHT_WRITE, 0));
    CHECK_ERR(ps_frame_map(wo, RS_INIT_VSPACE, va, RW, 0), RS_INSUFFICIENT_RIGHTS); // no read right
    CHECK_OK(
        ps_map_frame(env, RS_INIT_VSPACE, f, va, RS_RIGHT_READ, RS_ATTR_DEFAULT)); // RAM: WB only
    CHECK_EQ(*(volatile uint64_t *)va, 0);
}

/* Reads the shared page, then writes it: the write must fault if the mapping is read-only. */
static void child_read_then_write(uint64_t arg)
{
    volatile uint64_t *p = (volatile uint64_t *)CHILD_SHARED_VADDR;
    child_report(1, p[0], 0, 0, 0);
    p[1] = 0xBAD;
    child_report(2, 0, 0, 0, 0);
}

static void vs_read_only_mapping(void)
{
    rs_cptr_t report = new_object(RS_OBJ_ENDPOINT, 0), ro = new_slot(), f;
    volatile uint64_t *page = map_page(&f);
    REQUIRE(report && ro && page);
    page[0] = 0x5EED;
    REQUIRE_OK(ps_cnode_mint(ME, ro, PS_DEPTH, ME, f, PS_DEPTH, RS_RIGHT_READ, 0));
    ps_process_t p;
    REQUIRE_OK(child_create(&p, child_read_then_write, 0, report));
    REQUIRE_OK(ps_process_share(&p, ro, CHILD_SHARED_VADDR, RW)); // asks for write: gets read-only
    REQUIRE_OK(ps_process_start(&p));
    uint64_t mr[4];
    if (!expect_report(report, 1, mr)) return;
    CHECK_EQ(mr[0], 0x5EED);
    rs_result_t r;
    REQUIRE_OK(wait_recv(report, WAIT_MS, &r));
    CHECK_EQ(r.badge, FAULT_BADGE);
    CHECK_EQ(rs_msginfo_label(r.info), RS_FAULT_VM);
    CHECK_EQ(ps_mr(1), CHILD_SHARED_VADDR + 8);
    CHECK_EQ(ps_mr(3) & 3, 3); // a write to a present page
    CHECK_EQ(page[1], 0);
}

static void vs_large_frame(void)
{
    rs_cptr_t big = new_object(RS_OBJ_LARGE_FRAME, 0), f = new_object(RS_OBJ_FRAME, 0);
    rs_cptr_t pt = new_object(RS_OBJ_PAGE_TABLE, 0);
    uint64_t va = 0x0000410000000000ul, pa = 1;
    REQUIRE(big && f && pt);
    REQUIRE_OK(ps_map_frame(env, RS_INIT_VSPACE, big, va, RW, 0));
    volatile uint64_t *p = (volatile uint64_t *)va;
    p[0] = 1;
    p[(1ul << 21) / 8 - 1] = 2;
    CHECK_EQ(p[0] + p[(1ul << 21) / 8 - 1], 3);
    CHECK_OK(ps_frame_get_address(big, &pa));
    CHECK_EQ(pa & ((1ul << 21) - 1), 0);
    CHECK_ERR(ps_frame_map(f, RS_INIT_VSPACE, va + 0x3000, RW, 0), RS_FAILED_LOOKUP);
    CHECK_EQ(ps_mr(1), 21); // the large page stands where a PT would be
    CHECK_ERR(ps_page_table_map(pt, RS_INIT_VSPACE, va), RS_DELETE_FIRST);
    CHECK_OK(ps_frame_unmap(big));
    CHECK_OK(ps_page_table_map(pt, RS_INIT_VSPACE, va));
    CHECK_OK(ps_frame_map(f, RS_INIT_VSPACE, va + 0x3000, RW, 0));
}

/* Counts to arg in the shared word 0, then echoes word 1 into word 2 once init sets it. */
static void child_shared_counter(uint64_t arg)
{
    volatile uint64_t *p = (volatile uint64_t *)CHILD_SHARED_VADDR;
    for (uint64_t i = 1; i <= arg; i++) p[0] = i;
    while (!p[1]) rs_yield();
    p[2] = p[1] + 1;
}

static void vs_shared_memory(void)
{
    ps_process_t p;
    REQUIRE_OK(child_create(&p, child_shared_counter, 1000, 0));
    volatile uint64_t *page = child_share(&p);
    REQUIRE(page);
    REQUIRE_OK(ps_process_start(&p));
    CHECK(wait_word(&page[0], 1000, WAIT_MS));
    page[1] = 77;
    CHECK(wait_word(&page[2], 78, WAIT_MS));
}

/* Reports the word at arg (or faults, which arrives as a fault message). */
static void child_peek(uint64_t arg) { child_report(1, *(volatile uint64_t *)arg, 0, 0, 0); }

/* Starts p (running child_peek at VA) and checks that the read faults at VA. */
static void expect_peek_faults(ps_process_t *p, rs_cptr_t report)
{
    REQUIRE_OK(ps_process_start(p));
    rs_result_t r;
    REQUIRE_OK(wait_recv(report, WAIT_MS, &r));
    if (r.badge != FAULT_BADGE) {
        FAIL("the child read %lx through a mapping that should be gone", ps_mr(0));
        return;
    }
    CHECK_EQ(rs_msginfo_label(r.info), RS_FAULT_VM);
    CHECK_EQ(ps_mr(1), VA);
}

/* Gives the child's VSpace a PDPT and PD for VA (through a frame in the next 2 MiB). */
static int prepare_pd(ps_process_t *p)
{
    rs_cptr_t g;
    return ps_map_new_frame(&p->env, p->vspace, VA + (1ul << 21), RS_RIGHT_READ, &g);
}

/* A frame unmapped while its page table was detached must not come back with the table: its
 * cap says it is unmapped, so its memory may be reused for anything. */
static void vs_stale_after_table_unmap(void)
{
    rs_cptr_t report = new_object(RS_OBJ_ENDPOINT, 0), f = new_object(RS_OBJ_FRAME, 0);
    rs_cptr_t pt = new_object(RS_OBJ_PAGE_TABLE, 0);
    REQUIRE(report && f && pt);
    ps_process_t p;
    REQUIRE_OK(child_create(&p, child_peek, VA, report));
    uint64_t *mine = map_frame_copy(f);
    REQUIRE(mine);
    *mine = 0x57A1E;
    REQUIRE_OK(prepare_pd(&p));
    REQUIRE_OK(ps_page_table_map(pt, p.vspace, VA));
    REQUIRE_OK(ps_frame_map(f, p.vspace, VA, RW, 0));
    REQUIRE_OK(ps_page_table_unmap(pt));
    REQUIRE_OK(ps_frame_unmap(f)); // the frame's entry is out of reach now
    REQUIRE_OK(ps_page_table_map(pt, p.vspace, VA));
    expect_peek_faults(&p, report);
}

/* A page table of a deleted VSpace, unmapped and mapped into a new one, brings no old frames. */
static void vs_stale_after_vspace_death(void)
{
    rs_cptr_t report = new_object(RS_OBJ_ENDPOINT, 0), f = new_object(RS_OBJ_FRAME, 0);
    rs_cptr_t pt = new_object(RS_OBJ_PAGE_TABLE, 0), old = new_object(RS_OBJ_VSPACE, 0), g;
    REQUIRE(report && f && pt && old);
    REQUIRE_OK(ps_map_new_frame(env, old, VA + (1ul << 21), RS_RIGHT_READ, &g));
    REQUIRE_OK(ps_page_table_map(pt, old, VA));
    REQUIRE_OK(ps_frame_map(f, old, VA, RW, 0));
    REQUIRE_OK(ps_cnode_delete(RS_INIT_CNODE, old, PS_DEPTH)); // the last cap: the VSpace dies
    ps_process_t p;
    REQUIRE_OK(child_create(&p, child_peek, VA, report));
    REQUIRE_OK(prepare_pd(&p));
    CHECK_ERR(ps_page_table_map(pt, p.vspace, VA), RS_ILLEGAL_OPERATION); // its cap is still mapped
    CHECK_OK(ps_page_table_unmap(pt));
    CHECK_OK(ps_frame_unmap(f));
    REQUIRE_OK(ps_page_table_map(pt, p.vspace, VA));
    expect_peek_faults(&p, report);
}

/* One page table mapped in two VSpaces (through a copy of its cap) would keep a frame mapped
 * through the first reachable from the second once the first VSpace and the frame are gone:
 * table caps, like untyped caps, are never copied (Move is fine). */
static void vs_table_caps_not_copied(void)
{
    const unsigned types[] = {RS_OBJ_PAGE_TABLE, RS_OBJ_PAGE_DIRECTORY, RS_OBJ_PDPT};
    rs_cptr_t copy = new_slot(), moved = new_slot(), vs = new_object(RS_OBJ_VSPACE, 0);
    REQUIRE(copy && moved && vs);
    for (unsigned i = 0; i < 3; i++) {
        rs_cptr_t t = new_object(types[i], 0);
        REQUIRE(t);
        CHECK_ERR(ps_cnode_copy(RS_INIT_CNODE, copy, PS_DEPTH, RS_INIT_CNODE, t, PS_DEPTH),
                  RS_ILLEGAL_OPERATION);
        CHECK_EQ(ps_mr(0), 2);
        CHECK_ERR(ps_cnode_mint(RS_INIT_CNODE, copy, PS_DEPTH, RS_INIT_CNODE, t, PS_DEPTH,
                                RS_RIGHTS_ALL, 0),
                  RS_ILLEGAL_OPERATION);
    }
    rs_cptr_t g, pt = new_object(RS_OBJ_PAGE_TABLE, 0);
    REQUIRE(pt);
    REQUIRE_OK(ps_map_new_frame(env, vs, VA + (1ul << 21), RS_RIGHT_READ, &g));
    REQUIRE_OK(ps_page_table_map(pt, vs, VA));
    CHECK_ERR(ps_cnode_copy(RS_INIT_CNODE, copy, PS_DEPTH, RS_INIT_CNODE, pt, PS_DEPTH),
              RS_ILLEGAL_OPERATION);
    CHECK_OK(ps_cnode_move(RS_INIT_CNODE, moved, PS_DEPTH, RS_INIT_CNODE, pt, PS_DEPTH));
    CHECK_OK(ps_page_table_unmap(moved)); // the mapping moved with the cap
    CHECK_OK(ps_page_table_map(moved, vs, VA));
    CHECK_OK(
        ps_cnode_copy(RS_INIT_CNODE, copy, PS_DEPTH, RS_INIT_CNODE, vs, PS_DEPTH)); // VSpaces copy
}

/* Every VSpace takes one of 4096 ASIDs: make them until the kernel says there are none left
 * (RS_NOT_ENOUGH_MEMORY), destroy them, and the ASIDs come back. */
static void vs_asids_run_out(void)
{
    rs_cptr_t cn = new_object(RS_OBJ_CNODE, 12), f = new_object(RS_OBJ_FRAME, 0), vs = new_slot();
    REQUIRE(cn && f && vs);
    unsigned made = 0;
    // batches of 256 while they fit (a batch is refused whole), then one at a time
    for (unsigned n = 256; made < 4096 && n;) {
        if (made + n > 4096) n = 4096 - made;
        if (ps_ut_retype(env->ut, ME, RS_OBJ_VSPACE, 0, cn, PS_DEPTH, made, n, NULL) == RS_OK)
            made += n;
        else n = n == 1 ? 0 : 1;
    }
    CHECK(made > 4000 && made < 4096); // ASID 0 is never used, init and the tests hold some
    CHECK_ERR(ps_ut_retype(env->ut, ME, RS_OBJ_VSPACE, 0, 0, 0, vs, 1, NULL), RS_NOT_ENOUGH_MEMORY);
    CHECK_EQ(ps_mr(0), 0);
    CHECK_OK(ps_ut_retype(env->ut, ME, RS_OBJ_FRAME, 0, 0, 0, vs, 1, NULL)); // memory is left
    CHECK_OK(ps_cnode_delete(ME, vs, PS_DEPTH));
    CHECK_OK(ps_cnode_delete(ME, cn, PS_DEPTH)); // all of them go
    CHECK_OK(ps_ut_retype(env->ut, ME, RS_OBJ_VSPACE, 0, 0, 0, vs, 1, NULL));
    CHECK_OK(ps_map_frame(env, vs, f, VA, RW, 0)); // and the new one works
}

const struct test vspace_tests[] = {
    {"VS-0001", "Frame map and unmap in init's VSpace; a mapped cap or a taken address is refused",
     vs_map_unmap},
    {"VS-0002", "Frame_Map reports the missing PDPT, PD and PT level by level", vs_tables_by_level},
    {"VS-0003", "Frame_Map checks rights and attributes", vs_rights_and_attributes},
    {"VS-0004", "a read-only frame cap mapped writable is mapped read-only: the write faults",
     vs_read_only_mapping},
    {"VS-0005", "a 2 MiB frame maps where a page table would be", vs_large_frame},
    {"VS-0006", "a frame shared by two address spaces carries data both ways", vs_shared_memory},
    {"VS-0007", "a frame unmapped while its page table was detached is gone when the table returns",
     vs_stale_after_table_unmap},
    {"VS-0008", "a page table of a dead VSpace brings none of its old frames into a new one",
     vs_stale_after_vspace_death},
    {"VS-0009", "page-table caps cannot be copied, so no table is mapped in two VSpaces",
     vs_table_caps_not_copied},
    {"VS-0010",
     "VSpaces run out with the ASIDs (RS_NOT_ENOUGH_MEMORY) and come back when destroyed",
     vs_asids_run_out},
    {0},
};
