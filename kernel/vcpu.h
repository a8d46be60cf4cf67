/* SPDX-License-Identifier: MIT */
/* Hardware virtualisation objects: VCPU and GuestSpace (see docs/virtualization.md).
 *
 * A VCPU object is two pages: the control page (VMCB / VMCS, first, so it is 4 KiB aligned)
 * and struct vcpu. Bind gives it a thread, a GuestSpace and an exit endpoint (copies of the
 * caps live in its slots); the thread then runs the guest whenever the scheduler picks it, and
 * each exit becomes a Call from that thread on the exit endpoint. */
#pragma once
#include "invoke.h"
#include "cdt.h"
#include "vcpu_backend.h"
#include "tcb.h"
#include <resurgo/msginfo.h>

enum vcpu_slot { VCPU_SLOT_TCB, VCPU_SLOT_GUEST_SPACE, VCPU_SLOT_EXIT_EP, VCPU_SLOT_COUNT };
#define VCPU_CTL_SIZE   4096
#define VCPU_ARCH_WORDS 64

struct vcpu {
    uint64_t gpr[RS_GPR_COUNT]; /* x86 encoding order (enum rs_vcpu_gpr), first: the entry code
                                   addresses it directly (see vcpu_backend.h) */
    void *ctl;                  /* the control page (kernel address) and its physical address */
    uint64_t ctl_phys;
    struct tcb *tcb;                  /* the bound thread, NULL when unbound */
    struct vcpu_exit exit;            /* the exit being delivered (reason RS_EXIT_NONE: none) */
    uint64_t exits;                   /* exits so far: RS_EXIT_MR_SEQ of the one being delivered */
    uint32_t short_exits;             /* SetExitWords: RS_EXIT_SHORT(reason) bits */
    uint64_t arch[VCPU_ARCH_WORDS]    /* the backend's own per-vCPU state (VMX: its MSR */
        __attribute__((aligned(16))); /* areas, which must be 16-byte aligned) */
    struct slot slots[VCPU_SLOT_COUNT];
    uint8_t fpu[512] __attribute__((aligned(16))); /* the guest's FXSAVE image */
};

_Static_assert(VCPU_CTL_SIZE + sizeof(struct vcpu) <= (1u << RS_VCPU_BITS), "VCPU fits its object");

/* The struct vcpu of a VCPU cap. */
static inline struct vcpu *vcpu_of(const struct cap *c)
{
    return (struct vcpu *)(c->obj + VCPU_CTL_SIZE);
}

/* Initialises a freshly retyped (zeroed) VCPU object at kernel address obj (needs a backend). */
void vcpu_create(uint64_t obj);
/* The VCPU object is going: its thread is unbound and stopped. Returns its slots, whose caps
 * must be deleted next (object_finalise). */
struct slot_array vcpu_finalise(struct vcpu *v);
/* The thread is being destroyed: unbinds it from its VCPU. */
void vcpu_tcb_finalise(struct tcb *t);

/* Runs the guest of the current thread t (t->vcpu set) once: returns to the scheduler after a
 * host interrupt, or after the exit was handed to the exit endpoint (t then waits for the reply,
 * or is stopped if its binding is incomplete). */
void vcpu_run(struct tcb *t);
/* rs_exit_short_length by reason, for the reasons SetExitWords accepts, string I/O aside
 * (vcpu.c; unit-vcpu compares the two): one load on the exit path for its switch's compares. */
extern const uint8_t vcpu_short_length[32];
_Static_assert(RS_EXIT_OTHER < 32, "every reason has its bit in short_exits");
/* The length of v's pending exit's message: its reason's own words if SetExitWords selected
 * them, else RS_EXIT_MR_COUNT (vcpu.h in include/resurgo, exit ABI 2). */
static inline unsigned vcpu_exit_length(const struct vcpu *v)
{
    uint32_t r = v->exit.reason & 31;
    if (!((v->short_exits >> r) & 1) || (r == RS_EXIT_IO && (v->exit.qual & RS_IO_QUAL_STRING)))
        return RS_EXIT_MR_COUNT;
    return vcpu_short_length[r];
}
/* Writes the exit message of t's pending exit into w; returns its length (vcpu_exit_length). */
unsigned vcpu_exit_message(struct tcb *t, uint64_t w[RS_EXIT_MR_COUNT]);
/* Writes the exit message of t's pending exit (t->vcpu set) into receiver r: words 0-3 into its
 * message registers, the rest into its IPC buffer rb. Returns its length (vcpu_exit_length). */
struct rs_ipc_buffer;
unsigned vcpu_exit_message_to(struct tcb *t, struct tcb *r, struct rs_ipc_buffer *rb);
/* Applies the VMM `handler`'s reply to the exit of t and resumes t (label 0) or stops it. */
void vcpu_exit_reply(struct tcb *t, struct tcb *handler);
/* vcpu_exit_apply's general case (vcpu_exit.c): a reply with words in the IPC buffer, or one
 * that sets EFER, GPRs or RFLAGS. Returns true. */
bool vcpu_exit_apply_general(struct vcpu *v, struct tcb *handler, unsigned len, uint64_t flags);
/* The VMM holding t's exit went away (Recv again, suspended, destroyed) without replying: t
 * queues the same exit on its exit endpoint again, for the next VMM. */
