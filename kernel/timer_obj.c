// SPDX-License-Identifier: MIT
// Timer objects: Bind a notification, SetDeadline (absolute TSC), Cancel, GetTime. Armed timers
// wait in one doubly linked queue sorted by deadline, so the interrupt takes expired ones from
// its head in O(1) each, and arming costs O(armed timers) (no allocation: the links are in the
// objects). The hardware timer is always set for the earliest deadline (arch_timer_set_deadline).
#include "timer_obj.h"
#include "notification.h"
#include <resurgo/invocation.h>
#include "cnode.h"
#include "arch/x86_64/arch.h"

static struct ktimer *queue_head;

uint64_t ktimer_earliest(void) { return queue_head ? queue_head->deadline : UINT64_MAX; }

static void unlink_timer(struct ktimer *t)
{
    if (t->prev) t->prev->next = t->next;
    else queue_head = t->next;
    if (t->next) t->next->prev = t->prev;
    t->next = t->prev = NULL;
    t->deadline = 0;
}

void ktimer_disarm(struct ktimer *t)
{
    if (!t->deadline) return;
    bool first = queue_head == t;
    unlink_timer(t);
    // a later expiry than programmed would only cost a spurious interrupt, but tell the
    // machine layer anyway, so that the next scheduler tick is the only thing it waits for
    if (first) arch_timer_set_deadline(ktimer_earliest());
}

void ktimer_arm(struct ktimer *t, uint64_t deadline)
{
    if (t->deadline) unlink_timer(t);
    t->deadline = deadline;
    struct ktimer *prev = NULL, *n = queue_head;
    while (n && n->deadline <= deadline) {
        prev = n;
        n = n->next;
    }
    t->prev = prev;
    t->next = n;
    if (n) n->prev = t;
    if (prev) prev->next = t;
    else queue_head = t;
    arch_timer_set_deadline(ktimer_earliest());
}

static void fire(struct ktimer *t)
{
    const struct cap *n = &t->ntfn.cap;
    // the notification's caps may all have gone meanwhile (Revoke reaches the copy in this
    // slot too): then there is no one to tell
    if (n->type == RS_CAP_NOTIFICATION) notification_signal((struct notification *)n->obj, n->w1);
}

void ktimer_expire(uint64_t now)
{
    while (queue_head && queue_head->deadline <= now) {
        struct ktimer *t = queue_head;
        unlink_timer(t);
        fire(t);
    }
    arch_timer_set_deadline(ktimer_earliest());
}

struct slot_array ktimer_finalise(struct ktimer *t)
{
    ktimer_disarm(t);
    return (struct slot_array){&t->ntfn, 1};
}

static int timer_bind(struct invocation *inv, struct ktimer *t)
{
    INV_NEED_ARGS(inv, 1);
    INV_NEED_CAPS(inv, 1);
    struct slot *n = inv->extra[0];
    uint64_t badge = inv_arg(inv, 0);
    if (n->cap.type != RS_CAP_NOTIFICATION) return inv_error(inv, RS_INVALID_CAPABILITY, 1, 0, 0);
    if (!(n->cap.rights & RS_RIGHT_WRITE)) return inv_error(inv, RS_INSUFFICIENT_RIGHTS, 1, 0, 0);
    if (badge && cap_badge(&n->cap)) return inv_error(inv, RS_ILLEGAL_OPERATION, 1, 0, 0);
    // replacing the last cap to the old notification would destroy it: as IRQHandler's
    // SetNotification, that takes an explicit Delete elsewhere first
    if (!cap_is_null(&t->ntfn.cap) && cdt_is_final(&t->ntfn))
        return inv_error(inv, RS_REVOKE_FIRST, 1, 0, 0);
    cdt_delete(&t->ntfn); // not final: cannot destroy anything
    struct cap c;
    cap_derive(&n->cap, &c); // a notification cap always derives
    if (badge) cap_set_badge(&c, badge);
    t->ntfn.cap = c;
    cdt_insert(n, &t->ntfn);
    return RS_OK;
}

int timer_decode(struct invocation *inv)
{
    struct ktimer *t = (struct ktimer *)inv->cap->obj;
    if (inv->label == RS_TIMER_GET_TIME) {
        inv_result(inv, 0, arch_timer_now());
        inv_result(inv, 1, arch_tsc_per_ms);
        inv_result(inv, 2, t->deadline);
        return RS_OK;
    }
    if (inv->label != RS_TIMER_BIND && inv->label != RS_TIMER_SET_DEADLINE &&
        inv->label != RS_TIMER_CANCEL)
        return inv_error(inv, RS_ILLEGAL_OPERATION, 0, 0, 0);
    if (!(inv->cap->rights & RS_RIGHT_WRITE))
        return inv_error(inv, RS_INSUFFICIENT_RIGHTS, 0, 0, 0);
    switch (inv->label) {
    case RS_TIMER_BIND: return timer_bind(inv, t);
    case RS_TIMER_CANCEL: ktimer_disarm(t); return RS_OK;
    default: break;
    }
    INV_NEED_ARGS(inv, 1);
    uint64_t deadline = inv_arg(inv, 0);
    if (deadline == 0 || deadline == UINT64_MAX) {
        ktimer_disarm(t);
        return RS_OK;
    }
    if (t->ntfn.cap.type != RS_CAP_NOTIFICATION)
        return inv_error(inv, RS_ILLEGAL_OPERATION, 0, 0, 0);
    if (deadline <= arch_timer_now()) {
        // already due: signal now rather than through an interrupt (a replaced deadline goes)
        ktimer_disarm(t);
        fire(t);
        return RS_OK;
    }
    ktimer_arm(t, deadline);
    return RS_OK;
}
