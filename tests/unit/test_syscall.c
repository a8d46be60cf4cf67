// SPDX-License-Identifier: MIT
// Host tests of whole system calls through the entry (kernel/syscall.c, with the fast path in
// front): round trips, busy servers, errors, emulated syscalls, Yield.
// The shared world and the fake machine: ipc_fixture.h, fake_arch.c.
#include "ipc_fixture.h"

TestSuite(syscall, .init = ipc_setup, .fini = ipc_teardown);

/* ---- Whole system calls ------------------------------------------------------------------------ */

/* One client and one server exchanging messages through the system call entry. */
Test(syscall, call_and_reply_recv_round_trips)
{
    struct tcb *s = running("server", 10), *c = running("client", 10);
    int how;
    /* the server starts waiting; the client runs */
    cur = s;
    s->ctx.rax = RS_SYS_RECV;
    s->ctx.rdi = EP;
    RUN(how, syscall_entry());
    cr_assert_eq(how, LEFT_USER);
    cr_expect_eq(fake_restored, &c->ctx);
    for (volatile uint64_t i = 0; i < 3; i++) { /* volatile: RUN's setjmp is inside the loop */
        c->ctx.rax = RS_SYS_CALL;
        c->ctx.rdi = EP_BADGED;
        set_msg(c, 0x50 + i, 1, 100 + i, 0, 0, 0);
        RUN(how, syscall_entry());
        cr_assert_eq(how, LEFT_USER);
        cr_assert_eq(fake_restored, &s->ctx, "round %lu: the server runs", (unsigned long)i);
        expect_received(s, RS_OK, rs_msginfo(0x50 + i, 0, 0, 1), 0xB1);
        cr_expect_eq(s->ctx.rdx, 100 + i);
        s->ctx.rax = RS_SYS_REPLY_RECV;
        s->ctx.rdi = EP;
        set_msg(s, 0, 1, 2 * (100 + i), 0, 0, 0);
        RUN(how, syscall_entry());
        cr_assert_eq(how, LEFT_USER);
        cr_assert_eq(fake_restored, &c->ctx, "round %lu: the client runs", (unsigned long)i);
        expect_received(c, RS_OK, rs_msginfo(0, 0, 0, 1), 0);
        cr_expect_eq(c->ctx.rdx, 2 * (100 + i));
        cr_expect_eq(s->state, TS_BLOCKED_RECV);
    }
    cr_expect_eq(slow_entries, 1, "only the first Recv took the slow path");
    /* a long message takes the slow path, with the same result */
    struct rs_ipc_buffer *cb = give_ipcbuf(c), *sb = give_ipcbuf(s);
    cb->mr[5] = 0x55;
    c->ctx.rax = RS_SYS_CALL;
    c->ctx.rdi = EP_BADGED;
    set_msg(c, 0x60, 6, 1, 2, 3, 4);
    RUN(how, syscall_entry());
    cr_assert_eq(fake_restored, &s->ctx);
    cr_expect_eq(slow_entries, 2);
    expect_received(s, RS_OK, rs_msginfo(0x60, 0, 0, 6), 0xB1);
    cr_expect_eq(sb->mr[5], 0x55);
    cr_expect_eq(c->state, TS_BLOCKED_REPLY);
}

Test(syscall, client_waits_when_server_is_busy)
{
    struct tcb *s = running("server", 10), *c = running("client", 10);
    int how;
    cur = c;
    c->ctx.rax = RS_SYS_CALL;
    c->ctx.rdi = EP_BADGED;
    set_msg(c, 1, 0, 0, 0, 0, 0);
    RUN(how, syscall_entry());
    cr_assert_eq(how, LEFT_USER);
    cr_expect_eq(fake_restored, &s->ctx, "the client blocks, the server runs");
    cr_expect_eq(c->state, TS_BLOCKED_SEND);
    s->ctx.rax = RS_SYS_RECV;
    s->ctx.rdi = EP;
    RUN(how, syscall_entry());
    cr_assert_eq(how, LEFT_USER);
    cr_expect_eq(fake_restored, &s->ctx, "the server got the message at once");
    expect_received(s, RS_OK, rs_msginfo(1, 0, 0, 0), 0xB1);
    cr_expect_eq(c->state, TS_BLOCKED_REPLY);
    /* the server finds nothing more and the machine idles */
    s->ctx.rax = RS_SYS_REPLY_RECV;
    s->ctx.rdi = EP2;
    s->ctx.rsi = 0;
    RUN(how, syscall_entry());
    cr_assert_eq(how, LEFT_USER);
    cr_expect_eq(fake_restored, &c->ctx);
    c->ctx.rax = RS_SYS_RECV;
    c->ctx.rdi = EP;
    RUN(how, syscall_entry());
    cr_expect_eq(how, LEFT_IDLE);
    cr_expect_null(cur);
}

