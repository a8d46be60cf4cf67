// SPDX-License-Identifier: MIT
// vCPU tests, restarts: an exit held by a VMM that dies, receives again or pauses the guest is
// delivered again (or kept) as docs/virtualization.md says; objects that go while an exit is held.
#include "test_vcpu.h"

/* ------------------------------------------------------------------ VMM restarts */

/* A VMM in a child process: receives an exit on CHILD_SLOT_A and reports (label, reason, rip,
 * rax). arg 0: then holds it unanswered, waiting on the notification in CHILD_SLOT_B. arg 1:
 * answers it (ADVANCE_RIP), reports the next exit as label 2, and holds that one. */
static void child_vmm(uint64_t arg)
{
    rs_result_t r = rs_recv(CHILD_SLOT_A);
    uint64_t label = rs_msginfo_label(r.info);
    child_report(1, label, rs_mr_get(RS_EXIT_MR_REASON), rs_mr_get(RS_EXIT_MR_RIP),
                 rs_mr_get(RS_EXIT_MR_RAX));
    if (arg == 1) {
        rs_mr_set(RS_REPLY_MR_FLAGS, RS_REPLY_ADVANCE_RIP);
        r = rs_reply_recv(CHILD_SLOT_A, rs_msginfo(0, 0, 0, 1));
        label = rs_msginfo_label(r.info);
        child_report(2, label, rs_mr_get(RS_EXIT_MR_REASON), rs_mr_get(RS_EXIT_MR_RIP),
                     rs_mr_get(RS_EXIT_MR_RAX));
    }
    rs_wait(CHILD_SLOT_B);
}

static bool vmm_spawn(ps_process_t *p, struct guest *g, uint64_t mode, rs_cptr_t report,
                      rs_cptr_t ntfn)
{
    int err = child_create(p, child_vmm, mode, report);
    if (!err) err = ps_process_give(p, CHILD_SLOT_A, g->ep, RS_RIGHTS_ALL, 0);
    if (!err) err = ps_process_give(p, CHILD_SLOT_B, ntfn, RS_RIGHTS_ALL, 0);
    if (!err) err = ps_process_start(p);
    return CHECK_OK(err);
}

static void vcpu_vmm_dies(void)
{
    struct guest g;
    rs_cptr_t report = new_object(RS_OBJ_ENDPOINT, 0), ntfn = new_object(RS_OBJ_NOTIFICATION, 0);
    REQUIRE(report && ntfn && guest_go(&g, guest_loop));
    ps_process_t vmm1, vmm2;
    REQUIRE(vmm_spawn(&vmm1, &g, 0, report, ntfn));
    uint64_t mr[4];
    REQUIRE(expect_report(report, 1, mr));
    CHECK_EQ(mr[0], RS_FAULT_VCPU_EXIT);
    CHECK_EQ(mr[1], RS_EXIT_IO);
    uint64_t ip = mr[2];
    CHECK_EQ(ip, gpa_of(guest_loop) + 3);
    CHECK_EQ(mr[3], 1);
    CHECK_OK(ps_process_destroy(&vmm1)); // dies holding the exit
    REQUIRE(vmm_spawn(&vmm2, &g, 1, report, ntfn));
    if (expect_report(report, 1, mr)) { // the same exit again
        CHECK_EQ(mr[0], RS_FAULT_VCPU_EXIT);
        CHECK_EQ(mr[1], RS_EXIT_IO);
        CHECK_EQ(mr[2], ip);
        CHECK_EQ(mr[3], 1);
    }
    if (expect_report(report, 2, mr)) { // answered: the guest went on to the next one
        CHECK_EQ(mr[1], RS_EXIT_IO);
        CHECK_EQ(mr[2], ip);
        CHECK_EQ(mr[3], 2);
    }
    CHECK_OK(ps_process_destroy(&vmm2));
    if (expect_exit(&g, RS_EXIT_IO)) CHECK_EQ(EXIT_WORD(RAX), 2); // init receives it now
}

static void vcpu_vmm_receives_again(void)
{
    struct guest g;
    REQUIRE(guest_go(&g, guest_loop));
    REQUIRE(expect_exit(&g, RS_EXIT_IO));
    uint64_t ip = EXIT_WORD(RIP);
    CHECK_EQ(EXIT_WORD(RAX), 1);
    REQUIRE(expect_exit(&g, RS_EXIT_IO)); // receiving again drops it back into the queue
    CHECK_EQ(EXIT_WORD(RIP), ip);
    CHECK_EQ(EXIT_WORD(RAX), 1);
    REQUIRE_OK(reply_flags(RS_REPLY_ADVANCE_RIP));
    if (expect_exit(&g, RS_EXIT_IO)) CHECK_EQ(EXIT_WORD(RAX), 2);
}

static void vcpu_reply_pauses(void)
{
    struct guest g;
    REQUIRE(guest_go(&g, guest_loop));
    REQUIRE(expect_exit(&g, RS_EXIT_IO));
    uint64_t ip = EXIT_WORD(RIP);
    rs_mr_set(RS_REPLY_MR_FLAGS, RS_REPLY_ADVANCE_RIP);
    REQUIRE_OK(rs_reply(rs_msginfo(1, 0, 0, 1)).error); // a label: stay paused, flags unused
    CHECK_ERR(wait_recv(g.ep, 50, NULL), RS_WOULD_BLOCK);
    CHECK_OK(ps_tcb_resume(g.tcb)); // runs the OUT again
    if (expect_exit(&g, RS_EXIT_IO)) {
        CHECK_EQ(EXIT_WORD(RIP), ip);
        CHECK_EQ(EXIT_WORD(RAX), 1);
    }
}

static void vcpu_objects_go(void)
{
    struct guest g;
    REQUIRE(guest_go(&g, guest_loop));
    REQUIRE(expect_exit(&g, RS_EXIT_IO));
    // the guest space goes (with the binding's copy) while the exit is held: the vCPU stops
    CHECK_OK(ps_cnode_revoke(ME, g.gs, D));
    CHECK_OK(ps_cnode_delete(ME, g.gs, D));
    REQUIRE_OK(reply_flags(RS_REPLY_ADVANCE_RIP));
    CHECK_ERR(wait_recv(g.ep, 50, NULL), RS_WOULD_BLOCK);
    // a VCPU destroyed while its exit is held: the late reply goes nowhere
    struct guest h;
    REQUIRE(guest_go(&h, guest_loop));
    REQUIRE(expect_exit(&h, RS_EXIT_IO));
    CHECK_OK(ps_cnode_delete(ME, h.vcpu, D));
    CHECK_OK(reply_flags(RS_REPLY_ADVANCE_RIP));
    CHECK_ERR(wait_recv(h.ep, 50, NULL), RS_WOULD_BLOCK);
    CHECK_EQ(cap_type(h.tcb), RS_CAP_TCB);
    CHECK_OK(ps_cnode_delete(ME, h.tcb, D));
}

const struct test vcpu_restart_tests[] = {
    {"VCPU-0014",
     "an exit whose VMM dies before replying goes to the next VMM, whose reply resumes "
     "the guest",
     vcpu_vmm_dies},
    {"VCPU-0015", "a VMM that receives again without replying gets the same exit again",
     vcpu_vmm_receives_again},
    {"VCPU-0016", "a reply with a label leaves the guest paused; Resume runs the instruction again",
     vcpu_reply_pauses},
    {"VCPU-0017",
     "a guest whose guest space or VCPU goes while its exit is held stops; the kernel "
     "stays up",
     vcpu_objects_go},
    {0},
};
