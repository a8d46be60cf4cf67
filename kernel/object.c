// SPDX-License-Identifier: MIT
// Object lifecycle: what Retype initialises, and what the derivation tree's deletion calls when
// a cap (or the last cap of an object) goes away.
#include "object.h"
#include "cdt.h"
#include "tcb.h"
#include "endpoint.h"
#include "notification.h"
#include "cnode.h"
#include "vspace.h"
#include "irq.h"
#include "vcpu.h"
#include "guestspace.h"
#include "timer_obj.h"
#include "kstring.h"
#include "arch/x86_64/arch.h"

static uint8_t cap_type_of(unsigned obj_type)
{
    static const uint8_t map[RS_OBJ_TYPE_COUNT] = {
        [RS_OBJ_UNTYPED] = RS_CAP_UNTYPED,
        [RS_OBJ_TCB] = RS_CAP_TCB,
        [RS_OBJ_ENDPOINT] = RS_CAP_ENDPOINT,
        [RS_OBJ_NOTIFICATION] = RS_CAP_NOTIFICATION,
        [RS_OBJ_CNODE] = RS_CAP_CNODE,
        [RS_OBJ_FRAME] = RS_CAP_FRAME,
        [RS_OBJ_LARGE_FRAME] = RS_CAP_FRAME,
        [RS_OBJ_PAGE_TABLE] = RS_CAP_PAGE_TABLE,
        [RS_OBJ_PAGE_DIRECTORY] = RS_CAP_PAGE_DIRECTORY,
        [RS_OBJ_PDPT] = RS_CAP_PDPT,
        [RS_OBJ_VSPACE] = RS_CAP_VSPACE,
        [RS_OBJ_VCPU] = RS_CAP_VCPU,
        [RS_OBJ_GUEST_SPACE] = RS_CAP_GUEST_SPACE,
        [RS_OBJ_TIMER] = RS_CAP_TIMER,
    };
    return map[obj_type];
}

int object_prepare_check(unsigned type, uint64_t count)
{
    if ((type == RS_OBJ_VSPACE || type == RS_OBJ_GUEST_SPACE) && vspace_free_asids() < count)
        return RS_NOT_ENOUGH_MEMORY;
    return RS_OK;
}

bool object_virt_supported(void) { return vcpu_backend != NULL; }

struct cap object_create(unsigned type, unsigned bits, uint64_t obj, bool device)
{
    struct cap c = {.type = cap_type_of(type), .rights = RS_RIGHTS_ALL, .obj = obj};
    switch (type) {
    case RS_OBJ_UNTYPED: c.bits = (uint8_t)bits; break;
    case RS_OBJ_FRAME: c.bits = 12; break;
    case RS_OBJ_LARGE_FRAME: c.bits = 21; break;
    case RS_OBJ_CNODE: c.bits = (uint8_t)bits; break;
    default: break;
    }
    if (device) c.flags |= CAP_FLAG_DEVICE;
    if (type == RS_OBJ_TCB) tcb_init((struct tcb *)obj);
    if (type == RS_OBJ_VSPACE) {
        uint32_t asid;
        vspace_init((void *)obj, &asid);
        cap_set_asid(&c, asid);
    }
    if (type == RS_OBJ_GUEST_SPACE) {
        uint32_t asid;
        guest_space_init((void *)obj, &asid);
        cap_set_asid(&c, asid);
    }
    if (type == RS_OBJ_VCPU) vcpu_create(obj);
    return c;
}

struct slot_array object_finalise(struct cap *c)
{
    struct slot_array none = {0, 0};
    switch (c->type) {
    case RS_CAP_TCB: {
        struct tcb *t = (struct tcb *)c->obj;
        tcb_finalise(t);
        return (struct slot_array){t->slots, TCB_SLOT_COUNT};
    }
    case RS_CAP_CNODE: return (struct slot_array){(struct slot *)c->obj, 1ull << c->bits};
    case RS_CAP_ENDPOINT: endpoint_finalise((struct endpoint *)c->obj); return none;
    case RS_CAP_NOTIFICATION: notification_finalise((struct notification *)c->obj); return none;
    case RS_CAP_VSPACE: vspace_finalise(c); return none;
    case RS_CAP_GUEST_SPACE: guest_space_finalise(c); return none;
    case RS_CAP_VCPU: return vcpu_finalise(vcpu_of(c));
    case RS_CAP_IRQ_HANDLER: return irq_finalise(cap_irq(c), cap_irq_handler(c));
    case RS_CAP_TIMER: return ktimer_finalise((struct ktimer *)c->obj);
    default: return none;
    }
}

bool object_has_waiters(const struct cap *c)
{
    if (c->type == RS_CAP_ENDPOINT) return ((struct endpoint *)c->obj)->head != NULL;
    if (c->type == RS_CAP_NOTIFICATION) return ((struct notification *)c->obj)->head != NULL;
    return false;
}

bool object_cancel_one(const struct cap *c)
{
    if (c->type == RS_CAP_ENDPOINT) return endpoint_cancel_one((struct endpoint *)c->obj);
    if (c->type == RS_CAP_NOTIFICATION)
        return notification_cancel_one((struct notification *)c->obj);
    return false;
}

static unsigned preempt_work;
uint64_t preempt_stops;

/* seL4's preemption points: count work, and poll for a pending interrupt once enough is done
 * (the poll reads the LAPIC and PIC, so not after every unit). */
bool preempt_point(unsigned cost)
{
    preempt_work += cost;
    if (preempt_work < PREEMPT_WORK_UNITS) return false;
    preempt_work = 0;
    if (!arch_irq_pending()) return false;
    preempt_stops++;
    return true;
}

void object_cap_deleted(struct cap *c)
{
    if (c->flags & CAP_FLAG_MAPPED) vspace_unmap_cap(c);
}
