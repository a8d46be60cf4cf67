// SPDX-License-Identifier: MIT
// Host tests of IPC and scheduling: endpoint and notification queues, Call/Reply, faults, the
// scheduler, and the IPC fast path, over the real kernel sources (kernel/endpoint.c,
// notification.c, sched.c, tcb.c, fastpath.c, syscall.c) and the fake machine in fake_arch.c.
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <resurgo/ipcbuf.h>
#include <resurgo/syscall.h>
#include "cdt.h"
#include "endpoint.h"
#include "fastpath.h"
#include "notification.h"
#include "sched.h"
#include "tcb.h"
#include "vspace.h"
#include "arch/x86_64/arch.h"
#include "arch/x86_64/switch.h"

#include "fake_arch.h"

/* ---- The world: one shared single-level CSpace, endpoints and notifications in it ------------ */

enum {
    RADIX = 4,
    EP = 1,        /* endpoint A, unbadged, all rights */
    EP_BADGED = 2, /* endpoint A, badge 0xB1, all rights */
    EP_NOGRANT = 3,/* endpoint A, badge 0xB2, read and write only */
    EP_RO = 4,     /* endpoint A, read only */
    EP_WO = 5,     /* endpoint A, write only */
    EP2 = 6,       /* endpoint B */
    NTFN = 7,      /* the notification, badge 0x8 */
    FREE = 9,      /* empty: receive slot for transferred caps */
    SELF = 15,     /* the CNode's own cap, to name it as a receive CNode */
};

static struct {
    struct slot *cn; /* the shared CNode's 16 slots */
    struct endpoint *ep, *ep2;
    struct notification *ntfn;
    void *vspace; /* memory a VSpace cap can name */
} w;

static void *allocs[64];
static int nallocs;

static void *alloc(size_t align, size_t size)
{
    size = (size + align - 1) & ~(align - 1); /* aligned_alloc wants a multiple of the alignment */
    void *p = aligned_alloc(align, size);
    cr_assert_not_null(p);
    memset(p, 0, size);
    cr_assert_lt(nallocs, 64);
    return allocs[nallocs++] = p;
}

static void setup(void)
{
    w.cn = alloc(64, sizeof(struct slot) << RADIX);
    w.ep = alloc(32, sizeof(struct endpoint));
    w.ep2 = alloc(32, sizeof(struct endpoint));
    w.ntfn = alloc(32, sizeof(struct notification));
    w.vspace = alloc(4096, 4096);
    struct cap ep = {.type = RS_CAP_ENDPOINT, .rights = RS_RIGHTS_ALL, .obj = (uintptr_t)w.ep};
    w.cn[EP].cap = ep;
    cdt_insert(NULL, &w.cn[EP]);
    struct slot *copies[] = {&w.cn[EP_BADGED], &w.cn[EP_NOGRANT], &w.cn[EP_RO], &w.cn[EP_WO]};
    for (int i = 0; i < 4; i++) {
        copies[i]->cap = ep;
        cdt_insert(&w.cn[EP], copies[i]);
    }
    w.cn[EP_BADGED].cap.w1 = 0xB1;
    w.cn[EP_NOGRANT].cap.w1 = 0xB2;
    w.cn[EP_NOGRANT].cap.rights = RS_RIGHT_READ | RS_RIGHT_WRITE;
    w.cn[EP_RO].cap.rights = RS_RIGHT_READ;
    w.cn[EP_WO].cap.rights = RS_RIGHT_WRITE;
    w.cn[EP2].cap = (struct cap){.type = RS_CAP_ENDPOINT, .rights = RS_RIGHTS_ALL, .obj = (uintptr_t)w.ep2};
    cdt_insert(NULL, &w.cn[EP2]);
    w.cn[NTFN].cap = (struct cap){.type = RS_CAP_NOTIFICATION, .rights = RS_RIGHTS_ALL, .obj = (uintptr_t)w.ntfn,
                                  .w1 = 0x8};
    cdt_insert(NULL, &w.cn[NTFN]);
    /* guard 60 + radix 4: a single-level CSpace, which the fast path resolves inline */
    w.cn[SELF].cap = (struct cap){.type = RS_CAP_CNODE, .rights = RS_RIGHTS_ALL, .bits = RADIX,
                                  .small = 64 - RADIX, .obj = (uintptr_t)w.cn};
    cdt_insert(NULL, &w.cn[SELF]);
    /* the VSpace every thread here runs in is the loaded one (see arch_cr3 in fake_arch.c) */
    arch_cr3 = VIRT_TO_PHYS(w.vspace);
}

static void teardown(void)
{
    while (nallocs)
        free(allocs[--nallocs]);
}

TestSuite(endpoint, .init = setup, .fini = teardown);
TestSuite(notification, .init = setup, .fini = teardown);
TestSuite(sched, .init = setup, .fini = teardown);
TestSuite(fastpath, .init = setup, .fini = teardown);
TestSuite(syscall, .init = setup, .fini = teardown);

/* A thread as Retype and Configure would leave it: CSpace = the shared CNode, a VSpace, not
 * running yet (TS_INACTIVE, like a new TCB). */
static struct tcb *thread(const char *name, uint8_t prio)
{
    struct tcb *t = alloc(1u << RS_TCB_BITS, 1u << RS_TCB_BITS);
    tcb_init(t);
    t->prio = prio;
    t->mcp = 255;
    strncpy(t->name, name, sizeof(t->name) - 1);
    t->slots[TCB_SLOT_CSPACE].cap = w.cn[SELF].cap;
    t->slots[TCB_SLOT_VSPACE].cap =
        (struct cap){.type = RS_CAP_VSPACE, .rights = RS_RIGHTS_ALL, .obj = (uintptr_t)w.vspace, .small = 1};
    return t;
}

/* A thread that is runnable (queued at the tail of its priority). */
static struct tcb *running(const char *name, uint8_t prio)
{
    struct tcb *t = thread(name, prio);
    sched_make_runnable(t, false);
    return t;
}

