// SPDX-License-Identifier: MIT
// Endpoints: rendezvous of a sender and a receiver, Call's implicit reply, and message transfer
// (registers, IPC buffer words, and at most one granted cap plus unwrapped badges).
#include "endpoint.h"
#include "fastpath.h"
#include "notification.h"
#include "sched.h"
#include "cnode.h"
#include "cdt.h"
#include "console.h"
#include "vcpu.h"
#include "msgreg.h"
#include "waitqueue.h"
#include <resurgo/ipcbuf.h>
#include <resurgo/fault.h>
#include <resurgo/rights.h>

static void queue_append(struct endpoint *ep, struct tcb *t)
{
    waitqueue_append(&ep->head, &ep->tail, t, ep);
}

void endpoint_dequeue(struct endpoint *ep, struct tcb *t)
{
    waitqueue_remove(&ep->head, &ep->tail, t);
    if (!ep->head) ep->state = EP_IDLE;
}

void ipc_set_received(struct tcb *r, uint64_t info, uint64_t badge)
{
    r->ctx.rax = RS_OK;
    r->ctx.rsi = info;
    r->ctx.rdi = badge;
}

/* Moves at most one cap (and any number of unwrapped badges) from s's IPC buffer to r's receive
 * slot. Stops at the first cap that cannot be looked up or placed, as seL4 does. */
static unsigned transfer_caps(struct tcb *s, struct tcb *r, struct endpoint *ep, unsigned count,
                              struct rs_ipc_buffer *sb, struct rs_ipc_buffer *rb,
                              unsigned *unwrapped)
{
    unsigned done = 0;
    bool placed = false;
    for (; done < count; done++) {
        struct slot *src;
        if (!fastpath_lookup(s, sb->caps_or_badges[done], &src))
            src = cspace_lookup_slot(s, sb->caps_or_badges[done], 64, NULL);
        if (!src || cap_is_null(&src->cap)) break;
        struct cap *c = &src->cap;
        if (c->type == RS_CAP_ENDPOINT && (struct endpoint *)c->obj == ep) {
            rb->caps_or_badges[done] = cap_badge(c); // unwrapped: the receiver learns the badge
            *unwrapped |= 1u << done;
            continue;
        }
        if (placed || rb->receive_depth == 0) break;
        struct slot *dst =
            cspace_lookup_slot_in(r, rb->receive_cnode, rb->receive_index, rb->receive_depth);
        if (!dst || !cap_is_null(&dst->cap)) break;
        struct cap derived;
        if (cap_derive(c, &derived) != RS_OK) break;
        dst->cap = derived;
        cdt_insert(src, dst);
        placed = true;
    }
    return done;
}

uint64_t ipc_transfer(struct tcb *s, struct tcb *r, struct endpoint *ep, bool can_grant)
{
    uint64_t label;
    unsigned len, caps = 0, unwrapped = 0;
    struct rs_ipc_buffer *rb = tcb_ipc_buffer(r);
    if (s->in_fault_ipc) {
        // a fault message is built from the fault record, not from the faulting thread's MRs
        label = s->fault.type;
        len = 5;
        uint64_t regs[(int)RS_EXIT_MR_COUNT > (int)RS_REG_COUNT ? (int)RS_EXIT_MR_COUNT
                                                                : (int)RS_REG_COUNT];
        const uint64_t *src = s->fault.w;
        if (s->fault.type == RS_FAULT_UNKNOWN_SYSCALL) {
            len = RS_REG_COUNT;
            tcb_get_regs(s, regs);
            src = regs;
        } else if (s->fault.type == RS_FAULT_VCPU_EXIT && rb && s->vcpu) {
            // built from the guest's state (the same every time), words 0-3 straight into the
            // receiver's registers and the rest into its buffer (tools/bench.sh vmexit)
            _Static_assert(RS_EXIT_MR_COUNT <= RS_MSG_MAX_LENGTH, "an exit fits the buffer");
            return rs_msginfo(label, 0, 0, vcpu_exit_message_to(s, r, rb));
        } else if (s->fault.type == RS_FAULT_VCPU_EXIT) {
            len = vcpu_exit_message(s, regs); // no buffer: the first 4 words only (below)
            src = regs;
        }
        if (!rb && len > RS_MSG_REG_COUNT) len = RS_MSG_REG_COUNT;
        for (unsigned i = 0; i < len && i < RS_MSG_REG_COUNT; i++) *msgreg_cpu(r, i) = src[i];
        for (unsigned i = RS_MSG_REG_COUNT; i < len; i++) rb->mr[i] = src[i]; // rb: checked above
        return rs_msginfo(label, 0, 0, len);
    }
    uint64_t info = s->ctx.rsi;
    struct rs_ipc_buffer *sb = tcb_ipc_buffer(s);
    label = rs_msginfo_label(info);
    len = rs_msginfo_length(info);
    if (len > RS_MSG_MAX_LENGTH) len = RS_MSG_MAX_LENGTH;
    if (len > RS_MSG_REG_COUNT && (!sb || !rb)) len = RS_MSG_REG_COUNT;
    for (unsigned i = 0; i < len && i < RS_MSG_REG_COUNT; i++)
        *msgreg_cpu(r, i) = *msgreg_cpu(s, i);
    for (unsigned i = RS_MSG_REG_COUNT; i < len; i++) rb->mr[i] = sb->mr[i];
    unsigned extra = rs_msginfo_extra_caps(info);
    if (extra && can_grant && sb && rb) caps = transfer_caps(s, r, ep, extra, sb, rb, &unwrapped);
    return rs_msginfo(label, unwrapped, caps, len);
}

