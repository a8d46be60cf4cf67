// SPDX-License-Identifier: MIT
// Host tests of notifications (kernel/notification.c): signal, wait, poll, binding to a
// thread, and the objects going away.
// The shared world and the fake machine: ipc_fixture.h, fake_arch.c.
#include "ipc_fixture.h"

TestSuite(notification, .init = ipc_setup, .fini = ipc_teardown);

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

/* The same with a long queue, stopped at every preemption point and repeated: the bound TCB
 * stays bound until the last waiter is woken, a waiter suspended meanwhile leaves the queue and
 * is not woken, and the others are runnable in queue order as without stops. */
Test(notification, finalise_of_long_queue_stops_and_carries_on)
{
    enum { N = 48 }; /* the fixture holds 64 allocations */
    static struct tcb *t[N];
    struct tcb *bound = running("bound", 10);
    notification_bind(w.ntfn, bound);
    for (int i = 0; i < N; i++) {
        t[i] = running("q", 10);
        notification_wait(w.ntfn, t[i], true);
    }
    sched_dequeue(bound);
    fake_irq_pending_every = 1;
    int stops = 0;
    while (!cdt_delete_preemptible(&w.cn[NTFN])) {
        if (++stops == 2) tcb_suspend(t[N - 1]);
        cr_assert(cap_is_zombie(&w.cn[NTFN].cap));
        cr_assert_eq(bound->bound_ntfn, w.ntfn, "unbound only once no one waits");
    }
    fake_irq_pending_every = 0;
    cr_expect_geq(stops, N / 8 - 1);
    cr_expect(cap_is_null(&w.cn[NTFN].cap));
    cr_expect_null(w.ntfn->head);
    cr_expect(!bound->bound_ntfn && !w.ntfn->bound);
    cr_expect_eq(t[N - 1]->state, TS_INACTIVE);
    for (int i = 0; i < N - 1; i++) expect_received(t[i], RS_PEER_DIED, 0, 0);
    struct tcb *q[N];
    cr_assert_eq(drain_run_queue(q, N), N - 1);
    for (int i = 0; i < N - 1; i++) cr_expect_eq(q[i], t[i], "run queue position %d", i);
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
