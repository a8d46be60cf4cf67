// SPDX-License-Identifier: MIT
// TCB tests: a thread in a new address space, registers, suspend/resume, priorities against the
// MCP, Configure and fault-handler checks, TLS base, notification binding, same-space threads.
#include "suites.h"

#define ME RS_INIT_CNODE

/* Reports its argument and the alignment of its frame pointer (16 if the entry ABI holds). */
static void child_echo_arg(uint64_t arg)
{
    uint64_t fp = (uint64_t)__builtin_frame_address(0);
    child_report(1, arg, fp % 16, (uint64_t)rs_ipc_buffer(), 0);
}

static void tcb_spawn(void)
{
    rs_cptr_t report = new_object(RS_OBJ_ENDPOINT, 0);
    REQUIRE(report);
    ps_process_t p;
    REQUIRE(child_spawn(&p, child_echo_arg, 0x1234ABCD5678ul, report));
    uint64_t mr[4];
    if (!expect_report(report, 1, mr)) return;
    CHECK_EQ(mr[0], 0x1234ABCD5678ul);
    CHECK_EQ(mr[1], 0); // ABI: rsp + 8 aligned to 16 at entry, so the frame pointer is aligned
    CHECK_EQ(mr[2], PS_CHILD_IPC_BUFFER);
    CHECK_OK(ps_process_destroy(&p));
    CHECK_EQ(cap_type(p.tcb), RS_CAP_NULL);
}

static void tcb_registers(void)
{
    rs_cptr_t report = new_object(RS_OBJ_ENDPOINT, 0);
    REQUIRE(report);
    ps_process_t p;
    REQUIRE_OK(child_create(&p, child_echo_arg, 77, report));
    uint64_t r[RS_REG_COUNT];
    REQUIRE_OK(ps_tcb_read_registers(p.tcb, false, RS_REG_COUNT, r));
    CHECK_EQ(r[RS_REG_RSP], PS_CHILD_STACK_TOP - 8);
    CHECK_EQ(r[RS_REG_RDI], 77);
    CHECK_EQ(r[RS_REG_RSI], PS_CHILD_IPC_BUFFER);
    CHECK_EQ(r[RS_REG_RDX], (uint64_t)child_echo_arg);
    CHECK_EQ(r[RS_REG_RFLAGS], 0x202);
    CHECK_ERR(ps_tcb_read_registers(p.tcb, false, RS_REG_COUNT + 1, NULL), RS_RANGE_ERROR);
    CHECK_EQ(ps_mr(0), 1);
    CHECK_EQ(ps_mr(2), RS_REG_COUNT);
    CHECK_ERR(ps_tcb_write_registers(p.tcb, false, RS_REG_COUNT + 1, r), RS_RANGE_ERROR);
    CHECK_ERR(ps_tcb_read_registers(RS_INIT_TCB, false, 1, NULL),
              RS_ILLEGAL_OPERATION); // not on oneself
    CHECK_ERR(ps_tcb_write_registers(RS_INIT_TCB, false, 0, r), RS_ILLEGAL_OPERATION);
    uint64_t w[RS_REG_COUNT];
    for (unsigned i = 0; i < RS_REG_COUNT; i++) w[i] = r[i];
    w[RS_REG_RFLAGS] = 0xFFFFFFFFul; // only arithmetic flags, TF and DF may change; IF stays on
    w[RS_REG_R15] = 0xF15;
    w[RS_REG_FS_BASE] = 0x7000;
    CHECK_OK(ps_tcb_write_registers(p.tcb, false, RS_REG_COUNT, w));
    REQUIRE_OK(ps_tcb_read_registers(p.tcb, false, RS_REG_COUNT, r));
    CHECK_EQ(r[RS_REG_RFLAGS], 0xFD7);
    CHECK_EQ(r[RS_REG_R15], 0xF15);
    CHECK_EQ(r[RS_REG_FS_BASE], 0x7000);
    w[RS_REG_RFLAGS] = 0x202;
    CHECK_OK(ps_tcb_write_registers(p.tcb, true, 3, w)); // resume flag starts it
    uint64_t mr[4];
    if (expect_report(report, 1, mr)) CHECK_EQ(mr[0], 77);
}

