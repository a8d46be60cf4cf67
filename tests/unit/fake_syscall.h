/* SPDX-License-Identifier: MIT */
/* A scripted kernel for host tests of libipc (built with RS_HOST_TEST, so that the runtime's
 * rs_syscall_buf is this file's function instead of the `syscall` instruction): every system call
 * is recorded with its message registers and extra caps, then answered by the running test. */
#pragma once
#include "rt.h"

#define FAKE_MAX_CALLS 256
#define FAKE_MRS       8 /* message registers recorded per call */

struct fake_call {
    rs_word_t nr; /* RS_SYS_* */
    rs_cptr_t dest;
    rs_msginfo_t info;
    rs_word_t mr[FAKE_MRS];
    rs_cptr_t caps[RS_MSG_MAX_EXTRA_CAPS];
    rs_cptr_t receive_cnode, receive_index, receive_depth;
};

/* Answers the call recorded in *c (fake_calls[fake_ncalls - 1]); may write b->mr[] (the results
 * and detail words) and b->caps_or_badges; returns what the system call returns. */
typedef rs_result_t (*fake_kernel_fn)(const struct fake_call *c, rs_ipc_buffer_t *b);

extern struct fake_call fake_calls[FAKE_MAX_CALLS];
extern unsigned fake_ncalls;

/* Forgets the recorded calls, clears this thread's IPC buffer and answers with `kernel` from now
 * on. */
void fake_reset(fake_kernel_fn kernel);
/* The system calls recorded with number nr (e.g. RS_SYS_YIELD). */
unsigned fake_count(rs_word_t nr);
