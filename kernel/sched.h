/* SPDX-License-Identifier: MIT */
/* Preemptive fixed-priority round-robin scheduler: 256 priorities, a bitmap of non-empty queues. */
#pragma once
#include "tcb.h"

#define SCHED_PRIOS      256
#define SCHED_TIME_SLICE 5 /* ticks */

/* Adds a runnable thread at the tail (or head: it runs before its equals) of its queue. */
void sched_enqueue(struct tcb *t, bool at_head);
void sched_dequeue(struct tcb *t);
/* Sets t runnable and queues it; a no-op if it is already runnable. */
void sched_make_runnable(struct tcb *t, bool at_head);
/* The highest-priority runnable thread, or NULL. */
struct tcb *sched_pick(void);
/* Timer tick: charges the running thread (and the caller whose reply it holds) and rotates its
 * queue when its slice is used up. */
void sched_tick(void);
/* Wakes t, which blocked while it was running (its turn), so that it keeps its place: at the head
 * of its queue while its time slice lasts, else at the tail with a fresh slice. */
void sched_resume_turn(struct tcb *t);
/* Changes a thread's priority, requeuing it if it is runnable. */
void sched_set_prio(struct tcb *t, uint8_t prio);
/* Fast-path helpers: set the head/tail of a priority queue whose membership is unchanged
 * (inline: the IPC fast path does it on every message). */
extern struct tcb *sched_queue_head[SCHED_PRIOS], *sched_queue_tail[SCHED_PRIOS];
static inline void sched_replace_head(unsigned prio, struct tcb *t) { sched_queue_head[prio] = t; }
static inline void sched_replace_tail(unsigned prio, struct tcb *t) { sched_queue_tail[prio] = t; }
/* Leaves the kernel: runs the best runnable thread (or idles until one appears). */
_Noreturn void sched_exit_kernel(void);
