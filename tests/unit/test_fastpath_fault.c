// SPDX-License-Identifier: MIT
// Host tests of the fault fast path (kernel/fastpath_fault.c) against the general path: each
// case builds the same world twice, once delivering a fault (or a handler's ReplyRecv) through
// the fast path and once through tcb_raise_fault / endpoint_reply + endpoint_recv, and compares
// every thread's state and registers, the endpoint's queue, the run queue and the thread the
// kernel left into. A case the fast path declines must leave everything as it was.
// The shared world and the fake machine: ipc_fixture.h, fake_arch.c.
#include "ipc_fixture.h"
#include "fastpath_fault.h"

TestSuite(fastpath_fault, .init = ipc_setup, .fini = ipc_teardown);

enum { NT = 5 }; /* threads per case: f (faults), h (handler), x, y, z (others) */

struct snap {
    int left_into; /* thread index the kernel left into; -1: it idled; -2: the fast path declined */
    struct {
        int state, in_fault, ftype, reply_to, replier;
        uint64_t r[11], mr4;
    } t[NT];
    int ep_state, ep_q[NT + 1], run_q[NT + 1];
};

static struct tcb *th[NT];
static struct rs_ipc_buffer *buf[NT];

static int index_of(const struct tcb *t)
{
    for (int i = 0; i < NT; i++)
        if (th[i] && th[i] == t) return i;
    return t ? 99 : -1;
}

static void take(struct snap *s, int left_into)
{
    memset(s, 0, sizeof *s);
    s->left_into = left_into;
    for (int i = 0; i < NT; i++) {
        struct tcb *t = th[i];
        if (!t) continue;
        const struct user_context *c = &t->ctx;
        s->t[i].state = t->state;
        s->t[i].in_fault = t->in_fault_ipc;
        s->t[i].ftype = t->fault.type;
        s->t[i].reply_to = index_of(t->reply_to);
        s->t[i].replier = index_of(t->replier);
        uint64_t r[11] = {c->rip, c->rsp, c->rflags, c->vector, c->rax, c->rsi,
                          c->rdi, c->rdx, c->r8,     c->r9,     c->r10};
        memcpy(s->t[i].r, r, sizeof r);
        s->t[i].mr4 = buf[i] ? buf[i]->mr[4] : 0;
    }
    s->ep_state = w.ep->state;
    int n = 0;
    for (struct tcb *t = w.ep->head; t && n < NT; t = t->queue_next) s->ep_q[n++] = index_of(t) + 1;
    struct tcb *q[NT + 1];
    int m = drain_run_queue(q, NT + 1);
    for (int i = 0; i < m; i++) s->run_q[i] = index_of(q[i]) + 1;
}

static void expect_same(const struct snap *a, const struct snap *b, const char *what)
{
    cr_expect_eq(a->left_into, b->left_into, "%s: left into %d, general path into %d", what,
                 a->left_into, b->left_into);
    for (int i = 0; i < NT; i++) {
        cr_expect_eq(a->t[i].state, b->t[i].state, "%s: thread %d state", what, i);
        cr_expect_eq(a->t[i].in_fault, b->t[i].in_fault, "%s: thread %d in_fault_ipc", what, i);
        cr_expect_eq(a->t[i].ftype, b->t[i].ftype, "%s: thread %d fault type", what, i);
        cr_expect_eq(a->t[i].reply_to, b->t[i].reply_to, "%s: thread %d reply_to", what, i);
        cr_expect_eq(a->t[i].replier, b->t[i].replier, "%s: thread %d replier", what, i);
        for (int r = 0; r < 11; r++)
            cr_expect_eq(a->t[i].r[r], b->t[i].r[r],
                         "%s: thread %d register %d: %#lx, general %#lx", what, i, r,
                         (unsigned long)a->t[i].r[r], (unsigned long)b->t[i].r[r]);
        cr_expect_eq(a->t[i].mr4, b->t[i].mr4, "%s: thread %d MR4", what, i);
    }
    cr_expect_eq(a->ep_state, b->ep_state, "%s: endpoint state", what);
    cr_expect(!memcmp(a->ep_q, b->ep_q, sizeof a->ep_q), "%s: endpoint queue", what);
    cr_expect(!memcmp(a->run_q, b->run_q, sizeof a->run_q), "%s: run queue", what);
}