/* After a Call (or a fault) reached receiver r: s waits for r's reply. */
static void become_caller(struct tcb *s, struct tcb *r)
{
    if (r->reply_to) endpoint_drop_reply(r);
    s->state = TS_BLOCKED_REPLY;
    s->replier = r;
    r->reply_to = s;
}

void endpoint_send(struct cap *c, struct tcb *t, bool blocking, bool is_call)
{
    struct endpoint *ep = (struct endpoint *)c->obj;
    bool grant = (c->rights & RS_RIGHT_GRANT) != 0;
    if (ep->state == EP_RECV) {
        struct tcb *r = ep->head;
        endpoint_dequeue(ep, r);
        ipc_set_received(r, ipc_transfer(t, r, ep, grant), cap_badge(c));
        if (is_call || t->in_fault_ipc) {
            sched_dequeue(t);
            become_caller(t, r);
            sched_make_runnable(r, true); // the caller waits: the server runs next
        } else {
            t->ctx.rax = RS_OK;
            sched_make_runnable(r, false);
        }
        return;
    }
    if (!blocking) {
        t->ctx.rax = RS_WOULD_BLOCK;
        return;
    }
    sched_dequeue(t);
    t->state = TS_BLOCKED_SEND;
    t->send_badge = cap_badge(c);
    t->send_can_grant = grant;
    t->send_is_call = is_call;
    ep->state = EP_SEND;
    queue_append(ep, t);
}

void endpoint_recv(struct cap *c, struct tcb *t, bool blocking)
{
    struct endpoint *ep = (struct endpoint *)c->obj;
    if (t->reply_to) endpoint_drop_reply(t);
    if (notification_take_bound(t)) return;
    if (ep->state == EP_SEND) {
        struct tcb *s = ep->head;
        endpoint_dequeue(ep, s);
        ipc_set_received(t, ipc_transfer(s, t, ep, s->send_can_grant), s->send_badge);
        if (s->send_is_call || s->in_fault_ipc) {
            become_caller(s, t);
        } else {
            s->ctx.rax = RS_OK;
            sched_make_runnable(s, false);
        }
        return;
    }
    if (!blocking) {
        t->ctx.rax = RS_WOULD_BLOCK;
        t->ctx.rdi = 0;
        return;
    }
    sched_dequeue(t);
    t->state = TS_BLOCKED_RECV;
    ep->state = EP_RECV;
    queue_append(ep, t);
}

void endpoint_reply(struct tcb *t)
{
    struct tcb *caller = t->reply_to;
    if (!caller) return;
    t->reply_to = NULL;
    caller->replier = NULL;
    if (caller->in_fault_ipc) {
        tcb_fault_reply(caller, t);
        return;
    }
    // Caps travel back only if the caller asked for them by setting up a receive slot.
    ipc_set_received(caller, ipc_transfer(t, caller, NULL, true), 0);
    sched_make_runnable(caller, true);
}

void endpoint_drop_reply(struct tcb *t)
{
    struct tcb *caller = t->reply_to;
    if (!caller) return;
    t->reply_to = NULL;
    caller->replier = NULL;
    if (caller->in_fault_ipc && caller->fault.type == RS_FAULT_VCPU_EXIT) {
        // the guest did not change: its exit goes to whoever receives on the endpoint next
        vcpu_exit_redeliver(caller);
        return;
    }
    if (caller->in_fault_ipc) {
        // a fault handler that drops the fault leaves the thread stopped
        caller->in_fault_ipc = 0;
        caller->state = TS_INACTIVE;
        return;
    }
    tcb_fail_syscall(caller, RS_PEER_DIED);
}

bool endpoint_cancel_one(struct endpoint *ep)
{
    struct tcb *t = ep->head;
    if (!t) return false;
    endpoint_dequeue(ep, t);
    if (t->in_fault_ipc) {
        t->in_fault_ipc = 0;
        t->state = TS_INACTIVE;
    } else {
        tcb_fail_syscall(t, RS_PEER_DIED);
    }
    return true;
}

void endpoint_finalise(struct endpoint *ep)
{
    while (endpoint_cancel_one(ep)) {
    }
}
