// SPDX-License-Identifier: MIT
// Pager round trips through the fault fast path (kernel/fastpath_fault.c): faults delivered to a
// pager blocked in ReplyRecv, answered by ReplyRecv (empty, with a new RIP, with a RIP outside
// user space that must be ignored), pages mapped by Frame Map in between (frame_map_fast), with
// the pager above the faulting thread and at its priority; and the Frame Map errors the one-pass
// map leaves to the general decoder.
#include "suites.h"

#define ME      RS_INIT_CNODE
#define D       PS_DEPTH
#define PFM_VA1 0x0000310000000000ul
#define PFM_VA2 0x0000310000001000ul

/* Writes two pages (each a VM fault the first time), then two ud2 (2 bytes each, #UD), reports
 * what it reads back. */
static void pfm_child(uint64_t arg)
{
    volatile uint64_t *a = (volatile uint64_t *)PFM_VA1, *b = (volatile uint64_t *)PFM_VA2;
    a[1] = 0x1111 + arg;
    b[2] = 0x2222 + arg;
    __asm__ volatile("ud2");
    __asm__ volatile("ud2");
    child_report(1, a[1], b[2], 0, 0);
}

/* ReplyRecv on `ep` with `len` words (MR0 = rip); the next message's info and badge in *r. */
static rs_result_t reply_recv(rs_cptr_t ep, unsigned len, uint64_t rip)
{
    rs_mr_set(0, rip);
    return rs_reply_recv(ep, rs_msginfo(0, 0, 0, len));
}

/* One child's round trips, the child at priority `prio` (init, its pager, runs at TEST_PRIO). */
static void pfm_round(uint8_t prio, uint64_t arg)
{
    rs_cptr_t report = new_object(RS_OBJ_ENDPOINT, 0), pager = new_object(RS_OBJ_ENDPOINT, 0);
    rs_cptr_t f1 = new_object(RS_OBJ_FRAME, 0), f2 = new_object(RS_OBJ_FRAME, 0);
    REQUIRE(report && pager && f1 && f2);
    ps_process_t p;
    REQUIRE_OK(child_create(&p, pfm_child, arg, report));
    rs_cptr_t fault = new_slot();
    REQUIRE_OK(ps_cnode_mint(ME, fault, D, ME, pager, D, RS_RIGHT_WRITE, 0xF00));
    REQUIRE_OK(ps_tcb_set_fault_handler(p.tcb, fault));
    // the page tables first, so that each Frame Map below is the pager's one invocation
    REQUIRE_OK(ps_map_prepare(env, p.vspace, PFM_VA1));
    REQUIRE_OK(ps_tcb_set_priority(p.tcb, RS_INIT_TCB, prio));
    REQUIRE_OK(ps_process_start(&p));

    // the pager waits (Recv, then ReplyRecv): each fault comes straight to it
    rs_result_t r = rs_recv(pager);
    bool ok = CHECK_OK(r.error);
    ok = ok && CHECK_EQ(rs_msginfo_label(r.info), RS_FAULT_VM) && CHECK_EQ(ps_mr(1), PFM_VA1 + 8);
    ok = ok && CHECK_EQ(r.badge, 0xF00);
    ok = ok && CHECK_OK(ps_frame_map(f1, p.vspace, PFM_VA1, RS_RIGHT_READ | RS_RIGHT_WRITE, 0));
    if (ok) { // empty reply: the store is retried, the next page faults
        r = reply_recv(pager, 0, 0);
        ok = CHECK_OK(r.error) && CHECK_EQ(rs_msginfo_label(r.info), RS_FAULT_VM);
        ok = ok && CHECK_EQ(rs_msginfo_length(r.info), 5) && CHECK_EQ(ps_mr(1), PFM_VA2 + 16);
        ok = ok && CHECK_EQ(ps_mr(3) & 7, 0x6) && CHECK_EQ(r.badge, 0xF00); // user write, absent
    }
    ok = ok && CHECK_OK(ps_frame_map(f2, p.vspace, PFM_VA2, RS_RIGHT_READ | RS_RIGHT_WRITE, 0));
    uint64_t ud = 0;
    if (ok) { // the first ud2
        r = reply_recv(pager, 0, 0);
        ok = CHECK_OK(r.error) && CHECK_EQ(rs_msginfo_label(r.info), RS_FAULT_USER_EXCEPTION);
        ok = ok && CHECK_EQ(ps_mr(3), 6);
        ud = ps_mr(0);
    }
    if (ok) { // skipped by a one-word reply: the second ud2 faults two bytes on
        r = reply_recv(pager, 1, ud + 2);
        ok = CHECK_OK(r.error) && CHECK_EQ(rs_msginfo_label(r.info), RS_FAULT_USER_EXCEPTION);
        ok = ok && CHECK_EQ(ps_mr(0), ud + 2);
    }
    if (ok) { // a RIP in the kernel half: the reply's registers are ignored, the ud2 faults again
        r = reply_recv(pager, 2, 0xFFFF800000001000ul);
        ok = CHECK_OK(r.error) && CHECK_EQ(rs_msginfo_label(r.info), RS_FAULT_USER_EXCEPTION);
        ok = ok && CHECK_EQ(ps_mr(0), ud + 2);
    }
    if (ok) { // past the second ud2 by Reply (the child then reports on its own endpoint)
        rs_mr_set(0, ud + 4);
        CHECK_OK(rs_reply(rs_msginfo(0, 0, 0, 1)).error);
    }
    if (!ok) return;
    // a blocking Recv: a child below init runs only while init waits (polling would starve it)
    r = rs_recv(report);
    if (CHECK_OK(r.error) && CHECK_EQ(rs_msginfo_label(r.info), 1) &&
        CHECK_EQ(r.badge, CHILD_BADGE)) {
        CHECK_EQ(ps_mr(0), 0x1111 + arg);
        CHECK_EQ(ps_mr(1), 0x2222 + arg);
    }
}

