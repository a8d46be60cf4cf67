/* SPDX-License-Identifier: MIT */
/* The IPC tests' shared world (ipc_fixture.c): one single-level CSpace with endpoints and a
 * notification in it, threads made as Retype and Configure would, the checks of queues and
 * received messages, and the system call entry as entry.S makes it. The tests of endpoint.c,
 * notification.c, tcb.c's fault delivery, sched.c, fastpath.c and syscall.c run over it, on the
 * fake machine of fake_arch.c; each binary is linked with --wrap=syscall_slowpath. */
#pragma once
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <resurgo/ipcbuf.h>
#include <resurgo/syscall.h>
#include "cdt.h"
#include "endpoint.h"
#include "fastpath.h"
#include "notification.h"
#include "sched.h"
#include "tcb.h"
#include "vspace.h"
#include "arch/x86_64/arch.h"
#include "arch/x86_64/switch.h"

#include "fake_arch.h"

/* ---- The world: one shared single-level CSpace, endpoints and notifications in it ------------ */

enum {
    RADIX = 4,
    EP = 1,         /* endpoint A, unbadged, all rights */
    EP_BADGED = 2,  /* endpoint A, badge 0xB1, all rights */
    EP_NOGRANT = 3, /* endpoint A, badge 0xB2, read and write only */
    EP_RO = 4,      /* endpoint A, read only */
    EP_WO = 5,      /* endpoint A, write only */
    EP2 = 6,        /* endpoint B */
    NTFN = 7,       /* the notification, badge 0x8 */
    FREE = 9,       /* empty: receive slot for transferred caps */
    SELF = 15,      /* the CNode's own cap, to name it as a receive CNode */
};

struct ipc_world {
    struct slot *cn; /* the shared CNode's 16 slots */
    struct endpoint *ep, *ep2;
    struct notification *ntfn;
    void *vspace; /* memory a VSpace cap can name */
};
extern struct ipc_world w;

/* Zeroed heap memory, freed by ipc_teardown. */
void *alloc(size_t align, size_t size);
/* Builds the world; the suites' .init. */
void ipc_setup(void);
/* Frees what alloc gave; the suites' .fini. */
void ipc_teardown(void);

/* A thread as Retype and Configure would leave it: CSpace = the shared CNode, a VSpace, not
 * running yet (TS_INACTIVE, like a new TCB). */
struct tcb *thread(const char *name, uint8_t prio);
/* A thread that is runnable (queued at the tail of its priority). */
struct tcb *running(const char *name, uint8_t prio);
/* Gives t an IPC buffer frame (mapped at a non-page-aligned address, as Configure allows). */
struct rs_ipc_buffer *give_ipcbuf(struct tcb *t);
/* Puts a message of `len` words with `label` into t's registers. */
void set_msg(struct tcb *t, uint64_t label, unsigned len, uint64_t m0, uint64_t m1, uint64_t m2,
             uint64_t m3);
/* The cap in the shared CNode's `slot`. */
struct cap *cap(unsigned slot);

/* Checks what a thread's syscall returned: status, message info and badge. */
void expect_received(const struct tcb *t, int status, uint64_t info, uint64_t badge);
/* Checks the first four message registers t received. */
void expect_mrs(const struct tcb *t, uint64_t m0, uint64_t m1, uint64_t m2, uint64_t m3);

/* The run queue, highest priority first, read out by dequeuing (which empties it). The links
 * are checked on the way: dequeuing would repair a stale back link and hide it. */
int drain_run_queue(struct tcb **out, int max);
/* Checks the run queue (and empties it) against `expect`. */
void expect_run_queue(struct tcb *const *expect, int n);
#define EXPECT_RUN_QUEUE(...)                                                                      \
    do {                                                                                           \
        struct tcb *const q_[] = {__VA_ARGS__};                                                    \
        expect_run_queue(q_, sizeof(q_) / sizeof(q_[0]));                                          \
    } while (0)

/* Checks an endpoint's state and queue, links included. */
void expect_ep_queue(const struct endpoint *ep, int state, struct tcb *const *expect, int n);
#define EXPECT_EP_QUEUE(ep, state, ...)                                                            \
    do {                                                                                           \
        struct tcb *const q_[] = {__VA_ARGS__};                                                    \
        expect_ep_queue(ep, state, q_, sizeof(q_) / sizeof(q_[0]));                                \
    } while (0)

/* Checks that an endpoint is idle with nobody queued. */
void expect_ep_idle(const struct endpoint *ep);

/* ---- The system call entry ------------------------------------------------------------------- */

/* The fast path hands whatever it declines to syscall_slowpath. The test binaries are linked with
 * --wrap=syscall_slowpath, so every entry into the slow path is counted here on its way through. */
extern int slow_entries;

/* What entry.S does after saving the registers of `cur`. */
_Noreturn void syscall_entry(void);
