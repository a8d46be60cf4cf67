// SPDX-License-Identifier: MIT
// Host tests of the IPC fast path (kernel/fastpath.c): the Call and ReplyRecv it takes, the
// ones it hands to the slow path, and that both paths leave the same state.
// The shared world and the fake machine: ipc_fixture.h, fake_arch.c.
#include "ipc_fixture.h"

TestSuite(fastpath, .init = ipc_setup, .fini = ipc_teardown);

/* A server waiting in Recv on endpoint A, a client about to Call it through its badged cap. */
static void call_setup(struct tcb **client, struct tcb **server, uint8_t cprio, uint8_t sprio)
{
    struct tcb *s = running("server", sprio);
    endpoint_recv(cap(EP), s, true);
    struct tcb *c = running("client", cprio);
    cur = c;
    c->ctx.rax = RS_SYS_CALL;
    c->ctx.rdi = EP_BADGED;
    set_msg(c, 0x42, 2, 0x111, 0x222, 0x333, 0x444);
    *client = c;
    *server = s;
}

static void expect_called(struct tcb *c, struct tcb *s)
{
    expect_received(s, RS_OK, rs_msginfo(0x42, 0, 0, 2), 0xB1);
    cr_expect(s->ctx.rdx == 0x111 && s->ctx.r8 == 0x222, "the message words");
    cr_expect_eq(s->state, TS_RUNNABLE);
    cr_expect_eq(c->state, TS_BLOCKED_REPLY);
    cr_expect(c->replier == s && s->reply_to == c);
    cr_expect_null(s->blocked_on);
    expect_ep_idle(w.ep);
}

Test(fastpath, call_switches_to_waiting_server)
{
    struct tcb *c, *s;
    call_setup(&c, &s, 10, 10);
    struct tcb *x = running("x", 10);
    int how;
    RUN(how, syscall_entry());
    cr_assert_eq(how, LEFT_USER);
    cr_expect_eq(slow_entries, 0, "the fast path applies");
    cr_expect_eq(fake_restored, &s->ctx);
    cr_expect_eq(cur, s);
    /* (without PTI the syscall entry finds the frame through TSS.rsp0; cur_ctx_top is PTI's) */
    cr_expect_eq(tss.rsp[0], (uint64_t)&s->ctx + CTX_FRAME_END);
    expect_called(c, s);
    /* the server took the client's place in the queue */
    cr_expect(!c->sched_next && !c->sched_prev);
    EXPECT_RUN_QUEUE(s, x);
}

/* The usual case: client and server share a priority and nobody else runs at it, so the one
 * running thread hands its queue over (a thread at another priority shows the bitmap kept). */
Test(fastpath, call_and_reply_hand_over_a_queue_of_one)
{
    struct tcb *c, *s;
    call_setup(&c, &s, 10, 10);
    struct tcb *y = running("y", 5);
    int how;
    RUN(how, syscall_entry());
    cr_assert_eq(how, LEFT_USER);
    cr_expect_eq(slow_entries, 0, "the fast path applies");
    cr_expect_eq(fake_restored, &s->ctx);
    expect_called(c, s);
    cr_expect(!c->sched_next && !c->sched_prev && !s->sched_next && !s->sched_prev);
    cr_expect(sched_queue_head[10] == s && sched_queue_tail[10] == s);
    cr_expect_eq(sched_pick(), s);
    s->ctx.rax = RS_SYS_REPLY_RECV;
    s->ctx.rdi = EP;
    set_msg(s, 0x7, 1, 0x999, 0, 0, 0);
    RUN(how, syscall_entry());
    cr_assert_eq(how, LEFT_USER);
    cr_expect_eq(slow_entries, 0, "the fast path applies");
    cr_expect_eq(fake_restored, &c->ctx);
    cr_expect_eq(s->state, TS_BLOCKED_RECV);
    cr_expect(!s->sched_next && !s->sched_prev);
    EXPECT_EP_QUEUE(w.ep, EP_RECV, s);
    EXPECT_RUN_QUEUE(c, y);
}

