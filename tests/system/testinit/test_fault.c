// SPDX-License-Identifier: MIT
// Fault tests: a user-level pager serving a page fault, unknown syscalls emulated by the handler,
// CPU exceptions (#UD, #DE, int3, #GP, NX fetch) with their vector, replies that resume, move the
// instruction pointer or leave the thread stopped, and a thread without a handler.
#include "suites.h"

#define ME          RS_INIT_CNODE
#define D           PS_DEPTH
#define PAGER_BADGE 0xF00
#define UNMAPPED    0x0000300000000000ul

/* Creates a child whose fault endpoint is `pager` (badge PAGER_BADGE) and starts it. */
static bool spawn_with_pager(ps_process_t *p, ps_entry_fn fn, uint64_t arg, rs_cptr_t report,
                             rs_cptr_t pager)
{
    int err = child_create(p, fn, arg, report);
    rs_cptr_t fault = new_slot();
    if (!err) err = ps_cnode_mint(ME, fault, D, ME, pager, D, RS_RIGHT_WRITE, PAGER_BADGE);
    if (!err) err = ps_tcb_set_fault_handler(p->tcb, fault);
    if (!err) err = ps_process_start(p);
    return CHECK_OK(err);
}

/* Waits for a fault of `type` on the pager endpoint; true with the fault words in the MRs. */
static bool expect_fault(rs_cptr_t pager, unsigned type)
{
    rs_result_t r;
    if (!CHECK_OK(wait_recv(pager, WAIT_MS, &r))) return false;
    bool ok = CHECK_EQ(rs_msginfo_label(r.info), type);
    ok = CHECK_EQ(r.badge, PAGER_BADGE) && ok;
    return ok;
}

static void child_touch(uint64_t addr)
{
    volatile uint64_t *p = (volatile uint64_t *)addr;
    *p = 0xC0FFEE;
    child_report(1, *p, 0, 0, 0);
}

static void flt_pager(void)
{
    rs_cptr_t report = new_object(RS_OBJ_ENDPOINT, 0), pager = new_object(RS_OBJ_ENDPOINT, 0);
    rs_cptr_t f = new_object(RS_OBJ_FRAME, 0);
    REQUIRE(report && pager && f);
    ps_process_t p;
    REQUIRE(spawn_with_pager(&p, child_touch, UNMAPPED + 0x18, report, pager));
    if (!expect_fault(pager, RS_FAULT_VM)) return;
    uint64_t ip = ps_mr(0);
    CHECK_EQ(ps_mr(1), UNMAPPED + 0x18);
    CHECK_EQ(ps_mr(2), 0);       // not an instruction fetch
    CHECK_EQ(ps_mr(3) & 7, 0x6); // user write to a page not present
    CHECK(ip >= 0x400000 && ip < 0x400000 + bootinfo->modules[0].size);
    REQUIRE_OK(ps_map_frame(env, p.vspace, f, UNMAPPED, RS_RIGHT_READ | RS_RIGHT_WRITE, 0));
    volatile uint64_t *mine = map_frame_copy(f);
    REQUIRE(mine);
    CHECK_OK(rs_reply(rs_msginfo(0, 0, 0, 0)).error); // label 0: resume where it faulted
    uint64_t mr[4];
    if (expect_report(report, 1, mr)) CHECK_EQ(mr[0], 0xC0FFEE);
    CHECK_EQ(mine[3], 0xC0FFEE); // the child's write is in the pager's frame
}

static void child_unknown_syscall(uint64_t arg)
{
    for (unsigned i = 0; i < 4; i++) rs_mr_set(i, 11 * (i + 1));
    rs_result_t r = rs_syscall(50, 0x1234, rs_msginfo(0, 0, 0, 0));
    child_report(1, r.error, 0, 0, 0);
}

