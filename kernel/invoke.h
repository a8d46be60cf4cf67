/* SPDX-License-Identifier: MIT */
/* A decoded invocation: the cap invoked, its label, arguments and extra caps, and where results
 * go. Every <object>_decode() checks it completely before calling its invoke step. */
#pragma once
#include <stdint.h>
#include <resurgo/errors.h>
#include <resurgo/msginfo.h>
#include "cap.h"
#include "tcb.h"

struct invocation {
    struct tcb *caller;
    struct slot *slot; /* the invoked cap's slot */
    struct cap *cap;
    uint64_t label;
    unsigned length; /* argument words the caller sent */
    unsigned extra_count;
    struct slot *extra[RS_MSG_MAX_EXTRA_CAPS];
    unsigned out_length; /* result words written */
    bool no_reply;       /* the invocation blocked or destroyed the caller: write nothing back */
};

/* Kernel-internal status (never seen by user code, outside enum rs_error): the invocation stopped
 * at a preemption point with its progress saved in the objects; do_invocation restarts the
 * system call, so that the pending interrupt is taken and the call then carries on. Returned
 * only before any result word was written. */
#define RS_PREEMPTED 0x100

/* Argument i (0-based); the decoder must have checked i < length. */
uint64_t inv_arg(struct invocation *inv, unsigned i);
/* Writes result word i for the caller. */
void inv_result(struct invocation *inv, unsigned i, uint64_t v);
/* Records error detail (as resurgo/errors.h describes per error) and returns err. */
int inv_error(struct invocation *inv, int err, uint64_t d0, uint64_t d1, uint64_t d2);

/* Checks that at least n argument words were sent. */
#define INV_NEED_ARGS(inv, n)                                                                      \
    do {                                                                                           \
        if ((inv)->length < (n))                                                                   \
            return inv_error(inv, RS_TRUNCATED_MESSAGE, (n), (inv)->length, 0);                    \
    } while (0)
/* Checks that at least n extra caps were sent and resolved. */
#define INV_NEED_CAPS(inv, n)                                                                      \
    do {                                                                                           \
        if ((inv)->extra_count < (n))                                                              \
            return inv_error(inv, RS_INVALID_CAPABILITY, (inv)->extra_count + 1, 0, 0);            \
    } while (0)

/* The central switch on the invoked cap's type. Returns the status for the caller. */
int invoke_cap(struct invocation *inv);
/* Resolves an empty destination slot (index, depth) below the CNode cap in `root` for an
 * invocation that creates a cap; arg_index names `index` in error detail. NULL + *err on error. */
struct slot *inv_dest_slot(struct invocation *inv, struct slot *root, uint64_t index,
                           uint64_t depth, unsigned arg_index, int *err);