/* Gives t an IPC buffer frame (mapped at a non-page-aligned address, as Configure allows). */
static struct rs_ipc_buffer *give_ipcbuf(struct tcb *t)
{
    uint8_t *frame = alloc(4096, 4096);
    t->slots[TCB_SLOT_IPCBUF].cap =
        (struct cap){.type = RS_CAP_FRAME, .rights = RS_RIGHTS_ALL, .bits = 12, .obj = (uintptr_t)frame};
    t->ipc_buffer_vaddr = 0x20000800;
    return (struct rs_ipc_buffer *)(frame + 0x800);
}

static void set_msg(struct tcb *t, uint64_t label, unsigned len, uint64_t m0, uint64_t m1, uint64_t m2,
                    uint64_t m3)
{
    t->ctx.rsi = rs_msginfo(label, 0, 0, len);
    t->ctx.rdx = m0;
    t->ctx.r8 = m1;
    t->ctx.r9 = m2;
    t->ctx.r10 = m3;
}

static struct cap *cap(unsigned slot) { return &w.cn[slot].cap; }

/* Checks what a thread's syscall returned: status, message info and badge. */
static void expect_received(const struct tcb *t, int status, uint64_t info, uint64_t badge)
{
    cr_expect_eq(t->ctx.rax, (uint64_t)status, "%s: status %lu, expected %d", t->name,
                 (unsigned long)t->ctx.rax, status);
    cr_expect_eq(t->ctx.rsi, info, "%s: info %#lx, expected %#lx", t->name, (unsigned long)t->ctx.rsi,
                 (unsigned long)info);
    cr_expect_eq(t->ctx.rdi, badge, "%s: badge %#lx, expected %#lx", t->name, (unsigned long)t->ctx.rdi,
                 (unsigned long)badge);
}

static void expect_mrs(const struct tcb *t, uint64_t m0, uint64_t m1, uint64_t m2, uint64_t m3)
{
    cr_expect_eq(t->ctx.rdx, m0, "%s: MR0 %#lx", t->name, (unsigned long)t->ctx.rdx);
    cr_expect_eq(t->ctx.r8, m1, "%s: MR1 %#lx", t->name, (unsigned long)t->ctx.r8);
    cr_expect_eq(t->ctx.r9, m2, "%s: MR2 %#lx", t->name, (unsigned long)t->ctx.r9);
    cr_expect_eq(t->ctx.r10, m3, "%s: MR3 %#lx", t->name, (unsigned long)t->ctx.r10);
}

/* The run queue, highest priority first, read out by dequeuing (which empties it). The links
 * are checked on the way: dequeuing would repair a stale back link and hide it. */
static int drain_run_queue(struct tcb **out, int max)
{
    int n = 0;
    for (struct tcb *t; (t = sched_pick()) && n < max;) {
        cr_expect_null(t->sched_prev, "%s heads its queue but has a predecessor", t->name);
        if (t->sched_next)
            cr_expect_eq(t->sched_next->sched_prev, t, "%s: stale back link after %s",
                         t->sched_next->name, t->name);
        out[n++] = t;
        sched_dequeue(t);
    }
    cr_expect_null(sched_pick(), "run queue longer than %d", max);
    return n;
}

static void expect_run_queue(struct tcb *const *expect, int n)
{
    struct tcb *got[16];
    int m = drain_run_queue(got, 16);
    cr_expect_eq(m, n, "run queue has %d threads, expected %d", m, n);
    for (int i = 0; i < n && i < m; i++)
        cr_expect_eq(got[i], expect[i], "run queue position %d: %s, expected %s", i, got[i]->name,
                     expect[i]->name);
}
#define EXPECT_RUN_QUEUE(...)                                                                      \
    do {                                                                                           \
        struct tcb *const q_[] = {__VA_ARGS__};                                                    \
        expect_run_queue(q_, sizeof(q_) / sizeof(q_[0]));                                          \
    } while (0)

static void expect_ep_queue(const struct endpoint *ep, int state, struct tcb *const *expect, int n)
{
    cr_expect_eq(ep->state, state, "endpoint state %d, expected %d", ep->state, state);
    const struct tcb *t = ep->head, *prev = NULL;
    for (int i = 0; i < n; i++, prev = t, t = t->queue_next) {
        cr_assert_not_null(t, "endpoint queue ends at %d, expected %d", i, n);
        cr_expect_eq(t, expect[i], "endpoint queue position %d: %s, expected %s", i, t->name, expect[i]->name);
        cr_expect_eq(t->queue_prev, prev, "back link at %d", i);
        cr_expect_eq(t->blocked_on, ep);
    }
    cr_expect_null(t, "endpoint queue longer than %d", n);
    cr_expect_eq(ep->tail, prev, "tail");
}
#define EXPECT_EP_QUEUE(ep, state, ...)                                                            \
    do {                                                                                           \
        struct tcb *const q_[] = {__VA_ARGS__};                                                    \
        expect_ep_queue(ep, state, q_, sizeof(q_) / sizeof(q_[0]));                                \
    } while (0)

static void expect_ep_idle(const struct endpoint *ep)
{
    cr_expect_eq(ep->state, EP_IDLE);
    cr_expect(!ep->head && !ep->tail, "idle endpoint has a queue");
}

/* ---- Endpoints: rendezvous and queues -------------------------------------------------------- */

Test(endpoint, senders_queue_fifo_and_are_received_in_order_with_badges)
{
    struct tcb *a = running("a", 10), *b = running("b", 10), *r = running("r", 10);
    set_msg(a, 0x11, 2, 0xA0, 0xA1, 0, 0);
    endpoint_send(cap(EP_BADGED), a, true, false);
    set_msg(b, 0x22, 3, 0xB0, 0xB1, 0xB2, 0);
    endpoint_send(cap(EP_NOGRANT), b, true, false);
    cr_expect_eq(a->state, TS_BLOCKED_SEND);
    cr_expect_eq(b->state, TS_BLOCKED_SEND);
    EXPECT_EP_QUEUE(w.ep, EP_SEND, a, b);

    endpoint_recv(cap(EP), r, true);
    expect_received(r, RS_OK, rs_msginfo(0x11, 0, 0, 2), 0xB1);
    cr_expect(r->ctx.rdx == 0xA0 && r->ctx.r8 == 0xA1);
    cr_expect_eq(a->state, TS_RUNNABLE);
    cr_expect_eq(a->ctx.rax, RS_OK);
    EXPECT_EP_QUEUE(w.ep, EP_SEND, b);

    endpoint_recv(cap(EP), r, true);
    expect_received(r, RS_OK, rs_msginfo(0x22, 0, 0, 3), 0xB2);
    cr_expect(r->ctx.rdx == 0xB0 && r->ctx.r8 == 0xB1 && r->ctx.r9 == 0xB2);
    cr_expect_eq(b->state, TS_RUNNABLE);
    expect_ep_idle(w.ep);
    /* the receiver never blocked; the woken senders went to the back of the queue */
    EXPECT_RUN_QUEUE(r, a, b);
}

