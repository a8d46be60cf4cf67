/* SPDX-License-Identifier: MIT */
/* Threads in the caller's own address space and CSpace.
 * The runtime keeps ONE __rs_ipc_buffer per address space, so such a thread must not use the
 * rs_* stubs (nor rt_printf): it gets its own IPC buffer pointer and uses ps_syscall_buf. */
#pragma once
#include <stdint.h>
#include "env.h"
#include "syscall_stubs.h"

typedef void (*ps_thread_fn)(uint64_t arg, rs_ipc_buffer_t *ipc);

typedef struct ps_thread {
    rs_cptr_t tcb, ipc_frame;
    uint64_t stack_top, ipc_vaddr;
} ps_thread_t;

/* Makes (not starts) a thread in env's VSpace and CSpace: `stack_pages` frames below stack_top
 * (page aligned, a free range of env's VSpace), an IPC buffer frame at ipc_vaddr (page aligned,
 * free), priority `prio`, fault handler fault_ep (0: none); it enters fn(arg, ipc). Errors as
 * ps_process_create. Objects and slots come from env and are not freed on error. */
int ps_thread_create(ps_thread_t *t, ps_env_t *env, ps_thread_fn fn, uint64_t arg,
                     uint64_t stack_top, unsigned stack_pages, uint64_t ipc_vaddr, uint8_t prio,
                     rs_cptr_t fault_ep);

/* rs_syscall with an explicit IPC buffer, for threads that share an address space. */
#define ps_syscall_buf rs_syscall_buf
