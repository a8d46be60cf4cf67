// SPDX-License-Identifier: MIT
// Running a vCPU's guest when the scheduler picks its thread, and its exits: each becomes a Call
// from that thread on the exit endpoint, and the VMM's reply resumes the guest. The guest's state
// changes only through that reply (or an explicit WriteState), so an exit whose VMM went away is
// queued again for the next VMM.
#include "vcpu.h"
#include "guestspace.h"
#include "tcb.h"
#include "msgreg.h"
#include "sched.h"
#include "endpoint.h"
#include "console.h"
#include "waitqueue.h"
#include "arch/x86_64/fpu.h"
#include <resurgo/ipcbuf.h>

/* Stops a vCPU thread whose binding cannot serve it (the thread stays bound). */
static void stop(struct tcb *t, const char *why)
{
    kprintf("vcpu: thread '%s' %s; stopped\n", t->name, why);
    sched_dequeue(t);
    t->state = TS_INACTIVE;
    t->in_fault_ipc = 0;
    t->fault.type = RS_FAULT_NONE;
}

/* Words RS_EXIT_MR_RFLAGS .. len-1 of v's exit message into w (the four before travel in
 * registers). Each reason's words are a prefix of the layout (exit ABI 2), so only the length
 * decides what is written: the port I/O exit's four buffer words are the usual case. */
static inline void exit_words_tail(struct vcpu *v, uint64_t *w, unsigned len)
{
    const struct vcpu_exit *e = &v->exit;
    w[RS_EXIT_MR_RFLAGS] = e->rflags;
    w[RS_EXIT_MR_SEG] = vcpu_backend->exit_seg ? vcpu_backend->exit_seg(v) : 0;
    w[RS_EXIT_MR_SEQ] = v->exits;
    w[RS_EXIT_MR_RAX] = v->gpr[RS_GPR_RAX];
    if (len <= RS_EXIT_LEN_BASE) return;
    w[RS_EXIT_MR_RCX] = v->gpr[RS_GPR_RCX];
    w[RS_EXIT_MR_RDX] = v->gpr[RS_GPR_RDX];
    w[RS_EXIT_MR_RBX] = v->gpr[RS_GPR_RBX];
    if (len <= RS_EXIT_LEN_CPUID) return;
        // in x86 order, as v->gpr; unrolled
#pragma GCC unroll 12
    for (unsigned i = RS_GPR_RSP; i < RS_GPR_COUNT; i++) w[RS_EXIT_MR_GPR + i] = v->gpr[i];
    w[RS_EXIT_MR_CR0] = e->cr0;
    w[RS_EXIT_MR_CR3] = e->cr3;
    w[RS_EXIT_MR_CR4] = e->cr4;
    w[RS_EXIT_MR_EFER] = e->efer;
    if (len <= RS_EXIT_LEN_MSR) return;
    w[RS_EXIT_MR_GPA] = e->gpa;
    w[RS_EXIT_MR_EVENT] = e->event;
    w[RS_EXIT_MR_RAW_REASON] = e->raw_reason;
    w[RS_EXIT_MR_RAW_QUAL] = e->raw_qual;
    if (vcpu_backend->exit_bases) vcpu_backend->exit_bases(v, &w[RS_EXIT_MR_CS_SS_BASE]);
    else
        for (unsigned i = RS_EXIT_MR_CS_SS_BASE; i < RS_EXIT_MR_COUNT; i++) w[i] = 0;
}

unsigned vcpu_exit_message_to(struct tcb *t, struct tcb *r, struct rs_ipc_buffer *rb)
{
    struct vcpu *v = t->vcpu;
    const struct vcpu_exit *e = &v->exit;
    _Static_assert(RS_EXIT_MR_RFLAGS == RS_MSG_REG_COUNT, "words 0-3 travel in registers");
    unsigned len = vcpu_exit_length(v);
    r->ctx.rdx = e->reason; // MR0..MR3 (msgreg.h)
    r->ctx.r8 = e->qual;
    r->ctx.r10 = e->rip;
    r->ctx.r9 = e->insn_len;
    exit_words_tail(v, rb->mr, len);
    return len;
}

/* The exit fast path: a VMM waiting in Recv at the head of the exit endpoint's queue, with an
 * IPC buffer, gets the exit at once, written straight into its registers and buffer; it becomes
 * runnable at the head of its queue and t waits for its reply. This is what endpoint_send does
 * for a fault message, without its generic transfer and queue steps. False, with nothing
 * changed, in any other case (no receiver, one without a buffer: the general path). */
