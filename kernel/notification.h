/* SPDX-License-Identifier: MIT */
/* Notifications: a word of pending badge bits, OR-ed by Signal and taken by Wait or Poll. */
#pragma once
#include <resurgo/msginfo.h>
#include "tcb.h"

struct notification {
    uint64_t pending;
    struct tcb *head, *tail; /* waiting threads */
    struct tcb *bound;       /* TCB whose endpoint Recv also takes this notification */
};

_Static_assert(sizeof(struct notification) <= (1u << RS_NOTIFICATION_BITS), "notification fits");

/* A Recv that returns a notification's badge instead of a message carries this label. */
#define RS_NOTIFICATION_LABEL_KERNEL RS_NOTIFICATION_LABEL

void notification_signal(struct notification *n, uint64_t badge);
/* Wait (blocking) or Poll; sets t's status and badge or blocks it. */
void notification_wait(struct notification *n, struct tcb *t, bool blocking);
void notification_dequeue(struct notification *n, struct tcb *t);
/* The last cap is gone: every waiter gets RS_PEER_DIED, and a bound TCB is unbound. */
void notification_finalise(struct notification *n);
/* One step of notification_finalise's wake-up: false if no thread waited. */
bool notification_cancel_one(struct notification *n);
/* Binding: a bound TCB receiving on an endpoint also wakes for this notification. */
void notification_bind(struct notification *n, struct tcb *t);
void notification_unbind(struct notification *n);
/* If t's bound notification has bits pending, hands them to t and returns true. */
bool notification_take_bound(struct tcb *t);
