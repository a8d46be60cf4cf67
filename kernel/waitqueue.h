/* SPDX-License-Identifier: MIT */
/* Thread wait queues: the FIFO of threads blocked on an endpoint or a notification, linked
 * through tcb.queue_next/queue_prev with head and tail kept in the object, and tcb.blocked_on
 * naming the object. The one implementation (the IPC fast path keeps an inlined copy). */
#pragma once
#include <stddef.h>
#include "tcb.h"

/* Appends t to the queue (head, tail) of object `obj`. */
static inline void waitqueue_append(struct tcb **head, struct tcb **tail, struct tcb *t, void *obj)
{
    t->queue_next = NULL;
    t->queue_prev = *tail;
    if (*tail) (*tail)->queue_next = t;
    else *head = t;
    *tail = t;
    t->blocked_on = obj;
}

/* Unlinks t, which must be in the queue (head, tail). */
static inline void waitqueue_remove(struct tcb **head, struct tcb **tail, struct tcb *t)
{
    if (t->queue_prev) t->queue_prev->queue_next = t->queue_next;
    else *head = t->queue_next;
    if (t->queue_next) t->queue_next->queue_prev = t->queue_prev;
    else *tail = t->queue_prev;
    t->queue_next = t->queue_prev = NULL;
    t->blocked_on = NULL;
}
