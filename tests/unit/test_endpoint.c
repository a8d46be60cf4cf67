// SPDX-License-Identifier: MIT
// Host tests of endpoints (kernel/endpoint.c): rendezvous and queues, Call and Reply, peers
// going away, cap transfer.
// The shared world and the fake machine: ipc_fixture.h, fake_arch.c.
#include "ipc_fixture.h"
#include "waitqueue.h"

TestSuite(endpoint, .init = ipc_setup, .fini = ipc_teardown);

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
    for (unsigned i = 0; i < RS_MSG_MAX_LENGTH; i++) sb->mr[i] = 0x1000 + i;
    set_msg(s, 3, 6, 1, 2, 3, 4);
    endpoint_recv(cap(EP), r, true);
    endpoint_send(cap(EP), s, true, false);
    expect_received(r, RS_OK, rs_msginfo(3, 0, 0, 6), 0);
    expect_mrs(r, 1, 2, 3, 4);
    cr_expect(rb->mr[4] == 0x1004 && rb->mr[5] == 0x1005 && rb->mr[6] == 0,
              "MR4..5 by buffer, no more");
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

/* The same with a long queue, stopped at every preemption point (every 8 wake-ups) and repeated:
 * the slot is a zombie meanwhile and the queue shrinks from its head; in the end each thread
 * got RS_PEER_DIED and they are runnable in queue order, as without stops. A thread waiting on a
 * fault reply goes back to inactive as before. */
Test(endpoint, deleting_last_cap_of_long_queue_stops_and_carries_on)
{
    enum { N = 48 }; /* the fixture holds 64 allocations */
    static struct tcb *t[N];
    for (int i = 0; i < N; i++) {
        t[i] = running("q", 10);
        endpoint_recv(cap(EP2), t[i], true);
    }
    sched_dequeue(t[N - 1]); /* the last one as a faulted thread waiting to be received */
    endpoint_dequeue(w.ep2, t[N - 1]);
    t[N - 1]->state = TS_BLOCKED_SEND;
    t[N - 1]->in_fault_ipc = 1;
    w.ep2->state = EP_RECV;
    waitqueue_append(&w.ep2->head, &w.ep2->tail, t[N - 1], w.ep2);
    fake_irq_pending_every = 1;
    int stops = 0;
    while (!cdt_delete_preemptible(&w.cn[EP2])) {
        stops++;
        cr_assert(cap_is_zombie(&w.cn[EP2].cap));
        /* (it may stop after the last wake-up: the repeat then only finalises) */
        if (!w.ep2->head) continue;
        cr_assert_eq(w.ep2->head->state, TS_BLOCKED_RECV, "the queue goes from its head");
        cr_assert_eq(t[N - 1]->state, TS_BLOCKED_SEND, "the tail stays queued until its turn");
    }
    fake_irq_pending_every = 0;
    cr_expect_geq(stops, N / 8 - 1);
    cr_assert_eq(t[N - 1]->state, TS_INACTIVE);
    cr_expect(cap_is_null(&w.cn[EP2].cap));
    expect_ep_idle(w.ep2);
    for (int i = 0; i < N - 1; i++) expect_received(t[i], RS_PEER_DIED, 0, 0);
    cr_expect(t[N - 1]->state == TS_INACTIVE && !t[N - 1]->in_fault_ipc);
    struct tcb *q[N];
    cr_assert_eq(drain_run_queue(q, N), N - 1);
    for (int i = 0; i < N - 1; i++) cr_expect_eq(q[i], t[i], "run queue position %d", i);
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
    struct tcb *a = running("a", 10), *b = running("b", 10), *c = running("c", 10),
               *r = running("r", 10);
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
