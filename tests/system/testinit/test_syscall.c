// SPDX-License-Identifier: MIT
// System-call layer tests: unknown numbers, lookups of bad cptrs, message-length limits, user
// pointers into the kernel half, alignment, absurd sizes and depths, missing arguments.
#include "suites.h"

#define GARBAGE_CPTR 0xDEADBEEFCAFEF00Dul
#define KERNEL_ADDR  0xFFFF800000000000ul
#define KERNEL_TEXT  0xFFFFFFFF80100000ul
#define USER_TOP     RS_USER_TOP

static void sys_bad_number(void)
{
    const rs_word_t numbers[] = {0, RS_SYS_COUNT, 20, 99, 1ul << 63, ~0ul};
    for (unsigned i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++) {
        rs_result_t r = rs_syscall(numbers[i], RS_INIT_TCB, 0);
        CHECK_ERR(r.error, RS_BAD_SYSCALL);
        CHECK_EQ(ps_mr(1), RS_SYSCALL_HIGHEST);
    }
}

static void sys_garbage_cptr(void)
{
    rs_cptr_t ep = new_object(RS_OBJ_ENDPOINT, 0);
    REQUIRE(ep);
    CHECK_ERR(rs_call(GARBAGE_CPTR, rs_msginfo(RS_CNODE_DELETE, 0, 0, 0)).error, RS_FAILED_LOOKUP);
    CHECK_EQ(ps_mr(1), 64); // the guard did not match: no bit was resolved
    CHECK_ERR(rs_send(GARBAGE_CPTR, 0).error, RS_FAILED_LOOKUP);
    CHECK_ERR(rs_nbsend(GARBAGE_CPTR, 0).error, RS_FAILED_LOOKUP);
    CHECK_ERR(rs_recv(GARBAGE_CPTR).error, RS_FAILED_LOOKUP);
    CHECK_ERR(rs_nbrecv(GARBAGE_CPTR).error, RS_FAILED_LOOKUP);
    CHECK_ERR(rs_nbsend(1ul << 12 | ep, 0).error, RS_FAILED_LOOKUP); // a guard bit set
    CHECK_ERR(rs_nbsend(ep, 0).error, RS_WOULD_BLOCK);               // the real one works
}

static void sys_empty_slot(void)
{
    rs_cptr_t empty = new_slot();
    CHECK_ERR(rs_call(empty, rs_msginfo(RS_CNODE_DELETE, 0, 0, 0)).error, RS_FAILED_LOOKUP);
    CHECK_EQ(ps_mr(1), 0); // resolved all the way to an empty slot
    CHECK_ERR(rs_nbsend(empty, 0).error, RS_FAILED_LOOKUP);
    CHECK_ERR(rs_nbrecv(empty).error, RS_FAILED_LOOKUP);
    CHECK_ERR(rs_signal(RS_INIT_NULL), RS_FAILED_LOOKUP);
}

static void sys_oversize_message(void)
{
    rs_cptr_t ep = new_object(RS_OBJ_ENDPOINT, 0);
    REQUIRE(ep);
    CHECK_ERR(rs_nbsend(ep, rs_msginfo(1, 0, 0, RS_MSG_MAX_LENGTH + 1)).error,
              RS_TRUNCATED_MESSAGE);
    CHECK_EQ(ps_mr(0), RS_MSG_MAX_LENGTH);
    CHECK_EQ(ps_mr(1), RS_MSG_MAX_LENGTH + 1);
    CHECK_ERR(rs_call(ep, rs_msginfo(1, 0, 0, 127)).error, RS_TRUNCATED_MESSAGE);
    CHECK_ERR(rs_call(RS_INIT_CNODE, rs_msginfo(RS_CNODE_DELETE, 0, 0, 127)).error,
              RS_TRUNCATED_MESSAGE);
    CHECK_ERR(rs_call(GARBAGE_CPTR, rs_msginfo(1, 0, 0, 121)).error, RS_TRUNCATED_MESSAGE);
    CHECK_ERR(rs_nbsend(ep, rs_msginfo(1, 0, 0, RS_MSG_MAX_LENGTH)).error,
              RS_WOULD_BLOCK); // 120 is fine
}

