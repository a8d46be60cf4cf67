// SPDX-License-Identifier: MIT
// Host tests of the VMM's MC146818 RTC and CMOS (servers/vmm/rtc.c) against the Motorola
// MC146818A datasheet (registers A-D, update cycle, periodic/alarm/update-ended interrupts) and
// what Linux does (drivers/rtc/rtc-mc146818-lib.c: wait for UIP, BCD per B bit 2, century at
// 0x32, SET while writing the time), then a seeded fuzz.
#include <criterion/criterion.h>
#include "xorshift.h"
#include "rtc.h"

TestSuite(rtc);

#define US    1000ull
#define MS    1000000ull
#define S     1000000000ull
#define T0    (5 * S)       /* guest time of the reset */
#define UNIX0 1700000000ull /* 2023-11-14 22:13:20 UTC, a Tuesday */

static uint8_t cmos_read(struct rtc *r, uint8_t reg, uint64_t now)
{
    rtc_write(r, 0x70, reg, now);
    return rtc_read(r, 0x71, now);
}

static void cmos_write(struct rtc *r, uint8_t reg, uint8_t v, uint64_t now)
{
    rtc_write(r, 0x70, reg, now);
    rtc_write(r, 0x71, v, now);
}

static struct rtc fresh(void)
{
    struct rtc r;
    rtc_reset(&r, UNIX0, T0);
    return r;
}

Test(rtc, reset_shows_the_wall_clock_in_bcd_24h)
{
    struct rtc r = fresh();
    cr_assert_eq(cmos_read(&r, 0x00, T0), 0x20);
    cr_assert_eq(cmos_read(&r, 0x02, T0), 0x13);
    cr_assert_eq(cmos_read(&r, 0x04, T0), 0x22);
    cr_assert_eq(cmos_read(&r, 0x06, T0), 0x03, "Tuesday (Sunday is 1)");
    cr_assert_eq(cmos_read(&r, 0x07, T0), 0x14);
    cr_assert_eq(cmos_read(&r, 0x08, T0), 0x11);
    cr_assert_eq(cmos_read(&r, 0x09, T0), 0x23);
    cr_assert_eq(cmos_read(&r, 0x32, T0), 0x20, "century");
    cr_assert_eq(cmos_read(&r, 0x0A, T0), 0x26);
    cr_assert_eq(cmos_read(&r, 0x0B, T0), 0x02);
    cr_assert_eq(cmos_read(&r, 0x0C, T0), 0x00);
    cr_assert_eq(cmos_read(&r, 0x0D, T0), 0x80, "VRT: the battery is good");
}

Test(rtc, the_clock_ticks_with_guest_time_and_rolls_over)
{
    struct rtc r = fresh();
    cr_assert_eq(cmos_read(&r, 0x00, T0 + S - 1), 0x20);
    cr_assert_eq(cmos_read(&r, 0x00, T0 + S), 0x21);
    cr_assert_eq(cmos_read(&r, 0x00, T0 + 100 * S), 0x00);
    cr_assert_eq(cmos_read(&r, 0x02, T0 + 100 * S), 0x15);
    uint64_t midnight = T0 + (86400 - (22 * 3600 + 13 * 60 + 20)) * S;
    cr_assert_eq(cmos_read(&r, 0x04, midnight - 1), 0x23);
    cr_assert_eq(cmos_read(&r, 0x04, midnight), 0x00);
    cr_assert_eq(cmos_read(&r, 0x07, midnight), 0x15);
    cr_assert_eq(cmos_read(&r, 0x06, midnight), 0x04, "Wednesday");
}

