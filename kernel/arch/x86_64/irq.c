// SPDX-License-Identifier: MIT
// IRQ and I/O-port capabilities on the PC: 16 legacy PIC lines, each routed to at most one
// notification; port ranges issued from IOPortControl and used through invocations.
#include "../../irq.h"
#include "../../notification.h"
#include "../../cnode.h"
#include "../../console.h"
#include "arch.h"
#include "cpu.h"
#include <resurgo/invocation.h>

static struct slot irq_ntfn[IRQ_COUNT];   /* copy of the notification cap each line signals */
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
    dst->cap = (struct cap){.type = RS_CAP_IRQ_HANDLER, .rights = RS_RIGHTS_ALL, .small = (uint32_t)irq};
    cdt_insert(inv->slot, dst);
    irq_issued[irq] = true;
    return RS_OK;
}

int irq_handler_decode(struct invocation *inv)
{
    unsigned irq = inv->cap->small;
    struct slot *ns = &irq_ntfn[irq];
    switch (inv->label) {
    case RS_IRQ_HANDLER_ACK:
        arch_pic_mask(irq, false);
        return RS_OK;
    case RS_IRQ_HANDLER_SET_NOTIFICATION: {
        INV_NEED_CAPS(inv, 1);
        struct slot *n = inv->extra[0];
        if (n->cap.type != RS_CAP_NOTIFICATION) return inv_error(inv, RS_INVALID_CAPABILITY, 1, 0, 0);
        if (!(n->cap.rights & RS_RIGHT_WRITE)) return inv_error(inv, RS_INSUFFICIENT_RIGHTS, 1, 0, 0);
        if (!cap_is_null(&ns->cap) && cdt_is_final(ns)) return inv_error(inv, RS_REVOKE_FIRST, 1, 0, 0);
        cdt_delete(ns);
        cap_derive(&n->cap, &ns->cap);
        cdt_insert(n, ns);
        arch_pic_mask(irq, false);
        return RS_OK;
    }
    case RS_IRQ_HANDLER_CLEAR:
        if (!cap_is_null(&ns->cap) && cdt_is_final(ns)) return inv_error(inv, RS_REVOKE_FIRST, 0, 0, 0);
        cdt_delete(ns);
        arch_pic_mask(irq, true);
        return RS_OK;
    default:
        return inv_error(inv, RS_ILLEGAL_OPERATION, 0, 0, 0);
    }
}

int ioport_control_decode(struct invocation *inv)
{
    if (inv->label != RS_IOPORT_CONTROL_ISSUE) return inv_error(inv, RS_ILLEGAL_OPERATION, 0, 0, 0);
    INV_NEED_ARGS(inv, 4);
    INV_NEED_CAPS(inv, 1);
    uint64_t first = inv_arg(inv, 0), last = inv_arg(inv, 1);
    if (first > 0xFFFF) return inv_error(inv, RS_RANGE_ERROR, 0, 0, 0xFFFF);
    if (last > 0xFFFF || last < first) return inv_error(inv, RS_RANGE_ERROR, 1, first, 0xFFFF);
    if (first <= 0x3FF && last >= 0x3F8) // COM1 is the kernel's console
        return inv_error(inv, RS_ILLEGAL_OPERATION, 0, 0x3F8, 0x3FF);
    int err;
    struct slot *dst = inv_dest_slot(inv, inv->extra[0], inv_arg(inv, 2), inv_arg(inv, 3), 2, &err);
    if (!dst) return err;
    dst->cap = (struct cap){.type = RS_CAP_IOPORT, .rights = RS_RIGHTS_ALL, .w2 = first | (last << 16)};
    cdt_insert(inv->slot, dst);
    return RS_OK;
}

int ioport_decode(struct invocation *inv)
{
    uint64_t label = inv->label;
    if (label < RS_IOPORT_IN8 || label > RS_IOPORT_OUT32) return inv_error(inv, RS_ILLEGAL_OPERATION, 0, 0, 0);
    bool out = label >= RS_IOPORT_OUT8;
    unsigned width = 1u << ((label - (out ? RS_IOPORT_OUT8 : RS_IOPORT_IN8)));
    INV_NEED_ARGS(inv, out ? 2 : 1);
    uint64_t port = inv_arg(inv, 0), first = inv->cap->w2 & 0xFFFF, last = inv->cap->w2 >> 16;
    if (port < first || port + width - 1 > last) return inv_error(inv, RS_RANGE_ERROR, 0, first, last + 1 - width);
    if (out) {
        uint64_t v = inv_arg(inv, 1);
        if (width == 1) outb((uint16_t)port, (uint8_t)v);
        else if (width == 2) outw((uint16_t)port, (uint16_t)v);
        else outl((uint16_t)port, (uint32_t)v);
    } else {
        uint64_t v = width == 1 ? inb((uint16_t)port) : width == 2 ? inw((uint16_t)port) : inl((uint16_t)port);
        inv_result(inv, 0, v);
    }
    return RS_OK;
}