static void sys_kernel_pointers(void)
{
    rs_cptr_t f = new_object(RS_OBJ_FRAME, 0), tcb = new_object(RS_OBJ_TCB, 0);
    REQUIRE(f && tcb);
    const uint64_t bad[] = {KERNEL_ADDR, USER_TOP, 0xFFFFFFFFFFFFF000ul};
    for (unsigned i = 0; i < 3; i++) {
        CHECK_ERR(ps_frame_map(f, RS_INIT_VSPACE, bad[i], RS_RIGHT_READ | RS_RIGHT_WRITE, 0),
                  RS_RANGE_ERROR);
        CHECK_EQ(ps_mr(2), USER_TOP - RS_PAGE_SIZE);
    }
    uint64_t regs[RS_REG_COUNT] = {KERNEL_TEXT};
    CHECK_ERR(ps_tcb_write_registers(tcb, false, 1, regs), RS_INVALID_ARGUMENT);
    CHECK_EQ(ps_mr(0), 2); // argument 2: the first register
    regs[RS_REG_RIP] = USER_TOP;
    CHECK_ERR(ps_tcb_write_registers(tcb, false, 1, regs), RS_INVALID_ARGUMENT);
    regs[RS_REG_RIP] = 0x401000;
    regs[RS_REG_FS_BASE] = KERNEL_ADDR;
    CHECK_ERR(ps_tcb_write_registers(tcb, false, RS_REG_COUNT, regs), RS_INVALID_ARGUMENT);
    CHECK_EQ(ps_mr(0), 2 + RS_REG_FS_BASE);
    uint64_t now[RS_REG_COUNT];
    CHECK_OK(ps_tcb_read_registers(tcb, false, RS_REG_COUNT, now));
    CHECK_EQ(now[RS_REG_RIP], 0); // nothing of the refused writes stuck
    CHECK_ERR(ps_tcb_configure(tcb, RS_INIT_CNODE, RS_INIT_VSPACE, f, KERNEL_ADDR), RS_RANGE_ERROR);
    CHECK_EQ(ps_mr(0), 1);
    CHECK_ERR(ps_tcb_set_tls_base(tcb, KERNEL_ADDR), RS_INVALID_ARGUMENT);
    CHECK_ERR(ps_tcb_set_tls_base(tcb, USER_TOP), RS_INVALID_ARGUMENT);
    CHECK_OK(ps_tcb_set_tls_base(tcb, USER_TOP - 8));
}

static void sys_alignment(void)
{
    rs_cptr_t f = new_object(RS_OBJ_FRAME, 0), big = new_object(RS_OBJ_LARGE_FRAME, 0);
    rs_cptr_t tcb = new_object(RS_OBJ_TCB, 0);
    REQUIRE(f && big && tcb);
    CHECK_ERR(ps_frame_map(f, RS_INIT_VSPACE, 0x10000123, RS_RIGHT_READ, 0), RS_ALIGNMENT_ERROR);
    CHECK_EQ(ps_mr(1), RS_PAGE_SIZE);
    CHECK_ERR(ps_frame_map(big, RS_INIT_VSPACE, 0x10001000, RS_RIGHT_READ, 0), RS_ALIGNMENT_ERROR);
    CHECK_EQ(ps_mr(1), 1ul << 21);
    CHECK_ERR(ps_tcb_configure(tcb, RS_INIT_CNODE, RS_INIT_VSPACE, f, 0x10000100),
              RS_ALIGNMENT_ERROR);
    CHECK_EQ(ps_mr(0), 1);
}

