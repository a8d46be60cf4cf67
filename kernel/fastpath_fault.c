// SPDX-License-Identifier: MIT
// The fault fast path: a user fault (a page fault, any CPU exception) goes from the trap straight
// to a handler waiting on the thread's fault endpoint, and the handler's ReplyRecv that resumes
// the thread goes straight back to it; both without the generic endpoint, transfer and scheduler
// code. Each does exactly what the general path (tcb_raise_fault and endpoint_send; endpoint_reply,
// tcb_fault_reply and endpoint_recv) would, and declines (returns, having changed nothing)
// whenever that would differ or needs more than this: the general path then runs as before.
#include "fastpath.h"
#include "fastpath_fault.h"
#include "sched.h"
#include "endpoint.h"
#include "notification.h"
#include "waitqueue.h"
#include "arch/x86_64/arch.h"
#include "arch/x86_64/switch.h"
#include <resurgo/fault.h>
#include <resurgo/ipcbuf.h>
#include <resurgo/msginfo.h>
#include <resurgo/rights.h>

/* Leaves the kernel into `to`, which the run queue already has at the head of the highest
 * non-empty queue (what sched_exit_kernel's pick would find). */
static inline __attribute__((always_inline)) _Noreturn void fault_leave(struct tcb *to)
{
    cur = to;
    arch_switch_thread(&to->ctx, VIRT_TO_PHYS(to->slots[TCB_SLOT_VSPACE].cap.obj));
    if (pti_enabled) arch_restore_user(&to->ctx);
    arch_restore_user_nopti(&to->ctx);
}

/* `from` (running, so the head of its queue) blocks and `to` (blocked, in no run queue), of the
 * same priority, takes its place at the head: what sched_dequeue(from) and
 * sched_enqueue(to, true) do when the priorities are equal. */
static inline __attribute__((always_inline)) void fault_switch_queue(struct tcb *from,
                                                                     struct tcb *to)
{
    struct tcb *next = from->sched_next;
    sched_replace_head(to->prio, to);
    if (!next) {
        sched_replace_tail(to->prio, to);
        return;
    }
    to->sched_next = next;
    next->sched_prev = to;
    from->sched_next = NULL;
}

void fastpath_fault(struct tcb *t)
{
    // tcb_raise_fault's send as a Call on the fault endpoint, taken here only when a handler
    // waits (EP_RECV) with no reply pending (become_caller would drop it), runs no guest, has an
    // address space, and has at least the thread's priority (it runs next)
    const struct cap *c = &t->slots[TCB_SLOT_FAULT_EP].cap;
    if (c->type != RS_CAP_ENDPOINT) return;
    struct endpoint *ep = (struct endpoint *)c->obj;
    if (ep->state != EP_RECV) return;
    struct tcb *r = ep->head;
    if (((uintptr_t)r->reply_to | (uintptr_t)r->vcpu) ||
        r->slots[TCB_SLOT_VSPACE].cap.type != RS_CAP_VSPACE || r->prio < t->prio)
        return;

    // the handler leaves the endpoint's queue (it is the head)
    struct tcb *next = r->queue_next;
    ep->head = next;
    if (next) next->queue_prev = NULL, r->queue_next = NULL;
    else ep->tail = NULL, ep->state = EP_IDLE;
    r->blocked_on = NULL;

    // the fault message (ipc_transfer's for a fault record): 5 words, MR0..MR3 in registers,
    // the last in the handler's IPC buffer; without a buffer only the first 4
    _Static_assert(RS_MSG_REG_COUNT == 4, "MR0..MR3 in rdx, r8, r9, r10 (msgreg.h)");
    const uint64_t *w = t->fault.w;
    struct rs_ipc_buffer *rb = tcb_ipc_buffer(r);
    unsigned len = 4;
    if (rb) {
        rb->mr[4] = w[4];
        len = 5;
    }
    r->ctx.rdx = w[0];
    r->ctx.r8 = w[1];
    r->ctx.r9 = w[2];
    r->ctx.r10 = w[3];
    r->ctx.rax = RS_OK;
    r->ctx.rsi = rs_msginfo(t->fault.type, 0, 0, len);
    r->ctx.rdi = cap_badge(c);

    // the thread waits for the reply (become_caller)
    t->in_fault_ipc = 1;
    t->state = TS_BLOCKED_REPLY;
    t->replier = r;
    r->reply_to = t;
    r->state = TS_RUNNABLE;
    if (r->prio != t->prio) { // above the thread: the head of its own queue
        sched_dequeue(t);
        sched_enqueue(r, true);
    } else {
        fault_switch_queue(t, r);
    }
    fault_leave(r);
}

void fastpath_fault_reply_recv(struct tcb *t)
{
    // endpoint_reply to a thread in a fault IPC (not a vCPU exit, not an unknown syscall, whose
    // replies may set every register), label 0 (else the thread stays stopped)
    struct tcb *caller = t->reply_to;
    if (!caller || !caller->in_fault_ipc) return;
    unsigned type = caller->fault.type;
    if (type != RS_FAULT_VM && type != RS_FAULT_USER_EXCEPTION) return;
    // a thread given a vCPU or left without an address space meanwhile: sched_exit_kernel's
    if (caller->vcpu || caller->slots[TCB_SLOT_VSPACE].cap.type != RS_CAP_VSPACE) return;
    uint64_t info = t->ctx.rsi;
    if (rs_msginfo_label(info) != 0) return;
    // then endpoint_recv on an endpoint cap with the read right where no sender waits and no
    // bound notification has bits (Recv would return at once): the handler blocks
    struct notification *bound = t->bound_ntfn;
    if (bound && bound->pending) return;
    struct slot *s;
    if (!fastpath_lookup(t, t->ctx.rdi, &s) || s->cap.type != RS_CAP_ENDPOINT ||
        !(s->cap.rights & RS_RIGHT_READ))
        return;
    struct endpoint *ep = (struct endpoint *)s->cap.obj;
    if (ep->state == EP_SEND) return;

    // tcb_fault_reply: the reply sets at most RIP and RSP (MR0, MR1: registers); a RIP, RSP or
    // TLS base outside user space makes it ignore the reply's registers as a whole
    unsigned len = rs_msginfo_length(info);
    if (len) {
        uint64_t rip = t->ctx.rdx, rsp = len > 1 ? t->ctx.r8 : caller->ctx.rsp;
        if (rip < USER_TOP && rsp <= USER_TOP && caller->ctx.fs_base < USER_TOP) {
            caller->ctx.rip = rip;
            caller->ctx.rsp = rsp;
            // as set_regs: only the arithmetic flags, TF and DF are the user's; IF is on; the
            // thread leaves by iret (every register matters)
            caller->ctx.rflags = (caller->ctx.rflags & 0xDD5) | 0x202;
            caller->ctx.vector = 0;
        }
    }
    t->reply_to = NULL;
    caller->replier = NULL;
    caller->in_fault_ipc = 0;
    caller->fault.type = RS_FAULT_NONE;
    caller->state = TS_RUNNABLE;

    t->state = TS_BLOCKED_RECV;
    ep->state = EP_RECV;
    waitqueue_append(&ep->head, &ep->tail, t, ep);
    if (caller->prio == t->prio && !t->sched_next) {
        // t alone in its queue: the caller, queued at its tail (tcb_fault_reply), is then alone
        // there too, so it is the one sched_exit_kernel would pick
        sched_replace_head(t->prio, caller);
        sched_replace_tail(t->prio, caller);
        fault_leave(caller);
    }
    sched_enqueue(caller, false);
    sched_dequeue(t);
    sched_exit_kernel();
}
