/* SPDX-License-Identifier: MIT */
/* Message registers: MR0..MR3 travel in rdx, r8, r9, r10 (resurgo/syscall.h), the rest in the
 * thread's IPC buffer. The one place that maps an MR index to where it lives (the IPC fast path
 * keeps an inlined copy, kernel/fastpath.c). */
#pragma once
#include <stdint.h>
#include <resurgo/ipcbuf.h>
#include <resurgo/msginfo.h>
#include "tcb.h"

/* The CPU register that holds MR i of thread t; i < RS_MSG_REG_COUNT. */
static inline uint64_t *msgreg_cpu(struct tcb *t, unsigned i)
{
    switch (i) {
    case 0: return &t->ctx.rdx;
    case 1: return &t->ctx.r8;
    case 2: return &t->ctx.r9;
    default: return &t->ctx.r10;
    }
}

/* MR i of thread t, whose IPC buffer is b (NULL: none; words beyond the registers read as 0). */
static inline uint64_t msgreg_get(const struct tcb *t, const struct rs_ipc_buffer *b, unsigned i)
{
    if (i < RS_MSG_REG_COUNT) return *msgreg_cpu((struct tcb *)t, i); // only read
    return b && i < RS_MSG_MAX_LENGTH ? b->mr[i] : 0;
}

/* Sets MR i of thread t, whose IPC buffer is b. Returns false (nothing written) if the word
 * lives in a buffer t lacks or lies beyond RS_MSG_MAX_LENGTH. */
static inline bool msgreg_set(struct tcb *t, struct rs_ipc_buffer *b, unsigned i, uint64_t v)
{
    if (i < RS_MSG_REG_COUNT) {
        *msgreg_cpu(t, i) = v;
        return true;
    }
    if (!b || i >= RS_MSG_MAX_LENGTH) return false;
    b->mr[i] = v;
    return true;
}