/* Counts in shared word 0, yielding each time; with arg 1 suspends itself at 100 first. */
static void child_counter(uint64_t arg)
{
    volatile uint64_t *p = (volatile uint64_t *)CHILD_SHARED_VADDR;
    for (;;) {
        p[0]++;
        if (arg == 1 && p[0] == 100) {
            p[1] = ps_tcb_suspend(PS_SLOT_TCB) + 1000; // what the resumed thread sees
            child_report(1, p[0], 0, 0, 0);
        }
        rs_yield();
    }
}

/* Yields n times and says whether *word stayed the same. */
static bool stays(volatile uint64_t *word, unsigned n)
{
    uint64_t v = *word;
    for (unsigned i = 0; i < n; i++) rs_yield();
    return *word == v;
}

static void tcb_suspend_resume(void)
{
    ps_process_t p;
    REQUIRE_OK(child_create(&p, child_counter, 0, 0));
    volatile uint64_t *c = child_share(&p);
    REQUIRE(c);
    REQUIRE_OK(ps_process_start(&p));
    REQUIRE(wait_word(c, 10, WAIT_MS));
    CHECK_OK(ps_tcb_suspend(p.tcb));
    CHECK(stays(c, 50));
    CHECK_OK(ps_tcb_resume(p.tcb));
    CHECK_OK(ps_tcb_resume(p.tcb)); // resuming a running thread changes nothing
    uint64_t now = *c;
    CHECK(wait_word(c, now + 10, WAIT_MS));
    CHECK_OK(ps_tcb_read_registers(p.tcb, true, 1, NULL)); // read and suspend
    CHECK(stays(c, 50));
    CHECK_OK(ps_process_destroy(&p)); // destroyed while stopped: no trace left
}

static void tcb_self_suspend(void)
{
    rs_cptr_t report = new_object(RS_OBJ_ENDPOINT, 0);
    REQUIRE(report);
    ps_process_t p;
    REQUIRE_OK(child_create(&p, child_counter, 1, report));
    volatile uint64_t *c = child_share(&p);
    REQUIRE(c);
    REQUIRE_OK(ps_process_start(&p));
    REQUIRE(wait_word(c, 100, WAIT_MS));
    CHECK(stays(c, 50));
    CHECK_EQ(c[1], 0);
    CHECK_OK(ps_tcb_resume(p.tcb));
    uint64_t mr[4];
    if (expect_report(report, 1, mr)) CHECK_EQ(mr[0], 100);
    // the Suspend call returns RS_OK once the thread is resumed
    CHECK_EQ(c[1], 1000 + RS_OK);
    CHECK_OK(ps_process_destroy(&p));
    CHECK(stays(c, 20));
}

/* Signals the notification in CHILD_SLOT_A, then waits on CHILD_SLOT_B. */
static void child_signal_then_wait(uint64_t arg)
{
    rs_signal(CHILD_SLOT_A);
    rs_wait(CHILD_SLOT_B);
}