Test(fastpath, call_takes_the_first_of_several_receivers)
{
    struct tcb *c, *s;
    call_setup(&c, &s, 10, 10);
    struct tcb *s2 = running("server2", 10);
    endpoint_recv(cap(EP), s2, true);
    int how;
    RUN(how, syscall_entry());
    cr_assert_eq(how, LEFT_USER);
    cr_expect_eq(slow_entries, 0);
    cr_expect_eq(fake_restored, &s->ctx);
    cr_expect(c->replier == s && s->reply_to == c);
    cr_expect_null(s->queue_next);
    EXPECT_EP_QUEUE(w.ep, EP_RECV, s2);
}

Test(fastpath, call_to_higher_priority_server)
{
    struct tcb *c, *s;
    call_setup(&c, &s, 10, 50);
    struct tcb *x = running("x", 10);
    int how;
    RUN(how, syscall_entry());
    cr_assert_eq(how, LEFT_USER);
    cr_expect_eq(slow_entries, 0);
    cr_expect_eq(fake_restored, &s->ctx);
    expect_called(c, s);
    EXPECT_RUN_QUEUE(s, x);
}

/* One situation the Call fast path must leave to the slow path, and what the slow path does. */
struct decline {
    const char *why;
    void (*arrange)(struct tcb *c, struct tcb *s);
    int how;           /* how the kernel is left */
    uint8_t c_state;   /* the client's state afterwards */
    uint64_t c_status; /* its status, when it is runnable */
};

/* Gives t a two-level CSpace naming the same caps: a 2-slot root CNode (radix 1, no guard)
 * whose slot 0 holds the shared CNode with a 59-bit guard of 0, so that 1 + 59 + 4 bits resolve
 * the same cptrs as the shared CNode alone. The fast path resolves only single-level CSpaces. */
static void two_level_cspace(struct tcb *t)
{
    struct slot *root = alloc(128, 2 * sizeof(struct slot));
    root[0].cap = (struct cap){.type = RS_CAP_CNODE,
                               .rights = RS_RIGHTS_ALL,
                               .bits = RADIX,
                               .small = 64 - 1 - RADIX,
                               .obj = (uintptr_t)w.cn};
    t->slots[TCB_SLOT_CSPACE].cap = (struct cap){
        .type = RS_CAP_CNODE, .rights = RS_RIGHTS_ALL, .bits = 1, .obj = (uintptr_t)root};
}

static void long_message(struct tcb *c, struct tcb *s)
{
    (void)s, c->ctx.rsi = rs_msginfo(0x42, 0, 0, 5);
}
static void extra_cap(struct tcb *c, struct tcb *s)
{
    (void)s, c->ctx.rsi = rs_msginfo(0x42, 0, 1, 2);
}
static void bad_guard(struct tcb *c, struct tcb *s)
{
    (void)s, c->ctx.rdi = EP_BADGED | 1ull << 63;
}
static void empty_slot(struct tcb *c, struct tcb *s) { (void)s, c->ctx.rdi = FREE; }
static void ntfn_cap(struct tcb *c, struct tcb *s) { (void)s, c->ctx.rdi = NTFN; }
static void read_only(struct tcb *c, struct tcb *s) { (void)s, c->ctx.rdi = EP_RO; }
static void nobody_waiting(struct tcb *c, struct tcb *s) { (void)s, c->ctx.rdi = EP2; }
static void lower_server(struct tcb *c, struct tcb *s) { (void)c, s->prio = 9; }
static void server_vcpu(struct tcb *c, struct tcb *s)
{
    (void)c, s->vcpu = (struct vcpu *)w.vspace;
}
static void client_two_levels(struct tcb *c, struct tcb *s) { (void)s, two_level_cspace(c); }
static void server_no_vspace(struct tcb *c, struct tcb *s)
{
    (void)c, s->slots[TCB_SLOT_VSPACE].cap = cap_null();
}