void vcpu_exit_redeliver(struct tcb *t);

int vcpu_decode(struct invocation *inv);

/* ---- shared by vcpu.c, vcpu_exit.c and vcpu_state.c ---- */

static inline bool vcpu_canonical(uint64_t a) { return (uint64_t)((int64_t)(a << 16) >> 16) == a; }
/* True while v's slot still holds the cap to t that Bind put there (a Revoke may take it). */
static inline bool vcpu_binding_intact(const struct vcpu *v, const struct tcb *t)
{
    const struct cap *c = &v->slots[VCPU_SLOT_TCB].cap;
    return c->type == RS_CAP_TCB && (const struct tcb *)c->obj == t;
}
/* What the held exit's SEG word shows may have changed (a state written, an event injected, a
 * window asked for: vcpu_state.c, vcpu.c): computed again, so that its delivery, or one again
 * after its VMM died, shows the state then, as the word computed at delivery did. */
static inline void vcpu_exit_seg_refresh(struct vcpu *v)
{
    if (v->exit.reason != RS_EXIT_NONE)
        v->exit.seg = vcpu_backend->exit_seg ? vcpu_backend->exit_seg(v) : 0;
}
/* Ends t's binding: the thread stops, as it has no user context to fall back to. */
void vcpu_unbind(struct tcb *t);
/* An event the VMM may inject: a known type, no reserved bits; exceptions 0..31 but NMI (2). */
bool vcpu_event_ok(uint64_t ev);
/* A PAT value WRMSR accepts: no entry with a reserved memory type (2, 3, 8 and above). */
bool vcpu_pat_ok(uint64_t pat);
/* The x86 reset state but the GPRs (real mode at F000:FFF0), every new VCPU's. */
extern const rs_vcpu_state_t vcpu_reset_state;
/* Gives a new VCPU the reset state through the backend. */
void vcpu_state_reset(struct vcpu *v);
/* VCPU ReadState / WriteState (errors in docs/virtualization.md). */
int vcpu_decode_read_state(struct invocation *inv, struct vcpu *v);
int vcpu_decode_write_state(struct invocation *inv, struct vcpu *v);
/* Sets state word i (a non-GPR word, i < RS_VCPU_STATE_WORDS) to value with WriteState's checks:
 * false, nothing changed, if they refuse it (vcpu_state.c; a reply's RS_REPLY_SET_EFER). */
bool vcpu_state_set_word(struct vcpu *v, unsigned i, uint64_t value);
/* VCPU SetRegister / GetRegister: one state word by its index (vcpu_state.c). */
int vcpu_decode_set_register(struct invocation *inv, struct vcpu *v);
int vcpu_decode_get_register(struct invocation *inv, struct vcpu *v);
/* RFLAGS bits a guest may have: every defined flag; bits 3, 5, 15, 22-63 are reserved. */
#define VCPU_RFLAGS_ALLOWED 0x3F7FD7ull

/* vcpu_exit_reply but the wake-up: true when t is to resume (its state is then still
 * TS_BLOCKED_REPLY; the caller makes it runnable, as sched_resume_turn would), false when it
 * is stopped (TS_INACTIVE). Inline for the exit fast path's reply half (fastpath.c): the usual
 * reply, all in registers, here; any other in vcpu_exit_apply_general. */
static inline __attribute__((always_inline)) bool vcpu_exit_apply(struct tcb *t,
                                                                  struct tcb *handler)
{
    struct vcpu *v = t->vcpu;
    uint64_t info = handler->ctx.rsi;
    unsigned len = rs_msginfo_length(info);
    t->in_fault_ipc = 0;
    t->fault.type = RS_FAULT_NONE;
    if (!v || rs_msginfo_label(info) != 0) { // paused: Resume runs the exiting instruction again
        t->state = TS_INACTIVE;
        return false;
    }
    uint64_t flags = len > RS_REPLY_MR_FLAGS ? handler->ctx.rdx : 0; // MR0..MR2 (msgreg.h)
    if (len <= RS_MSG_REG_COUNT &&
        !(flags & (RS_REPLY_SET_EFER | RS_REPLY_SET_GPRS | RS_REPLY_SET_RFLAGS))) {
        // the usual reply (tools/bench.sh vmexit): all in registers, nothing to check but RIP
        // and the event; the same steps as vcpu_exit_apply_general's, in the same order
        if ((flags & RS_REPLY_SET_RIP) && len > RS_REPLY_MR_RIP && vcpu_canonical(handler->ctx.r9))
            vcpu_backend->advance_rip(v, handler->ctx.r9 - v->exit.rip);
        else if (flags & RS_REPLY_ADVANCE_RIP) vcpu_backend->advance_rip(v, v->exit.insn_len);
        if ((flags & RS_REPLY_INJECT) && len > RS_REPLY_MR_INJECT && vcpu_event_ok(handler->ctx.r8))
            vcpu_backend->inject(v, handler->ctx.r8 | RS_EVENT_VALID);
        if (flags & RS_REPLY_WANT_WINDOW) vcpu_backend->want_window(v, true);
        v->exit.reason = RS_EXIT_NONE;
        return true;
    }
    return vcpu_exit_apply_general(v, handler, len, flags);
}
