/* SPDX-License-Identifier: MIT */
/* IPC fast path for Call, ReplyRecv and Send (Signal), entered straight from the syscall entry code. Each
 * leaves the kernel into the partner thread, or hands over to syscall_slowpath. */
#pragma once
#include "tcb.h"
#include <resurgo/types.h>

/* Looks up cptr in t's CSpace when that is a single CNode whose guard and radix make 64 bits
 * (the usual one), inline: the fast path and the slow path's lookups start with it. False for
 * anything else (a deeper CSpace, a guard mismatch): the generic cspace_lookup_slot resolves
 * or reports those. The slot found may be empty. */
static inline __attribute__((always_inline)) bool fastpath_lookup(struct tcb *t, uint64_t cptr,
                                                                  struct slot **out)
{
    const struct cap *root = &t->slots[TCB_SLOT_CSPACE].cap;
    // type (byte 0) and CAP_FLAG_FLAT (in byte 3: guard size + radix = 64) in one compare
    _Static_assert(__builtin_offsetof(struct cap, flags) == 3, "type and flags in one word");
    uint32_t w;
    __builtin_memcpy(&w, root, sizeof w);
    if (__builtin_expect(
            (w & (0xFFu | CAP_FLAG_FLAT << 24)) != (RS_CAP_CNODE | CAP_FLAG_FLAT << 24), 0))
        return false;
    // cptr = guard << bits | index; subtracting the CNode's guard leaves the index, and
    // leaves bits above `bits` set exactly when the guard differs (both are below 2^small)
    uint64_t index = cptr - (root->w1 << root->bits);
    if (index >> root->bits) return false;
    *out = &((struct slot *)root->obj)[index];
    return true;
}

_Noreturn void fastpath_call(struct tcb *t);
_Noreturn void fastpath_reply_recv(struct tcb *t);
_Noreturn void fastpath_send(struct tcb *t);
/* Call and ReplyRecv as entered from the syscall entry used with page-table isolation
 * (syscall_entry_pti): the same, compiled for that mode. */
_Noreturn void fastpath_call_pti(struct tcb *t);
_Noreturn void fastpath_reply_recv_pti(struct tcb *t);
/* The general system call handler (syscall.c). */
_Noreturn void syscall_slowpath(struct tcb *t);
/* arch_restore_user when PTI is off (entry.S): the exit without its test for PTI. */
_Noreturn void arch_restore_user_nopti(struct user_context *ctx);