static void sys_absurd_sizes(void)
{
    ps_ut_t ua;
    ps_untyped_t st;
    rs_cptr_t ut = new_untyped(16, &ua, &st), dst = new_slot();
    REQUIRE(ut && dst);
    CHECK_ERR(ps_untyped_retype(ut, RS_INIT_CNODE, RS_OBJ_UNTYPED, 200, 0, 0, dst, 1),
              RS_RANGE_ERROR);
    CHECK_EQ(ps_mr(0), 1);
    CHECK_EQ(ps_mr(1), RS_MIN_UNTYPED_BITS);
    CHECK_EQ(ps_mr(2), RS_MAX_UNTYPED_BITS);
    CHECK_ERR(ps_untyped_retype(ut, RS_INIT_CNODE, RS_OBJ_UNTYPED, 3, 0, 0, dst, 1),
              RS_RANGE_ERROR);
    CHECK_ERR(ps_untyped_retype(ut, RS_INIT_CNODE, RS_OBJ_UNTYPED, 48, 0, 0, dst, 1),
              RS_RANGE_ERROR);
    CHECK_ERR(ps_untyped_retype(ut, RS_INIT_CNODE, RS_OBJ_CNODE, 0, 0, 0, dst, 1), RS_RANGE_ERROR);
    CHECK_EQ(ps_mr(1), 1);
    CHECK_EQ(ps_mr(2), RS_MAX_CNODE_RADIX);
    CHECK_ERR(ps_untyped_retype(ut, RS_INIT_CNODE, RS_OBJ_CNODE, 21, 0, 0, dst, 1), RS_RANGE_ERROR);
    CHECK_ERR(ps_untyped_retype(ut, RS_INIT_CNODE, RS_OBJ_ENDPOINT, 0, 0, 0, dst, 0),
              RS_RANGE_ERROR);
    CHECK_EQ(ps_mr(0), 5);
    CHECK_ERR(ps_untyped_retype(ut, RS_INIT_CNODE, RS_OBJ_ENDPOINT, 0, 0, 0, dst, 100000),
              RS_RANGE_ERROR);
    CHECK_EQ(ps_mr(0), 5);
    CHECK_EQ(ps_mr(2), 256);
    CHECK_ERR(ps_untyped_retype(ut, RS_INIT_CNODE, RS_OBJ_UNTYPED, 17, 0, 0, dst, 1),
              RS_NOT_ENOUGH_MEMORY);
    CHECK_EQ(cap_type(dst), RS_CAP_NULL); // none of it made anything
    CHECK_OK(ps_untyped_retype(ut, RS_INIT_CNODE, RS_OBJ_UNTYPED, 16, 0, 0, dst, 1)); // all of it
}

static void sys_absurd_depths(void)
{
    rs_cptr_t ep = new_object(RS_OBJ_ENDPOINT, 0), dst = new_slot(), ut = 0;
    REQUIRE(ep && dst);
    CHECK_ERR(ps_cnode_copy(RS_INIT_CNODE, dst, 0, RS_INIT_CNODE, ep, 64), RS_RANGE_ERROR);
    CHECK_EQ(ps_mr(0), 1);
    CHECK_EQ(ps_mr(2), 64);
    CHECK_ERR(ps_cnode_copy(RS_INIT_CNODE, dst, 65, RS_INIT_CNODE, ep, 64), RS_RANGE_ERROR);
    CHECK_ERR(ps_cnode_copy(RS_INIT_CNODE, dst, 64, RS_INIT_CNODE, ep, 65), RS_RANGE_ERROR);
    CHECK_EQ(ps_mr(0), 3);
    CHECK_ERR(ps_cnode_copy(RS_INIT_CNODE, dst, 64, RS_INIT_CNODE, ep, 0), RS_RANGE_ERROR);
    CHECK_ERR(ps_cnode_delete(RS_INIT_CNODE, ep, 0), RS_RANGE_ERROR);
    CHECK_ERR(ps_cnode_revoke(RS_INIT_CNODE, ep, 65), RS_RANGE_ERROR);
    CHECK_ERR(ps_cnode_copy(RS_INIT_CNODE, dst, 12, RS_INIT_CNODE, ep, 64),
              RS_FAILED_LOOKUP); // guard unmet
    ps_ut_t ua;
    ps_untyped_t st;
    REQUIRE(ps_new_untyped(env, 12, &ua, &st, &ut) == RS_OK);
    CHECK_ERR(ps_untyped_retype(ut, RS_INIT_CNODE, RS_OBJ_ENDPOINT, 0, 0, 65, dst, 1),
              RS_RANGE_ERROR);
    CHECK_EQ(ps_mr(0), 3);
    CHECK_ERR(ps_irq_control_get(RS_INIT_IRQ_CONTROL, 5, RS_INIT_CNODE, dst, 0), RS_RANGE_ERROR);
    CHECK_EQ(cap_type(dst), RS_CAP_NULL);
}

