/* SPDX-License-Identifier: MIT */
/* IPC fast path for Call and ReplyRecv. Each returns only when the fast path does not apply;
 * otherwise it leaves the kernel into the partner thread. */
#pragma once
#include "tcb.h"

void fastpath_call(struct tcb *t);
void fastpath_reply_recv(struct tcb *t);
