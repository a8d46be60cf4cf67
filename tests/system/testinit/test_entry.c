// SPDX-License-Identifier: MIT
// Kernel entry and exit tests: no thread can make the kernel return to a non-canonical RIP. The
// page below the canonical hole cannot be mapped, a syscall or trap at the end of the highest
// mappable page comes back to user mode and faults there, and register writes (WriteRegisters,
// fault replies) with RIP/RSP outside user space are refused or ignored. Meant for Bochs too,
// whose iretq/sysret raise #GP in ring 0 on a non-canonical RIP as real CPUs do.
#include "suites.h"

#define TOP_PAGE  0x00007FFFFFFFF000ul         /* the last page below the canonical hole */
#define NONCANON  0x0000800000000000ul         /* first non-canonical address */
#define LAST_PAGE (RS_USER_TOP - RS_PAGE_SIZE) /* the highest page a VSpace may map */
#define KERNEL_VA 0xFFFF800000000000ul

/* Never runs: the tests point the child's RIP at their own code. */
static void child_unused(uint64_t arg) { (void)arg; }

/* Creates a child with `ep` as its fault handler (badge FAULT_BADGE), maps a frame holding `code`
 * at `at` (page-aligned down) into it, readable and executable, and starts it at `at` with
 * rax = `rax` and rdi = `rdi`. Returns Frame_Map's error (the child stays unstarted) or RS_OK. */
static int run_code_at(ps_process_t *p, rs_cptr_t ep, uint64_t at, const char *code, unsigned len,
                       uint64_t rax, uint64_t rdi)
{
    int err = child_create(p, child_unused, 0, ep);
    if (err) {
        FAIL("cannot create a child: %s", rs_error_name(err));
        return err;
    }
    rs_cptr_t f = new_object(RS_OBJ_FRAME, 0);
    uint8_t *mine = f ? map_frame_copy(f) : NULL;
    if (!mine) return RS_NOT_ENOUGH_MEMORY;
    memcpy(mine + (at & (RS_PAGE_SIZE - 1)), code, len);
    err = ps_map_frame(env, p->vspace, f, at & ~(RS_PAGE_SIZE - 1), RS_RIGHT_READ | RS_RIGHT_EXEC,
                       RS_ATTR_DEFAULT);
    if (err) return err;
    uint64_t regs[RS_REG_COUNT];
    if (!CHECK_OK(ps_tcb_read_registers(p->tcb, false, RS_REG_COUNT, regs))) return RS_OK;
    regs[RS_REG_RIP] = at;
    regs[RS_REG_RAX] = rax;
    regs[RS_REG_RDI] = rdi;
    CHECK_OK(ps_tcb_write_registers(p->tcb, true, RS_REG_COUNT, regs));
    return RS_OK;
}

/* Waits for a fault message of `type` from the child on `ep`; true with its words in the MRs. */
static bool expect_fault(rs_cptr_t ep, unsigned type)
{
    rs_result_t r;
    if (!CHECK_OK(wait_recv(ep, WAIT_MS, &r))) return false;
    bool ok = CHECK_EQ(r.badge, FAULT_BADGE);
    return CHECK_EQ(rs_msginfo_label(r.info), type) && ok;
}

/* The fetch at TOP_PAGE (nothing can be mapped there) faults: a VM fault naming it. */
static void expect_fetch_fault_at_top(rs_cptr_t ep)
{
    if (!expect_fault(ep, RS_FAULT_VM)) return;
    CHECK_EQ(ps_mr(0), TOP_PAGE);    // ip
    CHECK_EQ(ps_mr(1), TOP_PAGE);    // address
    CHECK_EQ(ps_mr(2), 1);           // an instruction fetch
    CHECK_EQ(ps_mr(3) & 0x15, 0x14); // user fetch, page not present
}

static const char syscall_insn[] = "\x0f\x05";