static void sys_missing_arguments(void)
{
    rs_cptr_t ut = new_object(RS_OBJ_UNTYPED, 12), f = new_object(RS_OBJ_FRAME, 0),
              dst = new_slot();
    REQUIRE(ut && f && dst);
    const rs_word_t a[] = {RS_OBJ_ENDPOINT, 0, 0, 0, dst, 1};
    const rs_cptr_t caps[] = {RS_INIT_CNODE, RS_INIT_CNODE, GARBAGE_CPTR};
    CHECK_ERR(ps_invoke(ut, RS_UNTYPED_RETYPE, a, 5, caps, 1), RS_TRUNCATED_MESSAGE);
    CHECK_EQ(ps_mr(0), 6);
    CHECK_EQ(ps_mr(1), 5);
    CHECK_ERR(ps_invoke(ut, RS_UNTYPED_RETYPE, a, 6, caps, 0), RS_INVALID_CAPABILITY);
    CHECK_EQ(ps_mr(0), 1);
    const rs_cptr_t empty_cap[] = {dst};
    CHECK_ERR(ps_invoke(ut, RS_UNTYPED_RETYPE, a, 6, empty_cap, 1), RS_INVALID_CAPABILITY);
    CHECK_EQ(ps_mr(0), 1);
    CHECK_ERR(ps_invoke(RS_INIT_TCB, RS_TCB_CONFIGURE, a, 2, caps, 3), RS_INVALID_CAPABILITY);
    CHECK_EQ(ps_mr(0), 3); // the third extra cap did not resolve
    const rs_word_t m[] = {0x10000000, RS_RIGHT_READ};
    const rs_cptr_t vs[] = {RS_INIT_VSPACE};
    CHECK_ERR(ps_invoke(f, RS_FRAME_MAP, m, 2, vs, 1), RS_TRUNCATED_MESSAGE);
    CHECK_EQ(ps_mr(0), 3);
    CHECK_ERR(ps_invoke(RS_INIT_CNODE, RS_CNODE_MINT, a, 5, caps, 1), RS_TRUNCATED_MESSAGE);
    CHECK_EQ(cap_type(dst), RS_CAP_NULL);
}

static void sys_bootinfo(void)
{
    const rs_bootinfo_t *bi = bootinfo;
    CHECK_EQ(bi->magic, RS_BOOTINFO_MAGIC);
    CHECK_EQ(cap_type(RS_INIT_NULL), RS_CAP_NULL);
    CHECK_EQ(cap_type(RS_INIT_TCB), RS_CAP_TCB);
    CHECK_EQ(cap_type(RS_INIT_CNODE), RS_CAP_CNODE);
    CHECK_EQ(cap_type(RS_INIT_VSPACE), RS_CAP_VSPACE);
    CHECK_EQ(cap_type(RS_INIT_IRQ_CONTROL), RS_CAP_IRQ_CONTROL);
    CHECK_EQ(cap_type(RS_INIT_IOPORT_CONTROL), RS_CAP_IOPORT_CONTROL);
    CHECK_EQ(cap_type(RS_INIT_BOOTINFO_FRAME), RS_CAP_FRAME);
    CHECK_EQ(cap_type(RS_INIT_IPC_BUFFER), RS_CAP_FRAME);
    CHECK(bi->untyped.start >= RS_INIT_FIRST_FREE_FIXED && bi->untyped.end > bi->untyped.start);
    CHECK(bi->empty.start >= bi->untyped.end && bi->empty.end == 1ul << bi->cnode_radix);
    for (rs_cptr_t c = bi->untyped.start; c < bi->untyped.end; c++)
        CHECK_EQ(cap_type(c), RS_CAP_UNTYPED);
    CHECK_EQ(cap_type(GARBAGE_CPTR), RS_CAP_NULL);
    CHECK(bi->module_count >= 1 && memcmp((const void *)bi->modules[0].vaddr,
                                          "\x7f"
                                          "ELF",
                                          4) == 0);
    uint64_t pa;
    CHECK_OK(ps_frame_get_address(RS_INIT_IPC_BUFFER, &pa));
    CHECK((pa & (RS_PAGE_SIZE - 1)) == 0);
    CHECK_ERR(rs_syscall(RS_SYS_YIELD, 0, 0).error, RS_OK);
    CHECK_ERR(rs_syscall(RS_SYS_DEBUG_GETCHAR, RS_INIT_CONSOLE, 0).error, RS_OK);
}