static const struct decline call_declines[] = {
    {"5 words without IPC buffer", long_message, LEFT_USER, TS_RUNNABLE, RS_BAD_ADDRESS},
    {"an extra cap", extra_cap, LEFT_USER, TS_BLOCKED_REPLY, 0},
    {"guard mismatch", bad_guard, LEFT_USER, TS_RUNNABLE, RS_FAILED_LOOKUP},
    {"empty slot", empty_slot, LEFT_USER, TS_RUNNABLE, RS_FAILED_LOOKUP},
    {"a notification", ntfn_cap, LEFT_USER, TS_RUNNABLE, RS_OK},
    {"no write right", read_only, LEFT_USER, TS_RUNNABLE, RS_INSUFFICIENT_RIGHTS},
    {"nobody waiting", nobody_waiting, LEFT_IDLE, TS_BLOCKED_SEND, 0},
    {"lower-priority server", lower_server, LEFT_USER, TS_BLOCKED_REPLY, 0},
    /* A vCPU thread never runs user code: picked, it runs its guest. This fake one has no
     * binding, so it is stopped, and the reply it holds fails the client. */
    {"server runs a guest", server_vcpu, LEFT_USER, TS_RUNNABLE, RS_PEER_DIED},
    {"server without VSpace", server_no_vspace, LEFT_IDLE, TS_BLOCKED_REPLY, 0},
    {"two-level CSpace", client_two_levels, LEFT_USER, TS_BLOCKED_REPLY, 0},
};