Test(rtc, binary_and_12_hour_formats)
{
    struct rtc r = fresh();
    cmos_write(&r, 0x0B, 0x06, T0); // binary, 24 h
    cr_assert_eq(cmos_read(&r, 0x04, T0), 22);
    cr_assert_eq(cmos_read(&r, 0x09, T0), 23);
    cr_assert_eq(cmos_read(&r, 0x32, T0), 20);
    cmos_write(&r, 0x0B, 0x04, T0); // binary, 12 h
    cr_assert_eq(cmos_read(&r, 0x04, T0), 0x80 | 10, "10 pm");
    cmos_write(&r, 0x0B, 0x00, T0); // BCD, 12 h
    cr_assert_eq(cmos_read(&r, 0x04, T0), 0x80 | 0x10);
    cmos_write(&r, 0x04, 0x12, T0); // 12 am: midnight
    cmos_write(&r, 0x0B, 0x02, T0);
    cr_assert_eq(cmos_read(&r, 0x04, T0), 0x00);
}

Test(rtc, uip_is_set_in_the_244_us_before_each_update)
{
    struct rtc r = fresh();
    cr_assert_eq(cmos_read(&r, 0x0A, T0 + S / 2) & 0x80, 0);
    cr_assert_eq(cmos_read(&r, 0x0A, T0 + S - 245 * US) & 0x80, 0);
    cr_assert_eq(cmos_read(&r, 0x0A, T0 + S - 200 * US) & 0x80, 0x80);
    cr_assert_eq(cmos_read(&r, 0x0A, T0 + S) & 0x80, 0);
    cr_assert_eq(cmos_read(&r, 0x0A, T0 + 2 * S - 1) & 0x80, 0x80);
    cmos_write(&r, 0x0A, 0xA6, T0); // UIP is read-only
    cr_assert_eq(cmos_read(&r, 0x0A, T0 + S / 2), 0x26);
}

Test(rtc, linux_set_time_with_set_and_divider_reset)
{
    struct rtc r = fresh();
    uint64_t t = T0 + 10 * S + 300 * MS;
    // mc146818_set_time: SET, divider reset, the fields, B and A restored
    uint8_t b = cmos_read(&r, 0x0B, t), a = cmos_read(&r, 0x0A, t);
    cmos_write(&r, 0x0B, b | 0x80, t);
    cmos_write(&r, 0x0A, 0x70 | (a & 0x0F), t);
    cmos_write(&r, 0x09, 0x25, t);
    cmos_write(&r, 0x08, 0x02, t);
    cmos_write(&r, 0x07, 0x28, t);
    cmos_write(&r, 0x04, 0x23, t);
    cmos_write(&r, 0x02, 0x59, t);
    cmos_write(&r, 0x00, 0x58, t);
    cr_assert_eq(cmos_read(&r, 0x00, t + 5 * S), 0x58, "SET: the clock stands still");
    cmos_write(&r, 0x0B, b, t + 5 * S);
    cr_assert_eq(cmos_read(&r, 0x00, t + 5 * S + 100 * MS), 0x58, "divider still in reset");
    cmos_write(&r, 0x0A, a, t + 6 * S);
    cr_assert_eq(cmos_read(&r, 0x00, t + 6 * S + S / 2 - 1), 0x58);
    cr_assert_eq(cmos_read(&r, 0x00, t + 6 * S + S / 2), 0x59, "first update after 500 ms");
    uint64_t u = t + 6 * S + S / 2 + S;
    cr_assert_eq(cmos_read(&r, 0x00, u), 0x00);
    cr_assert_eq(cmos_read(&r, 0x02, u), 0x00);
    cr_assert_eq(cmos_read(&r, 0x04, u), 0x00);
    cr_assert_eq(cmos_read(&r, 0x07, u), 0x01, "2025 is no leap year");
    cr_assert_eq(cmos_read(&r, 0x08, u), 0x03);
    cr_assert_eq(cmos_read(&r, 0x09, u), 0x25);
}

