/* SPDX-License-Identifier: MIT */
/* The MC146818 real-time clock and CMOS RAM of a PC: index port 0x70 (bit 7 masks NMI), data
 * port 0x71; the clock, alarm and registers A-D, the century at 0x32, the rest plain bytes. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

struct rtc {
    int64_t sec;       /* the clock in seconds since 1970 (running: from phase_ns on) */
    uint64_t phase_ns; /* a second boundary: running, the clock reads sec from here, sec - 1
                          just before, and ticks every second after */
    uint64_t div_ns;   /* the 32.768 kHz divider started here (periodic interrupt phase) */
    uint64_t seen_ns;  /* `flags` holds every event up to here */
    uint64_t alarm_ns; /* the first second boundary after seen_ns matching the alarm, or none */
    uint8_t flags;     /* register C's PF, AF, UF gathered (IRQF is computed from them) */
    uint8_t index;     /* port 0x70 bits 6..0 */
    uint8_t nmi_off;   /* port 0x70 bit 7 */
    uint8_t pad[5];
    uint8_t cmos[128]; /* registers A and B, the alarm bytes and the plain bytes */
};

/* Power-on state: the clock at unix_seconds at guest time now_ns and running (register A 0x26:
 * 32.768 kHz, 1024 Hz periodic rate; B 0x02: 24-hour BCD, no interrupts), CMOS bytes zero.
 * (A zeroed struct is a stopped clock at 1970: call this first.) */
void rtc_reset(struct rtc *r, uint64_t unix_seconds, uint64_t now_ns);
/* An IN from port 0x71 (the register port 0x70 selects; reading C clears its flags and the
 * IRQ8 line); 0x70 and any other port read 0xFF. */
uint8_t rtc_read(struct rtc *r, uint16_t port, uint64_t now_ns);
/* An OUT to port 0x70 (index, NMI mask) or 0x71; any other port is ignored. */
void rtc_write(struct rtc *r, uint16_t port, uint8_t v, uint64_t now_ns);
/* The IRQ8 line at now_ns: register C's IRQF (a flag with its enable in B). */
bool rtc_irq(const struct rtc *r, uint64_t now_ns);
/* Gathers the interrupt events up to now_ns (nothing the guest sees changes): afterwards
 * rtc_next_ns is after now_ns. */
void rtc_advance(struct rtc *r, uint64_t now_ns);
/* The earliest time at which the IRQ8 line rises, counted from the last rtc_advance or access
 * (not after it: it is due); UINT64_MAX if it is high already from events gathered (only a read
 * of C lowers it) or no enabled interrupt will come. */
uint64_t rtc_next_ns(const struct rtc *r);
/* The firmware's memory size bytes for ram_bytes of RAM: base memory (0x15/0x16), KiB above
 * 1 MiB (0x17/0x18, 0x30/0x31) and 64 KiB units above 16 MiB (0x34/0x35), saturated. */
void rtc_set_memory(struct rtc *r, uint64_t ram_bytes);

_Static_assert(sizeof(struct rtc) <= 512,
               "a device model is at most 512 bytes of VMM state (it is copied on every exit)");