static void entry_top_page_refused(void)
{
    rs_cptr_t ep = new_object(RS_OBJ_ENDPOINT, 0), big = new_object(RS_OBJ_LARGE_FRAME, 0);
    REQUIRE(ep && big);
    // What would run there: syscall (returns to 0x800000000000), int3 (a trap: the same), and a
    // nop that falls through into the canonical hole.
    const struct {
        const char *code;
        unsigned len;
    } cases[] = {{syscall_insn, 2}, {"\xcc", 1}, {"\x90", 1}};
    for (unsigned i = 0; i < 3; i++) {
        ps_process_t p;
        int err = run_code_at(&p, ep, NONCANON - cases[i].len, cases[i].code, cases[i].len,
                              RS_SYS_YIELD, 0);
        CHECK_ERR(err, RS_RANGE_ERROR);
        if (err == RS_RANGE_ERROR) CHECK_EQ(ps_mr(2), LAST_PAGE); // the highest page allowed
        if (err == RS_OK) {
            // mapped: the kernel must at least hand the thread's fault to its handler (a kernel
            // that returns to 0x800000000000 with iretq or sysret takes #GP in ring 0 instead)
            rs_result_t r;
            CHECK_OK(wait_recv(ep, WAIT_MS, &r));
            CHECK_EQ(r.badge, FAULT_BADGE);
        }
    }
    // a 2 MiB page that would cover the top page is refused as well
    CHECK_ERR(ps_frame_map(big, RS_INIT_VSPACE, TOP_PAGE & ~((1ul << 21) - 1),
                           RS_RIGHT_READ | RS_RIGHT_WRITE, 0),
              RS_RANGE_ERROR);
    CHECK_EQ(ps_mr(2), (RS_USER_TOP - (1ul << 21)) & ~((1ul << 21) - 1));
}

static void entry_syscall_at_end(void)
{
    rs_cptr_t ep = new_object(RS_OBJ_ENDPOINT, 0);
    REQUIRE(ep);
    ps_process_t p;
    REQUIRE_OK(run_code_at(&p, ep, LAST_PAGE + RS_PAGE_SIZE - 2, syscall_insn, 2, RS_SYS_YIELD, 0));
    expect_fetch_fault_at_top(ep); // back from the syscall (sysret) at 0x7FFFFFFFF000
}

static void entry_bad_syscall_at_end(void)
{
    rs_cptr_t ep = new_object(RS_OBJ_ENDPOINT, 0);
    REQUIRE(ep);
    ps_process_t p;
    // a Call through a garbage cptr (fast path, then slow path): the error comes back, then the
    // fetch faults
    REQUIRE_OK(run_code_at(&p, ep, LAST_PAGE + RS_PAGE_SIZE - 2, syscall_insn, 2, RS_SYS_CALL,
                           0xDEADBEEFCAFEF00Dul));
    expect_fetch_fault_at_top(ep);
    uint64_t regs[RS_REG_COUNT];
    CHECK_OK(ps_tcb_read_registers(p.tcb, false, RS_REG_COUNT, regs));
    CHECK_EQ(regs[RS_REG_RAX], RS_FAILED_LOOKUP);
    CHECK_EQ(regs[RS_REG_RCX], TOP_PAGE); // what syscall left in rcx: the return address
}

static void entry_trap_at_end(void)
{
    rs_cptr_t ep = new_object(RS_OBJ_ENDPOINT, 0);
    REQUIRE(ep);
    ps_process_t p;
    REQUIRE_OK(run_code_at(&p, ep, LAST_PAGE + RS_PAGE_SIZE - 1, "\xcc", 1, 0, 0));
    if (!expect_fault(ep, RS_FAULT_USER_EXCEPTION)) return;
    CHECK_EQ(ps_mr(0), TOP_PAGE); // a trap: ip is past the int3
    CHECK_EQ(ps_mr(3), 3);
    CHECK_OK(rs_reply(rs_msginfo(0, 0, 0, 0)).error); // resume (iretq to 0x7FFFFFFFF000)
    expect_fetch_fault_at_top(ep);
}