static void tcb_priorities(void)
{
    rs_cptr_t t = new_object(RS_OBJ_TCB, 0), t2 = new_object(RS_OBJ_TCB, 0),
              ep = new_object(RS_OBJ_ENDPOINT, 0);
    REQUIRE(t && t2 && ep);
    CHECK_ERR(ps_tcb_set_priority(t, RS_INIT_TCB, 256), RS_RANGE_ERROR);
    CHECK_EQ(ps_mr(2), 255);
    CHECK_OK(ps_tcb_set_mcp(t, RS_INIT_TCB, 10));
    CHECK_ERR(ps_tcb_set_priority(t2, t, 11), RS_RANGE_ERROR); // t's MCP bounds it
    CHECK_EQ(ps_mr(0), 0);
    CHECK_EQ(ps_mr(2), 10);
    CHECK_OK(ps_tcb_set_priority(t2, t, 10));
    CHECK_ERR(ps_tcb_set_mcp(t2, t, 11), RS_RANGE_ERROR);
    CHECK_ERR(ps_tcb_set_priority(t2, ep, 1), RS_INVALID_CAPABILITY);
    CHECK_EQ(ps_mr(0), 1);
    CHECK_ERR(ps_invoke(t2, RS_TCB_SET_PRIORITY, NULL, 0, NULL, 0), RS_TRUNCATED_MESSAGE);
    // a lower priority does not run while init is runnable; the same one does
    ps_process_t low;
    REQUIRE_OK(child_create(&low, child_counter, 0, 0));
    volatile uint64_t *c = child_share(&low);
    REQUIRE(c);
    REQUIRE_OK(ps_tcb_set_priority(low.tcb, RS_INIT_TCB, TEST_PRIO - 1));
    REQUIRE_OK(ps_process_start(&low));
    CHECK(stays(c, 50) && *c == 0);
    CHECK_OK(ps_tcb_set_priority(low.tcb, RS_INIT_TCB, TEST_PRIO));
    CHECK(wait_word(c, 5, WAIT_MS));
    CHECK_OK(ps_process_destroy(&low));
    // a higher priority runs as soon as it is resumed, before Resume even returns
    rs_cptr_t a = new_object(RS_OBJ_NOTIFICATION, 0), b = new_object(RS_OBJ_NOTIFICATION, 0);
    ps_process_t high;
    REQUIRE(a && b);
    REQUIRE_OK(child_create(&high, child_signal_then_wait, 0, 0));
    REQUIRE_OK(ps_process_give(&high, CHILD_SLOT_A, a, RS_RIGHTS_ALL, 0x4));
    REQUIRE_OK(ps_process_give(&high, CHILD_SLOT_B, b, RS_RIGHTS_ALL, 0));
    REQUIRE_OK(ps_tcb_set_priority(high.tcb, RS_INIT_TCB, TEST_PRIO + 1));
    REQUIRE_OK(ps_process_start(&high));
    CHECK_EQ(rs_poll(a).badge, 0x4);
}

static void tcb_configure_checks(void)
{
    rs_cptr_t t = new_object(RS_OBJ_TCB, 0), f = new_object(RS_OBJ_FRAME, 0),
              big = new_object(RS_OBJ_LARGE_FRAME, 0);
    rs_cptr_t vs = new_object(RS_OBJ_VSPACE, 0), vs2 = new_object(RS_OBJ_VSPACE, 0),
              ro = new_slot();
    REQUIRE(t && f && big && vs && vs2 && ro);
    uint64_t ipc = 0x10000000;
    CHECK_ERR(ps_tcb_configure(t, vs, vs, f, ipc), RS_INVALID_CAPABILITY);
    CHECK_EQ(ps_mr(0), 1);
    CHECK_ERR(ps_tcb_configure(t, ME, ME, f, ipc), RS_INVALID_CAPABILITY);
    CHECK_EQ(ps_mr(0), 2);
    CHECK_ERR(ps_tcb_configure(t, ME, vs, vs, ipc), RS_INVALID_CAPABILITY);
    CHECK_EQ(ps_mr(0), 3);
    CHECK_ERR(ps_tcb_configure(t, ME, vs, big, ipc), RS_INVALID_CAPABILITY);
    REQUIRE_OK(ps_cnode_mint(ME, ro, PS_DEPTH, ME, f, PS_DEPTH, RS_RIGHT_READ, 0));
    CHECK_ERR(ps_tcb_configure(t, ME, vs, ro, ipc), RS_INSUFFICIENT_RIGHTS);
    CHECK_EQ(ps_mr(0), 3);
    const rs_word_t args[] = {0, ipc};
    const rs_cptr_t one[] = {ME};
    CHECK_ERR(ps_invoke(t, RS_TCB_CONFIGURE, args, 2, one, 1), RS_INVALID_CAPABILITY);
    CHECK_EQ(ps_mr(0), 2);
    CHECK_ERR(ps_invoke(t, RS_TCB_CONFIGURE, args, 1, one, 1), RS_TRUNCATED_MESSAGE);
    CHECK_OK(ps_tcb_configure(t, ME, vs, f, ipc));
    CHECK_OK(ps_tcb_configure(t, ME, vs, 0, 0)); // without an IPC buffer
    // the TCB holds the last cap to vs: replacing it would destroy the VSpace
    REQUIRE_OK(ps_cnode_delete(ME, vs, PS_DEPTH));
    CHECK_ERR(ps_tcb_configure(t, ME, vs2, f, ipc), RS_REVOKE_FIRST);
    CHECK_EQ(ps_mr(0), 2);
}