Test(rtc, set_keeps_the_second_phase_and_writing_a_field_while_running_moves_the_clock)
{
    struct rtc r = fresh();
    cmos_write(&r, 0x0B, 0x82, T0 + 2 * S + 100 * MS);
    cmos_write(&r, 0x0B, 0x02, T0 + 9 * S + 300 * MS);
    cr_assert_eq(cmos_read(&r, 0x00, T0 + 9 * S + 999 * MS), 0x22, "stopped at :22");
    cr_assert_eq(cmos_read(&r, 0x00, T0 + 10 * S), 0x23, "updates on the old beat");
    cmos_write(&r, 0x02, 0x45, T0 + 10 * S + 500 * MS); // no SET: the minutes jump
    cr_assert_eq(cmos_read(&r, 0x02, T0 + 11 * S), 0x45);
    cr_assert_eq(cmos_read(&r, 0x00, T0 + 11 * S), 0x24);
    cmos_write(&r, 0x32, 0x21, T0 + 11 * S);
    cr_assert_eq(cmos_read(&r, 0x32, T0 + 11 * S), 0x21);
    cr_assert_eq(cmos_read(&r, 0x09, T0 + 11 * S), 0x23, "2123");
}

Test(rtc, periodic_interrupt_at_1024_hz)
{
    struct rtc r = fresh();
    cr_assert_eq(rtc_next_ns(&r), UINT64_MAX, "nothing enabled");
    cmos_write(&r, 0x0B, 0x42, T0); // PIE
    uint64_t first = T0 + 976563;   // 32 clocks of 32.768 kHz, rounded up
    cr_assert_eq(rtc_next_ns(&r), first);
    cr_assert(!rtc_irq(&r, first - 1));
    cr_assert(rtc_irq(&r, first));
    cr_assert_eq(rtc_next_ns(&r), first, "due");
    rtc_advance(&r, first);
    cr_assert(rtc_irq(&r, first));
    cr_assert_eq(rtc_next_ns(&r), UINT64_MAX, "the line is high until C is read");
    cr_assert_eq(cmos_read(&r, 0x0C, first + 10 * US), 0xC0, "IRQF and PF");
    cr_assert(!rtc_irq(&r, first + 10 * US));
    cr_assert_eq(cmos_read(&r, 0x0C, first + 10 * US), 0x00, "read to clear");
    cr_assert_eq(rtc_next_ns(&r), T0 + 2 * 976563 - 1); // 1953125 ns exactly
    unsigned n = 0;
    for (uint64_t t = first + 20 * US; t < T0 + S; t += 100 * US)
        if (rtc_irq(&r, t)) n++, cmos_read(&r, 0x0C, t);
    cr_assert(n >= 1021 && n <= 1023, "about 1024 per second: %u", n);
}

Test(rtc, rate_selects_1_and_2_are_256_and_128_hz_and_15_is_2_hz)
{
    struct rtc r = fresh();
    cmos_write(&r, 0x0B, 0x42, T0);
    cmos_write(&r, 0x0A, 0x21, T0);
    cr_assert_eq(rtc_next_ns(&r), T0 + 3906250);
    cmos_write(&r, 0x0A, 0x22, T0);
    cr_assert_eq(rtc_next_ns(&r), T0 + 7812500);
    cmos_write(&r, 0x0A, 0x2F, T0);
    cr_assert_eq(rtc_next_ns(&r), T0 + S / 2);
    cmos_write(&r, 0x0A, 0x66, T0); // divider in reset: no periodic interrupt
    cr_assert_eq(rtc_next_ns(&r), UINT64_MAX);
}

Test(rtc, no_update_and_no_uip_while_set)
{
    struct rtc r = fresh();
    cmos_write(&r, 0x0B, 0x82, T0);
    cr_assert_eq(cmos_read(&r, 0x0A, T0 + S - 100 * US) & 0x80, 0);
    cr_assert_eq(cmos_read(&r, 0x0C, T0 + 3 * S) & 0x10, 0, "no update-ended flag");
    cr_assert_eq(cmos_read(&r, 0x00, T0 + 3 * S), 0x20);
}