static void entry_fault_in_last_page(void)
{
    rs_cptr_t ep = new_object(RS_OBJ_ENDPOINT, 0);
    REQUIRE(ep);
    ps_process_t p;
    // a faulting instruction (ud2) that ends where the mappable range ends
    REQUIRE_OK(run_code_at(&p, ep, LAST_PAGE + RS_PAGE_SIZE - 2, "\x0f\x0b", 2, 0, 0));
    if (!expect_fault(ep, RS_FAULT_USER_EXCEPTION)) return;
    CHECK_EQ(ps_mr(0), LAST_PAGE + RS_PAGE_SIZE - 2);
    CHECK_EQ(ps_mr(3), 6);
    rs_mr_set(0, TOP_PAGE); // step past it: RS_USER_TOP itself is no user address
    CHECK_OK(rs_reply(rs_msginfo(0, 0, 0, 1)).error);
    if (!expect_fault(ep, RS_FAULT_USER_EXCEPTION)) return;
    CHECK_EQ(ps_mr(0), LAST_PAGE + RS_PAGE_SIZE - 2); // the reply's RIP was ignored: same fault
}

static void entry_write_registers(void)
{
    rs_cptr_t tcb = new_object(RS_OBJ_TCB, 0);
    REQUIRE(tcb);
    uint64_t regs[RS_REG_COUNT] = {0};
    const uint64_t bad_ip[] = {NONCANON, TOP_PAGE, TOP_PAGE + RS_PAGE_SIZE - 2, KERNEL_VA, ~0ul};
    for (unsigned i = 0; i < 5; i++) {
        regs[RS_REG_RIP] = bad_ip[i];
        CHECK_ERR(ps_tcb_write_registers(tcb, false, 1, regs), RS_INVALID_ARGUMENT);
        CHECK_EQ(ps_mr(0), 2 + RS_REG_RIP);
    }
    regs[RS_REG_RIP] = LAST_PAGE + RS_PAGE_SIZE - 2;
    const uint64_t bad_sp[] = {NONCANON, RS_USER_TOP + 8, KERNEL_VA, ~0ul};
    for (unsigned i = 0; i < 4; i++) {
        regs[RS_REG_RSP] = bad_sp[i];
        CHECK_ERR(ps_tcb_write_registers(tcb, false, 2, regs), RS_INVALID_ARGUMENT);
        CHECK_EQ(ps_mr(0), 2 + RS_REG_RSP);
    }
    uint64_t now[RS_REG_COUNT];
    CHECK_OK(ps_tcb_read_registers(tcb, false, 2, now));
    CHECK_EQ(now[RS_REG_RIP], 0); // nothing of the refused writes stuck
    CHECK_EQ(now[RS_REG_RSP], 0);
    regs[RS_REG_RSP] = RS_USER_TOP; // a stack may end where user space ends
    regs[RS_REG_RFLAGS] = ~0ul; // IOPL, NT, RF, VM, AC, VIF, VIP, ID and IF=0 are not the user's
    CHECK_OK(ps_tcb_write_registers(tcb, false, 3, regs));
    CHECK_OK(ps_tcb_read_registers(tcb, false, 3, now));
    CHECK_EQ(now[RS_REG_RIP], LAST_PAGE + RS_PAGE_SIZE - 2);
    CHECK_EQ(now[RS_REG_RSP], RS_USER_TOP);
    CHECK_EQ(now[RS_REG_RFLAGS], 0xFD7); // CF PF AF ZF SF TF DF OF, IF, bit 1
}

