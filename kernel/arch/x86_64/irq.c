// SPDX-License-Identifier: MIT
// IRQ capabilities on the PC: 16 ISA lines and, through the IO-APIC, GSIs 16 and up, each shared
// by up to IRQ_SHARE handlers, each handler routed to its own notification. (I/O ports: ioport.c.)
#include "../../irq.h"
#include "../../notification.h"
#include "../../cnode.h"
#include "../../console.h"
#include "arch.h"
#include "cpu.h"
#include <resurgo/invocation.h>

/* A line shared by several devices (PCI INTx wired to one ISA IRQ) is level-triggered: it stays
 * asserted while any device on it requests. So, as MINIX does for shared lines: on an interrupt
 * the line is masked and every bound handler's notification is signalled; the line is unmasked
 * only once every handler signalled has acknowledged (its driver has served its device or found
 * it idle). Unmasking earlier would re-take the interrupt at once for a device whose driver has
 * not run yet. A handler is signalled only if bound, and a line with no bound handler stays
 * masked. Masked <=> no handler bound, or some handler's acknowledgement outstanding. */
struct irq_line {
    struct slot ntfn[IRQ_SHARE]; /* copy of the notification cap each handler signals */
    uint8_t issued;              /* bit h: handler h exists (a cap to it) */
    uint8_t waiting;             /* bit h: handler h was signalled and has not acknowledged */
};
static struct irq_line lines[IRQ_COUNT];

/* The handlers of the line that have a notification (one revoked from under a handler leaves
 * its slot empty, and that handler then owes nothing). */
static unsigned irq_bound(const struct irq_line *l)
{
    unsigned b = 0;
    for (unsigned h = 0; h < IRQ_SHARE; h++)
        if (l->ntfn[h].cap.type == RS_CAP_NOTIFICATION) b |= 1u << h;
    return b;
}

/* Masks or unmasks the line as its handlers' state says (above); `except` is a handler that is
 * going (its slot is emptied after this). */
static void irq_update(unsigned irq, unsigned except)
{
    struct irq_line *l = &lines[irq];
    unsigned bound = irq_bound(l) & ~except;
    arch_pic_mask(irq, !bound || (l->waiting & bound));
}

void irq_deliver(unsigned irq)
{
    arch_pic_mask(irq, true); // until every driver acknowledges it
    arch_pic_eoi(irq);
    struct irq_line *l = &lines[irq];
    for (unsigned h = 0; h < IRQ_SHARE; h++) {
        struct cap *n = &l->ntfn[h].cap;
        if (n->type != RS_CAP_NOTIFICATION) continue;
        l->waiting |= (uint8_t)(1u << h);
        notification_signal((struct notification *)n->obj, n->w1);
    }
}

struct slot_array irq_finalise(unsigned irq, unsigned handler)
{
    if (irq >= IRQ_COUNT || handler >= IRQ_SHARE) return (struct slot_array){0, 0};
    struct irq_line *l = &lines[irq];
    l->issued &= (uint8_t) ~(1u << handler);
    l->waiting &= (uint8_t) ~(1u << handler); // a dead driver holds nobody up
    irq_update(irq, 1u << handler);
    return (struct slot_array){&l->ntfn[handler], 1};
}

int irq_control_decode(struct invocation *inv)
{
    if (inv->label != RS_IRQ_CONTROL_GET) return inv_error(inv, RS_ILLEGAL_OPERATION, 0, 0, 0);
    INV_NEED_ARGS(inv, 3);
    INV_NEED_CAPS(inv, 1);
    uint64_t irq = inv_arg(inv, 0);
    unsigned nlines = arch_irq_lines(); // 16 with the 8259; GSIs 16.. too with the IO-APIC
    if (irq >= nlines || irq == 2) return inv_error(inv, RS_RANGE_ERROR, 0, 0, nlines - 1);
    // a GSI that an ISA override routes is that ISA IRQ's line: asked for by its ISA number
    if (!arch_irq_line_usable((unsigned)irq)) return inv_error(inv, RS_INVALID_ARGUMENT, 0, 0, 0);
    int err;
    struct slot *dst = inv_dest_slot(inv, inv->extra[0], inv_arg(inv, 1), inv_arg(inv, 2), 1, &err);
    if (!dst) return err;
    struct irq_line *l = &lines[irq];
    unsigned h = 0;
    while (h < IRQ_SHARE && (l->issued & (1u << h))) h++;
    if (h == IRQ_SHARE) return inv_error(inv, RS_REVOKE_FIRST, 0, IRQ_SHARE, 0); // line full
    dst->cap = (struct cap){.type = RS_CAP_IRQ_HANDLER,
                            .rights = RS_RIGHTS_ALL,
                            .small = (uint32_t)irq | (uint32_t)h << 8};
    cdt_insert(inv->slot, dst);
    l->issued |= (uint8_t)(1u << h);
    return RS_OK;
}

int irq_handler_decode(struct invocation *inv)
{
    unsigned irq = cap_irq(inv->cap), h = cap_irq_handler(inv->cap);
    struct irq_line *l = &lines[irq];
    struct slot *ns = &l->ntfn[h];
    switch (inv->label) {
    case RS_IRQ_HANDLER_ACK:
        l->waiting &= (uint8_t) ~(1u << h);
        irq_update(irq, 0);
        return RS_OK;
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
        l->waiting &= (uint8_t) ~(1u << h); // the new notification owes nothing
        irq_update(irq, 0);
        return RS_OK;
    }
    case RS_IRQ_HANDLER_CLEAR:
        if (!cap_is_null(&ns->cap) && cdt_is_final(ns))
            return inv_error(inv, RS_REVOKE_FIRST, 0, 0, 0);
        cdt_delete(ns);
        l->waiting &= (uint8_t) ~(1u << h);
        irq_update(irq, 0);
        return RS_OK;
    default: return inv_error(inv, RS_ILLEGAL_OPERATION, 0, 0, 0);
    }
}