static bool deliver_direct(struct tcb *t, const struct cap *c)
{
    struct endpoint *ep = (struct endpoint *)c->obj;
    if (ep->state != EP_RECV) return false;
    struct tcb *r = ep->head;
    struct rs_ipc_buffer *rb = tcb_ipc_buffer(r);
    // (a receiver holds no reply: endpoint_recv dropped it; checked, as become_caller does)
    if (!rb || r->reply_to) return false;
    waitqueue_remove(&ep->head, &ep->tail, r);
    if (!ep->head) ep->state = EP_IDLE;
    unsigned len = vcpu_exit_message_to(t, r, rb);
    ipc_set_received(r, rs_msginfo(RS_FAULT_VCPU_EXIT, 0, 0, len), cap_badge(c));
    sched_dequeue(t);
    t->state = TS_BLOCKED_REPLY;
    t->replier = r;
    r->reply_to = t;
    r->state = TS_RUNNABLE; // (it was blocked in Recv, so in no run queue)
    sched_enqueue(r, true); // the caller waits: the VMM runs next, as endpoint_send has it
    return true;
}

/* Hands t's pending exit to the exit endpoint as a Call: to a waiting VMM, else queued. */
static void send_exit(struct tcb *t, struct vcpu *v)
{
    struct cap *ep = &v->slots[VCPU_SLOT_EXIT_EP].cap;
    if (ep->type != RS_CAP_ENDPOINT) {
        kprintf("vcpu: exit %u at rip %lx: no exit endpoint\n", v->exit.reason, v->exit.rip);
        stop(t, "cannot deliver its exit");
        return;
    }
    t->fault.type = RS_FAULT_VCPU_EXIT;
    t->in_fault_ipc = 1;
    if (deliver_direct(t, ep)) return;
    endpoint_send(ep, t, true, true);
}

void vcpu_run(struct tcb *t)
{
    struct vcpu *v = t->vcpu;
    if (!vcpu_binding_intact(v, t)) {
        kprintf("vcpu: thread '%s' lost its VCPU binding; unbound and stopped\n", t->name);
        vcpu_unbind(t);
        return;
    }
    if (!guest_space_live(&v->slots[VCPU_SLOT_GUEST_SPACE].cap)) {
        stop(t, "has no guest space");
        return;
    }
    v->exit.reason = RS_EXIT_NONE;
    // the guest's FPU/SSE state is in the registers while it runs and stays there, owned by
    // v->fpu: a host thread that uses the FPU next traps (CR0.TS) and saves it there first
    fpu_claim(v->fpu);
    vcpu_backend->run(v, &v->exit);
    fpu_leave_guest();
    if (v->exit.reason == RS_EXIT_NONE) return;
    v->exits++; // a new exit; one delivered again (vcpu_exit_redeliver) keeps its number
    send_exit(t, v);
}

void vcpu_exit_redeliver(struct tcb *t)
{
    struct vcpu *v = t->vcpu;
    if (!v || v->slots[VCPU_SLOT_EXIT_EP].cap.type != RS_CAP_ENDPOINT) {
        t->in_fault_ipc = 0; // nowhere to deliver it: stopped, Resume runs the instruction again
        t->state = TS_INACTIVE;
        return;
    }
    send_exit(t, v);
}

unsigned vcpu_exit_message(struct tcb *t, uint64_t w[RS_EXIT_MR_COUNT])
{
    struct vcpu *v = t->vcpu;
    if (!v) {
        for (unsigned i = 0; i < RS_EXIT_MR_COUNT; i++) w[i] = 0;
        return RS_EXIT_MR_COUNT;
    }
    unsigned len = vcpu_exit_length(v);
    w[RS_EXIT_MR_REASON] = v->exit.reason;
    w[RS_EXIT_MR_QUAL] = v->exit.qual;
    w[RS_EXIT_MR_INSN_LEN] = v->exit.insn_len;
    w[RS_EXIT_MR_RIP] = v->exit.rip;
    exit_words_tail(v, w, len);
    return len;
}