Test(endpoint, receivers_queue_fifo)
{
    struct tcb *r1 = running("r1", 10), *r2 = running("r2", 10), *s = running("s", 10);
    endpoint_recv(cap(EP), r1, true);
    endpoint_recv(cap(EP_RO), r2, true);
    cr_expect(r1->state == TS_BLOCKED_RECV && r2->state == TS_BLOCKED_RECV);
    EXPECT_EP_QUEUE(w.ep, EP_RECV, r1, r2);
    set_msg(s, 7, 1, 0x70, 0, 0, 0);
    endpoint_send(cap(EP_BADGED), s, true, false);
    expect_received(r1, RS_OK, rs_msginfo(7, 0, 0, 1), 0xB1);
    cr_expect_eq(r1->ctx.rdx, 0x70);
    cr_expect_eq(s->ctx.rax, RS_OK);
    EXPECT_EP_QUEUE(w.ep, EP_RECV, r2);
    /* Send does not block the sender; the receiver goes to the back of the queue */
    EXPECT_RUN_QUEUE(s, r1);
}

Test(endpoint, message_length_and_ipc_buffers)
{
    struct tcb *s = running("s", 10), *r = running("r", 10);
    struct rs_ipc_buffer *sb = give_ipcbuf(s), *rb = give_ipcbuf(r);
    for (unsigned i = 0; i < RS_MSG_MAX_LENGTH; i++)
        sb->mr[i] = 0x1000 + i;
    set_msg(s, 3, 6, 1, 2, 3, 4);
    endpoint_recv(cap(EP), r, true);
    endpoint_send(cap(EP), s, true, false);
    expect_received(r, RS_OK, rs_msginfo(3, 0, 0, 6), 0);
    expect_mrs(r, 1, 2, 3, 4);
    cr_expect(rb->mr[4] == 0x1004 && rb->mr[5] == 0x1005 && rb->mr[6] == 0, "MR4..5 by buffer, no more");
    /* the whole 120 words */
    s->ctx.rsi = rs_msginfo(3, 0, 0, RS_MSG_MAX_LENGTH);
    endpoint_recv(cap(EP), r, true);
    endpoint_send(cap(EP), s, true, false);
    cr_expect_eq(rs_msginfo_length(r->ctx.rsi), RS_MSG_MAX_LENGTH);
    cr_expect_eq(rb->mr[RS_MSG_MAX_LENGTH - 1], 0x1000 + RS_MSG_MAX_LENGTH - 1);
    /* a receiver without a buffer gets the register words only */
    struct tcb *r2 = running("r2", 10);
    set_msg(s, 3, 6, 1, 2, 3, 4);
    endpoint_recv(cap(EP), r2, true);
    endpoint_send(cap(EP), s, true, false);
    expect_received(r2, RS_OK, rs_msginfo(3, 0, 0, 4), 0);
    expect_mrs(r2, 1, 2, 3, 4);
}

Test(endpoint, nonblocking_send_and_recv_find_nobody)
{
    struct tcb *s = running("s", 10), *r = running("r", 10);
    endpoint_send(cap(EP), s, false, false);
    cr_expect_eq(s->ctx.rax, RS_WOULD_BLOCK);
    cr_expect_eq(s->state, TS_RUNNABLE);
    expect_ep_idle(w.ep);
    r->ctx.rdi = 0x999;
    endpoint_recv(cap(EP), r, false);
    cr_expect_eq(r->ctx.rax, RS_WOULD_BLOCK);
    cr_expect_eq(r->ctx.rdi, 0, "no badge");
    expect_ep_idle(w.ep);
    EXPECT_RUN_QUEUE(s, r);
    /* NBSend to a waiting receiver does deliver */
    endpoint_recv(cap(EP), r, true);
    set_msg(s, 1, 0, 0, 0, 0, 0);
    endpoint_send(cap(EP_BADGED), s, false, false);
    cr_expect_eq(s->ctx.rax, RS_OK);
    expect_received(r, RS_OK, rs_msginfo(1, 0, 0, 0), 0xB1);
    /* NBRecv with a sender queued receives at once */
    endpoint_send(cap(EP_BADGED), s, true, false);
    endpoint_recv(cap(EP), r, false);
    expect_received(r, RS_OK, rs_msginfo(1, 0, 0, 0), 0xB1);
    cr_expect_eq(s->state, TS_RUNNABLE);
}

/* ---- Call and Reply ---------------------------------------------------------------------------- */

Test(endpoint, call_blocks_caller_waiting_for_reply)
{
    struct tcb *c = running("c", 10), *other = running("other", 10), *srv = running("srv", 10);
    endpoint_recv(cap(EP), srv, true);
    set_msg(c, 9, 2, 0xC0, 0xC1, 0, 0);
    endpoint_send(cap(EP_BADGED), c, true, true);
    cr_expect_eq(c->state, TS_BLOCKED_REPLY);
    cr_expect_eq(c->replier, srv);
    cr_expect_eq(srv->reply_to, c);
    cr_expect_null(c->blocked_on);
    expect_received(srv, RS_OK, rs_msginfo(9, 0, 0, 2), 0xB1);
    expect_ep_idle(w.ep);
    /* the caller waits: the server runs next, ahead of its equals */
    EXPECT_RUN_QUEUE(srv, other);
}

Test(endpoint, queued_call_becomes_caller_when_received)
{
    struct tcb *c = running("c", 10), *srv = running("srv", 10);
    set_msg(c, 9, 1, 0xC0, 0, 0, 0);
    endpoint_send(cap(EP_BADGED), c, true, true);
    cr_expect_eq(c->state, TS_BLOCKED_SEND);
    cr_expect(c->send_is_call);
    cr_expect_eq(c->send_badge, 0xB1);
    endpoint_recv(cap(EP), srv, true);
    expect_received(srv, RS_OK, rs_msginfo(9, 0, 0, 1), 0xB1);
    cr_expect_eq(c->state, TS_BLOCKED_REPLY);
    cr_expect(c->replier == srv && srv->reply_to == c);
    expect_ep_idle(w.ep);
    EXPECT_RUN_QUEUE(srv);
}