/* A thread that raised #UD; its handler answers with registers the kernel must not take. */
static void entry_fault_reply_registers(void)
{
    rs_cptr_t ep = new_object(RS_OBJ_ENDPOINT, 0);
    REQUIRE(ep);
    ps_process_t p;
    uint64_t at = LAST_PAGE + 0x100;
    REQUIRE_OK(run_code_at(&p, ep, at, "\x0f\x0b\x0f\x0b", 4, 0, 0)); // ud2; ud2
    if (!expect_fault(ep, RS_FAULT_USER_EXCEPTION)) return;
    uint64_t sp = ps_mr(1);
    const uint64_t bad[][2] = {{NONCANON, sp},
                               {TOP_PAGE + RS_PAGE_SIZE - 2, sp},
                               {KERNEL_VA, sp},
                               {at, NONCANON},
                               {at, KERNEL_VA}};
    for (unsigned i = 0; i < 5; i++) {
        rs_mr_set(0, bad[i][0]);
        rs_mr_set(1, bad[i][1]);
        CHECK_OK(rs_reply(rs_msginfo(0, 0, 0, 2)).error);
        // ignored: the thread runs the ud2 again, with the registers it had
        if (!expect_fault(ep, RS_FAULT_USER_EXCEPTION)) return;
        CHECK_EQ(ps_mr(0), at);
        CHECK_EQ(ps_mr(1), sp);
        CHECK_EQ(ps_mr(3), 6);
    }
    rs_mr_set(0, at + 2); // a good reply still works: on to the second ud2
    rs_mr_set(1, sp - 64);
    CHECK_OK(rs_reply(rs_msginfo(0, 0, 0, 2)).error);
    if (!expect_fault(ep, RS_FAULT_USER_EXCEPTION)) return;
    CHECK_EQ(ps_mr(0), at + 2);
    CHECK_EQ(ps_mr(1), sp - 64);
}

/* An unknown syscall's handler may set every register: rflags are sanitised, a bad RSP or RIP
 * voids the whole reply. */
static void entry_unknown_syscall_reply(void)
{
    rs_cptr_t ep = new_object(RS_OBJ_ENDPOINT, 0);
    REQUIRE(ep);
    ps_process_t p;
    uint64_t at = LAST_PAGE + 0x200;
    // mov $50, %eax; syscall; int3
    REQUIRE_OK(run_code_at(&p, ep, at, "\xb8\x32\x00\x00\x00\x0f\x05\xcc", 8, 0, 0));
    if (!expect_fault(ep, RS_FAULT_UNKNOWN_SYSCALL)) return;
    uint64_t regs[RS_REG_COUNT];
    for (unsigned i = 0; i < RS_REG_COUNT; i++) regs[i] = ps_mr(i);
    CHECK_EQ(regs[RS_REG_RIP], at + 7);
    // first answer: a non-canonical RSP; the thread goes on with the registers it had
    for (unsigned i = 0; i < RS_REG_COUNT; i++) rs_mr_set(i, regs[i]);
    rs_mr_set(RS_REG_RSP, NONCANON);
    rs_mr_set(RS_REG_RFLAGS, ~0ul & ~0x100ul);
    CHECK_OK(rs_reply(rs_msginfo(0, 0, 0, RS_REG_COUNT)).error);
    if (!expect_fault(ep, RS_FAULT_USER_EXCEPTION)) return; // the int3
    CHECK_EQ(ps_mr(0), at + 8);
    CHECK_EQ(ps_mr(1), regs[RS_REG_RSP]);
    CHECK_EQ(ps_mr(2), regs[RS_REG_RFLAGS]);
    CHECK_EQ(ps_mr(3), 3);
    // run it again, now answered with every flag set but TF: only the user's flags stay
    rs_mr_set(0, at);
    CHECK_OK(rs_reply(rs_msginfo(0, 0, 0, 1)).error);
    if (!expect_fault(ep, RS_FAULT_UNKNOWN_SYSCALL)) return;
    for (unsigned i = 0; i < RS_REG_COUNT; i++) rs_mr_set(i, regs[i]);
    rs_mr_set(RS_REG_RFLAGS, ~0ul & ~0x100ul);
    CHECK_OK(rs_reply(rs_msginfo(0, 0, 0, RS_REG_COUNT)).error);
    if (!expect_fault(ep, RS_FAULT_USER_EXCEPTION)) return;
    CHECK_EQ(ps_mr(0), at + 8);
    CHECK_EQ(ps_mr(2), 0xED7); // CF PF AF ZF SF DF OF, IF, bit 1
}