Test(rtc, flags_without_their_enable_do_not_raise_the_line)
{
    struct rtc r = fresh();
    cr_assert(!rtc_irq(&r, T0 + 3 * S));
    cr_assert_eq(cmos_read(&r, 0x0C, T0 + 3 * S), 0x50, "PF and UF, no IRQF");
    cmos_write(&r, 0x0A, 0x20, T0 + 3 * S); // no periodic rate
    cr_assert_eq(cmos_read(&r, 0x0C, T0 + 3 * S + S / 2), 0x00);
    cmos_write(&r, 0x0B, 0x12, T0 + 3 * S + S / 2); // UIE
    cr_assert_eq(rtc_next_ns(&r), T0 + 4 * S);
    cr_assert(rtc_irq(&r, T0 + 4 * S));
    cr_assert_eq(cmos_read(&r, 0x0C, T0 + 4 * S), 0x90, "IRQF and UF");
    cmos_write(&r, 0x0B, 0x92, T0 + 4 * S); // SET clears UIE
    cr_assert_eq(cmos_read(&r, 0x0B, T0 + 4 * S), 0x82);
}

Test(rtc, alarm_fires_at_the_matching_second_and_dont_care_bytes)
{
    struct rtc r = fresh();
    cmos_write(&r, 0x0A, 0x20, T0);
    cmos_write(&r, 0x01, 0x25, T0); // 22:13:25
    cmos_write(&r, 0x03, 0x13, T0);
    cmos_write(&r, 0x05, 0x22, T0);
    cmos_write(&r, 0x0B, 0x22, T0); // AIE
    cr_assert_eq(rtc_next_ns(&r), T0 + 5 * S);
    cr_assert(!rtc_irq(&r, T0 + 5 * S - 1));
    cr_assert(rtc_irq(&r, T0 + 5 * S));
    cr_assert_eq(cmos_read(&r, 0x0C, T0 + 5 * S) & 0xA0, 0xA0);
    cr_assert_eq(rtc_next_ns(&r), T0 + (5 + 86400) * S, "the same time tomorrow");
    cmos_write(&r, 0x03, 0xC0, T0 + 6 * S); // any minute, any hour: every :25
    cmos_write(&r, 0x05, 0xFF, T0 + 6 * S);
    cr_assert_eq(rtc_next_ns(&r), T0 + 65 * S);
    cmos_write(&r, 0x01, 0xC5, T0 + 6 * S); // every second
    cr_assert_eq(rtc_next_ns(&r), T0 + 7 * S);
    cmos_write(&r, 0x01, 0x7A, T0 + 6 * S); // no BCD second is 0x7A: never
    cr_assert_eq(rtc_next_ns(&r), UINT64_MAX);
}

Test(rtc, index_port_nmi_bit_and_plain_cmos_bytes)
{
    struct rtc r = fresh();
    rtc_write(&r, 0x70, 0x80 | 0x0B, T0); // NMI masked, register B
    cr_assert_eq(rtc_read(&r, 0x71, T0), 0x02);
    cr_assert_eq(r.nmi_off, 1);
    cr_assert_eq(rtc_read(&r, 0x70, T0), 0xFF);
    for (unsigned i = 0x0E; i < 0x80; i++)
        if (i != 0x32) cr_assert_eq(cmos_read(&r, (uint8_t)i, T0), 0, "byte 0x%x", i);
    cmos_write(&r, 0x40, 0x5A, T0);
    cr_assert_eq(cmos_read(&r, 0x40, T0), 0x5A);
    cmos_write(&r, 0x0C, 0xFF, T0);
    cmos_write(&r, 0x0D, 0x00, T0);
    cr_assert_eq(cmos_read(&r, 0x0C, T0), 0x00);
    cr_assert_eq(cmos_read(&r, 0x0D, T0), 0x80);
    rtc_write(&r, 0x72, 0x01, T0);
    cr_assert_eq(rtc_read(&r, 0x73, T0), 0xFF);
}