static void tcb_fault_handler_checks(void)
{
    rs_cptr_t t = new_object(RS_OBJ_TCB, 0), ep = new_object(RS_OBJ_ENDPOINT, 0);
    rs_cptr_t n = new_object(RS_OBJ_NOTIFICATION, 0), ro = new_slot();
    REQUIRE(t && ep && n && ro);
    CHECK_ERR(ps_tcb_set_fault_handler(t, n), RS_INVALID_CAPABILITY);
    CHECK_EQ(ps_mr(0), 1);
    REQUIRE_OK(
        ps_cnode_mint(ME, ro, PS_DEPTH, ME, ep, PS_DEPTH, RS_RIGHT_READ | RS_RIGHT_GRANT, 0));
    CHECK_ERR(ps_tcb_set_fault_handler(t, ro), RS_INSUFFICIENT_RIGHTS);
    CHECK_OK(ps_tcb_set_fault_handler(t, ep));
    CHECK_OK(ps_tcb_set_fault_handler(t, 0)); // cleared
    CHECK_OK(ps_tcb_set_name(t, "a-long-thread-name"));
    CHECK_ERR(ps_invoke(t, RS_TCB_SET_NAME + 1, NULL, 0, NULL, 0), RS_ILLEGAL_OPERATION);
    CHECK_ERR(ps_invoke(t, RS_TCB_CONFIGURE - 1, NULL, 0, NULL, 0), RS_ILLEGAL_OPERATION);
}

static volatile uint64_t tls_probe = 0x7150C0DEul; /* each process has its own copy */

static void child_read_tls(uint64_t arg)
{
    uint64_t v;
    __asm__ volatile("movq %%fs:0, %0" : "=r"(v));
    child_report(1, v, 0, 0, 0);
}

static void tcb_tls_base(void)
{
    rs_cptr_t report = new_object(RS_OBJ_ENDPOINT, 0);
    REQUIRE(report);
    tls_probe = 1; // init's copy differs from the child's fresh one
    ps_process_t p;
    REQUIRE_OK(child_create(&p, child_read_tls, 0, report));
    CHECK_OK(ps_tcb_set_tls_base(p.tcb, (uint64_t)&tls_probe));
    uint64_t r[RS_REG_COUNT];
    CHECK_OK(ps_tcb_read_registers(p.tcb, false, RS_REG_COUNT, r));
    CHECK_EQ(r[RS_REG_FS_BASE], (uint64_t)&tls_probe);
    REQUIRE_OK(ps_process_start(&p));
    uint64_t mr[4];
    if (expect_report(report, 1, mr)) CHECK_EQ(mr[0], 0x7150C0DEul);
}

static void tcb_binding(void)
{
    rs_cptr_t t = new_object(RS_OBJ_TCB, 0), t2 = new_object(RS_OBJ_TCB, 0);
    rs_cptr_t n = new_object(RS_OBJ_NOTIFICATION, 0), n2 = new_object(RS_OBJ_NOTIFICATION, 0);
    REQUIRE(t && t2 && n && n2);
    CHECK_ERR(ps_tcb_bind_notification(t, t2), RS_INVALID_CAPABILITY);
    CHECK_ERR(ps_tcb_unbind_notification(t), RS_ILLEGAL_OPERATION);
    CHECK_OK(ps_tcb_bind_notification(t, n));
    CHECK_ERR(ps_tcb_bind_notification(t, n2), RS_ILLEGAL_OPERATION); // t is bound
    CHECK_ERR(ps_tcb_bind_notification(t2, n), RS_ILLEGAL_OPERATION); // n is bound
    CHECK_OK(ps_tcb_unbind_notification(t));
    CHECK_OK(ps_tcb_bind_notification(t2, n));
    CHECK_OK(ps_cnode_delete(ME, n, PS_DEPTH)); // deleting the notification unbinds
    CHECK_OK(ps_tcb_bind_notification(t2, n2));
    CHECK_OK(ps_cnode_delete(ME, t2, PS_DEPTH)); // and so does deleting the TCB
    CHECK_OK(ps_tcb_bind_notification(t, n2));
}

