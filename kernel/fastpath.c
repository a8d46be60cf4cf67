// SPDX-License-Identifier: MIT
// The IPC fast path: Call and ReplyRecv with a short message (MR0..MR3 in registers, no caps)
// to a waiting partner of at least our priority, and Signal (Send on a notification) that wakes
// a waiter of higher priority. It switches threads directly, without the
// generic queue and transfer code; anything unusual falls back to the slow path (returns).
#include "fastpath.h"
#include "fastpath_fault.h"
#include "sched.h"
#include "endpoint.h"
#include "notification.h"
#include "cnode.h"
#include "vspace.h"
#include "vcpu.h"
#include "waitqueue.h"
#include "vcpu_prof.h"
#include "arch/x86_64/arch.h"
#include "arch/x86_64/switch.h"
#include <resurgo/msginfo.h>
#include <resurgo/rights.h>

#define FAST_INLINE static inline __attribute__((always_inline))

/* One test for "at most RS_MSG_REG_COUNT words and no extra caps": the length (bits 6-0) and
 * the extra-caps count (bits 8-7) read together as one number (msginfo.h). */
#define FAST_INFO_MASK 0x1FFull

/* True if c is a cap of `type` with `right`: type (byte 0) and rights (byte 1) in one compare. */
FAST_INLINE bool fast_cap_is(const struct cap *c, uint8_t type, uint8_t right)
{
    _Static_assert(__builtin_offsetof(struct cap, rights) == 1,
                   "type and rights are one 16-bit word");
    uint16_t w;
    __builtin_memcpy(&w, c, sizeof w);
    return (w & (0xFF | right << 8)) == (type | right << 8);
}

FAST_INLINE bool fast_lookup(struct tcb *t, uint64_t cptr, struct cap **out)
{
    struct slot *s;
    if (!fastpath_lookup(t, cptr, &s)) return false;
    *out = &s->cap;
    return true;
}

/* `from` blocks and `to`, of the same priority, runs: `to` takes `from`'s run-queue place.
 * `from` is the running thread, so the head of its queue (sched_exit_kernel runs the head of the
 * highest queue, and the fast path leaves into a thread it made a head): its sched_prev is NULL.
 * `to` is blocked, so not queued: its links are NULL. */
FAST_INLINE void fast_switch_queue(struct tcb *from, struct tcb *to)
{
    struct tcb *next = from->sched_next;
    sched_replace_head(to->prio, to);
    if (__builtin_expect(!next, 1)) {
        // from is alone in its queue (the usual case: client and server share a priority and
        // take turns): to is alone in it now, and both threads' links stay NULL
        sched_replace_tail(to->prio, to);
        return;
    }
    // to takes from's node at the head, the bitmap does not change
    to->sched_next = next;
    next->sched_prev = to;
    from->sched_next = NULL;
}

FAST_INLINE void fast_copy_mrs(struct tcb *from, struct tcb *to, uint64_t info, uint64_t badge)
{
    to->ctx.rax = RS_OK;
    to->ctx.rsi = info & ~0xF80ull; // no caps, nothing unwrapped
    to->ctx.rdi = badge;
    // only the words the message has: the rest of the sender's registers are not the receiver's
    uint64_t len = info & 0x7F;
    if (len) {
        to->ctx.rdx = from->ctx.rdx;
        if (len > 1) {
            to->ctx.r8 = from->ctx.r8;
            if (len > 2) {
                to->ctx.r9 = from->ctx.r9;
                if (len > 3) to->ctx.r10 = from->ctx.r10;
            }
        }
    }
}

/* Leaves the kernel into `to`; `pti` (a constant: each fast-path function has a copy for each
 * mode, entered from the matching syscall entry) picks the exit: without PTI straight to the
 * exit's register loads. */
FAST_INLINE _Noreturn void fast_leave(struct tcb *to, bool pti)
{
    cur = to;
    // the physmap offset as one immediate (the compiler would build it with a shift)
    uint64_t phys_off;
    __asm__("movabsq %1, %0" : "=r"(phys_off) : "i"(-PHYSMAP_BASE));
    arch_switch_thread_in(&to->ctx, to->slots[TCB_SLOT_VSPACE].cap.obj + phys_off, pti);
    if (pti) arch_restore_user(&to->ctx);
    arch_restore_user_nopti(&to->ctx);
}

/* The run-queue work that takes sched.c's calls (a priority change: `from` leaves its queue,
 * `to` goes to the head of its own; a woken waiter to the tail), then fast_leave. Out of line
 * and never returning, so that the fast path itself makes no call that returns and needs no
 * frame or saved registers. */
static __attribute__((noinline)) _Noreturn void fast_requeue_leave(struct tcb *from, struct tcb *to)
{
    sched_dequeue(from);
    sched_enqueue(to, true);
    fast_leave(to, pti_enabled);
}
static __attribute__((noinline)) _Noreturn void fast_enqueue_leave(struct tcb *to)
{
    sched_enqueue(to, false);
    fast_leave(to, pti_enabled);
}

