/* SPDX-License-Identifier: MIT */
/* The keyboard server (servers/kbd) and init: what init gives it, and how typed bytes reach
 * init's shell.
 *
 * init gives every instance of a server whose image is "kbd" an IOPort cap for the i8042's ports
 * 0x60..0x64 (KBD_SLOT_PORTS) and the IRQ handler cap of IRQ 1 (KBD_SLOT_IRQ). The handler is
 * made once, when init sets the server up, and signals the server's ping notification
 * (IPC_SLOT_PING, bound to its thread) with KBD_BADGE_IRQ: like the control page it outlives
 * every instance, so a restarted driver gets the same line without asking for it.
 *
 * Typed bytes go into the input ring in the control page init shares with the server
 * (proto/init.h), at KBD_RING_OFFSET: the driver writes buf[head % KBD_RING] and then advances
 * `head`; init's shell reads [tail, head) on each of its timer ticks, as it reads the serial
 * console, and advances `tail`. init never blocks on the driver, and bytes typed before a crash
 * are still read after it. The driver writes only while head - tail < KBD_RING (a full ring drops
 * keys); init treats head - tail > KBD_RING (a scribbled page) as "skip to head". */
#pragma once
#include <stdint.h>

#define KBD_SLOT_PORTS 20
#define KBD_SLOT_IRQ   21
#define KBD_BADGE_IRQ  8ul
#define KBD_PORT_FIRST 0x60
#define KBD_PORT_LAST  0x64
#define KBD_IRQ        1

#define KBD_RING_OFFSET 2048
#define KBD_RING        256
struct kbd_ring {
    volatile uint64_t head; /* driver: bytes written so far */
    volatile uint64_t tail; /* init: bytes read so far */
    uint8_t buf[KBD_RING];
};
_Static_assert(KBD_RING_OFFSET + sizeof(struct kbd_ring) <= 4096, "the ring fits the control page");
