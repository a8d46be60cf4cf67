/* SPDX-License-Identifier: MIT */
/* Protocol of a VMM server (servers/vmm): what it can tell a client about its guest. Requests
 * follow the libipc convention: label = operation, w[0] = request id. */
#pragma once
#include <stdint.h>

enum vmm_op {
    VMM_STATS = 1, /* -> w[1] timer interrupts delivered, w[2] exits answered, w[3] 1 if the guest
                      was stopped (w[4]: the exit reason that stopped it), w[5] the VMM's instance
                      (1 for the first; a restarted VMM continues the counts of w[1] and w[2]),
                      w[6] exits a restarted VMM answered from its record because its
                      predecessor died after committing them but before replying, w[7] guest
                      time in init's ticks (10 ms each; the guest's timer runs on it) */
    VMM_INPUT = 2, /* w[1] = n bytes (at most VMM_INPUT_MAX) typed into the guest's COM1, packed
                      little-endian 8 per word from w[2] -> w[1] = bytes accepted (queued in the
                      VMM's persistent state, VMM_INPUT_QUEUE at most; send the rest again
                      later), w[2] = bytes still queued (the guest's UART has not taken them
                      yet; n = 0 just asks). A retry of the same request id gets the same answer and queues
                      nothing again. RS_RANGE_ERROR (MR0 1): n too large; RS_ILLEGAL_OPERATION:
                      the guest is stopped, nothing would read it. init's own shell types through
                      the console ring below instead: init never blocks on a server. */
};
#define VMM_INPUT_MAX   64
#define VMM_INPUT_QUEUE 64

#define VMM_STATS_WORDS 8

/* The console ring: how init's serial shell types into a guest (`attach NAME`, servers/init/
 * shell.c). It lives in the control page init shares with the VMM (proto/init.h), at
 * VMM_CONSOLE_OFFSET, so init never blocks on a VMM and the bytes outlive a VMM crash: init
 * writes bytes and advances `head`; the VMM moves them into the guest's UART as its receive FIFO
 * has room, counts them consumed in its persistent state (so a restarted VMM neither loses nor
 * repeats one) and publishes that count as `tail` after each commit. Positions count bytes
 * since boot; buf[pos % VMM_CONSOLE_RING] holds byte pos. init writes only while
 * head - tail < VMM_CONSOLE_RING and counts what did not fit. While `attached` is 1 the VMM
 * prints the guest's output raw (no "[name] " prefix, no line buffering), so that a person sees
 * the guest's echo and prompt as a terminal would. */
#define VMM_CONSOLE_OFFSET 2048
#define VMM_CONSOLE_RING   1024
#define VMM_CONSOLE_ESCAPE 0x1D /* Ctrl-]: init's shell takes the keyboard back (as telnet) */
struct vmm_console_ring {
    volatile uint64_t attached; /* init: 1 while the keyboard is attached to this guest */
    volatile uint64_t head;     /* init: bytes written so far */
    volatile uint64_t tail;     /* VMM: bytes consumed so far (committed) */
    uint8_t buf[VMM_CONSOLE_RING];
};
_Static_assert(VMM_CONSOLE_OFFSET + sizeof(struct vmm_console_ring) <= 4096,
               "the ring fits the control page");

/* The output ring: what the VMM prints (the guest's lines or raw bytes, its own log lines) goes
 * to the console through init, so that it is printed exactly once across VMM crashes. Each
 * committed transaction's output has fixed byte positions (counted since the VM's start, in the
 * VMM's persistent state); the VMM copies it to buf[pos % VMM_OUTPUT_RING] and then publishes
 * `head` with one store. A VMM that dies before or after publishing is followed by one that
 * copies the same bytes to the same places again: nothing is lost or doubled. init prints
 * [tail, head) on its tick and advances `tail`. When init has not caught up (the ring has no room)
 * the VMM asks init to print now (REGISTRY_FLUSH_OUTPUT, proto/registry.h) before it copies:
 * init alone moves `tail`, so a VMM that dies around that call prints nothing twice. (The VMM
 * printing the bytes itself, as it once did, repeated them when it died before recording it.) */
#define VMM_OUTPUT_OFFSET (VMM_CONSOLE_OFFSET + sizeof(struct vmm_console_ring) + 40)
#define VMM_OUTPUT_RING   832
struct vmm_output_ring {
    volatile uint64_t head; /* VMM: bytes published so far */
    volatile uint64_t tail; /* init: bytes printed so far */
    uint8_t buf[VMM_OUTPUT_RING];
};
_Static_assert(VMM_OUTPUT_OFFSET + sizeof(struct vmm_output_ring) <= 4096,
               "the output ring fits the control page");