Test(endpoint, reply_wakes_caller_with_message)
{
    struct tcb *c = running("c", 10), *srv = running("srv", 10);
    endpoint_recv(cap(EP), srv, true);
    endpoint_send(cap(EP_BADGED), c, true, true);
    c->ctx.rdi = 0x5555;
    set_msg(srv, 0x33, 3, 0xD0, 0xD1, 0xD2, 0xD3);
    endpoint_reply(srv);
    cr_expect_eq(c->state, TS_RUNNABLE);
    expect_received(c, RS_OK, rs_msginfo(0x33, 0, 0, 3), 0);
    cr_expect(c->ctx.rdx == 0xD0 && c->ctx.r8 == 0xD1 && c->ctx.r9 == 0xD2);
    cr_expect_null(srv->reply_to);
    cr_expect_null(c->replier);
    /* a second reply has nobody to go to */
    c->ctx.rax = 0x77;
    endpoint_reply(srv);
    cr_expect_eq(c->ctx.rax, 0x77);
    /* the caller runs before the server (it was woken at the head) */
    EXPECT_RUN_QUEUE(c, srv);
}

/* ---- Peers going away -------------------------------------------------------------------------- */

Test(endpoint, finalise_fails_every_queued_thread)
{
    struct tcb *a = running("a", 10), *b = running("b", 10), *c = running("c", 10);
    endpoint_send(cap(EP), a, true, false);
    endpoint_send(cap(EP_BADGED), b, true, true);
    endpoint_send(cap(EP), c, true, false);
    a->ctx.rsi = b->ctx.rsi = c->ctx.rsi = 0x1234;
    endpoint_finalise(w.ep);
    struct tcb *all[] = {a, b, c};
    for (int i = 0; i < 3; i++) {
        cr_expect_eq(all[i]->state, TS_RUNNABLE, "%s woken", all[i]->name);
        expect_received(all[i], RS_PEER_DIED, 0, 0);
        cr_expect_null(all[i]->blocked_on);
        cr_expect_null(all[i]->queue_next);
    }
    expect_ep_idle(w.ep);
    EXPECT_RUN_QUEUE(a, b, c);
}

/* The real trigger: the object layer finalises the endpoint when its last cap is deleted. */
Test(endpoint, deleting_last_cap_fails_waiters)
{
    struct tcb *r1 = running("r1", 10), *r2 = running("r2", 10);
    endpoint_recv(cap(EP2), r1, true);
    struct slot copy = {0};
    copy.cap = *cap(EP2);
    cdt_insert(&w.cn[EP2], &copy);
    endpoint_recv(&copy.cap, r2, true);
    cdt_delete(&w.cn[EP2]);
    cr_expect_eq(r1->state, TS_BLOCKED_RECV, "a copy is left: nobody is woken");
    EXPECT_EP_QUEUE(w.ep2, EP_RECV, r1, r2);
    cdt_delete(&copy);
    expect_received(r1, RS_PEER_DIED, 0, 0);
    expect_received(r2, RS_PEER_DIED, 0, 0);
    expect_ep_idle(w.ep2);
    EXPECT_RUN_QUEUE(r1, r2);
}

Test(endpoint, suspending_server_holding_reply_fails_caller)
{
    struct tcb *c = running("c", 10), *srv = running("srv", 10);
    endpoint_recv(cap(EP), srv, true);
    endpoint_send(cap(EP), c, true, true);
    tcb_suspend(srv);
    cr_expect_eq(srv->state, TS_INACTIVE);
    cr_expect_null(srv->reply_to);
    cr_expect_eq(c->state, TS_RUNNABLE);
    cr_expect_null(c->replier);
    expect_received(c, RS_PEER_DIED, 0, 0);
    EXPECT_RUN_QUEUE(c);
}

Test(endpoint, suspending_caller_cancels_the_reply)
{
    struct tcb *c = running("c", 10), *srv = running("srv", 10);
    endpoint_recv(cap(EP), srv, true);
    endpoint_send(cap(EP), c, true, true);
    tcb_suspend(c);
    cr_expect_eq(c->state, TS_INACTIVE);
    cr_expect_null(srv->reply_to);
    cr_expect_null(c->replier);
    c->ctx.rax = 0x77;
    endpoint_reply(srv);
    cr_expect_eq(c->state, TS_INACTIVE, "a reply must not wake a suspended caller");
    cr_expect_eq(c->ctx.rax, 0x77);
    EXPECT_RUN_QUEUE(srv);
}

Test(endpoint, recv_while_holding_reply_drops_it)
{
    struct tcb *c = running("c", 10), *srv = running("srv", 10);
    endpoint_recv(cap(EP), srv, true);
    endpoint_send(cap(EP), c, true, true);
    endpoint_recv(cap(EP2), srv, true);
    cr_expect_null(srv->reply_to);
    cr_expect_eq(srv->state, TS_BLOCKED_RECV);
    cr_expect_eq(c->state, TS_RUNNABLE);
    expect_received(c, RS_PEER_DIED, 0, 0);
    EXPECT_EP_QUEUE(w.ep2, EP_RECV, srv);
    EXPECT_RUN_QUEUE(c);
}

/* A second Call reaching a server that still holds a reply: the first caller loses. */
Test(endpoint, new_caller_replaces_unanswered_one)
{
    struct tcb *c1 = running("c1", 10), *c2 = running("c2", 10), *srv = running("srv", 10);
    endpoint_send(cap(EP), c1, true, true);
    endpoint_send(cap(EP), c2, true, true);
    endpoint_recv(cap(EP), srv, false);
    cr_expect_eq(srv->reply_to, c1);
    endpoint_recv(cap(EP), srv, false);
    cr_expect_eq(srv->reply_to, c2);
    expect_received(c1, RS_PEER_DIED, 0, 0);
    cr_expect_eq(c2->state, TS_BLOCKED_REPLY);
    cr_expect_eq(c2->replier, srv);
}

