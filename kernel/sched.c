// SPDX-License-Identifier: MIT
// The scheduler: runnable threads wait in one FIFO queue per priority; a bitmap finds the
// highest non-empty queue in two bit scans. The running thread stays at the head of its queue.
#include "sched.h"
#include "console.h"
#include "vspace.h"
#include "vcpu.h"
#include "arch/x86_64/arch.h"
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/switch.h"
#include "fastpath.h"

struct tcb *cur;
struct tcb *sched_queue_head[SCHED_PRIOS],
    *sched_queue_tail[SCHED_PRIOS];      /* the fast path swaps entries (sched.h) */
uint64_t sched_bitmap[SCHED_PRIOS / 64]; /* bit p set: queue p non-empty (sched.h) */
uint64_t sched_bitmap_top;               /* bit i set: sched_bitmap[i] non-zero */

void sched_enqueue(struct tcb *t, bool at_head)
{
    unsigned p = t->prio;
    if (at_head) {
        t->sched_prev = NULL;
        t->sched_next = sched_queue_head[p];
        if (sched_queue_head[p]) sched_queue_head[p]->sched_prev = t;
        else sched_queue_tail[p] = t;
        sched_queue_head[p] = t;
    } else {
        t->sched_next = NULL;
        t->sched_prev = sched_queue_tail[p];
        if (sched_queue_tail[p]) sched_queue_tail[p]->sched_next = t;
        else sched_queue_head[p] = t;
        sched_queue_tail[p] = t;
    }
    sched_bitmap[p / 64] |= 1ull << (p % 64);
    sched_bitmap_top |= 1ull << (p / 64);
}

void sched_dequeue(struct tcb *t)
{
    unsigned p = t->prio;
    if (t->sched_prev) t->sched_prev->sched_next = t->sched_next;
    else if (sched_queue_head[p] == t) sched_queue_head[p] = t->sched_next;
    else return; // not queued
    if (t->sched_next) t->sched_next->sched_prev = t->sched_prev;
    else sched_queue_tail[p] = t->sched_prev;
    t->sched_next = t->sched_prev = NULL;
    if (!sched_queue_head[p]) {
        sched_bitmap[p / 64] &= ~(1ull << (p % 64));
        if (!sched_bitmap[p / 64]) sched_bitmap_top &= ~(1ull << (p / 64));
    }
}

void sched_make_runnable(struct tcb *t, bool at_head)
{
    if (t->state == TS_RUNNABLE) return;
    t->state = TS_RUNNABLE;
    sched_enqueue(t, at_head);
}

struct tcb *sched_pick(void)
{
    if (!sched_bitmap_top) return NULL;
    unsigned hi = 63 - __builtin_clzll(sched_bitmap_top);
    unsigned p = hi * 64 + (63 - __builtin_clzll(sched_bitmap[hi]));
    return sched_queue_head[p];
}

void sched_tick(void)
{
    if (!cur) return;
    // a server holding a Call's reply works for its caller: the caller's turn is spent too
    // (a VMM answering exits spends its guest's), so no one gets more than a slice per round
    // by having the work done by a thread of higher priority
    if (cur->reply_to) cur->reply_to->time_slice++;
    if (cur->state != TS_RUNNABLE) return;
    if (++cur->time_slice < SCHED_TIME_SLICE) return;
    cur->time_slice = 0;
    sched_dequeue(cur);
    sched_enqueue(cur, false);
}

void sched_resume_turn(struct tcb *t)
{
    if (t->time_slice < SCHED_TIME_SLICE) {
        sched_make_runnable(t, true);
        return;
    }
    t->time_slice = 0;
    sched_make_runnable(t, false);
}

void sched_set_prio(struct tcb *t, uint8_t prio)
{
    bool queued = t->state == TS_RUNNABLE;
    if (queued) sched_dequeue(t);
    t->prio = prio;
    if (queued) sched_enqueue(t, false);
}


/* Switches the machine to thread t: its address space, its entry stack and its TLS base. */
static inline bool switch_to(struct tcb *t)
{
    // vspace_root_phys, inline: every exit from the slow path comes here
    const struct cap *vs = &t->slots[TCB_SLOT_VSPACE].cap;
    if (vs->type != RS_CAP_VSPACE) return false;
    cur = t;
    arch_switch_thread(&t->ctx, VIRT_TO_PHYS(vs->obj));
    return true;
}

_Noreturn void sched_exit_kernel(void)
{
    for (;;) {
        struct tcb *t = sched_pick();
        if (!t) {
            cur = NULL;
            arch_idle_wait(); // returns after an interrupt was handled
            continue;
        }
        if (t->vcpu) {
            // a vCPU thread runs its guest: no user context, so no VSpace or entry stack needed;
            // back here after a host interrupt or once the exit went to the VMM
            cur = t;
            vcpu_run(t);
            continue;
        }
        if (!switch_to(t)) {
            // a thread without an address space cannot run: stop it until reconfigured
            kprintf("sched: thread '%s' has no VSpace; stopped\n", t->name);
            sched_dequeue(t);
            t->state = TS_INACTIVE;
            continue;
        }
        if (pti_enabled) arch_restore_user(&t->ctx);
        arch_restore_user_nopti(&t->ctx); // (its test for PTI was the one in arch_switch_thread)
    }
}
