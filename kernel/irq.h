/* SPDX-License-Identifier: MIT */
/* Interrupts as capabilities: IRQControl issues one IRQHandler per line; a handler routes its
 * line to a notification and re-enables it with Ack. */
#pragma once
#include "invoke.h"
#include "cdt.h"

int irq_control_decode(struct invocation *inv);
int irq_handler_decode(struct invocation *inv);
/* The last handler cap of `irq` went: mask the line, return its notification slot to delete. */
struct slot_array irq_finalise(unsigned irq);
/* Called from the interrupt path: masks the line and signals its notification. */
void irq_deliver(unsigned irq);

int ioport_control_decode(struct invocation *inv);
int ioport_decode(struct invocation *inv);
