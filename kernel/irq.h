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

/* I/O ports (arch/x86_64/ioport.c). An IOPortControl cap whose `small` is IOPORT_CONTROL_PLATFORM
 * may also issue the platform ranges (PCI configuration, PIT, resets, ACPI PM); no control issues
 * the kernel's own ports. Both return an rs_error with detail (capabilities.md). */
#define IOPORT_CONTROL_PLATFORM 1u
int ioport_control_decode(struct invocation *inv);
int ioport_decode(struct invocation *inv);
