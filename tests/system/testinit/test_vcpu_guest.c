// SPDX-License-Identifier: MIT
// The vCPU tests' guest: made, bound and started with init as its VMM, and its exits awaited and
// answered (test_vcpu.h).
#include "test_vcpu.h"

/* ------------------------------------------------------------------ a guest and its VMM side */


/* 32-bit flat protected mode at rip, segments of test_guest_gdt, no IDT, no paging. */
void flat32_state(rs_vcpu_state_t *s, uint64_t rip)
{
    memset(s, 0, sizeof(*s));
    const struct rs_segment code = {0x08, 0, 0xFFFFFFFF, 0xC9B},
                            data = {0x10, 0, 0xFFFFFFFF, 0xC93};
    s->rip = rip;
    s->rsp = GUEST_STACK;
    s->rflags = 2;
    s->cr0 = 0x11; // PE, ET
    s->cs = code;
    s->ds = s->es = s->fs = s->gs = s->ss = data;
    s->tr = (struct rs_segment){0, 0, 0xFFFF, 0x8B};
    s->ldtr = (struct rs_segment){0, 0, 0xFFFF, 0x82};
    s->gdtr_base = gpa_of(test_guest_gdt);
    s->gdtr_limit = 23;
}

/* A guest space with tables for the first 2 MiB and the guest's code at GUEST_LOAD, a vCPU bound
 * to a new thread (priority TEST_PRIO) and to the exit endpoint through a cap badged
 * GUEST_BADGE. The thread is not started. */
bool guest_make(struct guest *g)
{
    g->gs = new_object(RS_OBJ_GUEST_SPACE, 0);
    g->ram = new_object(RS_OBJ_FRAME, 0);
    g->vcpu = new_object(RS_OBJ_VCPU, 0);
    g->tcb = new_object(RS_OBJ_TCB, 0);
    g->ep = new_object(RS_OBJ_ENDPOINT, 0);
    rs_cptr_t pdpt = new_object(RS_OBJ_PDPT, 0), pd = new_object(RS_OBJ_PAGE_DIRECTORY, 0);
    rs_cptr_t pt = new_object(RS_OBJ_PAGE_TABLE, 0), badged = new_slot();
    if (!g->gs || !g->ram || !g->vcpu || !g->tcb || !g->ep || !pdpt || !pd || !pt || !badged)
        return false;
    if (!CHECK_OK(ps_page_table_map(pdpt, g->gs, 0)) ||
        !CHECK_OK(ps_page_table_map(pd, g->gs, 0)) || !CHECK_OK(ps_page_table_map(pt, g->gs, 0)) ||
        !CHECK_OK(ps_guest_space_map(g->gs, g->ram, GUEST_LOAD, RWX)))
        return false;
    g->ram_map = map_frame_copy(g->ram);
    if (!g->ram_map) return false;
    memcpy((void *)g->ram_map, test_guest_start, (size_t)(test_guest_end - test_guest_start));
    return CHECK_OK(ps_cnode_mint(ME, badged, D, ME, g->ep, D, RS_RIGHT_WRITE, GUEST_BADGE)) &&
           CHECK_OK(ps_tcb_set_priority(g->tcb, RS_INIT_TCB, TEST_PRIO)) &&
           CHECK_OK(ps_tcb_set_name(g->tcb, "guest")) &&
           CHECK_OK(ps_vcpu_bind(g->vcpu, g->tcb, g->gs, badged));
}

/* guest_make, then starts it at `entry` in flat32_state. */
bool guest_go(struct guest *g, const char *entry)
{
    rs_vcpu_state_t s;
    flat32_state(&s, gpa_of(entry));
    return guest_make(g) && CHECK_OK(ps_vcpu_write_state(g->vcpu, &s)) &&
           CHECK_OK(ps_tcb_resume(g->tcb));
}

/* Waits for the guest's next exit: true if it has `reason`, with its words in the MRs. */
bool expect_exit_at(int line, const struct guest *g, uint64_t reason)
{
    rs_result_t r;
    int err = wait_recv(g->ep, WAIT_MS, &r);
    if (err) {
        check_fail_at(line, "no exit from the guest within %u ms (%s)", WAIT_MS,
                      rs_error_name(err));
        return false;
    }
    uint64_t label = rs_msginfo_label(r.info), len = rs_msginfo_length(r.info);
    if (label != RS_FAULT_VCPU_EXIT || len != RS_EXIT_MR_COUNT || r.badge != GUEST_BADGE ||
        EXIT_WORD(REASON) != reason) {
        check_fail_at(line,
                      "exit label %lu length %lu badge %lx reason %lu (raw %lx %lx) at rip %lx; "
                      "expected reason %lu",
                      label, len, r.badge, EXIT_WORD(REASON), EXIT_WORD(RAW_REASON),
                      EXIT_WORD(RAW_QUAL), EXIT_WORD(RIP), reason);
        return false;
    }
    return true;
}

/* Answers the exit init holds with flags only. */
int reply_flags(uint64_t flags)
{
    rs_mr_set(RS_REPLY_MR_FLAGS, flags);
    return (int)rs_reply(rs_msginfo(0, 0, 0, 1)).error;
}

/* Answers with SET_GPRS (and `flags`): the GPRs as the exit had them but rax, and RIP, words up
 * to `len`. */
int reply_rax(uint64_t flags, uint64_t rax, uint64_t rip, unsigned len)
{
    uint64_t keep[RS_GPR_COUNT];
    for (unsigned i = 0; i < RS_GPR_COUNT; i++) keep[i] = ps_mr(RS_EXIT_MR_GPR + i);
    keep[RS_GPR_RAX] = rax;
    rs_mr_set(RS_REPLY_MR_FLAGS, flags | RS_REPLY_SET_GPRS);
    rs_mr_set(RS_REPLY_MR_INJECT, 0);
    rs_mr_set(RS_REPLY_MR_RIP, rip);
    for (unsigned i = 0; i < RS_GPR_COUNT; i++) rs_mr_set(RS_REPLY_MR_GPR + i, keep[i]);
    return (int)rs_reply(rs_msginfo(0, 0, 0, len)).error;
}

/* Starts the held-exit guest at `entry` afresh: WriteState, then an empty reply resumes it. */
bool restart_at(struct guest *g, const char *entry)
{
    rs_vcpu_state_t s;
    flat32_state(&s, gpa_of(entry));
    return CHECK_OK(ps_vcpu_write_state(g->vcpu, &s)) && CHECK_OK(reply_flags(0));
}