/* ---- Fault delivery ------------------------------------------------------------------------- */

struct fault_case {
    const char *name;
    uint8_t f_prio, h_prio;
    bool h_buf;          /* the handler has an IPC buffer (MR4 goes there) */
    bool h_waits;        /* the handler waits on the endpoint */
    bool second_handler; /* y waits behind it */
    bool x_behind_f;     /* x, at f's priority, is queued behind f */
    unsigned type;
    bool fast; /* the fast path takes it */
};

static const struct fault_case fault_cases[] = {
    {"equal priorities", 10, 10, true, true, false, false, RS_FAULT_VM, true},
    {"no IPC buffer: 4 words", 10, 10, false, true, false, false, RS_FAULT_VM, true},
    {"handler above", 10, 20, true, true, false, false, RS_FAULT_VM, true},
    {"handler above, x behind", 10, 20, true, true, false, true, RS_FAULT_VM, true},
    {"handler below", 20, 10, true, true, false, false, RS_FAULT_VM, false},
    {"x behind f", 10, 10, true, true, false, true, RS_FAULT_VM, true},
    {"second handler waits", 10, 10, true, true, true, false, RS_FAULT_VM, true},
    {"nobody waits", 10, 10, true, false, false, false, RS_FAULT_VM, false},
    {"CPU exception", 10, 10, true, true, false, false, RS_FAULT_USER_EXCEPTION, true},
};

static void build_fault(const struct fault_case *k)
{
    memset(th, 0, sizeof th);
    memset(buf, 0, sizeof buf);
    th[1] = running("h", k->h_prio);
    if (k->h_buf) buf[1] = give_ipcbuf(th[1]);
    if (k->second_handler) th[3] = running("y", k->h_prio);
    if (k->h_waits) endpoint_recv(cap(EP), th[1], true);
    if (th[3]) endpoint_recv(cap(EP), th[3], true);
    // f runs: the head of the highest queue
    th[0] = thread("f", k->f_prio);
    sched_make_runnable(th[0], true);
    if (k->x_behind_f) th[2] = running("x", k->f_prio);
    buf[0] = give_ipcbuf(th[0]);
    th[0]->slots[TCB_SLOT_FAULT_EP].cap = *cap(EP_BADGED);
    th[0]->ctx.rip = 0x401000;
    th[0]->ctx.rsp = 0x7fff000;
    th[0]->ctx.vector = 14;
    th[0]->fault = (struct fault_info){.type = k->type, .w = {0x401000, 0xdead000, 1, 6, 0x77}};
    cur = th[0];
}

static void reset_world(void)
{
    struct tcb *q[16];
    drain_run_queue(q, 16);
    ipc_teardown();
    ipc_setup();
}

/* One kind of case: how to build its world and take it through either path. */
struct path {
    void (*build)(const void *k);
    void (*fast)(void);             /* returns only when it declines */
    void (*general)(const void *k); /* leaves through fake_exit */
};

static void run(const struct path *p, const void *k, const char *name, bool fast, struct snap *out)
{
    p->build(k);
    jmp_buf j;
    int left = setjmp(j);
    if (!left) {
        fake_exit = &j;
        if (fast) {
            p->fast();
            // declined: nothing may have changed (the snapshot drains the run queue: rebuild)
            struct snap again;
            take(out, -2);
            reset_world();
            p->build(k);
            take(&again, -2);
            expect_same(out, &again, name);
            fake_exit = NULL;
            return;
        }
        p->general(k);
    }
    fake_exit = NULL;
    take(out, left == 1 ? index_of(cur) : -1);
}