Test(endpoint, suspend_removes_thread_from_middle_of_queue)
{
    struct tcb *a = running("a", 10), *b = running("b", 10), *c = running("c", 10), *r = running("r", 10);
    endpoint_send(cap(EP), a, true, false);
    endpoint_send(cap(EP), b, true, false);
    endpoint_send(cap(EP), c, true, false);
    tcb_suspend(b);
    cr_expect_eq(b->state, TS_INACTIVE);
    cr_expect_null(b->blocked_on);
    EXPECT_EP_QUEUE(w.ep, EP_SEND, a, c);
    tcb_suspend(c);
    EXPECT_EP_QUEUE(w.ep, EP_SEND, a);
    tcb_suspend(a);
    expect_ep_idle(w.ep);
    /* the endpoint works normally afterwards */
    endpoint_recv(cap(EP), r, true);
    EXPECT_EP_QUEUE(w.ep, EP_RECV, r);
    tcb_resume(b);
    cr_expect_eq(b->state, TS_RUNNABLE);
}

/* ---- Cap transfer ------------------------------------------------------------------------------ */

Test(endpoint, grant_transfers_one_cap_and_unwraps_badges)
{
    struct tcb *s = running("s", 10), *r = running("r", 10);
    struct rs_ipc_buffer *sb = give_ipcbuf(s), *rb = give_ipcbuf(r);
    rb->receive_cnode = SELF;
    rb->receive_index = FREE;
    rb->receive_depth = 64;
    /* the notification cap travels; the endpoint's own cap is unwrapped into its badge */
    sb->caps_or_badges[0] = EP_BADGED;
    sb->caps_or_badges[1] = NTFN;
    s->ctx.rsi = rs_msginfo(4, 0, 2, 0);
    endpoint_recv(cap(EP), r, true);
    endpoint_send(cap(EP_BADGED), s, true, false);
    expect_received(r, RS_OK, rs_msginfo(4, 1, 2, 0), 0xB1);
    cr_expect_eq(rb->caps_or_badges[0], 0xB1, "the unwrapped cap's badge");
    cr_expect_eq(w.cn[FREE].cap.type, RS_CAP_NOTIFICATION);
    cr_expect_eq(w.cn[FREE].cap.obj, (uintptr_t)w.ntfn);
    cr_expect_eq(w.cn[FREE].parent, &w.cn[NTFN], "the received cap is derived from the sent one");
    cr_expect(!cdt_is_final(&w.cn[NTFN]));
}

Test(endpoint, no_grant_right_no_caps)
{
    struct tcb *s = running("s", 10), *r = running("r", 10);
    struct rs_ipc_buffer *sb = give_ipcbuf(s), *rb = give_ipcbuf(r);
    rb->receive_cnode = SELF;
    rb->receive_index = FREE;
    rb->receive_depth = 64;
    sb->caps_or_badges[0] = NTFN;
    s->ctx.rsi = rs_msginfo(4, 0, 1, 0);
    endpoint_recv(cap(EP), r, true);
    endpoint_send(cap(EP_NOGRANT), s, true, false);
    expect_received(r, RS_OK, rs_msginfo(4, 0, 0, 0), 0xB2);
    cr_expect(cap_is_null(&w.cn[FREE].cap));
    /* receive depth 0 accepts no caps either */
    rb->receive_depth = 0;
    endpoint_recv(cap(EP), r, true);
    endpoint_send(cap(EP), s, true, false);
    expect_received(r, RS_OK, rs_msginfo(4, 0, 0, 0), 0);
    cr_expect(cap_is_null(&w.cn[FREE].cap));
}

/* ---- Faults ------------------------------------------------------------------------------------ */

static struct tcb *faulting_thread(uint8_t prio)
{
    struct tcb *f = running("f", prio);
    f->slots[TCB_SLOT_FAULT_EP].cap = *cap(EP_BADGED);
    f->ctx.rip = 0x401000;
    f->ctx.rsp = 0x7fff000;
    f->fault = (struct fault_info){.type = RS_FAULT_VM, .w = {0x401000, 0xdead000, 0, 6, 0x77}};
    return f;
}

Test(endpoint, fault_goes_to_handler_and_reply_resumes)
{
    struct tcb *h = running("h", 20), *f = faulting_thread(10);
    struct rs_ipc_buffer *hb = give_ipcbuf(h);
    endpoint_recv(cap(EP), h, true);
    tcb_raise_fault(f);
    cr_expect_eq(f->state, TS_BLOCKED_REPLY);
    cr_expect(f->in_fault_ipc);
    cr_expect(h->reply_to == f && f->replier == h);
    expect_received(h, RS_OK, rs_msginfo(RS_FAULT_VM, 0, 0, 5), 0xB1);
    expect_mrs(h, 0x401000, 0xdead000, 0, 6);
    cr_expect_eq(hb->mr[4], 0x77);
    /* reply with label 0: resume at MR0 with stack MR1 */
    set_msg(h, 0, 2, 0x402000, 0x7ffe000, 0, 0);
    endpoint_reply(h);
    cr_expect_eq(f->state, TS_RUNNABLE);
    cr_expect(!f->in_fault_ipc);
    cr_expect_eq(f->fault.type, RS_FAULT_NONE);
    cr_expect_eq(f->ctx.rip, 0x402000);
    cr_expect_eq(f->ctx.rsp, 0x7ffe000);
    cr_expect_eq(f->ctx.vector, 0, "registers changed: return by iret");
    cr_expect_null(h->reply_to);
}

Test(endpoint, fault_reply_with_label_leaves_thread_stopped)
{
    struct tcb *h = running("h", 20), *f = faulting_thread(10);
    endpoint_recv(cap(EP), h, true);
    tcb_raise_fault(f);
    set_msg(h, 1, 0, 0, 0, 0, 0);
    endpoint_reply(h);
    cr_expect_eq(f->state, TS_INACTIVE);
    cr_expect(!f->in_fault_ipc);
    EXPECT_RUN_QUEUE(h);
}

