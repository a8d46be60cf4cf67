/* SPDX-License-Identifier: MIT */
/* The guest's console: COM1 (uart.c's 16550A at 0x3F8) tied to the machine's serial console.
 * Output: "[name] line" lines in the log, or the guest's bytes raw while init's shell is
 * attached to this guest; input: init's console ring (proto/vmm.h) fed into the UART's receive
 * FIFO. Persistent (struct vmm_console in the VMM's state): a restarted VMM keeps a partial
 * line, the mode and its place in the ring. */
#pragma once
#include <stddef.h>
#include "uart.h"
#include "proto/vmm.h"

#define UART_BASE          0x3F8
#define UART_LINE_MAX      120
#define CONSOLE_IDLE_POLLS 64 /* LSR reads finding no input, nothing sent: the guest waits */

struct vmm_console {
    uint8_t raw;        /* output goes to the console as it comes (init's shell is attached) */
    uint8_t idle_polls; /* LSR reads without input since the last byte transmitted */
    uint16_t len;       /* bytes in line */
    char line[UART_LINE_MAX];
    uint64_t in_seen;    /* ring bytes consumed: moved into the UART or dropped */
    uint64_t in_dropped; /* ring bytes dropped (the guest was stopped) */
    /* clients' VMM_INPUT bytes, fed before the ring's; and the last request, for its retry */
    uint8_t q_head, q_len;
    uint8_t q[VMM_INPUT_QUEUE];
    uint32_t last_accepted;
    uint64_t last_badge, last_id;
};

struct vmm;
struct vmm_state;

/* A guest's IN or OUT at port UART_BASE + 0..7: the UART's register, input fed first; the
 * bytes it transmits go to the log or the console. */
uint8_t vmm_console_read(struct vmm *v, uint16_t port);
void vmm_console_write(struct vmm *v, uint16_t port, uint8_t value);
/* Moves input waiting in the ring into the UART as far as its receive FIFO has room, and
 * follows init's attach state. For the exit path (before it samples uart_irq) and the tick. A
 * stopped guest's input is dropped, with a line in the log. No ring (v->ring NULL): nothing. */
void vmm_console_feed(struct vmm *v);
/* One of init's ticks: feeds input (a guest that idles in HLT gets it too). */
void vmm_console_tick(struct vmm *v);
/* Prints the partial line now (the guest halts, waits for input, ...); nothing if empty. */
void vmm_console_flush(struct vmm *v);
/* A client's VMM_INPUT request (proto/vmm.h) number id from badge: queues what fits of the n
 * bytes b and feeds the UART; *accepted = bytes queued. RS_RANGE_ERROR: n > VMM_INPUT_MAX;
 * RS_ILLEGAL_OPERATION: the guest is stopped. A repeat of the last (badge, id) queues nothing
 * and answers as before (a VMM that committed it died before replying). */
int vmm_console_input(struct vmm *v, uint64_t badge, uint64_t id, const uint8_t *b, unsigned n,
                      unsigned *accepted);
/* After a commit: tells init how much of the ring the committed state s has consumed. */
void vmm_console_publish(struct vmm_console_ring *ring, const struct vmm_state *s);
