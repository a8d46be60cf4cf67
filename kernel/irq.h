/* SPDX-License-Identifier: MIT */
/* Interrupts as capabilities: IRQControl issues up to IRQ_SHARE IRQHandlers per line (devices
 * sharing a level-triggered line); a handler routes the line to its notification and acknowledges
 * with Ack; the line is re-enabled once every signalled handler has acknowledged. */
#pragma once
#include "invoke.h"
#include "cdt.h"

int irq_control_decode(struct invocation *inv);
int irq_handler_decode(struct invocation *inv);
#define IRQ_SHARE 4 /* handlers per line */
/* The last cap to handler `handler` of `irq` went: it no longer holds the line masked (the line
 * is masked if no other handler is bound); returns its notification slot to delete. */
struct slot_array irq_finalise(unsigned irq, unsigned handler);
/* Called from the interrupt path: masks the line and signals every bound handler's notification,
 * each of which then owes an Ack. */
void irq_deliver(unsigned irq);

/* I/O ports (arch/x86_64/ioport.c). An IOPortControl cap whose `small` is IOPORT_CONTROL_PLATFORM
 * may also issue the platform ranges (PCI configuration, PIT, resets, ACPI PM); no control issues
 * the kernel's own ports. Both return an rs_error with detail (capabilities.md). */
#define IOPORT_CONTROL_PLATFORM 1u
int ioport_control_decode(struct invocation *inv);
int ioport_decode(struct invocation *inv);
