/* SPDX-License-Identifier: MIT */
/* IPC fast path for Call, ReplyRecv and Send (Signal), entered straight from the syscall entry code. Each
 * leaves the kernel into the partner thread, or hands over to syscall_slowpath. */
#pragma once
#include "tcb.h"

_Noreturn void fastpath_call(struct tcb *t);
_Noreturn void fastpath_reply_recv(struct tcb *t);
_Noreturn void fastpath_send(struct tcb *t);
/* The general system call handler (syscall.c). */
_Noreturn void syscall_slowpath(struct tcb *t);
