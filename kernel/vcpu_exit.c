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
#include "arch/x86_64/arch.h"
#include "arch/x86_64/switch.h"
#include "fastpath.h"
#include "vcpu_prof.h"
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
static inline __attribute__((always_inline)) void exit_words_tail(struct vcpu *v, uint64_t *w,
                                                                  unsigned len)
{
    const struct vcpu_exit *e = &v->exit;
    w[RS_EXIT_MR_RFLAGS] = e->rflags;
    w[RS_EXIT_MR_SEG] = e->seg;
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

/* vcpu_exit_message_to, inline for deliver_direct. */
static inline __attribute__((always_inline)) unsigned exit_message_to(struct tcb *t, struct tcb *r,
                                                                      struct rs_ipc_buffer *rb)
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

unsigned vcpu_exit_message_to(struct tcb *t, struct tcb *r, struct rs_ipc_buffer *rb)
{
    return exit_message_to(t, r, rb);
}

/* The exit fast path: a VMM waiting in Recv at the head of the exit endpoint's queue, with an
 * IPC buffer, gets the exit at once, written straight into its registers and buffer; it becomes
 * runnable at the head of its queue and t waits for its reply. This is what endpoint_send does
 * for a fault message, without its generic transfer and queue steps. Returns the VMM when it is
 * the thread to run next (sched_hand_over: nothing above it is runnable) and can be switched to
 * at once (it has a VSpace), else NULL, the exit delivered or not: false (nothing changed) in
 * *delivered when there is no such receiver (the general path's case). */
static inline __attribute__((always_inline)) struct tcb *deliver_direct(struct tcb *t,
                                                                        const struct cap *c,
                                                                        bool *delivered)
{
    struct endpoint *ep = (struct endpoint *)c->obj;
    *delivered = false;
    if (ep->state != EP_RECV) return NULL;
    struct tcb *r = ep->head;
    const struct cap *bc = &r->slots[TCB_SLOT_IPCBUF].cap;
    // (a receiver holds no reply: endpoint_recv dropped it; checked, as become_caller does)
    if (bc->type != RS_CAP_FRAME || r->reply_to) return NULL;
    struct rs_ipc_buffer *rb =
        (struct rs_ipc_buffer *)(bc->obj + (r->ipc_buffer_vaddr & ((1ull << bc->bits) - 1)));
    // r is the head: unlink it (waitqueue_remove's steps for the head)
    struct tcb *next = r->queue_next;
    ep->head = next;
    if (next) next->queue_prev = NULL, r->queue_next = NULL;
    else ep->tail = NULL, ep->state = EP_IDLE;
    r->blocked_on = NULL;
    unsigned len = exit_message_to(t, r, rb);
    r->ctx.rax = RS_OK; // ipc_set_received
    r->ctx.rsi = rs_msginfo(RS_FAULT_VCPU_EXIT, 0, 0, len);
    r->ctx.rdi = cap_badge(c);
    t->state = TS_BLOCKED_REPLY;
    t->replier = r;
    r->reply_to = t;
    r->state = TS_RUNNABLE; // (it was blocked in Recv, so in no run queue)
    *delivered = true;
    // the caller waits: the VMM runs next, as endpoint_send has it, unless a thread above it
    // became runnable meanwhile (an interrupt taken after the exit)
    if (!sched_hand_over(t, r) || r->vcpu || r->slots[TCB_SLOT_VSPACE].cap.type != RS_CAP_VSPACE)
        return NULL;
    return r;
}

/* Leaves the kernel into r, which sched_pick would pick: sched_exit_kernel's next round without
 * the pick. */
static _Noreturn void leave_into(struct tcb *r)
{
    VCPU_PROF(3);
    cur = r;
    arch_switch_thread(&r->ctx, VIRT_TO_PHYS(r->slots[TCB_SLOT_VSPACE].cap.obj));
    if (pti_enabled) arch_restore_user(&r->ctx);
    arch_restore_user_nopti(&r->ctx);
}

/* Hands t's pending exit to the exit endpoint as a Call: to a waiting VMM, else queued. From
 * vcpu_run (`running`: t is the running thread, just out of its guest) it leaves the kernel into
 * a VMM that runs next; from anywhere else it returns. */
static inline __attribute__((always_inline)) void send_exit(struct tcb *t, struct vcpu *v,
                                                            bool running)
{
    struct cap *ep = &v->slots[VCPU_SLOT_EXIT_EP].cap;
    if (ep->type != RS_CAP_ENDPOINT) {
        kprintf("vcpu: exit %u at rip %lx: no exit endpoint\n", v->exit.reason, v->exit.rip);
        stop(t, "cannot deliver its exit");
        return;
    }
    t->fault.type = RS_FAULT_VCPU_EXIT;
    t->in_fault_ipc = 1;
    bool delivered;
    struct tcb *r = deliver_direct(t, ep, &delivered);
    if (r && running) leave_into(r);
    if (!delivered) endpoint_send(ep, t, true, true);
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
    // v->fpu: a host thread that uses the FPU next traps (CR0.TS) and saves it there first.
    // When v->fpu owns them already, CR0.TS may stay set: the guest runs on its own CR0 (VMRUN
    // loads it from the VMCB, APM vol. 2 15.5.1; VM entry from the VMCS, SDM vol. 3 27.3.2.1)
    // and the exit brings the host's back (the backend keeps fpu_ts right, vcpu_backend.h), so its VMM, next, finds TS
    // still set and nothing to write.
    if (fpu_owner != v->fpu) fpu_claim(v->fpu);
    vcpu_backend->run(v, &v->exit);
    VCPU_PROF_IO(v->exit.reason == RS_EXIT_IO);
    VCPU_PROF(2);
    if (v->exit.reason == RS_EXIT_NONE) return;
    v->exits++; // a new exit; one delivered again (vcpu_exit_redeliver) keeps its number
    send_exit(t, v, true);
}

void vcpu_exit_redeliver(struct tcb *t)
{
    struct vcpu *v = t->vcpu;
    if (!v || v->slots[VCPU_SLOT_EXIT_EP].cap.type != RS_CAP_ENDPOINT) {
        t->in_fault_ipc = 0; // nowhere to deliver it: stopped, Resume runs the instruction again
        t->state = TS_INACTIVE;
        return;
    }
    send_exit(t, v, false);
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

bool vcpu_exit_apply_general(struct vcpu *v, struct tcb *handler, unsigned len, uint64_t flags)
{
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
    return true;
}

void vcpu_exit_reply(struct tcb *t, struct tcb *handler)
{
    // the guest ran until this exit: it goes on with its turn rather than behind every guest of
    // its priority (a spinning one would hold it a whole slice per exit)
    if (vcpu_exit_apply(t, handler)) sched_resume_turn(t);
}

#ifdef VCPU_EXIT_PROFILE
bool vcpu_prof_io;
static uint64_t prof_last, prof_sum[VCPU_PROF_MARKS], prof_cur[VCPU_PROF_MARKS], prof_rounds;
static unsigned prof_prev = VCPU_PROF_MARKS, prof_seen;

void vcpu_prof_mark(unsigned i)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    uint64_t now = (uint64_t)hi << 32 | lo;
    // a round is marks 1..5 then 0 (the next entry), in that order: a host interrupt or a slow
    // path breaks it; only the port I/O exits' rounds count (vcpu_prof_io, set in vcpu_run)
    if (i == (prof_prev + 1) % VCPU_PROF_MARKS) prof_cur[i] = now - prof_last, prof_seen++;
    else prof_seen = 0;
    if (i == 1) prof_seen = 1, prof_cur[1] = now - prof_last;
    prof_prev = i;
    prof_last = now;
    if (i != 0) return;
    if (prof_seen == VCPU_PROF_MARKS && vcpu_prof_io) {
        for (unsigned k = 0; k < VCPU_PROF_MARKS; k++) prof_sum[k] += prof_cur[k];
        prof_rounds++;
    }
    prof_seen = 0;
    if (prof_rounds < 1000) return;
    kprintf("exitprof: 0->1 %lu  1->2 %lu  2->3 %lu  3->4 %lu  4->5 %lu  5->0 %lu (I/O exits)\n",
            prof_sum[1] / 1000, prof_sum[2] / 1000, prof_sum[3] / 1000, prof_sum[4] / 1000,
            prof_sum[5] / 1000, prof_sum[0] / 1000);
    for (unsigned k = 0; k < VCPU_PROF_MARKS; k++) prof_sum[k] = 0;
    prof_rounds = 0;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    prof_last = (uint64_t)hi << 32 | lo; // the print is no phase
}
#endif
