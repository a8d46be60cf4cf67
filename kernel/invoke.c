// SPDX-License-Identifier: MIT
// The invocation dispatcher: one switch on the invoked cap's type; argument and result access.
#include "invoke.h"
#include "cnode.h"
#include "untyped.h"
#include "vspace.h"
#include "irq.h"
#include "vcpu.h"
#include "guestspace.h"
#include "timer_obj.h"
#include "msgreg.h"

uint64_t inv_arg(struct invocation *inv, unsigned i)
{
    struct tcb *t = inv->caller;
    return msgreg_get(t, i < RS_MSG_REG_COUNT ? NULL : tcb_ipc_buffer(t), i);
}

void inv_result(struct invocation *inv, unsigned i, uint64_t v)
{
    struct tcb *t = inv->caller;
    if (!msgreg_set(t, i < RS_MSG_REG_COUNT ? NULL : tcb_ipc_buffer(t), i, v)) return;
    if (i + 1 > inv->out_length) inv->out_length = i + 1;
}

int inv_error(struct invocation *inv, int err, uint64_t d0, uint64_t d1, uint64_t d2)
{
    inv_result(inv, 0, d0);
    inv_result(inv, 1, d1);
    inv_result(inv, 2, d2);
    return err;
}

struct slot *inv_dest_slot(struct invocation *inv, struct slot *root, uint64_t index,
                           uint64_t depth, unsigned arg_index, int *err)
{
    if (root->cap.type != RS_CAP_CNODE) {
        *err = inv_error(inv, RS_INVALID_CAPABILITY, 1, 0, 0);
        return NULL;
    }
    struct slot *s = cnode_lookup_arg(inv, root, index, depth, arg_index, 1, err);
    if (s && !cap_is_null(&s->cap)) {
        *err = inv_error(inv, RS_DELETE_FIRST, arg_index, 0, 0);
        return NULL;
    }
    return s;
}

int invoke_cap(struct invocation *inv)
{
    switch (inv->cap->type) {
    case RS_CAP_UNTYPED: return untyped_decode(inv);
    case RS_CAP_CNODE: return cnode_decode(inv);
    case RS_CAP_TCB: return tcb_decode(inv);
    case RS_CAP_FRAME: return frame_decode(inv);
    case RS_CAP_PAGE_TABLE:
    case RS_CAP_PAGE_DIRECTORY:
    case RS_CAP_PDPT: return page_table_decode(inv);
    case RS_CAP_IRQ_CONTROL: return irq_control_decode(inv);
    case RS_CAP_IRQ_HANDLER: return irq_handler_decode(inv);
    case RS_CAP_IOPORT_CONTROL: return ioport_control_decode(inv);
    case RS_CAP_IOPORT: return ioport_decode(inv);
    case RS_CAP_VCPU: return vcpu_decode(inv);
    case RS_CAP_GUEST_SPACE: return guest_space_decode(inv);
    case RS_CAP_TIMER: return timer_decode(inv);
    default: return inv_error(inv, RS_ILLEGAL_OPERATION, 0, 0, 0); // VSpace has no operations
    }
}
