/* SPDX-License-Identifier: MIT */
/* The 8254 programmable interval timer (ports 0x40-0x43) and the PC's port 0x61 (channel 2's
 * gate, the speaker, the refresh toggle and OUT2), as pure functions of guest time. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#define PIT_HZ 1193182ull /* the PC's PIT clock: 14.31818 MHz / 12 */

struct pit_channel {
    uint64_t start_ns;   /* counting (re)started here: elapsed clock ticks count from it */
    uint64_t base_ticks; /* ticks counted before start_ns (a gate suspended mode 0 or 4) */
    uint32_t count;      /* the initial count as programmed, 0..0xFFFF (0 stands for 65536) */
    uint16_t latch;      /* a latched count, valid while latch_bytes > 0 */
    uint8_t ctrl;        /* control word bits 5..0: access (5:4), mode (3:1), BCD (0); 0: none */
    uint8_t loaded;      /* a count was written since the control word */
    uint8_t started;     /* counting began (modes 1 and 5: on a gate rising edge) */
    uint8_t counting;    /* the clock advances the counter now (loaded and the gate allows) */
    uint8_t write_high;  /* access lo/hi: the next byte written is the high one */
    uint8_t read_high;   /* access lo/hi: the next byte read is the high one */
    uint8_t low;         /* the low byte written, waiting for the high one */
    uint8_t latch_bytes; /* bytes of the latched count still to read (0: none latched) */
    uint8_t status;      /* a latched status byte (read-back), valid if status_latched */
    uint8_t status_latched;
    uint8_t pad[6];
};

struct pit {
    struct pit_channel ch[3];
    uint64_t adv_ticks; /* channel 0: elapsed ticks up to which pit_advance counted edges */
    uint32_t pending;   /* channel 0: rising edges not yet returned by pit_advance */
    uint8_t port61;     /* port 0x61 bits 3..0 as written (bit 0 gate 2, bit 1 speaker data) */
    uint8_t pad[3];
};

/* Power-on state: no channel counting, every OUT high, gate 2 low. All-zero memory is this
 * state too (the VMM's persistent state starts zeroed). */
void pit_reset(struct pit *p);
/* An IN from port 0x40..0x43 or 0x61 at guest time now_ns (any other port reads 0xFF). A read
 * of a counter returns its count at now_ns (or the latched count or status, once). */
uint8_t pit_read(struct pit *p, uint16_t port, uint64_t now_ns);
/* An OUT to port 0x40..0x43 or 0x61 (any other port is ignored). */
void pit_write(struct pit *p, uint16_t port, uint8_t v, uint64_t now_ns);
/* The level of channel 0's OUT (the IRQ0 line) at now_ns. */
bool pit_out0(const struct pit *p, uint64_t now_ns);
/* Rising edges of OUT0 since the last call (or reset), up to now_ns; the caller pulses IRQ0. */
unsigned pit_advance(struct pit *p, uint64_t now_ns);
/* When the next rising edge of OUT0 after those pit_advance returned happens (0 if edges are
 * pending already); UINT64_MAX if none will without a new write. */
uint64_t pit_next_ns(const struct pit *p);
/* The longest a consistent channel 0 takes from now_ns to its next rising edge: a whole count
 * of 65536 clocks (mode 0/1/4/5 count, a mode 2/3 period), rounded up to the next ms. */
#define PIT_MAX_WAIT_NS 55000000ull
/* Whether the state is one the 8254 can be in at guest time now_ns: no channel started in the
 * future, channel 0's counted edges not ahead of its elapsed clocks, its next edge (if any) at
 * most PIT_MAX_WAIT_NS away. A state that is not (bits flipped by a stray write, found by no
 * checksum: docs/restart.md "Validating inherited state") would leave a halted guest waiting for
 * ever; pit_repair restarts such channels at now_ns with their programming (mode, count) kept,
 * so the guest loses at most part of one period. Returns how many channels it restarted. */
bool pit_consistent(const struct pit *p, uint64_t now_ns);
unsigned pit_repair(struct pit *p, uint64_t now_ns);

_Static_assert(sizeof(struct pit) <= 512,
               "a device model is at most 512 bytes of VMM state (it is copied on every exit)");