Test(endpoint, handler_recv_without_reply_leaves_thread_stopped)
{
    struct tcb *h = running("h", 20), *f = faulting_thread(10);
    tcb_raise_fault(f); /* queued: the handler is not waiting yet */
    cr_expect_eq(f->state, TS_BLOCKED_SEND);
    endpoint_recv(cap(EP), h, true);
    cr_expect(h->reply_to == f && f->state == TS_BLOCKED_REPLY);
    expect_received(h, RS_OK, rs_msginfo(RS_FAULT_VM, 0, 0, 4), 0xB1); /* no buffer: 4 words */
    endpoint_recv(cap(EP), h, true);
    cr_expect_eq(f->state, TS_INACTIVE);
    cr_expect(!f->in_fault_ipc);
    cr_expect_null(f->replier);
    cr_expect_null(sched_pick(), "nobody runnable");
}

Test(endpoint, fault_without_handler_stops_thread)
{
    struct tcb *f = faulting_thread(10);
    f->slots[TCB_SLOT_FAULT_EP].cap = cap_null();
    tcb_raise_fault(f);
    cr_expect_eq(f->state, TS_INACTIVE);
    cr_expect_null(sched_pick());
    cr_expect_neq(strstr(fake_console, "no fault handler"), NULL, "console: %s", fake_console);
}

/* ---- Notifications ----------------------------------------------------------------------------- */

Test(notification, signals_or_badges_and_wait_takes_them)
{
    struct tcb *t = running("t", 10);
    notification_signal(w.ntfn, 0x1);
    notification_signal(w.ntfn, 0x4);
    notification_signal(w.ntfn, 0x5);
    cr_expect_eq(w.ntfn->pending, 0x5);
    t->ctx.rsi = 0x99;
    notification_wait(w.ntfn, t, true);
    expect_received(t, RS_OK, 0, 0x5);
    cr_expect_eq(t->state, TS_RUNNABLE);
    cr_expect_eq(w.ntfn->pending, 0, "Wait takes the bits");
    EXPECT_RUN_QUEUE(t);
}

Test(notification, wait_blocks_and_signal_wakes)
{
    struct tcb *t = running("t", 10), *other = running("other", 10);
    notification_wait(w.ntfn, t, true);
    cr_expect_eq(t->state, TS_BLOCKED_NTFN);
    cr_expect_eq(t->blocked_on, w.ntfn);
    cr_expect_eq(sched_pick(), other);
    notification_signal(w.ntfn, 0x80);
    cr_expect_eq(t->state, TS_RUNNABLE);
    expect_received(t, RS_OK, 0, 0x80);
    cr_expect_eq(w.ntfn->pending, 0, "delivered bits are not left pending");
    cr_expect_null(w.ntfn->head);
    cr_expect_null(t->blocked_on);
    EXPECT_RUN_QUEUE(other, t);
}

Test(notification, poll_returns_zero_without_blocking)
{
    struct tcb *t = running("t", 10);
    t->ctx.rdi = 0x1234;
    notification_wait(w.ntfn, t, false);
    expect_received(t, RS_OK, 0, 0);
    cr_expect_eq(t->state, TS_RUNNABLE);
    cr_expect_null(w.ntfn->head);
    notification_signal(w.ntfn, 0x30);
    notification_wait(w.ntfn, t, false);
    expect_received(t, RS_OK, 0, 0x30);
    cr_expect_eq(w.ntfn->pending, 0);
    EXPECT_RUN_QUEUE(t);
}

Test(notification, waiters_woken_one_per_signal_in_order)
{
    struct tcb *a = running("a", 10), *b = running("b", 10);
    notification_wait(w.ntfn, a, true);
    notification_wait(w.ntfn, b, true);
    notification_signal(w.ntfn, 1);
    cr_expect_eq(a->state, TS_RUNNABLE);
    cr_expect_eq(a->ctx.rdi, 1);
    cr_expect_eq(b->state, TS_BLOCKED_NTFN);
    cr_expect(w.ntfn->head == b && w.ntfn->tail == b && !b->queue_prev);
    notification_signal(w.ntfn, 2);
    cr_expect_eq(b->ctx.rdi, 2);
    cr_expect(!w.ntfn->head && !w.ntfn->tail);
    notification_signal(w.ntfn, 4);
    cr_expect_eq(w.ntfn->pending, 4);
}

Test(notification, bound_thread_in_endpoint_recv_is_woken_by_signal)
{
    struct tcb *t = running("t", 10), *r2 = running("r2", 10);
    notification_bind(w.ntfn, t);
    endpoint_recv(cap(EP), t, true);
    endpoint_recv(cap(EP), r2, true);
    notification_signal(w.ntfn, 0x6);
    cr_expect_eq(t->state, TS_RUNNABLE);
    expect_received(t, RS_OK, rs_msginfo(RS_NOTIFICATION_LABEL, 0, 0, 0), 0x6);
    cr_expect_eq(rs_msginfo_label(t->ctx.rsi), RS_NOTIFICATION_LABEL);
    cr_expect_eq(w.ntfn->pending, 0);
    EXPECT_EP_QUEUE(w.ep, EP_RECV, r2);
    /* not bound: a signal just sets bits */
    notification_signal(w.ntfn, 0x1);
    cr_expect_eq(r2->state, TS_BLOCKED_RECV);
}

Test(notification, bound_bits_pending_end_recv_at_once)
{
    struct tcb *t = running("t", 10), *s = running("s", 10);
    notification_bind(w.ntfn, t);
    cr_expect(t->bound_ntfn == w.ntfn && w.ntfn->bound == t);
    notification_signal(w.ntfn, 0x10); /* t is running: the bits wait */
    cr_expect_eq(w.ntfn->pending, 0x10);
    endpoint_send(cap(EP_BADGED), s, true, false);
    endpoint_recv(cap(EP), t, true);
    expect_received(t, RS_OK, rs_msginfo(RS_NOTIFICATION_LABEL, 0, 0, 0), 0x10);
    cr_expect_eq(t->state, TS_RUNNABLE);
    cr_expect_eq(w.ntfn->pending, 0);
    EXPECT_EP_QUEUE(w.ep, EP_SEND, s);
    /* next Recv takes the message */
    endpoint_recv(cap(EP), t, true);
    expect_received(t, RS_OK, s->ctx.rsi, 0xB1);
}