/* The fast path takes case k (`takes`) and ends as the general path does, or declines it. */
static void expect_paths_agree(const struct path *p, const void *k, const char *name, bool takes)
{
    struct snap fast, general;
    run(p, k, name, true, &fast);
    reset_world();
    if (!takes) {
        cr_expect_eq(fast.left_into, -2, "%s: the fast path took a case it must decline", name);
        return;
    }
    cr_expect_neq(fast.left_into, -2, "%s: the fast path declined", name);
    run(p, k, name, false, &general);
    reset_world();
    expect_same(&fast, &general, name);
}

static void fault_build(const void *k) { build_fault(k); }
static void fault_fast(void) { fastpath_fault(th[0]); }
static void fault_general(const void *k)
{
    (void)k;
    tcb_raise_fault(th[0]);
    sched_exit_kernel();
}
static const struct path fault_path = {fault_build, fault_fast, fault_general};

Test(fastpath_fault, delivery_matches_the_general_path)
{
    for (unsigned i = 0; i < sizeof fault_cases / sizeof fault_cases[0]; i++)
        expect_paths_agree(&fault_path, &fault_cases[i], fault_cases[i].name, fault_cases[i].fast);
}

/* ---- The handler's ReplyRecv ------------------------------------------------------------------ */

struct reply_case {
    const char *name;
    uint8_t f_prio, h_prio;
    uint64_t label;
    unsigned len;
    uint64_t rip, rsp;
    unsigned type;
    unsigned slot;      /* the cap the handler receives on */
    bool x_behind_h;    /* x, at h's priority, queued behind h */
    bool sender_waits;  /* y waits to send on the endpoint */
    bool bound_pending; /* h's bound notification has bits */
    bool fast;
};

#define RIP_OK 0x402000ull
#define RSP_OK 0x7ffe000ull
static const struct reply_case reply_cases[] = {
    {"empty reply", 10, 10, 0, 0, 0, 0, RS_FAULT_VM, EP, false, false, false, true},
    {"RIP", 10, 10, 0, 1, RIP_OK, 0, RS_FAULT_VM, EP, false, false, false, true},
    {"RIP and RSP", 10, 10, 0, 2, RIP_OK, RSP_OK, RS_FAULT_VM, EP, false, false, false, true},
    {"3 words: RIP, RSP", 10, 10, 0, 3, RIP_OK, RSP_OK, RS_FAULT_VM, EP, false, false, false, true},
    {"kernel RIP: ignored", 10, 10, 0, 2, 0xffff800000001000ull, RSP_OK, RS_FAULT_VM, EP, false,
     false, false, true},
    {"RSP above user space: ignored", 10, 10, 0, 2, RIP_OK, 0x800000000000ull, RS_FAULT_VM, EP,
     false, false, false, true},
    {"RSP at USER_TOP", 10, 10, 0, 2, RIP_OK, USER_TOP, RS_FAULT_VM, EP, false, false, false, true},
    {"CPU exception", 10, 10, 0, 1, RIP_OK, 0, RS_FAULT_USER_EXCEPTION, EP, false, false, false,
     true},
    {"handler above", 10, 20, 0, 0, 0, 0, RS_FAULT_VM, EP, false, false, false, true},
    {"handler below", 20, 10, 0, 0, 0, 0, RS_FAULT_VM, EP, false, false, false, true},
    {"x behind the handler", 10, 10, 0, 0, 0, 0, RS_FAULT_VM, EP, true, false, false, true},
    {"read-only cap", 10, 10, 0, 0, 0, 0, RS_FAULT_VM, EP_RO, false, false, false, true},
    {"label: thread stays stopped", 10, 10, 1, 0, 0, 0, RS_FAULT_VM, EP, false, false, false,
     false},
    {"write-only cap", 10, 10, 0, 0, 0, 0, RS_FAULT_VM, EP_WO, false, false, false, false},
    {"not an endpoint", 10, 10, 0, 0, 0, 0, RS_FAULT_VM, NTFN, false, false, false, false},
    {"a sender waits", 10, 10, 0, 0, 0, 0, RS_FAULT_VM, EP, false, true, false, false},
    {"bound notification pending", 10, 10, 0, 0, 0, 0, RS_FAULT_VM, EP, false, false, true, false},
    {"unknown syscall", 10, 10, 0, 1, RIP_OK, 0, RS_FAULT_UNKNOWN_SYSCALL, EP, false, false, false,
     false},
};