static void flt_unknown_syscall(void)
{
    rs_cptr_t report = new_object(RS_OBJ_ENDPOINT, 0), pager = new_object(RS_OBJ_ENDPOINT, 0);
    REQUIRE(report && pager);
    ps_process_t p;
    REQUIRE(spawn_with_pager(&p, child_unknown_syscall, 0, report, pager));
    rs_result_t r;
    REQUIRE_OK(wait_recv(pager, WAIT_MS, &r));
    CHECK_EQ(rs_msginfo_label(r.info), RS_FAULT_UNKNOWN_SYSCALL);
    CHECK_EQ(rs_msginfo_length(r.info), RS_REG_COUNT);
    CHECK_EQ(ps_mr(RS_REG_RAX), 50);
    CHECK_EQ(ps_mr(RS_REG_RDI), 0x1234);
    CHECK_EQ(ps_mr(RS_REG_RDX), 11); // MR0..MR3 were in rdx, r8, r9, r10
    CHECK_EQ(ps_mr(RS_REG_R8), 22);
    CHECK_EQ(ps_mr(RS_REG_R10), 44);
    rs_mr_set(RS_REG_RAX, 0x77); // emulate: the result goes to rax; rip, rsp, rflags as they were
    CHECK_OK(rs_reply(rs_msginfo(0, 0, 0, RS_REG_RAX + 1)).error);
    uint64_t mr[4];
    if (expect_report(report, 1, mr)) CHECK_EQ(mr[0], 0x77);
}

/* Raises the exception named by arg, then reports that it continued. */
static void child_exception(uint64_t arg)
{
    switch (arg) {
    case 6: __asm__ volatile("ud2"); break;
    case 0: __asm__ volatile("xorl %%ecx, %%ecx\n\tdivl %%ecx" ::: "eax", "ecx", "edx"); break;
    case 3: __asm__ volatile("int3"); break;
    case 13: __asm__ volatile("hlt"); break;
    }
    child_report(1, arg, 0, 0, 0);
}

/* Expects exception `vector` at an instruction starting with `opcode` (len bytes), then resumes
 * the thread after it (skip) or as the reply's absence of words implies. */
static void exception_case(unsigned vector, const char *opcode, unsigned len, bool skip)
{
    rs_cptr_t report = new_object(RS_OBJ_ENDPOINT, 0), pager = new_object(RS_OBJ_ENDPOINT, 0);
    REQUIRE(report && pager);
    ps_process_t p;
    REQUIRE(spawn_with_pager(&p, child_exception, vector, report, pager));
    if (!expect_fault(pager, RS_FAULT_USER_EXCEPTION)) return;
    uint64_t ip = ps_mr(0);
    CHECK_EQ(ps_mr(3), vector);
    CHECK_EQ(ps_mr(4), 0); // error code
    CHECK(ps_mr(1) > PS_CHILD_STACK_TOP - 4 * RS_PAGE_SIZE && ps_mr(1) < PS_CHILD_STACK_TOP);
    const uint8_t *at = (const uint8_t *)(skip ? ip : ip - len); // init runs the same code
    CHECK(memcmp(at, opcode, len) == 0);
    rs_mr_set(0, ip + len);
    CHECK_OK(rs_reply(rs_msginfo(0, 0, 0, skip ? 1 : 0)).error);
    uint64_t mr[4];
    if (expect_report(report, 1, mr)) CHECK_EQ(mr[0], vector);
}

static void flt_invalid_opcode(void) { exception_case(6, "\x0f\x0b", 2, true); }
static void flt_divide_error(void) { exception_case(0, "\xf7\xf1", 2, true); }
static void flt_breakpoint(void) { exception_case(3, "\xcc", 1, false); } // a trap: ip is past it

