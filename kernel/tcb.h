/* SPDX-License-Identifier: MIT */
/* Thread control blocks: a thread's registers, scheduling and IPC state, and the caps that
 * define it (CSpace root, VSpace, IPC buffer frame, fault endpoint) held in its own slots. */
#pragma once
#include <stdint.h>
#include <stdbool.h>
#include <resurgo/types.h>
#include <resurgo/errors.h>
#include "arch/x86_64/context.h"
#include "cap.h"
#include <resurgo/fault.h>

#define RS_REG_COUNT_KERNEL RS_REG_COUNT
struct invocation;

enum thread_state {
    TS_INACTIVE = 0, /* suspended, never started, or stopped after an unhandled fault */
    TS_RUNNABLE,
    TS_BLOCKED_SEND,  /* queued on an endpoint to send (or Call, or deliver a fault) */
    TS_BLOCKED_RECV,  /* queued on an endpoint to receive */
    TS_BLOCKED_REPLY, /* called and waits for the reply */
    TS_BLOCKED_NTFN,  /* waits on a notification */
};

enum tcb_slot {
    TCB_SLOT_CSPACE,
    TCB_SLOT_VSPACE,
    TCB_SLOT_IPCBUF,
    TCB_SLOT_FAULT_EP,
    TCB_SLOT_COUNT
};

struct endpoint;
struct notification;
struct vcpu;

struct fault_info {
    uint8_t type;  /* rs_fault_type; RS_FAULT_NONE when not faulting */
    uint64_t w[5]; /* details, in the order of the fault message (see resurgo/fault.h) */
};

struct tcb {
    struct user_context ctx; /* first: the entry code pushes into it */
    uint8_t state;
    uint8_t prio, mcp;
    uint8_t send_is_call : 1, send_can_grant : 1, in_fault_ipc : 1;
    uint64_t send_badge; /* badge of the cap a blocked sender used */
    struct tcb *sched_next, *sched_prev;
    struct tcb *queue_next, *queue_prev; /* endpoint / notification wait queue */
    void *blocked_on;                    /* struct endpoint or struct notification */
    struct tcb *reply_to; /* the caller this thread must reply to (implicit reply cap) */
    struct tcb *replier;  /* while BLOCKED_REPLY: the thread holding our reply */
    struct notification *bound_ntfn;
    struct vcpu *vcpu; /* set when this thread runs a guest */
    uint64_t ipc_buffer_vaddr;
    uint64_t time_slice;
    struct fault_info fault;
    char name[16];
    struct slot slots[TCB_SLOT_COUNT];
};

_Static_assert(sizeof(struct tcb) <= (1u << RS_TCB_BITS), "TCB fits its object size");

extern struct tcb *cur; /* the running thread; NULL while idle */

/* Initialises a zeroed TCB object (Retype). */
void tcb_init(struct tcb *t);
/* Returns the thread's IPC buffer as a kernel pointer, or NULL if it has none. */
struct rs_ipc_buffer *tcb_ipc_buffer(struct tcb *t);
/* Detaches a thread from whatever it waits on; it stays in its state until the caller sets one. */
void tcb_cancel_ipc(struct tcb *t);
/* Stops a thread (Suspend, or destruction): cancels its IPC, fails its pending reply. */
void tcb_suspend(struct tcb *t);
/* Makes an inactive thread runnable. */
void tcb_resume(struct tcb *t);
/* Releases everything the TCB refers to; returns its slots for deletion (object_finalise). */
void tcb_finalise(struct tcb *t);
/* Completes the caller's syscall with an error and wakes it (used when a peer goes away). */
void tcb_fail_syscall(struct tcb *t, int error);
/* Delivers a fault of the current thread to its fault handler, or stops it if there is none. */
void tcb_raise_fault(struct tcb *t);

/* Registers in resurgo/fault.h order (RS_REG_*). */
void tcb_get_regs(const struct tcb *t, uint64_t regs[RS_REG_COUNT_KERNEL]);
/* Applies the reply of a fault handler to the faulted thread `t` (resume or stay stopped). */
void tcb_fault_reply(struct tcb *t, struct tcb *handler);
int tcb_decode(struct invocation *inv);
