// SPDX-License-Identifier: MIT
// IRQ capabilities on the PC: 16 legacy PIC lines, each routed to at most one notification.
// (I/O-port capabilities: ioport.c.)
#include "../../irq.h"
#include "../../notification.h"
#include "../../cnode.h"
#include "../../console.h"
#include "arch.h"
#include "cpu.h"
#include <resurgo/invocation.h>

static struct slot irq_ntfn[IRQ_COUNT]; /* copy of the notification cap each line signals */
static bool irq_issued[IRQ_COUNT];

void irq_deliver(unsigned irq)
{
    arch_pic_mask(irq, true); // until the driver acknowledges it
    arch_pic_eoi(irq);
    struct cap *n = &irq_ntfn[irq].cap;
    if (n->type == RS_CAP_NOTIFICATION) notification_signal((struct notification *)n->obj, n->w1);
}

struct slot_array irq_finalise(unsigned irq)
{
    if (irq >= IRQ_COUNT) return (struct slot_array){0, 0};
    arch_pic_mask(irq, true);
    irq_issued[irq] = false;
    return (struct slot_array){&irq_ntfn[irq], 1};
}

int irq_control_decode(struct invocation *inv)
{
    if (inv->label != RS_IRQ_CONTROL_GET) return inv_error(inv, RS_ILLEGAL_OPERATION, 0, 0, 0);
    INV_NEED_ARGS(inv, 3);
    INV_NEED_CAPS(inv, 1);
    uint64_t irq = inv_arg(inv, 0);
    if (irq >= IRQ_COUNT || irq == 2) return inv_error(inv, RS_RANGE_ERROR, 0, 0, IRQ_COUNT - 1);
    int err;
    struct slot *dst = inv_dest_slot(inv, inv->extra[0], inv_arg(inv, 1), inv_arg(inv, 2), 1, &err);
    if (!dst) return err;
    if (irq_issued[irq]) return inv_error(inv, RS_REVOKE_FIRST, 0, 0, 0); // one handler per line
    dst->cap =
        (struct cap){.type = RS_CAP_IRQ_HANDLER, .rights = RS_RIGHTS_ALL, .small = (uint32_t)irq};
    cdt_insert(inv->slot, dst);
    irq_issued[irq] = true;
    return RS_OK;
}

int irq_handler_decode(struct invocation *inv)
{
    unsigned irq = inv->cap->small;
    struct slot *ns = &irq_ntfn[irq];
    switch (inv->label) {
    case RS_IRQ_HANDLER_ACK: arch_pic_mask(irq, false); return RS_OK;
    case RS_IRQ_HANDLER_SET_NOTIFICATION: {
        INV_NEED_CAPS(inv, 1);
        struct slot *n = inv->extra[0];
        if (n->cap.type != RS_CAP_NOTIFICATION)
            return inv_error(inv, RS_INVALID_CAPABILITY, 1, 0, 0);
        if (!(n->cap.rights & RS_RIGHT_WRITE))
            return inv_error(inv, RS_INSUFFICIENT_RIGHTS, 1, 0, 0);
        if (!cap_is_null(&ns->cap) && cdt_is_final(ns))
            return inv_error(inv, RS_REVOKE_FIRST, 1, 0, 0);
        cdt_delete(ns);
        cap_derive(&n->cap, &ns->cap);
        cdt_insert(n, ns);
        arch_pic_mask(irq, false);
        return RS_OK;
    }
    case RS_IRQ_HANDLER_CLEAR:
        if (!cap_is_null(&ns->cap) && cdt_is_final(ns))
            return inv_error(inv, RS_REVOKE_FIRST, 0, 0, 0);
        cdt_delete(ns);
        arch_pic_mask(irq, true);
        return RS_OK;
    default: return inv_error(inv, RS_ILLEGAL_OPERATION, 0, 0, 0);
    }
}