Test(notification, finalise_fails_waiters_and_unbinds)
{
    struct tcb *a = running("a", 10), *b = running("b", 10), *bound = running("bound", 10);
    notification_wait(w.ntfn, a, true);
    notification_wait(w.ntfn, b, true);
    notification_bind(w.ntfn, bound);
    cdt_delete(&w.cn[NTFN]); /* the last cap */
    expect_received(a, RS_PEER_DIED, 0, 0);
    expect_received(b, RS_PEER_DIED, 0, 0);
    cr_expect(a->state == TS_RUNNABLE && b->state == TS_RUNNABLE);
    cr_expect_null(bound->bound_ntfn);
    cr_expect_null(w.ntfn->bound);
    cr_expect_null(w.ntfn->head);
}

Test(notification, suspended_waiter_is_not_woken)
{
    struct tcb *a = running("a", 10), *b = running("b", 10);
    notification_wait(w.ntfn, a, true);
    notification_wait(w.ntfn, b, true);
    tcb_suspend(a);
    cr_expect(w.ntfn->head == b && !b->queue_prev);
    notification_signal(w.ntfn, 3);
    cr_expect_eq(a->state, TS_INACTIVE);
    cr_expect_eq(b->ctx.rdi, 3);
    tcb_suspend(b);
    notification_signal(w.ntfn, 8);
    cr_expect_eq(w.ntfn->pending, 8);
}

/* A destroyed bound thread leaves the notification unbound. */
Test(notification, destroying_bound_thread_unbinds)
{
    struct tcb *t = running("t", 10);
    notification_bind(w.ntfn, t);
    endpoint_recv(cap(EP), t, true);
    tcb_finalise(t);
    cr_expect_null(w.ntfn->bound);
    expect_ep_idle(w.ep);
    notification_signal(w.ntfn, 1);
    cr_expect_eq(t->state, TS_INACTIVE);
    cr_expect_eq(w.ntfn->pending, 1);
}

/* ---- Scheduler --------------------------------------------------------------------------------- */

Test(sched, picks_highest_priority)
{
    cr_expect_null(sched_pick());
    const uint8_t prios[] = {0, 64, 255, 63, 128, 127, 1, 200};
    struct tcb *t[8];
    for (int i = 0; i < 8; i++) {
        char name[8];
        snprintf(name, sizeof(name), "p%u", prios[i]);
        t[i] = running(name, prios[i]);
    }
    /* highest first, across the 64-bit words of the bitmap */
    EXPECT_RUN_QUEUE(t[2], t[7], t[4], t[5], t[1], t[3], t[6], t[0]);
}

Test(sched, round_robin_within_priority_after_time_slice)
{
    struct tcb *a = running("a", 5), *b = running("b", 5), *c = running("c", 5), *low = running("low", 4);
    cur = a;
    for (int i = 1; i < SCHED_TIME_SLICE; i++) {
        sched_tick();
        cr_expect_eq(sched_pick(), a, "tick %d: still a's slice", i);
    }
    sched_tick();
    cr_expect_eq(sched_pick(), b, "a's slice is used up");
    cr_expect_eq(a->time_slice, 0);
    cur = b;
    for (int i = 0; i < SCHED_TIME_SLICE; i++)
        sched_tick();
    cr_expect_eq(sched_pick(), c);
    cur = c;
    for (int i = 0; i < SCHED_TIME_SLICE; i++)
        sched_tick();
    EXPECT_RUN_QUEUE(a, b, c, low);
}

Test(sched, tick_charges_only_a_running_thread)
{
    struct tcb *a = running("a", 5), *b = running("b", 5);
    cur = NULL; /* idle */
    for (int i = 0; i < 2 * SCHED_TIME_SLICE; i++)
        sched_tick();
    cr_expect_eq(sched_pick(), a);
    /* a thread that blocked in this kernel entry is not rotated */
    notification_wait(w.ntfn, a, true);
    cur = a;
    for (int i = 0; i < 2 * SCHED_TIME_SLICE; i++)
        sched_tick();
    cr_expect_eq(a->time_slice, 0);
    EXPECT_RUN_QUEUE(b);
}

Test(sched, set_prio_requeues)
{
    struct tcb *a = running("a", 5), *b = running("b", 5), *blocked = running("blocked", 5);
    notification_wait(w.ntfn, blocked, true);
    sched_set_prio(b, 7);
    cr_expect_eq(b->prio, 7);
    cr_expect_eq(sched_pick(), b);
    sched_set_prio(a, 9);
    cr_expect_eq(sched_pick(), a);
    sched_set_prio(a, 1);
    cr_expect_eq(sched_pick(), b);
    /* a blocked thread is not queued by a priority change, and is queued at its new one later */
    sched_set_prio(blocked, 100);
    cr_expect_eq(sched_pick(), b);
    notification_signal(w.ntfn, 1);
    EXPECT_RUN_QUEUE(blocked, b, a);
}

Test(sched, make_runnable_is_idempotent_and_can_queue_at_head)
{
    struct tcb *a = running("a", 5), *b = running("b", 5);
    sched_make_runnable(a, false);
    sched_make_runnable(a, true);
    struct tcb *c = thread("c", 5);
    sched_make_runnable(c, true);
    cr_expect_eq(c->state, TS_RUNNABLE);
    EXPECT_RUN_QUEUE(c, a, b);
    /* dequeuing a thread that is not queued changes nothing */
    sched_enqueue(a, false);
    sched_dequeue(b);
    EXPECT_RUN_QUEUE(a);
}

Test(sched, exit_kernel_runs_best_thread)
{
    struct tcb *lo = running("lo", 5), *hi = running("hi", 6);
    (void)lo;
    int how;
    RUN(how, sched_exit_kernel());
    cr_assert_eq(how, LEFT_USER);
    cr_expect_eq(fake_restored, &hi->ctx);
    cr_expect_eq(cur, hi);
    cr_expect_eq(cur_ctx_top, (uint64_t)&hi->ctx + CTX_FRAME_END, "entry stack: just past the frame");
    cr_expect_eq(tss.rsp[0], cur_ctx_top);
    cr_expect_eq(arch_cr3, vspace_root_phys(&hi->slots[TCB_SLOT_VSPACE].cap));
}