Test(syscall, errors_for_bad_caps_and_rights)
{
    struct tcb *t = running("t", 10);
    int how;
    cur = t;
    struct {
        uint64_t nr, cptr;
        int err;
    } cases[] = {
        {RS_SYS_SEND, FREE, RS_FAILED_LOOKUP},        {RS_SYS_SEND, EP_RO, RS_INSUFFICIENT_RIGHTS},
        {RS_SYS_RECV, EP_WO, RS_INSUFFICIENT_RIGHTS}, {RS_SYS_RECV, SELF, RS_INVALID_CAPABILITY},
        {RS_SYS_NBSEND, EP, RS_WOULD_BLOCK},          {RS_SYS_NBRECV, EP, RS_WOULD_BLOCK},
    };
    for (volatile unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        t->ctx.rax = cases[i].nr;
        t->ctx.rdi = cases[i].cptr;
        t->ctx.rsi = 0;
        RUN(how, syscall_entry());
        cr_expect_eq(how, LEFT_USER);
        cr_expect_eq(t->ctx.rax, cases[i].err, "case %u: %lu", i, (unsigned long)t->ctx.rax);
        cr_expect_eq(t->state, TS_RUNNABLE);
    }
    /* a notification bound to another thread cannot be waited on */
    struct tcb *other = thread("other", 10);
    notification_bind(w.ntfn, other);
    t->ctx.rax = RS_SYS_RECV;
    t->ctx.rdi = NTFN;
    RUN(how, syscall_entry());
    cr_expect_eq(t->ctx.rax, RS_ILLEGAL_OPERATION);
    /* Signal through a notification cap */
    t->ctx.rax = RS_SYS_SEND;
    RUN(how, syscall_entry());
    cr_expect_eq(t->ctx.rax, RS_OK);
    cr_expect_eq(w.ntfn->pending, 0x8, "the bound thread is not receiving: the badge waits");
    cr_expect_eq(other->ctx.rdi, 0);
}

/* An unknown system call becomes a fault for the handler, which may emulate it by replying with
 * all the registers. */
Test(syscall, unknown_syscall_is_emulated_by_fault_handler)
{
    struct tcb *h = running("h", 20), *t = running("t", 10);
    struct rs_ipc_buffer *hb = give_ipcbuf(h);
    t->slots[TCB_SLOT_FAULT_EP].cap = *cap(EP_BADGED);
    int how;
    cur = h;
    h->ctx.rax = RS_SYS_RECV;
    h->ctx.rdi = EP;
    RUN(how, syscall_entry());
    cr_assert_eq(fake_restored, &t->ctx);
    t->ctx.rax = 99;
    t->ctx.rip = 0x401234;
    t->ctx.r15 = 0xF15;
    RUN(how, syscall_entry());
    cr_assert_eq(how, LEFT_USER);
    cr_assert_eq(fake_restored, &h->ctx, "the handler runs");
    expect_received(h, RS_OK, rs_msginfo(RS_FAULT_UNKNOWN_SYSCALL, 0, 0, RS_REG_COUNT), 0xB1);
    cr_expect_eq(h->ctx.rdx, 0x401234, "MR0 = rip");
    cr_expect_eq(h->ctx.r10, 99, "MR3 = rax, the syscall number");
    cr_expect_eq(hb->mr[RS_REG_R15], 0xF15);
    cr_expect_eq(t->state, TS_BLOCKED_REPLY);
    /* the handler emulates: rax (MR3) = 1234, the rest as they were (MR0..MR3 are still in its
     * registers, MR4.. in its buffer) */
    h->ctx.r10 = 1234;
    h->ctx.rax = RS_SYS_REPLY_RECV;
    h->ctx.rdi = EP;
    h->ctx.rsi = rs_msginfo(0, 0, 0, RS_REG_COUNT);
    RUN(how, syscall_entry());
    cr_assert_eq(how, LEFT_USER);
    cr_expect_eq(fake_restored, &t->ctx);
    cr_expect_eq(t->ctx.rax, 1234);
    cr_expect_eq(t->ctx.rip, 0x401234);
    cr_expect_eq(t->ctx.r15, 0xF15);
    cr_expect_eq(t->fault.type, RS_FAULT_NONE);
    cr_expect_eq(h->state, TS_BLOCKED_RECV);
}

Test(syscall, unknown_syscall_without_handler_is_an_error)
{
    struct tcb *t = running("t", 10);
    int how;
    cur = t;
    t->ctx.rax = 99;
    RUN(how, syscall_entry());
    cr_assert_eq(how, LEFT_USER);
    cr_expect_eq(t->ctx.rax, RS_BAD_SYSCALL);
    cr_expect_eq(t->ctx.r8, RS_SYSCALL_HIGHEST, "MR1 = the highest system call number");
    cr_expect_eq(t->state, TS_RUNNABLE);
}

Test(syscall, yield_rotates_equals_only)
{
    struct tcb *a = running("a", 10), *b = running("b", 10), *lo = running("lo", 3);
    (void)lo;
    int how;
    cur = a;
    a->ctx.rax = RS_SYS_YIELD;
    RUN(how, syscall_entry());
    cr_assert_eq(how, LEFT_USER);
    cr_expect_eq(fake_restored, &b->ctx);
    cr_expect_eq(a->ctx.rax, RS_OK);
    b->ctx.rax = RS_SYS_YIELD;
    RUN(how, syscall_entry());
    cr_expect_eq(fake_restored, &a->ctx);
    sched_dequeue(b);
    a->ctx.rax = RS_SYS_YIELD;
    RUN(how, syscall_entry());
    cr_expect_eq(fake_restored, &a->ctx, "no equal to yield to: a lower priority never runs");
}