static void pfm_pager_above(void) { pfm_round(TEST_PRIO - 1, 1); }
static void pfm_pager_equal(void) { pfm_round(TEST_PRIO, 2); }

/* Frame Map with one thing wrong at a time: each is the general decoder's error (the one-pass
 * map declines every one of them). */
static void pfm_map_errors(void)
{
    ps_process_t p;
    REQUIRE_OK(child_create(&p, pfm_child, 0, 0)); // never started: only its VSpace is used
    rs_cptr_t f = new_object(RS_OBJ_FRAME, 0), ep = new_object(RS_OBJ_ENDPOINT, 0);
    REQUIRE(f && ep);
    REQUIRE_OK(ps_map_prepare(env, p.vspace, PFM_VA1));
    const unsigned rw = RS_RIGHT_READ | RS_RIGHT_WRITE;
    CHECK_ERR(ps_frame_map(f, p.vspace, PFM_VA1 + 8, rw, 0), RS_ALIGNMENT_ERROR);
    CHECK_ERR(ps_frame_map(f, p.vspace, RS_USER_TOP, rw, 0), RS_RANGE_ERROR);
    CHECK_ERR(ps_frame_map(f, p.vspace, PFM_VA1, rw | 0x100, 0), RS_INVALID_ARGUMENT);
    CHECK_ERR(ps_frame_map(f, p.vspace, PFM_VA1, RS_RIGHT_WRITE, 0), RS_INSUFFICIENT_RIGHTS);
    CHECK_ERR(ps_frame_map(f, p.vspace, PFM_VA1, rw, RS_ATTR_WRITECOMBINE + 1), RS_RANGE_ERROR);
    CHECK_ERR(ps_frame_map(f, p.vspace, PFM_VA1, rw, RS_ATTR_UNCACHED), RS_RANGE_ERROR); // RAM
    CHECK_ERR(ps_frame_map(f, ep, PFM_VA1, rw, 0), RS_INVALID_CAPABILITY);
    CHECK_ERR(ps_frame_map(f, p.vspace, 0x0000320000000000ul, rw, 0), RS_FAILED_LOOKUP);
    // too short a message (2 words), with the VSpace as its extra cap
    rs_mr_set(0, PFM_VA1);
    rs_mr_set(1, rw);
    rs_cap_set(0, p.vspace);
    CHECK_ERR(rs_call(f, rs_msginfo(RS_FRAME_MAP, 0, 1, 2)).error, RS_TRUNCATED_MESSAGE);
    // no extra cap at all (the words again: the last call's error details replaced them)
    rs_mr_set(0, PFM_VA1);
    rs_mr_set(1, rw);
    rs_mr_set(2, 0);
    CHECK_ERR(rs_call(f, rs_msginfo(RS_FRAME_MAP, 0, 0, 3)).error, RS_INVALID_CAPABILITY);
    // then the good one, and the same frame again (mapped), and another frame there (present)
    CHECK_OK(ps_frame_map(f, p.vspace, PFM_VA1, rw, 0));
    CHECK_ERR(ps_frame_map(f, p.vspace, PFM_VA2, rw, 0), RS_ILLEGAL_OPERATION);
    rs_cptr_t g = new_object(RS_OBJ_FRAME, 0);
    REQUIRE(g);
    CHECK_ERR(ps_frame_map(g, p.vspace, PFM_VA1, rw, 0), RS_DELETE_FIRST);
    CHECK_OK(ps_frame_map(g, p.vspace, PFM_VA2, RS_RIGHT_READ, 0)); // read-only is fine
}

const struct test pfmap_tests[] = {
    {"PFM-0001",
     "a pager above the thread answers faults by ReplyRecv: maps, skips a ud2, ignores a bad RIP",
     pfm_pager_above},
    {"PFM-0002", "the same with the pager at the thread's priority", pfm_pager_equal},
    {"PFM-0003", "Frame Map with one argument or cap wrong: the general decoder's error each",
     pfm_map_errors},
    {NULL, NULL, NULL},
};
