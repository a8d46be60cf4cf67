// SPDX-License-Identifier: MIT
// VCPU objects: Bind, guest state and event injection (decode, then invoke); running the guest
// when the scheduler picks the bound thread; exits delivered as a Call on the exit endpoint, and
// the VMM's reply that resumes the guest. The guest's state changes only through that reply (or
// an explicit WriteState), so an exit whose VMM went away is queued again for the next VMM.
#include "vcpu.h"
#include "guestspace.h"
#include "tcb.h"
#include "msgreg.h"
#include "sched.h"
#include "endpoint.h"
#include "cnode.h"
#include "console.h"
#include "kstring.h"
#include "arch/x86_64/arch.h"
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/fpu.h"
#include <resurgo/invocation.h>
#include <resurgo/ipcbuf.h>

const struct vcpu_backend *vcpu_backend;

static bool canonical(uint64_t a) { return (uint64_t)((int64_t)(a << 16) >> 16) == a; }

void vcpu_create(uint64_t obj)
{
    struct vcpu *v = (struct vcpu *)(obj + VCPU_CTL_SIZE);
    v->ctl = (void *)obj;
    v->ctl_phys = VIRT_TO_PHYS(obj);
    fpu_image_init(v->fpu);
    vcpu_backend->vcpu_init(v, v->ctl, v->ctl_phys);
}

/* True while v's slot still holds the cap to t that Bind put there (a Revoke may take it). */
static bool binding_intact(const struct vcpu *v, const struct tcb *t)
{
    const struct cap *c = &v->slots[VCPU_SLOT_TCB].cap;
    return c->type == RS_CAP_TCB && (const struct tcb *)c->obj == t;
}

/* Ends the binding: the thread stops, as it has no user context to fall back to. */
static void unbind(struct tcb *t)
{
    struct vcpu *v = t->vcpu;
    t->vcpu = NULL;
    tcb_suspend(t);
    t->fault.type = RS_FAULT_NONE;
    v->tcb = NULL;
    v->exit.reason = RS_EXIT_NONE;
}

struct slot_array vcpu_finalise(struct vcpu *v)
{
    if (v->tcb) unbind(v->tcb);
    if (vcpu_backend && vcpu_backend->vcpu_destroy) vcpu_backend->vcpu_destroy(v);
    fpu_forget(v->fpu);
    return (struct slot_array){v->slots, VCPU_SLOT_COUNT};
}

void vcpu_tcb_finalise(struct tcb *t)
{
    if (!t->vcpu) return;
    t->vcpu->tcb = NULL;
    t->vcpu = NULL;
}

/* Stops a vCPU thread whose binding cannot serve it (the thread stays bound). */
static void stop(struct tcb *t, const char *why)
{
    kprintf("vcpu: thread '%s' %s; stopped\n", t->name, why);
    sched_dequeue(t);
    t->state = TS_INACTIVE;
    t->in_fault_ipc = 0;
    t->fault.type = RS_FAULT_NONE;
}

/* ------------------------------------------------------------------ running and exits */

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
    endpoint_send(ep, t, true, true);
}

