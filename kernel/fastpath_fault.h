/* SPDX-License-Identifier: MIT */
/* The fault fast path (fastpath_fault.c): a user fault straight to a waiting handler, and the
 * handler's ReplyRecv straight back to the faulting thread. */
#pragma once
#include "tcb.h"

/* Delivers t's fault record (filled in) to the handler waiting on t's fault endpoint and leaves
 * into it, if that is a case the fast path takes; otherwise returns having changed nothing, and
 * the caller delivers it with tcb_raise_fault. */
void fastpath_fault(struct tcb *t);
/* ReplyRecv by t (the running thread) that answers a page fault or CPU exception: resumes the
 * faulting thread, blocks t on the endpoint and leaves into the next thread, if that is a case
 * the fast path takes; otherwise returns having changed nothing (the slow path runs). */
void fastpath_fault_reply_recv(struct tcb *t);