Test(sched, exit_kernel_idles_with_nothing_to_run)
{
    struct tcb *t = thread("t", 5);
    (void)t;
    int how;
    RUN(how, sched_exit_kernel());
    cr_expect_eq(how, LEFT_IDLE);
    cr_expect_null(cur);
    cr_expect_eq(fake_idle_waits, 1);
}

Test(sched, exit_kernel_stops_thread_without_vspace)
{
    struct tcb *lo = running("lo", 5), *bad = running("novspace", 9);
    bad->slots[TCB_SLOT_VSPACE].cap = cap_null();
    int how;
    RUN(how, sched_exit_kernel());
    cr_assert_eq(how, LEFT_USER);
    cr_expect_eq(fake_restored, &lo->ctx);
    cr_expect_eq(bad->state, TS_INACTIVE);
    cr_expect_neq(strstr(fake_console, "'novspace' has no VSpace"), NULL, "console: %s", fake_console);
    EXPECT_RUN_QUEUE(lo);
}

/* ---- Fast path ---------------------------------------------------------------------------------- */

/* The fast path hands whatever it declines to syscall_slowpath. The test binary is linked with
 * --wrap=syscall_slowpath, so every entry into the slow path is counted here on its way through. */
static int slow_entries;
_Noreturn void __real_syscall_slowpath(struct tcb *t);
_Noreturn void __wrap_syscall_slowpath(struct tcb *t)
{
    slow_entries++;
    __real_syscall_slowpath(t);
}

/* What entry.S does after saving the registers of `cur`. */
static _Noreturn void syscall_entry(void)
{
    if (cur->ctx.rax == RS_SYS_CALL) fastpath_call(cur);
    if (cur->ctx.rax == RS_SYS_REPLY_RECV) fastpath_reply_recv(cur);
    if (cur->ctx.rax == RS_SYS_SEND) fastpath_send(cur);
    syscall_slowpath(cur);
}

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
    cr_expect_eq(cur_ctx_top, (uint64_t)&s->ctx + CTX_FRAME_END);
    cr_expect_eq(tss.rsp[0], cur_ctx_top);
    expect_called(c, s);
    /* the server took the client's place in the queue */
    cr_expect(!c->sched_next && !c->sched_prev);
    EXPECT_RUN_QUEUE(s, x);
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
    int how;             /* how the kernel is left */
    uint8_t c_state;     /* the client's state afterwards */
    uint64_t c_status;   /* its status, when it is runnable */
};

static void long_message(struct tcb *c, struct tcb *s) { (void)s, c->ctx.rsi = rs_msginfo(0x42, 0, 0, 5); }
static void extra_cap(struct tcb *c, struct tcb *s) { (void)s, c->ctx.rsi = rs_msginfo(0x42, 0, 1, 2); }
static void bad_guard(struct tcb *c, struct tcb *s) { (void)s, c->ctx.rdi = EP_BADGED | 1ull << 63; }
static void empty_slot(struct tcb *c, struct tcb *s) { (void)s, c->ctx.rdi = FREE; }
static void ntfn_cap(struct tcb *c, struct tcb *s) { (void)s, c->ctx.rdi = NTFN; }
static void read_only(struct tcb *c, struct tcb *s) { (void)s, c->ctx.rdi = EP_RO; }
static void nobody_waiting(struct tcb *c, struct tcb *s) { (void)s, c->ctx.rdi = EP2; }
static void lower_server(struct tcb *c, struct tcb *s) { (void)c, s->prio = 9; }
static void server_vcpu(struct tcb *c, struct tcb *s) { (void)c, s->vcpu = (struct vcpu *)w.vspace; }
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

static void rr_long_message(struct tcb *c, struct tcb *s) { (void)c, s->ctx.rsi = rs_msginfo(7, 0, 0, 5); }
static void rr_extra_cap(struct tcb *c, struct tcb *s) { (void)c, s->ctx.rsi = rs_msginfo(7, 0, 1, 1); }
static void rr_empty_slot(struct tcb *c, struct tcb *s) { (void)c, s->ctx.rdi = FREE; }
static void rr_write_only(struct tcb *c, struct tcb *s) { (void)c, s->ctx.rdi = EP_WO; }
static void rr_ntfn_cap(struct tcb *c, struct tcb *s) { (void)c, s->ctx.rdi = NTFN; }
static void rr_lower_caller(struct tcb *c, struct tcb *s) { (void)s, c->prio = 9; }
static void rr_caller_vcpu(struct tcb *c, struct tcb *s) { (void)s, c->vcpu = (struct vcpu *)w.vspace; }
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
        o->queue[i] = o->queue[i] == s ? (struct tcb *)1 : o->queue[i] == x ? (struct tcb *)2 : (struct tcb *)3;
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
    cr_expect_eq(cur_ctx_top, (uint64_t)&wt->ctx + CTX_FRAME_END);
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
    for (int fast = 0; fast < 2; fast++) {
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
            queues[fast][i] = queues[fast][i] == wt ? (struct tcb *)1 : queues[fast][i] == s ? (struct tcb *)2 : (struct tcb *)3;
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
static void sig_too_long(struct tcb *s, struct tcb *wt) { (void)wt, s->ctx.rsi = rs_msginfo(0, 0, 0, 121); }
static void sig_read_only(struct tcb *s, struct tcb *wt) { (void)s, (void)wt, w.cn[NTFN].cap.rights = RS_RIGHT_READ; }
static void sig_empty_slot(struct tcb *s, struct tcb *wt) { (void)wt, s->ctx.rdi = FREE; }
static void sig_bad_guard(struct tcb *s, struct tcb *wt) { (void)wt, s->ctx.rdi = NTFN | 1ull << 63; }
static void sig_no_vspace(struct tcb *s, struct tcb *wt) { (void)s, wt->slots[TCB_SLOT_VSPACE].cap = cap_null(); }
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
        {RS_SYS_SEND, FREE, RS_FAILED_LOOKUP},
        {RS_SYS_SEND, EP_RO, RS_INSUFFICIENT_RIGHTS},
        {RS_SYS_RECV, EP_WO, RS_INSUFFICIENT_RIGHTS},
        {RS_SYS_RECV, SELF, RS_INVALID_CAPABILITY},
        {RS_SYS_NBSEND, EP, RS_WOULD_BLOCK},
        {RS_SYS_NBRECV, EP, RS_WOULD_BLOCK},
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