void vcpu_run(struct tcb *t)
{
    struct vcpu *v = t->vcpu;
    if (!binding_intact(v, t)) {
        kprintf("vcpu: thread '%s' lost its VCPU binding; unbound and stopped\n", t->name);
        unbind(t);
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
    if (v->exit.reason != RS_EXIT_NONE) send_exit(t, v);
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
    static const uint64_t zero[GPR_COUNT];
    const struct vcpu *v = t->vcpu;
    const struct vcpu_exit none = {0}, *e = v ? &v->exit : &none;
    const uint64_t *g = v ? v->gpr : zero;
    w[RS_EXIT_MR_REASON] = e->reason;
    w[RS_EXIT_MR_QUAL] = e->qual;
    w[RS_EXIT_MR_GPA] = e->gpa;
    w[RS_EXIT_MR_INSN_LEN] = e->insn_len;
    w[RS_EXIT_MR_RIP] = e->rip;
    w[RS_EXIT_MR_RFLAGS] = e->rflags;
    w[RS_EXIT_MR_RAX] = g[GPR_RAX];
    w[RS_EXIT_MR_RBX] = g[GPR_RBX];
    w[RS_EXIT_MR_RCX] = g[GPR_RCX];
    w[RS_EXIT_MR_RDX] = g[GPR_RDX];
    w[RS_EXIT_MR_RSI] = g[GPR_RSI];
    w[RS_EXIT_MR_RDI] = g[GPR_RDI];
    w[RS_EXIT_MR_CR0] = e->cr0;
    w[RS_EXIT_MR_CR3] = e->cr3;
    w[RS_EXIT_MR_CR4] = e->cr4;
    w[RS_EXIT_MR_EFER] = e->efer;
    w[RS_EXIT_MR_RAW_REASON] = e->raw_reason;
    w[RS_EXIT_MR_RAW_QUAL] = e->raw_qual;
    w[RS_EXIT_MR_RBP] = g[GPR_RBP];
    w[RS_EXIT_MR_RSP] = g[GPR_RSP];
    for (unsigned i = 0; i < 8; i++) w[RS_EXIT_MR_R8 + i] = g[GPR_R8 + i];
    w[RS_EXIT_MR_EVENT] = e->event;
    return RS_EXIT_MR_COUNT;
}

/* An event the VMM may inject: a known type, no reserved bits; exceptions 0..31 but NMI (2). */
static bool event_ok(uint64_t ev)
{
    uint64_t type = (ev >> 8) & 7, vec = ev & 0xFF;
    if (ev & 0x7FFFF000ull) return false;
    if (type == 1 || type > RS_EVENT_SOFT_INT) return false;
    if (type == RS_EVENT_EXCEPTION) return vec < 32 && vec != 2;
    return !(ev & RS_EVENT_HAS_ERROR);
}

/* Which guest register each reply word names (RS_REPLY_MR_RAX onwards; RIP is not a GPR). */
static const uint8_t reply_gpr[RS_REPLY_MR_COUNT] = {
    [RS_REPLY_MR_RAX] = GPR_RAX, [RS_REPLY_MR_RBX] = GPR_RBX, [RS_REPLY_MR_RCX] = GPR_RCX,
    [RS_REPLY_MR_RDX] = GPR_RDX, [RS_REPLY_MR_RSI] = GPR_RSI, [RS_REPLY_MR_RDI] = GPR_RDI,
    [RS_REPLY_MR_RBP] = GPR_RBP, [RS_REPLY_MR_RSP] = GPR_RSP, [RS_REPLY_MR_R8] = GPR_R8,
    [RS_REPLY_MR_R9] = GPR_R9,   [RS_REPLY_MR_R10] = GPR_R10, [RS_REPLY_MR_R11] = GPR_R11,
    [RS_REPLY_MR_R12] = GPR_R12, [RS_REPLY_MR_R13] = GPR_R13, [RS_REPLY_MR_R14] = GPR_R14,
    [RS_REPLY_MR_R15] = GPR_R15,
};

void vcpu_exit_reply(struct tcb *t, struct tcb *handler)
{
    struct vcpu *v = t->vcpu;
    uint64_t info = handler->ctx.rsi;
    unsigned len = rs_msginfo_length(info);
    const struct rs_ipc_buffer *b = tcb_ipc_buffer(handler);
    t->in_fault_ipc = 0;
    t->fault.type = RS_FAULT_NONE;
    if (!v || rs_msginfo_label(info) != 0) { // paused: Resume runs the exiting instruction again
        t->state = TS_INACTIVE;
        return;
    }
    if (len > RS_REPLY_MR_COUNT) len = RS_REPLY_MR_COUNT;
    if (!b && len > RS_MSG_REG_COUNT) len = RS_MSG_REG_COUNT;
    uint64_t w[RS_REPLY_MR_COUNT];
    for (unsigned i = 0; i < len; i++) w[i] = msgreg_get(handler, b, i);
    uint64_t flags = len > RS_REPLY_MR_FLAGS ? w[RS_REPLY_MR_FLAGS] : 0;
    // v->exit.rip is the guest's RIP until the exit is answered (WriteState keeps it so)
    if ((flags & RS_REPLY_SET_RIP) && len > RS_REPLY_MR_RIP && canonical(w[RS_REPLY_MR_RIP]))
        vcpu_backend->advance_rip(v, w[RS_REPLY_MR_RIP] - v->exit.rip);
    else if (flags & RS_REPLY_ADVANCE_RIP)
        vcpu_backend->advance_rip(v, v->exit.insn_len);
    if (flags & RS_REPLY_SET_GPRS)
        for (unsigned i = RS_REPLY_MR_RAX; i < len; i++)
            if (i != RS_REPLY_MR_RIP) v->gpr[reply_gpr[i]] = w[i];
    if ((flags & RS_REPLY_INJECT) && len > RS_REPLY_MR_INJECT && event_ok(w[RS_REPLY_MR_INJECT]))
        vcpu_backend->inject(v, w[RS_REPLY_MR_INJECT] | RS_EVENT_VALID);
    if (flags & RS_REPLY_WANT_WINDOW) vcpu_backend->want_window(v, true);
    v->exit.reason = RS_EXIT_NONE;
    // the guest ran until this exit: it goes on with its turn rather than behind every guest of
    // its priority (a spinning one would hold it a whole slice per exit)
    sched_resume_turn(t);
}

/* ------------------------------------------------------------------ invocations */

static void install(struct slot *src, struct slot *dst)
{
    cap_derive(&src->cap, &dst->cap); // TCB, GuestSpace and Endpoint caps always derive
    cdt_insert(src, dst);
}

static int decode_bind(struct invocation *inv, struct vcpu *v)
{
    INV_NEED_CAPS(inv, 3);
    struct slot *ts = inv->extra[0], *gs = inv->extra[1], *ep = inv->extra[2];
    if (ts->cap.type != RS_CAP_TCB) return inv_error(inv, RS_INVALID_CAPABILITY, 1, 0, 0);
    if (!guest_space_live(&gs->cap)) return inv_error(inv, RS_INVALID_CAPABILITY, 2, 0, 0);
    if (ep->cap.type != RS_CAP_ENDPOINT) return inv_error(inv, RS_INVALID_CAPABILITY, 3, 0, 0);
    if (!(ep->cap.rights & RS_RIGHT_WRITE)) return inv_error(inv, RS_INSUFFICIENT_RIGHTS, 3, 0, 0);
    struct tcb *t = (struct tcb *)ts->cap.obj;
    if (v->tcb && binding_intact(v, v->tcb)) return inv_error(inv, RS_ILLEGAL_OPERATION, 0, 0, 0);
    if (t->vcpu && t->vcpu != v) return inv_error(inv, RS_ILLEGAL_OPERATION, 1, 0, 0);
    if (t->state != TS_INACTIVE) return inv_error(inv, RS_BUSY, 1, 0, 0);

    if (v->tcb) unbind(v->tcb); // a binding whose cap a Revoke took
    for (unsigned i = 0; i < VCPU_SLOT_COUNT; i++) cdt_delete(&v->slots[i]); // what is left of one
    install(ts, &v->slots[VCPU_SLOT_TCB]);
    install(gs, &v->slots[VCPU_SLOT_GUEST_SPACE]);
    install(ep, &v->slots[VCPU_SLOT_EXIT_EP]);
    v->tcb = t;
    t->vcpu = v;
    vcpu_backend->set_guest_root(v, VIRT_TO_PHYS(gs->cap.obj), gs->cap.small);
    return RS_OK;
}

static void state_read(struct vcpu *v, rs_vcpu_state_t *s)
{
    vcpu_backend->get_state(v, s);
    const uint64_t *g = v->gpr;
    s->rax = g[GPR_RAX], s->rbx = g[GPR_RBX], s->rcx = g[GPR_RCX], s->rdx = g[GPR_RDX];
    s->rsi = g[GPR_RSI], s->rdi = g[GPR_RDI], s->rbp = g[GPR_RBP], s->rsp = g[GPR_RSP];
    s->r8 = g[GPR_R8], s->r9 = g[GPR_R9], s->r10 = g[GPR_R10], s->r11 = g[GPR_R11];
    s->r12 = g[GPR_R12], s->r13 = g[GPR_R13], s->r14 = g[GPR_R14], s->r15 = g[GPR_R15];
}

static int decode_read_state(struct invocation *inv, struct vcpu *v)
{
    if (!tcb_ipc_buffer(inv->caller)) return inv_error(inv, RS_BAD_ADDRESS, 0, 0, 0);
    rs_vcpu_state_t s;
    state_read(v, &s);
    const uint64_t *w = (const uint64_t *)&s;
    for (unsigned i = 0; i < RS_VCPU_STATE_WORDS; i++) inv_result(inv, i, w[i]);
    return RS_OK;
}

#define CR0_PE (1ull << 0)
#define CR0_NW (1ull << 29)
#define CR0_CD (1ull << 30)
#define CR0_PG (1ull << 31)
#define CR4_PAE (1ull << 5)
/* CR4 bits a guest may have: VME..UMIP (0-11), FSGSBASE, PCIDE, OSXSAVE, SMEP, SMAP, PKE. */
#define CR4_ALLOWED 0x770FFFull
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define EFER_ALLOWED ((1ull << 0) | EFER_LME | EFER_LMA | (1ull << 11) | (1ull << 12))
#define RFLAGS_ALLOWED 0x3F7FD7ull /* every defined flag; bits 3, 5, 15, 22-63 are reserved */
#define W(field) ((int)RS_VCPU_STATE_WORD(field))

static int segment_check(const struct rs_segment *g, int word)
{
    if (g->selector > 0xFFFF) return word;
    if (!canonical(g->base)) return word + 1;
    if (g->limit > 0xFFFFFFFFull) return word + 2;
    if (g->attrib > 0xFFF) return word + 3;
    return -1;
}

/* Checks what the kernel can judge of a guest state and normalises it (RFLAGS bit 1 set,
 * EFER.LMA = LME && PG, SVME dropped). Returns -1, or the index of the first word at fault. */
static int state_check(rs_vcpu_state_t *s)
{
    if (!canonical(s->rip)) return W(rip);
    if (s->rflags & ~RFLAGS_ALLOWED) return W(rflags);
    if ((s->cr0 >> 32) || ((s->cr0 & CR0_PG) && !(s->cr0 & CR0_PE)) ||
        ((s->cr0 & CR0_NW) && !(s->cr0 & CR0_CD)))
        return W(cr0);
    if (s->cr4 & ~CR4_ALLOWED) return W(cr4);
    if (s->cr3 >> 52) return W(cr3);
    if (s->efer & ~EFER_ALLOWED) return W(efer);
    bool long_mode = (s->efer & EFER_LME) && (s->cr0 & CR0_PG);
    if (long_mode && !(s->cr4 & CR4_PAE)) return W(efer);
    const struct rs_segment *seg[] = {&s->cs, &s->ds, &s->es, &s->fs, &s->gs, &s->ss, &s->tr, &s->ldtr};
    for (unsigned i = 0; i < 8; i++) {
        int bad = segment_check(seg[i], W(cs) + 4 * (int)i);
        if (bad >= 0) return bad;
    }
    if (!canonical(s->gdtr_base)) return W(gdtr_base);
    if (s->gdtr_limit > 0xFFFF) return W(gdtr_limit);
    if (!canonical(s->idtr_base)) return W(idtr_base);
    if (s->idtr_limit > 0xFFFF) return W(idtr_limit);
    if (s->pending_event && (!(s->pending_event & RS_EVENT_VALID) || !event_ok(s->pending_event)))
        return W(pending_event);
    s->rflags |= 2;
    s->efer = (s->efer & ~(EFER_LMA | (1ull << 12))) | (long_mode ? EFER_LMA : 0);
    return -1;
}

static int decode_write_state(struct invocation *inv, struct vcpu *v)
{
    INV_NEED_ARGS(inv, RS_VCPU_STATE_WORDS);
    rs_vcpu_state_t s;
    uint64_t *w = (uint64_t *)&s;
    for (unsigned i = 0; i < RS_VCPU_STATE_WORDS; i++) w[i] = inv_arg(inv, i);
    int bad = state_check(&s);
    if (bad >= 0) return inv_error(inv, RS_INVALID_ARGUMENT, (uint64_t)bad, 0, 0);
    uint64_t *g = v->gpr;
    g[GPR_RAX] = s.rax, g[GPR_RBX] = s.rbx, g[GPR_RCX] = s.rcx, g[GPR_RDX] = s.rdx;
    g[GPR_RSI] = s.rsi, g[GPR_RDI] = s.rdi, g[GPR_RBP] = s.rbp, g[GPR_RSP] = s.rsp;
    g[GPR_R8] = s.r8, g[GPR_R9] = s.r9, g[GPR_R10] = s.r10, g[GPR_R11] = s.r11;
    g[GPR_R12] = s.r12, g[GPR_R13] = s.r13, g[GPR_R14] = s.r14, g[GPR_R15] = s.r15;
    vcpu_backend->set_state(v, &s);
    v->exit.rip = s.rip; // a reply's SET_RIP is relative to the exit's RIP: keep it current
    return RS_OK;
}

int vcpu_decode(struct invocation *inv)
{
    struct vcpu *v = vcpu_of(inv->cap);
    switch (inv->label) {
    case RS_VCPU_BIND:
        return decode_bind(inv, v);
    case RS_VCPU_READ_STATE:
        return decode_read_state(inv, v);
    case RS_VCPU_WRITE_STATE:
        return decode_write_state(inv, v);
    case RS_VCPU_INJECT:
        INV_NEED_ARGS(inv, 1);
        if (!event_ok(inv_arg(inv, 0))) return inv_error(inv, RS_INVALID_ARGUMENT, 0, 0, 0);
        vcpu_backend->inject(v, inv_arg(inv, 0) | RS_EVENT_VALID);
        return RS_OK;
    case RS_VCPU_REQUEST_WINDOW:
        INV_NEED_ARGS(inv, 1);
        vcpu_backend->want_window(v, inv_arg(inv, 0) != 0);
        return RS_OK;
    default:
        return inv_error(inv, RS_ILLEGAL_OPERATION, 0, 0, 0);
    }
}