/* Child without a registered IPC buffer: what needs one must fail with RS_BAD_ADDRESS. */
static void child_no_ipc_buffer(uint64_t arg)
{
    rs_word_t e1 = rs_nbsend(CHILD_SLOT_A, rs_msginfo(1, 0, 0, 5)).error;
    rs_cap_set(0, PS_SLOT_CNODE);
    rs_word_t e2 = rs_call(PS_SLOT_TCB, rs_msginfo(RS_TCB_BIND_NOTIFICATION, 0, 1, 0)).error;
    rs_mr_set(0, CHILD_SLOT_FREE);
    rs_mr_set(1, PS_DEPTH);
    rs_word_t e3 = rs_call(PS_SLOT_CNODE, rs_msginfo(RS_CNODE_DELETE, 0, 0, 2)).error;
    rs_word_t e4 = rs_nbsend(CHILD_SLOT_A, rs_msginfo(1, 0, 0, 4)).error;
    child_report(1, e1, e2, e3, e4);
}

static void sys_no_ipc_buffer(void)
{
    rs_cptr_t report = new_object(RS_OBJ_ENDPOINT, 0), ep = new_object(RS_OBJ_ENDPOINT, 0);
    REQUIRE(report && ep);
    ps_process_t p;
    REQUIRE_OK(child_create(&p, child_no_ipc_buffer, 0, report));
    REQUIRE_OK(ps_process_give(&p, CHILD_SLOT_A, ep, RS_RIGHTS_ALL, 0));
    REQUIRE_OK(ps_tcb_configure(p.tcb, p.cnode, p.vspace, 0, 0)); // no IPC buffer
    REQUIRE_OK(ps_process_start(&p));
    uint64_t mr[4];
    if (!expect_report(report, 1, mr)) return;
    CHECK_ERR(mr[0], RS_BAD_ADDRESS); // 5 words to an endpoint
    CHECK_ERR(mr[1], RS_BAD_ADDRESS); // an extra cap to an invocation
    CHECK_ERR(mr[2], RS_OK);          // 2 words fit in registers
    CHECK_ERR(mr[3], RS_WOULD_BLOCK); // 4 words to an endpoint
}

const struct test syscall_tests[] = {
    {"SYS-0001", "an unknown system call number without a fault handler returns RS_BAD_SYSCALL",
     sys_bad_number},
    {"SYS-0002", "a garbage cptr fails with RS_FAILED_LOOKUP for every send and receive",
     sys_garbage_cptr},
    {"SYS-0003", "a cptr to an empty slot fails with RS_FAILED_LOOKUP", sys_empty_slot},
    {"SYS-0004", "a message longer than 120 words is refused with RS_TRUNCATED_MESSAGE",
     sys_oversize_message},
    {"SYS-0005", "kernel addresses as map address, rip, fs base or IPC buffer are refused",
     sys_kernel_pointers},
    {"SYS-0006", "unaligned map addresses and IPC buffers fail with RS_ALIGNMENT_ERROR",
     sys_alignment},
    {"SYS-0007", "absurd retype sizes and counts fail with RS_RANGE_ERROR", sys_absurd_sizes},
    {"SYS-0008", "CNode depths 0 and 65 fail with RS_RANGE_ERROR", sys_absurd_depths},
    {"SYS-0009",
     "missing arguments and extra caps fail with RS_TRUNCATED_MESSAGE / RS_INVALID_CAPABILITY",
     sys_missing_arguments},
    {"SYS-0010", "init's bootinfo and fixed slots hold what the ABI says", sys_bootinfo},
    {"SYS-0011", "a thread without an IPC buffer gets RS_BAD_ADDRESS for what needs one",
     sys_no_ipc_buffer},
    {0},
};