static volatile uint64_t same_space_word;

/* A thread in init's own address space: only ps_syscall_buf, never the rs_* stubs. */
static void thread_same_space(uint64_t arg, rs_ipc_buffer_t *ipc)
{
    same_space_word = arg * 2;
    ps_syscall_buf(ipc, RS_SYS_SEND, arg, 0); // Signal the notification whose cptr is arg
}

static void tcb_same_space_thread(void)
{
    rs_cptr_t n = new_object(RS_OBJ_NOTIFICATION, 0), m = new_slot();
    REQUIRE(n && m);
    REQUIRE_OK(ps_cnode_mint(ME, m, PS_DEPTH, ME, n, PS_DEPTH, RS_RIGHTS_ALL, 0x10));
    ps_thread_t t;
    same_space_word = 0;
    REQUIRE_OK(ps_thread_create(&t, env, thread_same_space, m, 0x0000420000010000ul, 2,
                                0x0000420000020000ul, TEST_PRIO, 0));
    REQUIRE_OK(ps_tcb_resume(t.tcb));
    CHECK_EQ(wait_signal(n, WAIT_MS), 0x10);
    CHECK_EQ(same_space_word, 2 * m);
}

/* The toolkit cleans up after a process creation that fails halfway. (The page tables for its
 * scratch page in init's VSpace stay: they are init's, made once and reused.) */
static void tcb_failed_creation(void)
{
    rs_cptr_t weak = new_object(RS_OBJ_TCB, 0); // MCP 0: no child of it may have priority 100
    REQUIRE(weak);
    ps_process_t p;
    ps_process_config_t cfg = {.elf = (const void *)bootinfo->modules[0].vaddr,
                               .elf_size = bootinfo->modules[0].size,
                               .entry = child_echo_arg,
                               .priority = TEST_PRIO};
    REQUIRE_OK(ps_process_create(&p, env, &cfg)); // makes the scratch tables
    CHECK_OK(ps_process_destroy(&p));
    uint32_t free_before = env->slots->free_count;
    ps_env_t e = *env;
    e.tcb = weak;
    CHECK_ERR(ps_process_create(&p, &e, &cfg), RS_RANGE_ERROR);
    CHECK_EQ(env->slots->free_count, free_before);
    cfg.elf_size = 16; // cut short: not an ELF any more
    CHECK_ERR(ps_process_create(&p, env, &cfg), RS_INVALID_ARGUMENT);
    CHECK_EQ(env->slots->free_count, free_before);
    cfg.elf_size = bootinfo->modules[0].size;
    CHECK_OK(ps_process_create(&p, env, &cfg)); // and the environment still works
    CHECK_OK(ps_process_start(&p));
    CHECK_OK(ps_process_destroy(&p));
    CHECK_EQ(env->slots->free_count, free_before);
}

const struct test tcb_tests[] = {
    {"TCB-0001", "a process made from the program image runs its entry with the argument",
     tcb_spawn},
    {"TCB-0002", "Read/WriteRegisters show and set registers, sanitise rflags, refuse bad counts",
     tcb_registers},
    {"TCB-0003", "Suspend stops a running thread and Resume continues it", tcb_suspend_resume},
    {"TCB-0004", "a thread that suspended itself continues when resumed", tcb_self_suspend},
    {"TCB-0005", "priorities are bounded by the authority's MCP (RS_RANGE_ERROR) and order threads",
     tcb_priorities},
    {"TCB-0006", "Configure checks each cap's type and rights and never drops a last cap",
     tcb_configure_checks},
    {"TCB-0007", "SetFaultHandler wants a writable endpoint; unknown TCB labels are refused",
     tcb_fault_handler_checks},
    {"TCB-0008", "SetTLSBase sets the FS base the thread sees", tcb_tls_base},
    {"TCB-0009", "a TCB binds one notification and a notification one TCB", tcb_binding},
    {"TCB-0010", "a second thread in init's own address space runs with its own IPC buffer",
     tcb_same_space_thread},
    {"TCB-0011", "a process creation that fails halfway leaves no slot or object behind",
     tcb_failed_creation},
    {0},
};