/* Says whether the command line has `word` as a whole token. */
static bool cmdline_has(const char *word)
{
    size_t n = strlen(word);
    for (const char *c = bootinfo->cmdline; *c; c++)
        if ((c == bootinfo->cmdline || c[-1] == ' ') && !strncmp(c, word, n) &&
            (c[n] == 0 || c[n] == ' '))
            return true;
    return false;
}

/* Reads the word at arg (a kernel address): a fault. */
static void child_read(uint64_t arg) { child_report(1, *(volatile uint64_t *)arg, 0, 0, 0); }

static void entry_isolation(void)
{
    // the physmap and the kernel image (its multiboot header, not in the skim window)
    const uint64_t kernel[] = {KERNEL_VA, 0xFFFFFFFF80100000ul};
    bool pti_on = cmdline_has("pti=on"), pti_off = cmdline_has("pti=off");
    for (unsigned i = 0; i < 2; i++) {
        rs_cptr_t ep = new_object(RS_OBJ_ENDPOINT, 0);
        REQUIRE(ep);
        ps_process_t p;
        REQUIRE(child_spawn(&p, child_read, kernel[i], ep));
        if (!expect_fault(ep, RS_FAULT_VM)) return;
        CHECK_EQ(ps_mr(1), kernel[i]);
        CHECK_EQ(ps_mr(3) & 6, 4); // a user read
        // with PTI the user's page tables do not map it at all (P clear); without, the
        // supervisor-only page is present and the fault is a protection one (P set)
        if (pti_on) CHECK_EQ(ps_mr(3) & 1, 0);
        if (pti_off) CHECK_EQ(ps_mr(3) & 1, 1);
    }
}

const struct test entry_tests[] = {
    {"ENTRY-0001",
     "nothing can be mapped in the page below the canonical hole (syscall, int3 or a fall-through "
     "there would return to 0x800000000000): RS_RANGE_ERROR naming the highest mappable page",
     entry_top_page_refused},
    {"ENTRY-0002",
     "a syscall from the last two bytes of the highest mappable page returns to user mode and "
     "the fetch at 0x7FFFFFFFF000 is the thread's VM fault",
     entry_syscall_at_end},
    {"ENTRY-0003",
     "a Call through a garbage cptr from the same place returns RS_FAILED_LOOKUP and faults the "
     "same way",
     entry_bad_syscall_at_end},
    {"ENTRY-0004",
     "int3 as the last byte of the highest mappable page: breakpoint at ip 0x7FFFFFFFF000, and "
     "resumed there, a VM fault",
     entry_trap_at_end},
    {"ENTRY-0005",
     "a fault in the last bytes of user space is delivered; a reply moving RIP to the top is "
     "ignored and the thread faults again where it was",
     entry_fault_in_last_page},
    {"ENTRY-0006",
     "WriteRegisters refuses a RIP outside [0, RS_USER_TOP) and an RSP above RS_USER_TOP with "
     "RS_INVALID_ARGUMENT naming the register; RFLAGS keep only the user's flags",
     entry_write_registers},
    {"ENTRY-0007",
     "a fault reply with a non-canonical, top-page or kernel RIP or RSP is ignored: the thread "
     "faults again with the registers it had; a good reply still moves it",
     entry_fault_reply_registers},
    {"ENTRY-0008",
     "an unknown-syscall reply with a non-canonical RSP is ignored, and one with every RFLAGS "
     "bit set leaves only the user's flags",
     entry_unknown_syscall_reply},
    {"ENTRY-0009",
     "a user read of the physmap or the kernel image faults; with pti=on as not present (the "
     "user's page tables do not map the kernel), with pti=off as a protection fault",
     entry_isolation},
    {0},
};