/* Call, once its checks passed: delivers to the receiver r at the head of ep's queue and
 * leaves into it. `same_prio` (a constant) picks the run-queue work: the caller tests the
 * priorities once and has a copy of this for each case. */
FAST_INLINE _Noreturn void fast_call_deliver(struct tcb *t, struct tcb *r, struct endpoint *ep,
                                             uint64_t info, uint64_t badge, bool pti,
                                             bool same_prio)
{
    // r is the head of the receive queue: unlink it
    struct tcb *next = r->queue_next;
    ep->head = next;
    if (next) next->queue_prev = NULL, r->queue_next = NULL; // (its queue_prev is NULL: head)
    else ep->tail = NULL, ep->state = EP_IDLE;
    r->blocked_on = NULL;
    fast_copy_mrs(t, r, info, badge);
    t->state = TS_BLOCKED_REPLY;
    t->replier = r;
    r->reply_to = t;
    r->state = TS_RUNNABLE;
    if (!same_prio) fast_requeue_leave(t, r);
    fast_switch_queue(t, r);
    fast_leave(r, pti);
}

FAST_INLINE _Noreturn void fast_call(struct tcb *t, bool pti)
{
    uint64_t info = t->ctx.rsi;
    if ((info & FAST_INFO_MASK) > RS_MSG_REG_COUNT) syscall_slowpath(t);
    struct cap *c;
    if (!fast_lookup(t, t->ctx.rdi, &c) || !fast_cap_is(c, RS_CAP_ENDPOINT, RS_RIGHT_WRITE))
        syscall_slowpath(t);
    struct endpoint *ep = (struct endpoint *)c->obj;
    if (ep->state != EP_RECV) syscall_slowpath(t);
    struct tcb *r = ep->head;
    if (((uintptr_t)r->reply_to | (uintptr_t)r->vcpu) ||
        r->slots[TCB_SLOT_VSPACE].cap.type != RS_CAP_VSPACE)
        syscall_slowpath(t);
    // one priority test on the usual path (equal priorities)
    if (__builtin_expect(r->prio != t->prio, 0)) {
        if (r->prio < t->prio) syscall_slowpath(t);
        fast_call_deliver(t, r, ep, info, c->w1, pti, false);
    }
    fast_call_deliver(t, r, ep, info, c->w1, pti, true);
}

/* ReplyRecv, once its checks passed: replies to `caller`, blocks t on ep and leaves into the
 * caller; `same_prio` as for fast_call_deliver. */
FAST_INLINE _Noreturn void fast_reply_recv_deliver(struct tcb *t, struct tcb *caller,
                                                   struct endpoint *ep, uint64_t info, bool pti,
                                                   bool same_prio)
{
    t->reply_to = NULL;
    caller->replier = NULL;
    fast_copy_mrs(t, caller, info, 0);
    caller->state = TS_RUNNABLE;
    // block t on the endpoint as a receiver
    struct tcb *tail = ep->tail;
    t->state = TS_BLOCKED_RECV;
    t->blocked_on = ep;
    t->queue_prev = tail; // (its queue_next is NULL: t ran, so it was in no queue)
    if (tail) tail->queue_next = t;
    else ep->head = t;
    ep->tail = t;
    ep->state = EP_RECV;
    if (!same_prio) fast_requeue_leave(t, caller);
    fast_switch_queue(t, caller);
    fast_leave(caller, pti);
}

/* The exit fast path's other half: a VMM's ReplyRecv answering a vCPU exit. It does what the
 * slow path does (endpoint_reply, whose tcb_fault_reply hands an exit's reply to
 * vcpu_exit_reply, then handle_recv and endpoint_recv) without the dispatch and the generic
 * steps. Every check comes before any change, so a declined case reaches the slow path
 * untouched: a bound notification with bits pending (Recv returns those), a sender waiting on
 * the endpoint (Recv takes it at once), a lookup the slow path must report. The reply's length
 * and caps are vcpu_exit_reply's business (it reads what it needs; no cap goes to a vCPU). Out
 * of line: it calls functions that return. The vCPU thread (runnable again, at the head of its
 * queue unless its slice is spent) runs next: when nothing above it is runnable (the usual
 * case: its VMM was the thread running) it runs its guest at once, else through
 * sched_exit_kernel's pick. */
