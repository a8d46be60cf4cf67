/* SPDX-License-Identifier: MIT */
/* The host's wall clock, read once at boot from the PC's CMOS RTC (MC146818) and given to VMMs,
 * whose guests' RTCs start from it. The conversion is pure and host-tested. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

/* The CMOS time registers as read: 0x00 sec, 0x02 min, 0x04 hour, 0x07 day, 0x08 month, 0x09
 * year, 0x32 century (0: none), and status register B (0x0B: bit 2 binary, bit 1 24-hour). */
struct cmos_time {
    uint8_t sec, min, hour, day, month, year, century, status_b;
};

/* Seconds since 1970-01-01 00:00 UTC (the RTC keeps UTC on QEMU, Bochs and Linux hosts); false
 * if a field is out of range (no clock, garbage). */
bool cmos_to_unix(const struct cmos_time *t, uint64_t *unix_seconds);
/* Days since 1970-01-01 of a proleptic Gregorian date (year >= 1970, month 1..12, day 1..31). */
uint64_t days_from_civil(unsigned year, unsigned month, unsigned day);