/* Criterion may start each case in a fresh process image: parameters are indices, not pointers. */
static int case_numbers[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
#define CASES(table) (sizeof(table) / sizeof(table[0]))
_Static_assert(CASES(call_declines) <= 16, "case_numbers covers every case");

ParameterizedTestParameters(fastpath, call_declines)
{
    return cr_make_param_array(int, case_numbers, CASES(call_declines));
}

ParameterizedTest(int *n, fastpath, call_declines)
{
    const struct decline *d = &call_declines[*n];
    struct tcb *c, *s;
    call_setup(&c, &s, 10, 10);
    d->arrange(c, s);
    int how;
    RUN(how, syscall_entry());
    cr_expect_eq(slow_entries, 1, "%s: the slow path must handle it", d->why);
    cr_expect_eq(how, d->how, "%s: left the kernel by %d", d->why, how);
    cr_expect_eq(c->state, d->c_state, "%s: client state %d", d->why, c->state);
    if (c->state == TS_RUNNABLE)
        cr_expect_eq(c->ctx.rax, d->c_status, "%s: status %lu", d->why, (unsigned long)c->ctx.rax);
    if (c->state == TS_BLOCKED_REPLY) cr_expect(c->replier == s && s->reply_to == c, "%s", d->why);
}

Test(fastpath, reply_recv_returns_to_caller_and_waits_again)
{
    struct tcb *c, *s;
    call_setup(&c, &s, 10, 10);
    struct tcb *x = running("x", 10);
    int how;
    RUN(how, syscall_entry());
    cr_assert_eq(how, LEFT_USER);
    /* the server answers and waits on endpoint A again */
    s->ctx.rax = RS_SYS_REPLY_RECV;
    s->ctx.rdi = EP;
    set_msg(s, 0x7, 1, 0x999, 0, 0, 0);
    RUN(how, syscall_entry());
    cr_assert_eq(how, LEFT_USER);
    cr_expect_eq(slow_entries, 0, "the fast path applies");
    cr_expect_eq(fake_restored, &c->ctx);
    cr_expect_eq(cur, c);
    expect_received(c, RS_OK, rs_msginfo(0x7, 0, 0, 1), 0);
    cr_expect_eq(c->ctx.rdx, 0x999);
    cr_expect_eq(c->state, TS_RUNNABLE);
    cr_expect(!c->replier && !s->reply_to);
    cr_expect_eq(s->state, TS_BLOCKED_RECV);
    EXPECT_EP_QUEUE(w.ep, EP_RECV, s);
    EXPECT_RUN_QUEUE(c, x);
}

/* After a Call by the fast path: the server holds the client's reply and runs. */
static void reply_recv_setup(struct tcb **client, struct tcb **server)
{
    struct tcb *c, *s;
    call_setup(&c, &s, 10, 10);
    int how;
    RUN(how, syscall_entry());
    cr_assert_eq(how, LEFT_USER);
    cr_assert_eq(slow_entries, 0);
    s->ctx.rax = RS_SYS_REPLY_RECV;
    s->ctx.rdi = EP;
    set_msg(s, 0x7, 1, 0x999, 0, 0, 0);
    *client = c;
    *server = s;
}

static void rr_long_message(struct tcb *c, struct tcb *s)
{
    (void)c, s->ctx.rsi = rs_msginfo(7, 0, 0, 5);
}
static void rr_extra_cap(struct tcb *c, struct tcb *s)
{
    (void)c, s->ctx.rsi = rs_msginfo(7, 0, 1, 1);
}
static void rr_empty_slot(struct tcb *c, struct tcb *s) { (void)c, s->ctx.rdi = FREE; }
static void rr_write_only(struct tcb *c, struct tcb *s) { (void)c, s->ctx.rdi = EP_WO; }
static void rr_ntfn_cap(struct tcb *c, struct tcb *s) { (void)c, s->ctx.rdi = NTFN; }
static void rr_two_levels(struct tcb *c, struct tcb *s) { (void)c, two_level_cspace(s); }
static void rr_lower_caller(struct tcb *c, struct tcb *s) { (void)s, c->prio = 9; }
static void rr_caller_vcpu(struct tcb *c, struct tcb *s)
{
    (void)s, c->vcpu = (struct vcpu *)w.vspace;
}
static void rr_bound(struct tcb *c, struct tcb *s) { (void)c, notification_bind(w.ntfn, s); }
static void rr_sender_waiting(struct tcb *c, struct tcb *s)
{
    (void)c, (void)s;
    struct tcb *y = running("y", 10);
    endpoint_send(cap(EP), y, true, false);
}
static void rr_no_caller(struct tcb *c, struct tcb *s)
{
    (void)c;
    endpoint_drop_reply(s); /* the client gets RS_PEER_DIED and runs again */
}
static void rr_fault_caller(struct tcb *c, struct tcb *s)
{
    (void)s;
    c->in_fault_ipc = 1; /* as if it had faulted: the reply (label 7) leaves it stopped */
    c->fault.type = RS_FAULT_VM;
}

static const struct decline reply_recv_declines[] = {
    {"5 words without IPC buffer", rr_long_message, LEFT_USER, TS_RUNNABLE, RS_OK},
    {"an extra cap", rr_extra_cap, LEFT_USER, TS_RUNNABLE, RS_OK},
    {"empty slot", rr_empty_slot, LEFT_USER, TS_RUNNABLE, RS_OK},
    {"no read right", rr_write_only, LEFT_USER, TS_RUNNABLE, RS_OK},
    {"a notification", rr_ntfn_cap, LEFT_USER, TS_RUNNABLE, RS_OK},
    {"lower-priority caller", rr_lower_caller, LEFT_USER, TS_RUNNABLE, RS_OK},
    /* Woken by the reply, the caller runs its guest, not user code: this fake vCPU has no
     * binding, so it is stopped and nothing else is left to run. */
    {"caller runs a guest", rr_caller_vcpu, LEFT_IDLE, TS_INACTIVE, 0},
    {"server has a bound notification", rr_bound, LEFT_USER, TS_RUNNABLE, RS_OK},
    {"a sender is waiting", rr_sender_waiting, LEFT_USER, TS_RUNNABLE, RS_OK},
    {"no caller", rr_no_caller, LEFT_USER, TS_RUNNABLE, RS_PEER_DIED},
    {"caller in fault IPC", rr_fault_caller, LEFT_IDLE, TS_INACTIVE, 0},
    {"two-level CSpace", rr_two_levels, LEFT_USER, TS_RUNNABLE, RS_OK},
};
_Static_assert(CASES(reply_recv_declines) <= 16, "case_numbers covers every case");

ParameterizedTestParameters(fastpath, reply_recv_declines)
{
    return cr_make_param_array(int, case_numbers, CASES(reply_recv_declines));
}

ParameterizedTest(int *n, fastpath, reply_recv_declines)
{
    const struct decline *d = &reply_recv_declines[*n];
    struct tcb *c, *s;
    reply_recv_setup(&c, &s);
    d->arrange(c, s);
    int how;
    RUN(how, syscall_entry());
    cr_expect_eq(slow_entries, 1, "%s: the slow path must handle it", d->why);
    cr_expect_eq(how, d->how, "%s: left the kernel by %d", d->why, how);
    cr_expect_eq(c->state, d->c_state, "%s: client state %d", d->why, c->state);
    if (c->state == TS_RUNNABLE)
        cr_expect_eq(c->ctx.rax, d->c_status, "%s: status %lu", d->why, (unsigned long)c->ctx.rax);
    cr_expect_null(c->replier, "%s", d->why);
    cr_expect_neq(s->reply_to, c, "%s: the reply is used up", d->why);
}

/* What a Call leaves behind, for comparing the fast and the slow path. */
struct call_outcome {
    uint64_t s_regs[7], c_state, s_state, linked, ep_state;
    struct tcb *queue[4];
    int nqueue;
};

static void record_call(struct call_outcome *o, struct tcb *c, struct tcb *s, struct tcb *x)
{
    const struct user_context *r = &s->ctx;
    const uint64_t regs[7] = {r->rax, r->rsi, r->rdi, r->rdx, r->r8, r->r9, r->r10};
    memcpy(o->s_regs, regs, sizeof(regs));
    o->c_state = c->state;
    o->s_state = s->state;
    o->linked = c->replier == s && s->reply_to == c;
    o->ep_state = w.ep->state;
    o->nqueue = drain_run_queue(o->queue, 4);
    /* names stand for threads across the two runs */
    for (int i = 0; i < o->nqueue; i++)
        o->queue[i] = o->queue[i] == s   ? (struct tcb *)1
                      : o->queue[i] == x ? (struct tcb *)2
                                         : (struct tcb *)3;
}

/* Runs one Call of `len` words, through the entry (fast path) or straight to the slow path. */
static void one_call(struct call_outcome *o, bool fast, unsigned len)
{
    struct tcb *c, *s;
    call_setup(&c, &s, 10, 10);
    struct tcb *x = running("x", 10);
    set_msg(s, 0, 0, 0x5001, 0x5002, 0x5003, 0x5004); /* the server's own register contents */
    set_msg(c, 0x42, len, 0x111, 0x222, 0x333, 0x444);
    int how, before = slow_entries;
    if (fast) RUN(how, syscall_entry());
    else RUN(how, syscall_slowpath(c));
    cr_assert_eq(how, LEFT_USER);
    cr_assert_eq(slow_entries - before, fast ? 0 : 1);
    cr_expect_eq(fake_restored, &s->ctx, "%s path: the server runs", fast ? "fast" : "slow");
    record_call(o, c, s, x);
}

/* The fast path is an optimisation only: a Call must leave the same state either way. */
Test(fastpath, fast_and_slow_call_agree)
{
    struct call_outcome fast = {0}, slow = {0};
    one_call(&fast, true, 4);
    one_call(&slow, false, 4);
    cr_expect_eq(memcmp(fast.s_regs, slow.s_regs, sizeof(fast.s_regs)), 0, "server registers");
    cr_expect(fast.c_state == slow.c_state && fast.s_state == slow.s_state);
    cr_expect(fast.linked && slow.linked);
    cr_expect_eq(fast.ep_state, slow.ep_state);
    cr_expect_eq(fast.nqueue, slow.nqueue);
    cr_expect_eq(memcmp(fast.queue, slow.queue, sizeof(fast.queue)), 0, "run queue order");
}

/* Words beyond the message length are not part of the message: the slow path leaves the
 * receiver's registers as they were, the fast path must not hand over the sender's instead.
 * Disabled: fast_copy_mrs (kernel/fastpath.c) copies all four MR registers whatever the length. */
Test(fastpath, short_message_does_not_carry_extra_registers)
{
    struct call_outcome fast = {0}, slow = {0};
    one_call(&fast, true, 1);
    one_call(&slow, false, 1);
    for (int i = 0; i < 7; i++)
        cr_expect_eq(fast.s_regs[i], slow.s_regs[i], "server register %d: fast %#lx, slow %#lx", i,
                     (unsigned long)fast.s_regs[i], (unsigned long)slow.s_regs[i]);
}

/* ---- Signal fast path ---------------------------------------------------------------------------- */

/* A waiter at `wprio` blocked on the notification; a signaller at 10 about to Send through NTFN
 * (badge 0x8), with x queued behind it. */
static void signal_setup(struct tcb **sig, struct tcb **waiter, struct tcb **x, uint8_t wprio)
{
    struct tcb *wt = running("waiter", wprio);
    cur = wt;
    notification_wait(w.ntfn, wt, true);
    struct tcb *s = running("signaller", 10);
    *x = running("x", 10);
    cur = s;
    s->ctx.rax = RS_SYS_SEND;
    s->ctx.rdi = NTFN;
    set_msg(s, 0x42, 2, 0x111, 0x222, 0x333, 0x444);
    set_msg(wt, 0, 0, 0x5001, 0x5002, 0x5003, 0x5004); /* the waiter's own register contents */
    *sig = s;
    *waiter = wt;
}

Test(fastpath, signal_switches_to_higher_waiter)
{
    struct tcb *s, *wt, *x;
    signal_setup(&s, &wt, &x, 50);
    int how;
    RUN(how, syscall_entry());
    cr_assert_eq(how, LEFT_USER);
    cr_expect_eq(slow_entries, 0, "the fast path applies");
    cr_expect_eq(fake_restored, &wt->ctx);
    cr_expect_eq(cur, wt);
    cr_expect_eq(tss.rsp[0], (uint64_t)&wt->ctx + CTX_FRAME_END);
    expect_received(wt, RS_OK, 0, 0x8);
    expect_mrs(wt, 0x5001, 0x5002, 0x5003, 0x5004);
    cr_expect_eq(wt->state, TS_RUNNABLE);
    cr_expect_null(wt->blocked_on);
    cr_expect(!w.ntfn->head && !w.ntfn->tail && !w.ntfn->pending);
    cr_expect_eq(s->ctx.rax, RS_OK);
    cr_expect_eq(s->state, TS_RUNNABLE);
    EXPECT_RUN_QUEUE(wt, s, x);
}

Test(fastpath, signal_wakes_the_first_of_two_waiters)
{
    struct tcb *s, *wt, *x;
    signal_setup(&s, &wt, &x, 50);
    struct tcb *w2 = thread("waiter2", 60);
    notification_wait(w.ntfn, w2, true);
    int how;
    RUN(how, syscall_entry());
    cr_assert_eq(how, LEFT_USER);
    cr_expect_eq(slow_entries, 0);
    cr_expect_eq(fake_restored, &wt->ctx);
    cr_expect(w.ntfn->head == w2 && w.ntfn->tail == w2 && !w2->queue_prev);
    cr_expect_eq(w2->state, TS_BLOCKED_NTFN);
}

/* The fast path is an optimisation only: a Signal must leave the same state either way. */
Test(fastpath, fast_and_slow_signal_agree)
{
    uint64_t regs[2][5];
    uint8_t states[2][2];
    struct tcb *queues[2][4] = {{0}};
    int n[2];
    for (volatile int fast = 0; fast < 2; fast++) { /* volatile: RUN longjmps */
        struct tcb *s, *wt, *x; /* the first run's threads are out of every queue again */
        signal_setup(&s, &wt, &x, 50);
        int how, before = slow_entries;
        if (fast) RUN(how, syscall_entry());
        else RUN(how, syscall_slowpath(s));
        cr_assert_eq(how, LEFT_USER);
        cr_assert_eq(slow_entries - before, fast ? 0 : 1);
        cr_expect_eq(fake_restored, &wt->ctx);
        uint64_t r[5] = {wt->ctx.rax, wt->ctx.rsi, wt->ctx.rdi, s->ctx.rax, w.ntfn->pending};
        memcpy(regs[fast], r, sizeof r);
        states[fast][0] = wt->state, states[fast][1] = s->state;
        n[fast] = drain_run_queue(queues[fast], 4);
        for (int i = 0; i < n[fast]; i++)
            queues[fast][i] = queues[fast][i] == wt  ? (struct tcb *)1
                              : queues[fast][i] == s ? (struct tcb *)2
                                                     : (struct tcb *)3;
    }
    cr_expect_eq(memcmp(regs[0], regs[1], sizeof regs[0]), 0, "registers and pending bits");
    cr_expect(states[0][0] == states[1][0] && states[0][1] == states[1][1]);
    cr_expect_eq(n[0], n[1]);
    cr_expect_eq(memcmp(queues[0], queues[1], sizeof queues[0]), 0, "run queue order");
}

/* A Send the Signal fast path must leave to the slow path, and the signaller's status. */
struct signal_decline {
    const char *why;
    void (*arrange)(struct tcb *s, struct tcb *wt);
    uint64_t s_status;
};

static void sig_equal_prio(struct tcb *s, struct tcb *wt) { (void)s, wt->prio = 10; }
static void sig_lower_prio(struct tcb *s, struct tcb *wt) { (void)s, wt->prio = 5; }
static void sig_too_long(struct tcb *s, struct tcb *wt)
{
    (void)wt, s->ctx.rsi = rs_msginfo(0, 0, 0, 121);
}
static void sig_read_only(struct tcb *s, struct tcb *wt)
{
    (void)s, (void)wt, w.cn[NTFN].cap.rights = RS_RIGHT_READ;
}
static void sig_empty_slot(struct tcb *s, struct tcb *wt) { (void)wt, s->ctx.rdi = FREE; }
static void sig_bad_guard(struct tcb *s, struct tcb *wt)
{
    (void)wt, s->ctx.rdi = NTFN | 1ull << 63;
}
static void sig_no_vspace(struct tcb *s, struct tcb *wt)
{
    (void)s, wt->slots[TCB_SLOT_VSPACE].cap = cap_null();
}
static void sig_no_waiter(struct tcb *s, struct tcb *wt)
{
    (void)s;
    notification_dequeue(w.ntfn, wt);
    wt->state = TS_INACTIVE;
}

static const struct signal_decline signal_declines[] = {
    {"waiter at the signaller's priority", sig_equal_prio, RS_OK},
    {"waiter below the signaller", sig_lower_prio, RS_OK},
    {"121 words", sig_too_long, RS_TRUNCATED_MESSAGE},
    {"no write right", sig_read_only, RS_INSUFFICIENT_RIGHTS},
    {"empty slot", sig_empty_slot, RS_FAILED_LOOKUP},
    {"guard mismatch", sig_bad_guard, RS_FAILED_LOOKUP},
    {"waiter without VSpace", sig_no_vspace, RS_OK},
    {"nobody waiting", sig_no_waiter, RS_OK},
};
_Static_assert(CASES(signal_declines) <= 16, "case_numbers covers every case");

ParameterizedTestParameters(fastpath, signal_declines)
{
    return cr_make_param_array(int, case_numbers, CASES(signal_declines));
}

/* Not a state the kernel leaves (the running thread is the highest runnable one), but if a
 * thread already queued at the waiter's priority, the waiter must queue behind it. */
Test(fastpath, signal_queues_waiter_behind_its_equals)
{
    struct tcb *s, *wt, *x;
    signal_setup(&s, &wt, &x, 50);
    struct tcb *y = running("y", 50);
    int how;
    RUN(how, syscall_entry());
    cr_assert_eq(how, LEFT_USER);
    cr_expect_eq(slow_entries, 1, "the slow path handles it");
    cr_expect_eq(fake_restored, &y->ctx);
    expect_received(wt, RS_OK, 0, 0x8);
    EXPECT_RUN_QUEUE(y, wt, s, x);
}

ParameterizedTest(int *n, fastpath, signal_declines)
{
    const struct signal_decline *d = &signal_declines[*n];
    struct tcb *s, *wt, *x;
    signal_setup(&s, &wt, &x, 50);
    d->arrange(s, wt);
    int how;
    RUN(how, syscall_entry());
    cr_expect_eq(slow_entries, 1, "%s: the slow path must handle it", d->why);
    cr_expect_eq(how, LEFT_USER, "%s: left the kernel by %d", d->why, how);
    cr_expect_eq(fake_restored, &s->ctx, "%s: the signaller goes on", d->why);
    cr_expect_eq(s->ctx.rax, d->s_status, "%s: status %lu", d->why, (unsigned long)s->ctx.rax);
}
