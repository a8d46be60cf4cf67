// SPDX-License-Identifier: MIT
// Notifications: Signal ORs a badge into the pending word or wakes one waiter; Wait takes the
// word or blocks; a TCB bound to a notification also wakes from an endpoint Recv.
#include "notification.h"
#include "endpoint.h"
#include "sched.h"
#include "waitqueue.h"

static void deliver(struct tcb *t, uint64_t bits, uint64_t label)
{
    ipc_set_received(t, label ? rs_msginfo(label, 0, 0, 0) : 0, bits);
    sched_make_runnable(t, false);
}

void notification_signal(struct notification *n, uint64_t badge)
{
    if (n->head) {
        struct tcb *t = n->head;
        notification_dequeue(n, t);
        deliver(t, badge | n->pending, 0);
        n->pending = 0;
        return;
    }
    struct tcb *b = n->bound;
    if (b && b->state == TS_BLOCKED_RECV && b->blocked_on) {
        endpoint_dequeue(b->blocked_on, b);
        deliver(b, badge | n->pending, RS_NOTIFICATION_LABEL_KERNEL);
        n->pending = 0;
        return;
    }
    n->pending |= badge;
}

void notification_wait(struct notification *n, struct tcb *t, bool blocking)
{
    if (n->pending || !blocking) {
        ipc_set_received(t, 0, n->pending);
        n->pending = 0;
        return;
    }
    sched_dequeue(t);
    t->state = TS_BLOCKED_NTFN;
    waitqueue_append(&n->head, &n->tail, t, n);
}

void notification_dequeue(struct notification *n, struct tcb *t)
{
    waitqueue_remove(&n->head, &n->tail, t);
}

bool notification_cancel_one(struct notification *n)
{
    struct tcb *t = n->head;
    if (!t) return false;
    notification_dequeue(n, t);
    tcb_fail_syscall(t, RS_PEER_DIED);
    return true;
}

void notification_finalise(struct notification *n)
{
    while (notification_cancel_one(n)) {
    }
    notification_unbind(n);
}

void notification_bind(struct notification *n, struct tcb *t)
{
    n->bound = t;
    t->bound_ntfn = n;
}

void notification_unbind(struct notification *n)
{
    if (n->bound) n->bound->bound_ntfn = NULL;
    n->bound = NULL;
}

bool notification_take_bound(struct tcb *t)
{
    struct notification *n = t->bound_ntfn;
    if (!n || !n->pending) return false;
    ipc_set_received(t, rs_msginfo(RS_NOTIFICATION_LABEL_KERNEL, 0, 0, 0), n->pending);
    n->pending = 0;
    return true;
}