Test(rtc, memory_size_bytes)
{
    struct rtc r = fresh();
    rtc_set_memory(&r, 256ull << 20);
    cr_assert_eq(cmos_read(&r, 0x15, T0) | cmos_read(&r, 0x16, T0) << 8, 640);
    cr_assert_eq(cmos_read(&r, 0x30, T0) | cmos_read(&r, 0x31, T0) << 8, 0xFFFF, "saturated");
    cr_assert_eq(cmos_read(&r, 0x17, T0) | cmos_read(&r, 0x18, T0) << 8, 0xFFFF);
    cr_assert_eq(cmos_read(&r, 0x34, T0) | cmos_read(&r, 0x35, T0) << 8, 240 * 16);
    rtc_set_memory(&r, 32ull << 20);
    cr_assert_eq(cmos_read(&r, 0x30, T0) | cmos_read(&r, 0x31, T0) << 8, 31 * 1024);
}

/* ---- fuzz ---- */
static uint64_t rng_state;
static uint64_t rnd(void) { return xorshift64(&rng_state); }

static unsigned bcd_ok(uint8_t v) { return (v & 15) <= 9 && (v >> 4) <= 9; }

Test(rtc, random_access_keeps_the_invariants)
{
    static const uint8_t regs[] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
                                   0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x32, 0x40, 0x8A, 0xFF};
    static const uint8_t a_vals[] = {0x26, 0x20, 0x2F, 0x23, 0x70, 0x60, 0x00, 0x16};
    for (uint64_t seed = 1; seed <= 8; seed++) {
        rng_state = seed * 0x9E3779B97F4A7C15ull;
        struct rtc r;
        rtc_reset(&r, rnd() % (1ull << 36), rnd() % (1000 * S));
        uint64_t now = r.seen_ns;
        for (unsigned i = 0; i < 30000; i++) {
            switch (rnd() % 8) {
            case 0: now += rnd() % (3 * S); break;
            case 1: now += rnd() % (2 * MS); break;
            case 2: {
                uint8_t reg = regs[rnd() % 18];
                uint8_t v = reg == 0x0A && rnd() % 2 ? a_vals[rnd() % 8] : (uint8_t)rnd();
                cmos_write(&r, reg, v, now);
                break;
            }
            case 3: rtc_write(&r, (uint16_t)(0x70 + rnd() % 4), (uint8_t)rnd(), now); break;
            case 4: {
                uint8_t b = cmos_read(&r, 0x0B, now);
                for (uint8_t reg = 0; reg <= 9; reg++) {
                    uint8_t v = cmos_read(&r, reg, now), h = reg == 4 && !(b & 2) ? v & 0x7F : v;
                    if (reg & 1 && reg < 6) continue; // alarm bytes: as written
                    if (!(b & 4)) cr_assert(bcd_ok(h), "seed %lu: reg %u = 0x%x", seed, reg, v);
                }
                uint8_t c = cmos_read(&r, 0x0C, now);
                cr_assert_eq(!!(c & 0x80), !!(c & b & 0x70), "IRQF iff a flag is enabled");
                cr_assert_eq(c & 0x0F, 0);
                cr_assert(!rtc_irq(&r, now), "reading C lowers the line");
                break;
            }
            default: {
                uint64_t due = rtc_next_ns(&r); // high now: gathered (MAX) or due
                if (rtc_irq(&r, now)) cr_assert(due <= now || due == UINT64_MAX, "step %u", i);
                rtc_advance(&r, now);
                uint64_t next = rtc_next_ns(&r);
                if (rtc_irq(&r, now)) {
                    cr_assert_eq(next, UINT64_MAX, "seed %lu step %u", seed, i);
                    break;
                }
                cr_assert(next > now, "seed %lu step %u: next %lu now %lu", seed, i, next, now);
                if (next == UINT64_MAX || next - now > 100 * S) break;
                cr_assert(!rtc_irq(&r, next - 1), "seed %lu step %u", seed, i);
                cr_assert(rtc_irq(&r, next), "seed %lu step %u", seed, i);
                now = next;
            }
            }
        }
    }
}