static void flt_stay_stopped(void)
{
    rs_cptr_t report = new_object(RS_OBJ_ENDPOINT, 0), pager = new_object(RS_OBJ_ENDPOINT, 0);
    REQUIRE(report && pager);
    ps_process_t p;
    REQUIRE(spawn_with_pager(&p, child_exception, 13, report, pager));
    if (!expect_fault(pager, RS_FAULT_USER_EXCEPTION)) return;
    CHECK_EQ(ps_mr(3), 13); // hlt in user mode: #GP
    uint64_t ip = ps_mr(0);
    CHECK_OK(rs_reply(rs_msginfo(1, 0, 0, 0)).error); // label 1: leave it stopped
    CHECK_ERR(wait_recv(report, 50, NULL), RS_WOULD_BLOCK);
    CHECK_ERR(wait_recv(pager, 50, NULL), RS_WOULD_BLOCK);
    CHECK_OK(ps_tcb_resume(p.tcb)); // runs the hlt again: a second fault
    if (!expect_fault(pager, RS_FAULT_USER_EXCEPTION)) return;
    CHECK_EQ(ps_mr(0), ip);
    CHECK_ERR(rs_nbrecv(pager).error, RS_WOULD_BLOCK); // receiving again drops the fault: stopped
    CHECK_ERR(wait_recv(report, 50, NULL), RS_WOULD_BLOCK);
    uint64_t regs[1] = {ip + 1};
    CHECK_OK(ps_tcb_write_registers(p.tcb, true, 1, regs)); // past the hlt, and go
    uint64_t mr[4];
    if (expect_report(report, 1, mr)) CHECK_EQ(mr[0], 13);
}

static void child_jump_to_data(uint64_t addr)
{
    void (*fn)(void) = (void (*)(void))addr;
    fn();
    child_report(1, 0, 0, 0, 0);
}

static void flt_no_execute(void)
{
    rs_cptr_t report = new_object(RS_OBJ_ENDPOINT, 0), pager = new_object(RS_OBJ_ENDPOINT, 0);
    REQUIRE(report && pager);
    ps_process_t p;
    uint64_t target = PS_CHILD_STACK_TOP - 0x800; // mapped, writable, not executable
    REQUIRE(spawn_with_pager(&p, child_jump_to_data, target, report, pager));
    if (!expect_fault(pager, RS_FAULT_VM)) return;
    CHECK_EQ(ps_mr(0), target);
    CHECK_EQ(ps_mr(1), target);
    CHECK_EQ(ps_mr(2), 1);           // an instruction fetch
    CHECK_EQ(ps_mr(3) & 0x15, 0x15); // present, user, fetch
}

/* Counts 1, faults, would count 2. */
static void child_fault_unhandled(uint64_t arg)
{
    volatile uint64_t *p = (volatile uint64_t *)CHILD_SHARED_VADDR;
    p[0] = 1;
    *(volatile uint64_t *)UNMAPPED = 5;
    p[0] = 2;
}

static void flt_no_handler(void)
{
    ps_process_t p;
    REQUIRE_OK(child_create(&p, child_fault_unhandled, 0, 0)); // no fault endpoint
    volatile uint64_t *c = child_share(&p);
    REQUIRE(c);
    REQUIRE_OK(ps_process_start(&p));
    REQUIRE(wait_word(c, 1, WAIT_MS));
    for (int i = 0; i < 20; i++) rs_yield();
    CHECK_EQ(c[0], 1); // stopped for good
    uint64_t regs[RS_REG_COUNT];
    CHECK_OK(ps_tcb_read_registers(p.tcb, false, RS_REG_COUNT, regs));
    uint64_t fn = (uint64_t)child_fault_unhandled; // the store is a few instructions in
    CHECK(regs[RS_REG_RIP] > fn && regs[RS_REG_RIP] < fn + 64);
}

const struct test fault_tests[] = {
    {"FLT-0001",
     "a user-level pager maps the page a child faulted on; the child's write lands there",
     flt_pager},
    {"FLT-0002",
     "an unknown syscall with a fault handler arrives as RS_FAULT_UNKNOWN_SYSCALL and is emulated",
     flt_unknown_syscall},
    {"FLT-0003", "ud2 arrives as RS_FAULT_USER_EXCEPTION vector 6; a reply with a new ip skips it",
     flt_invalid_opcode},
    {"FLT-0004", "a divide error arrives as vector 0", flt_divide_error},
    {"FLT-0005", "int3 arrives as vector 3 with the ip after it; an empty reply continues",
     flt_breakpoint},
    {"FLT-0006", "a fault reply with a non-zero label, or none, leaves the thread stopped",
     flt_stay_stopped},
    {"FLT-0007", "jumping to a non-executable page is a VM fault marked as instruction fetch",
     flt_no_execute},
    {"FLT-0008", "a thread without a fault handler is stopped at the faulting instruction",
     flt_no_handler},
    {0},
};
