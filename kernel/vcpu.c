// SPDX-License-Identifier: MIT
// VCPU objects: creation, Bind and the end of a binding, and the invocation dispatcher. Running
// the guest and its exits are vcpu_exit.c; guest state (reset, ReadState, WriteState) is
// vcpu_state.c; the backend is picked at boot in vcpu_backend.c.
#include "vcpu.h"
#include "guestspace.h"
#include "tcb.h"
#include "cnode.h"
#include "arch/x86_64/arch.h"
#include "arch/x86_64/fpu.h"
#include <resurgo/invocation.h>

const struct vcpu_backend *vcpu_backend;

const uint8_t vcpu_short_length[32] = {
    [RS_EXIT_IO] = RS_EXIT_LEN_BASE,       [RS_EXIT_HLT] = RS_EXIT_LEN_BASE,
    [RS_EXIT_VMCALL] = RS_EXIT_LEN_BASE,   [RS_EXIT_INTR_WINDOW] = RS_EXIT_LEN_BASE,
    [RS_EXIT_CPUID] = RS_EXIT_LEN_CPUID,   [RS_EXIT_MSR_READ] = RS_EXIT_LEN_MSR,
    [RS_EXIT_MSR_WRITE] = RS_EXIT_LEN_MSR,
};

void vcpu_create(uint64_t obj)
{
    struct vcpu *v = (struct vcpu *)(obj + VCPU_CTL_SIZE);
    v->ctl = (void *)obj;
    v->ctl_phys = VIRT_TO_PHYS(obj);
    fpu_image_init(v->fpu);
    vcpu_backend->vcpu_init(v, v->ctl, v->ctl_phys);
    vcpu_state_reset(v);
}

void vcpu_unbind(struct tcb *t)
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
    if (v->tcb) vcpu_unbind(v->tcb);
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

/* ------------------------------------------------------------------ invocations */

static void install(struct slot *src, struct slot *dst)
{
    cap_derive(&src->cap, &dst->cap); // TCB, GuestSpace and Endpoint caps always derive
    cdt_insert(src, dst);
}

/* Binds v to thread ts, guest space gs and exit endpoint ep (all checked); cannot fail. */
static void vcpu_invoke_bind(struct vcpu *v, struct slot *ts, struct slot *gs, struct slot *ep)
{
    struct tcb *t = (struct tcb *)ts->cap.obj;
    if (v->tcb) vcpu_unbind(v->tcb); // a binding whose cap a Revoke took
    for (unsigned i = 0; i < VCPU_SLOT_COUNT; i++) cdt_delete(&v->slots[i]); // what is left of one
    install(ts, &v->slots[VCPU_SLOT_TCB]);
    install(gs, &v->slots[VCPU_SLOT_GUEST_SPACE]);
    install(ep, &v->slots[VCPU_SLOT_EXIT_EP]);
    v->tcb = t;
    t->vcpu = v;
    vcpu_backend->set_guest_root(v, VIRT_TO_PHYS(gs->cap.obj), gs->cap.small);
}

static int vcpu_decode_bind(struct invocation *inv, struct vcpu *v)
{
    INV_NEED_CAPS(inv, 3);
    struct slot *ts = inv->extra[0], *gs = inv->extra[1], *ep = inv->extra[2];
    if (ts->cap.type != RS_CAP_TCB) return inv_error(inv, RS_INVALID_CAPABILITY, 1, 0, 0);
    if (!guest_space_live(&gs->cap)) return inv_error(inv, RS_INVALID_CAPABILITY, 2, 0, 0);
    if (ep->cap.type != RS_CAP_ENDPOINT) return inv_error(inv, RS_INVALID_CAPABILITY, 3, 0, 0);
    if (!(ep->cap.rights & RS_RIGHT_WRITE)) return inv_error(inv, RS_INSUFFICIENT_RIGHTS, 3, 0, 0);
    struct tcb *t = (struct tcb *)ts->cap.obj;
    if (v->tcb && vcpu_binding_intact(v, v->tcb))
        return inv_error(inv, RS_ILLEGAL_OPERATION, 0, 0, 0);
    if (t->vcpu && t->vcpu != v) return inv_error(inv, RS_ILLEGAL_OPERATION, 1, 0, 0);
    if (t->state != TS_INACTIVE) return inv_error(inv, RS_BUSY, 1, 0, 0);
    vcpu_invoke_bind(v, ts, gs, ep);
    return RS_OK;
}

int vcpu_decode(struct invocation *inv)
{
    struct vcpu *v = vcpu_of(inv->cap);
    switch (inv->label) {
    case RS_VCPU_BIND: return vcpu_decode_bind(inv, v);
    case RS_VCPU_READ_STATE: return vcpu_decode_read_state(inv, v);
    case RS_VCPU_WRITE_STATE: return vcpu_decode_write_state(inv, v);
    case RS_VCPU_SET_REGISTER: return vcpu_decode_set_register(inv, v);
    case RS_VCPU_GET_REGISTER: return vcpu_decode_get_register(inv, v);
    case RS_VCPU_INJECT:
        INV_NEED_ARGS(inv, 1);
        if (!vcpu_event_ok(inv_arg(inv, 0))) return inv_error(inv, RS_INVALID_ARGUMENT, 0, 0, 0);
        vcpu_backend->inject(v, inv_arg(inv, 0) | RS_EVENT_VALID);
        vcpu_exit_seg_refresh(v); // RS_EXIT_IRQ_PENDING
        return RS_OK;
    case RS_VCPU_SET_EXIT_WORDS:
        // a held exit delivered again takes the new selection: VMMs set it before the guest runs
        INV_NEED_ARGS(inv, 1);
        if (inv_arg(inv, 0) & ~(uint64_t)RS_EXIT_SHORT_ALL)
            return inv_error(inv, RS_INVALID_ARGUMENT, 0, 0, 0);
        v->short_exits = (uint32_t)inv_arg(inv, 0);
        return RS_OK;
    case RS_VCPU_REQUEST_WINDOW:
        INV_NEED_ARGS(inv, 1);
        vcpu_backend->want_window(v, inv_arg(inv, 0) != 0);
        vcpu_exit_seg_refresh(v); // RS_EXIT_IRQ_WINDOW
        return RS_OK;
    default: return inv_error(inv, RS_ILLEGAL_OPERATION, 0, 0, 0);
    }
}