void vcpu_exit_reply(struct tcb *t, struct tcb *handler)
{
    struct vcpu *v = t->vcpu;
    uint64_t info = handler->ctx.rsi;
    unsigned len = rs_msginfo_length(info);
    t->in_fault_ipc = 0;
    t->fault.type = RS_FAULT_NONE;
    if (!v || rs_msginfo_label(info) != 0) { // paused: Resume runs the exiting instruction again
        t->state = TS_INACTIVE;
        return;
    }
    uint64_t flags = len > RS_REPLY_MR_FLAGS ? handler->ctx.rdx : 0; // MR0..MR2 (msgreg.h)
    if (len <= RS_MSG_REG_COUNT &&
        !(flags & (RS_REPLY_SET_EFER | RS_REPLY_SET_GPRS | RS_REPLY_SET_RFLAGS))) {
        // the usual reply (tools/bench.sh vmexit): all in registers, nothing to check but RIP
        // and the event; the same steps as below, in the same order
        if ((flags & RS_REPLY_SET_RIP) && len > RS_REPLY_MR_RIP && vcpu_canonical(handler->ctx.r9))
            vcpu_backend->advance_rip(v, handler->ctx.r9 - v->exit.rip);
        else if (flags & RS_REPLY_ADVANCE_RIP) vcpu_backend->advance_rip(v, v->exit.insn_len);
        if ((flags & RS_REPLY_INJECT) && len > RS_REPLY_MR_INJECT && vcpu_event_ok(handler->ctx.r8))
            vcpu_backend->inject(v, handler->ctx.r8 | RS_EVENT_VALID);
        if (flags & RS_REPLY_WANT_WINDOW) vcpu_backend->want_window(v, true);
        v->exit.reason = RS_EXIT_NONE;
        sched_resume_turn(t);
        return;
    }
    const struct rs_ipc_buffer *b = tcb_ipc_buffer(handler);
    if (len > RS_REPLY_MR_COUNT) len = RS_REPLY_MR_COUNT;
    if (!b && len > RS_MSG_REG_COUNT) len = RS_MSG_REG_COUNT;
    uint64_t w[RS_REPLY_MR_COUNT];
    for (unsigned i = 0; i < len; i++) w[i] = msgreg_get(handler, b, i);
    // EFER first (a WriteState of the current state with EFER changed: RIP, RFLAGS and the GPRs
    // stay what they are, so the reply's changes below apply on top); refused, it is the WRMSR's
    // #GP, as on hardware, and the instruction is not completed
    if ((flags & RS_REPLY_SET_EFER) && len > RS_REPLY_MR_EFER &&
        !vcpu_state_set_word(v, RS_VCPU_STATE_WORD(efer), w[RS_REPLY_MR_EFER])) {
        flags = 0;
        vcpu_backend->inject(v, RS_EVENT_WITH_ERROR(RS_EVENT_MAKE(13, RS_EVENT_EXCEPTION), 0) |
                                    RS_EVENT_VALID);
    }
    // v->exit.rip is the guest's RIP until the exit is answered (WriteState keeps it so)
    if ((flags & RS_REPLY_SET_RIP) && len > RS_REPLY_MR_RIP && vcpu_canonical(w[RS_REPLY_MR_RIP]))
        vcpu_backend->advance_rip(v, w[RS_REPLY_MR_RIP] - v->exit.rip);
    else if (flags & RS_REPLY_ADVANCE_RIP) vcpu_backend->advance_rip(v, v->exit.insn_len);
    if (flags & RS_REPLY_SET_GPRS) // the reply's registers are in x86 order, as v->gpr
        for (unsigned i = RS_REPLY_MR_GPR; i < len && i < RS_REPLY_MR_GPR + RS_GPR_COUNT; i++)
            v->gpr[i - RS_REPLY_MR_GPR] = w[i];
    // an emulated ALU instruction's flags; the others (IF, TF, DF...) stay the guest's own
    if ((flags & RS_REPLY_SET_RFLAGS) && len > RS_REPLY_MR_RFLAGS)
        vcpu_backend->set_rflags(v, (v->exit.rflags & ~RS_REPLY_RFLAGS_MASK) |
                                        (w[RS_REPLY_MR_RFLAGS] & RS_REPLY_RFLAGS_MASK));
    if ((flags & RS_REPLY_INJECT) && len > RS_REPLY_MR_INJECT &&
        vcpu_event_ok(w[RS_REPLY_MR_INJECT]))
        vcpu_backend->inject(v, w[RS_REPLY_MR_INJECT] | RS_EVENT_VALID);
    if (flags & RS_REPLY_WANT_WINDOW) vcpu_backend->want_window(v, true);
    v->exit.reason = RS_EXIT_NONE;
    // the guest ran until this exit: it goes on with its turn rather than behind every guest of
    // its priority (a spinning one would hold it a whole slice per exit)
    sched_resume_turn(t);
}