static void build_reply(const struct reply_case *k)
{
    memset(th, 0, sizeof th);
    memset(buf, 0, sizeof buf);
    th[1] = running("h", k->h_prio);
    buf[1] = give_ipcbuf(th[1]);
    endpoint_recv(cap(EP), th[1], true);
    th[0] = thread("f", k->f_prio);
    sched_make_runnable(th[0], true);
    th[0]->slots[TCB_SLOT_FAULT_EP].cap = *cap(EP_BADGED);
    th[0]->ctx.rip = 0x401000;
    th[0]->ctx.rsp = 0x7fff000;
    th[0]->ctx.rflags = 0x10ED7; // RF, a reserved bit and the user's flags: sanitised on a reply
    th[0]->ctx.vector = 14;
    th[0]->fault = (struct fault_info){.type = k->type, .w = {0x401000, 0xdead000, 1, 6, 0x77}};
    cur = th[0];
    tcb_raise_fault(th[0]); // (the general path: h runs next, at the head of its queue)
    cr_assert_eq(th[1]->reply_to, th[0]);
    if (k->x_behind_h) th[2] = running("x", k->h_prio);
    if (k->sender_waits) {
        th[3] = thread("y", 1);
        set_msg(th[3], 5, 0, 0, 0, 0, 0);
        endpoint_send(cap(EP), th[3], true, false);
    }
    if (k->bound_pending) {
        th[1]->bound_ntfn = w.ntfn;
        w.ntfn->bound = th[1];
        w.ntfn->pending = 0x4;
    }
    set_msg(th[1], k->label, k->len, k->rip, k->rsp, 0x55, 0x66);
    th[1]->ctx.rax = RS_SYS_REPLY_RECV;
    th[1]->ctx.rdi = k->slot;
    cur = th[1];
}

static void reply_build(const void *k) { build_reply(k); }
static void reply_fast(void) { fastpath_fault_reply_recv(th[1]); }
static void reply_general(const void *k)
{
    // the general path's steps (syscall_slowpath: endpoint_reply, then handle_recv)
    endpoint_reply(th[1]);
    endpoint_recv(cap(((const struct reply_case *)k)->slot), th[1], true);
    sched_exit_kernel();
}
static const struct path reply_path = {reply_build, reply_fast, reply_general};

Test(fastpath_fault, reply_recv_matches_the_general_path)
{
    for (unsigned i = 0; i < sizeof reply_cases / sizeof reply_cases[0]; i++)
        expect_paths_agree(&reply_path, &reply_cases[i], reply_cases[i].name, reply_cases[i].fast);
}

/* The registers a reply sets, as the fault tests (test_fault.c) state them for the general
 * path: checked here once for the fast path directly. */
Test(fastpath_fault, reply_sets_rip_rsp_and_sanitised_flags)
{
    build_reply(&reply_cases[2]);
    jmp_buf j;
    if (!setjmp(j)) {
        fake_exit = &j;
        fastpath_fault_reply_recv(th[1]);
        cr_assert_fail("the fast path declined an empty-queue RIP and RSP reply");
    }
    fake_exit = NULL;
    cr_expect_eq(fake_restored, &th[0]->ctx, "left into the faulting thread");
    cr_expect_eq(th[0]->ctx.rip, RIP_OK);
    cr_expect_eq(th[0]->ctx.rsp, RSP_OK);
    cr_expect_eq(th[0]->ctx.rflags, (0x10ED7 & 0xDD5) | 0x202);
    cr_expect_eq(th[0]->ctx.vector, 0, "registers changed: return by iret");
    cr_expect_eq(th[0]->state, TS_RUNNABLE);
    EXPECT_EP_QUEUE(w.ep, EP_RECV, th[1]);
    EXPECT_RUN_QUEUE(th[0]);
}
