/* SPDX-License-Identifier: MIT */
/* Thread wait queues: the FIFO of threads blocked on an endpoint or a notification, linked
 * through tcb.queue_next/queue_prev with head and tail kept in the object, and tcb.blocked_on
 * naming the object. The one implementation (the IPC fast path keeps an inlined copy). */
#pragma once
#include <stddef.h>
#include "tcb.h"

/* Appends t to the queue (head, tail) of object `obj`. (Links are read into locals first: the
 * compiler cannot tell that *head and *tail are no tcb fields, and would reload them.) */
static inline void waitqueue_append(struct tcb **head, struct tcb **tail, struct tcb *t, void *obj)
{
    struct tcb *last = *tail;
    t->queue_next = NULL;
    t->queue_prev = last;
    if (last) last->queue_next = t;
    else *head = t;
    *tail = t;
    t->blocked_on = obj;
}

/* Unlinks t, which must be in the queue (head, tail). */
static inline void waitqueue_remove(struct tcb **head, struct tcb **tail, struct tcb *t)
{
    struct tcb *prev = t->queue_prev, *next = t->queue_next;
    if (prev) prev->queue_next = next;
    else *head = next;
    if (next) next->queue_prev = prev;
    else *tail = prev;
    t->queue_next = t->queue_prev = NULL;
    t->blocked_on = NULL;
}
