/* SPDX-License-Identifier: MIT */
/* Synchronous IPC endpoints and the message transfer between two threads. */
#pragma once
#include "tcb.h"

struct endpoint {
    struct tcb *head, *tail; /* all senders or all receivers */
    uint8_t state;           /* EP_IDLE, EP_SEND, EP_RECV */
};
enum { EP_IDLE, EP_SEND, EP_RECV };

_Static_assert(sizeof(struct endpoint) <= (1u << RS_ENDPOINT_BITS), "endpoint fits");

/* Send on the endpoint cap `c` from `t` (Send, NBSend, Call, or a fault delivery when
 * t->in_fault_ipc). Sets t's status or blocks it. */
void endpoint_send(struct cap *c, struct tcb *t, bool blocking, bool is_call);
/* Receive on the endpoint cap `c` into `t` (Recv, NBRecv, the second half of ReplyRecv). */
void endpoint_recv(struct cap *c, struct tcb *t, bool blocking);
/* Reply from `t` to the caller it holds, if any. */
void endpoint_reply(struct tcb *t);
/* Drops the caller `t` holds without replying: the caller gets RS_PEER_DIED (a faulted thread
 * stays stopped; a vCPU's thread queues its exit again on its exit endpoint). */
void endpoint_drop_reply(struct tcb *t);
/* Removes a blocked thread from the endpoint's queue. */
void endpoint_dequeue(struct endpoint *ep, struct tcb *t);
/* The last cap is gone: every queued thread gets RS_PEER_DIED (a faulted one stays stopped). */
void endpoint_finalise(struct endpoint *ep);
/* One step of endpoint_finalise: the first queued thread, if any, is failed as it would; false
 * if the queue was empty. Lets a deletion wake a long queue between preemption points. */
bool endpoint_cancel_one(struct endpoint *ep);
/* Writes the message header registers into the receiver: status, info, badge. */
void ipc_set_received(struct tcb *r, uint64_t info, uint64_t badge);
/* Copies the message (registers, buffer, caps if allowed) from s to r; returns the info word
 * the receiver sees. */
uint64_t ipc_transfer(struct tcb *s, struct tcb *r, struct endpoint *ep, bool can_grant);
