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
extern uint64_t sched_bitmap[SCHED_PRIOS / 64], sched_bitmap_top;
/* The exit fast path's hand-over (vcpu_exit.c, fastpath.c): `from` (running, or not queued at
 * all) blocks and `to`, blocked (in no queue, its links NULL), becomes runnable at the head of
 * its queue. True when `to` is then what sched_pick returns, so the caller may switch to it
 * without the pick. The usual case inline: different priorities in one bitmap word (the vCPU
 * thread one below its VMM), `from` alone in its queue, `to`'s empty; any other, the general
 * dequeue and enqueue and a pick. */
static inline __attribute__((always_inline)) bool sched_hand_over(struct tcb *from, struct tcb *to)
{
    unsigned pf = from->prio, pt = to->prio;
    if (__builtin_expect((pf ^ pt) - 1 < 63 && sched_queue_head[pf] == from && !from->sched_next &&
                             !sched_queue_head[pt],
                         1)) {
        sched_queue_head[pf] = sched_queue_tail[pf] = NULL;
        sched_queue_head[pt] = sched_queue_tail[pt] = to;
        uint64_t w = sched_bitmap[pt / 64] ^ (1ull << (pf % 64) | 1ull << (pt % 64));
        sched_bitmap[pt / 64] = w; // (bit pt stays set in it: the top word does not change)
        return w >> (pt % 64) == 1 && sched_bitmap_top >> (pt / 64) == 1;
    }
    sched_dequeue(from);
    sched_enqueue(to, true);
    return sched_pick() == to;
}
/* Leaves the kernel: runs the best runnable thread (or idles until one appears). */
_Noreturn void sched_exit_kernel(void);