static __attribute__((noinline)) _Noreturn void fast_vcpu_reply_recv(struct tcb *t,
                                                                     struct tcb *caller)
{
    if (caller->fault.type != RS_FAULT_VCPU_EXIT) fastpath_fault_reply_recv(t); // (a pager's)
    struct notification *bound = t->bound_ntfn;
    if (caller->fault.type != RS_FAULT_VCPU_EXIT || (bound && bound->pending)) syscall_slowpath(t);
    struct cap *c;
    if (!fast_lookup(t, t->ctx.rdi, &c) || !fast_cap_is(c, RS_CAP_ENDPOINT, RS_RIGHT_READ))
        syscall_slowpath(t);
    struct endpoint *ep = (struct endpoint *)c->obj;
    if (ep->state == EP_SEND) syscall_slowpath(t);
    t->reply_to = NULL;
    caller->replier = NULL;
    bool resume = vcpu_exit_apply(caller, t); // (false: the vCPU thread stays stopped, label != 0)
    t->state = TS_BLOCKED_RECV;
    ep->state = EP_RECV;
    waitqueue_append(&ep->head, &ep->tail, t, ep);
    if (__builtin_expect(resume && caller->time_slice < SCHED_TIME_SLICE, 1)) {
        // sched_resume_turn's usual case (at the head of its queue) with t's dequeue: when the
        // vCPU thread runs next, straight into its guest, as sched_exit_kernel's next round would
        caller->state = TS_RUNNABLE;
        if (sched_hand_over(t, caller)) {
            VCPU_PROF(5);
            cur = caller;
            vcpu_run(caller); // (leaves the kernel into the VMM when the next exit goes to it)
        }
        sched_exit_kernel();
    }
    if (resume) sched_resume_turn(caller);
    sched_dequeue(t); // t was running: the head of its queue
    sched_exit_kernel();
}

FAST_INLINE _Noreturn void fast_reply_recv(struct tcb *t, bool pti)
{
    uint64_t info = t->ctx.rsi;
    struct tcb *caller = t->reply_to;
    if (!caller) syscall_slowpath(t);
    if (caller->in_fault_ipc) {
        VCPU_PROF(4);
        fast_vcpu_reply_recv(t, caller);
    }
    if ((info & FAST_INFO_MASK) > RS_MSG_REG_COUNT) syscall_slowpath(t);
    if (((uintptr_t)caller->vcpu | (uintptr_t)t->bound_ntfn) ||
        caller->slots[TCB_SLOT_VSPACE].cap.type != RS_CAP_VSPACE)
        syscall_slowpath(t);
    struct cap *c;
    if (!fast_lookup(t, t->ctx.rdi, &c) || !fast_cap_is(c, RS_CAP_ENDPOINT, RS_RIGHT_READ))
        syscall_slowpath(t);
    struct endpoint *ep = (struct endpoint *)c->obj;
    if (ep->state == EP_SEND) syscall_slowpath(t); // a sender waits: the slow path takes it now
    if (__builtin_expect(caller->prio != t->prio, 0)) {
        if (caller->prio < t->prio) syscall_slowpath(t);
        fast_reply_recv_deliver(t, caller, ep, info, pti, false);
    }
    fast_reply_recv_deliver(t, caller, ep, info, pti, true);
}

FAST_INLINE _Noreturn void fast_send(struct tcb *t)
{
    // Signal: a notification's first waiter wakes with badge | pending (the slow path's
    // notification_signal); here only when it runs above us, so that it runs at once
    if ((t->ctx.rsi & 0x7F) > RS_MSG_MAX_LENGTH)
        syscall_slowpath(t); // its error is the slow path's
    struct cap *c;
    if (!fast_lookup(t, t->ctx.rdi, &c) || !fast_cap_is(c, RS_CAP_NOTIFICATION, RS_RIGHT_WRITE))
        syscall_slowpath(t);
    struct notification *n = (struct notification *)c->obj;
    struct tcb *w = n->head;
    // w above the running thread (the highest runnable) finds its queue empty and runs next;
    // the queue test only guards that reasoning
    if (!w || w->prio <= t->prio || w->vcpu ||
        w->slots[TCB_SLOT_VSPACE].cap.type != RS_CAP_VSPACE || sched_queue_head[w->prio])
        syscall_slowpath(t);

    struct tcb *next = w->queue_next;
    n->head = next;
    if (next) next->queue_prev = NULL;
    else n->tail = NULL;
    w->queue_next = NULL;
    w->blocked_on = NULL;
    w->ctx.rax = RS_OK;
    w->ctx.rsi = 0;
    w->ctx.rdi = c->w1 | n->pending;
    n->pending = 0;
    w->state = TS_RUNNABLE;
    t->ctx.rax = RS_OK;    // t stays runnable at the head of its own queue
    fast_enqueue_leave(w); // notification waiters wake at the tail (ipc.md)
}

_Noreturn void fastpath_call(struct tcb *t) { fast_call(t, false); }
_Noreturn void fastpath_reply_recv(struct tcb *t) { fast_reply_recv(t, false); }
_Noreturn void fastpath_send(struct tcb *t) { fast_send(t); }
_Noreturn void fastpath_call_pti(struct tcb *t) { fast_call(t, true); }
_Noreturn void fastpath_reply_recv_pti(struct tcb *t) { fast_reply_recv(t, true); }
