// SPDX-License-Identifier: MIT
// Host tests of the VMM's 8254 PIT (servers/vmm/pit.c) against the Intel 8254 datasheet (order
// 231164: modes 0-5, counter latch, read-back) and what Linux does with it (arch/x86/kernel/tsc.c
// calibrates on channel 2 through port 0x61; the i8253 clockevent programs channel 0), then a
// seeded random-access fuzz that checks invariants.
#include <criterion/criterion.h>
#include "xorshift.h"
#include <stdio.h>
#include "pit.h"

TestSuite(pit);

#define US    1000ull
#define MS    1000000ull
#define SLACK 100000ull /* 11932 PIT clocks are 10.00015 ms: ticks drift 152 ns per period */

/* Programs a channel as a PC guest does: command, low byte, high byte. */
static void pit_program(struct pit *p, uint8_t cmd, uint16_t count, uint64_t now)
{
    uint16_t port = 0x40 + (cmd >> 6);
    pit_write(p, 0x43, cmd, now);
    pit_write(p, port, (uint8_t)count, now);
    pit_write(p, port, (uint8_t)(count >> 8), now);
}

static uint16_t read16(struct pit *p, uint16_t port, uint64_t now)
{
    uint16_t lo = pit_read(p, port, now);
    return (uint16_t)(lo | pit_read(p, port, now) << 8);
}

/* The time of PIT clock tick t after 0 (rounded up to the ns). */
static uint64_t at_tick(uint64_t t) { return (t * 1000000000ull + PIT_HZ - 1) / PIT_HZ; }

Test(pit, rate_generator_at_100_hz_gives_one_edge_per_10_ms)
{
    struct pit p;
    pit_reset(&p);
    cr_assert_eq(pit_advance(&p, 50 * MS), 0, "not programmed: silent");
    cr_assert_eq(pit_next_ns(&p), UINT64_MAX);
    cr_assert(pit_out0(&p, 50 * MS), "OUT0 is high at power-on");
    pit_program(&p, 0x34, 11932, 0);
    cr_assert_eq(pit_advance(&p, 9 * MS), 0);
    cr_assert_eq(pit_advance(&p, 10 * MS + SLACK), 1);
    cr_assert_eq(pit_advance(&p, 15 * MS), 0);
    cr_assert_eq(pit_advance(&p, 20 * MS + SLACK), 1);
    unsigned fired = 0;
    for (uint64_t t = 30; t <= 1020; t += 10) fired += pit_advance(&p, t * MS + SLACK);
    cr_assert_eq(fired, 100);
}

Test(pit, mode_2_out0_is_low_for_one_clock_before_each_reload_and_next_ns_is_exact)
{
    struct pit p;
    pit_reset(&p);
    pit_program(&p, 0x34, 100, 0);
    cr_assert_eq(pit_next_ns(&p), at_tick(100));
    cr_assert(pit_out0(&p, at_tick(98)));
    cr_assert(!pit_out0(&p, at_tick(99)), "count 1: OUT low (8254 mode 2)");
    cr_assert(!pit_out0(&p, at_tick(100) - 1));
    cr_assert(pit_out0(&p, at_tick(100)), "reload: OUT high again");
    cr_assert_eq(pit_advance(&p, at_tick(100) - 1), 0);
    cr_assert_eq(pit_advance(&p, at_tick(100)), 1);
    cr_assert_eq(pit_next_ns(&p), at_tick(200));
    cr_assert_eq(read16(&p, 0x40, at_tick(130)), 70, "counts down from the divisor");
    cr_assert_eq(read16(&p, 0x40, at_tick(199)), 1);
    cr_assert_eq(read16(&p, 0x40, at_tick(200)), 100);
}

Test(pit, missed_periods_are_counted_and_the_next_edge_follows_the_last_one)
{
    struct pit p;
    pit_reset(&p);
    pit_program(&p, 0x36, 11932, 0);
    cr_assert_eq(pit_advance(&p, 105 * MS), 10);
    cr_assert_eq(pit_advance(&p, 106 * MS), 0);
    cr_assert_eq(pit_next_ns(&p), at_tick(11 * 11932));
    cr_assert_eq(pit_advance(&p, 110 * MS + SLACK), 1);
}

Test(pit, mode_0_out_low_until_terminal_count_then_high_once_and_the_count_wraps)
{
    struct pit p;
    pit_reset(&p);
    pit_program(&p, 0x30, 1193, 0); // 1 ms
    cr_assert(!pit_out0(&p, 0), "mode 0: OUT low after the control word");
    cr_assert(!pit_out0(&p, at_tick(1192)));
    cr_assert(pit_out0(&p, at_tick(1193)));
    cr_assert_eq(pit_advance(&p, 2 * MS), 1);
    cr_assert_eq(pit_next_ns(&p), UINT64_MAX, "one shot");
    cr_assert_eq(pit_advance(&p, 100 * MS), 0);
    cr_assert(pit_out0(&p, 100 * MS), "OUT stays high");
    cr_assert_eq(read16(&p, 0x40, at_tick(1193 + 5)), 0xFFFB, "counting wraps on past 0");
}

Test(pit, a_new_control_word_ending_a_low_out0_is_a_rising_edge)
{
    struct pit p;
    pit_reset(&p);
    pit_program(&p, 0x30, 0, 0); // Linux's shutdown: mode 0, count 0 (OUT0 low for 55 ms)
    cr_assert_eq(pit_advance(&p, 1 * MS), 0);
    pit_write(&p, 0x43, 0x34, 1 * MS); // mode 2: OUT high at once
    cr_assert(pit_out0(&p, 1 * MS));
    cr_assert_eq(pit_next_ns(&p), 0, "an edge is pending");
    cr_assert_eq(pit_advance(&p, 1 * MS), 1);
    cr_assert_eq(pit_next_ns(&p), UINT64_MAX, "no count yet: nothing counts");
}

Test(pit, mode_3_is_a_square_wave_counting_down_by_two)
{
    struct pit p;
    pit_reset(&p);
    pit_program(&p, 0x36, 1000, 0);
    cr_assert(pit_out0(&p, at_tick(499)));
    cr_assert(!pit_out0(&p, at_tick(500)));
    cr_assert(!pit_out0(&p, at_tick(999)));
    cr_assert(pit_out0(&p, at_tick(1000)));
    cr_assert_eq(read16(&p, 0x40, at_tick(10)), 980);
    cr_assert_eq(read16(&p, 0x40, at_tick(510)), 980, "the second half counts again");
    cr_assert_eq(pit_advance(&p, at_tick(3000)), 3);
}

Test(pit, mode_4_strobes_out_low_for_one_clock_at_terminal_count)
{
    struct pit p;
    pit_reset(&p);
    pit_program(&p, 0x38, 50, 0);
    cr_assert(pit_out0(&p, at_tick(49)));
    cr_assert(!pit_out0(&p, at_tick(50)));
    cr_assert(pit_out0(&p, at_tick(51)));
    cr_assert_eq(pit_next_ns(&p), at_tick(51));
    cr_assert_eq(pit_advance(&p, MS), 1);
    cr_assert_eq(pit_next_ns(&p), UINT64_MAX);
}

Test(pit, linux_oneshot_mode_4_rearms_with_each_new_count)
{
    struct pit p;
    pit_reset(&p);
    pit_write(&p, 0x43, 0x38, 0); // i8253 pit_set_oneshot
    pit_write(&p, 0x40, 0xE8, 0); // pit_next_event: 1000 clocks
    pit_write(&p, 0x40, 0x03, 0);
    cr_assert_eq(pit_next_ns(&p), at_tick(1001));
    pit_write(&p, 0x40, 0xD0, at_tick(500)); // a new count before it fired: 2000 from here
    cr_assert_eq(pit_next_ns(&p), at_tick(1001), "the first byte alone changes nothing");
    pit_write(&p, 0x40, 0x07, at_tick(500));
    uint64_t due = at_tick(500) + at_tick(2001); // the strobe ends 2001 clocks after the write
    cr_assert_eq(pit_next_ns(&p), due);
    cr_assert_eq(pit_advance(&p, due - 1), 0);
    cr_assert_eq(pit_advance(&p, due), 1);
    cr_assert_eq(pit_next_ns(&p), UINT64_MAX);
}

Test(pit, count_zero_means_65536)
{
    struct pit p;
    pit_reset(&p);
    pit_program(&p, 0x34, 0, 0);
    cr_assert_eq(pit_advance(&p, 54 * MS), 0);
    cr_assert_eq(pit_advance(&p, 55 * MS), 1);
    cr_assert_eq(read16(&p, 0x40, at_tick(65536 * 2)), 0, "65536 reads as 0");
    cr_assert_eq(read16(&p, 0x40, at_tick(65536 * 2 + 1)), 0xFFFF);
}

Test(pit, a_command_stops_counting_until_the_count_is_written)
{
    struct pit p;
    pit_reset(&p);
    pit_program(&p, 0x34, 11932, 0);
    pit_write(&p, 0x43, 0x34, 5 * MS);
    cr_assert_eq(pit_advance(&p, 100 * MS), 0);
    pit_write(&p, 0x40, 0x9C, 100 * MS);
    pit_write(&p, 0x40, 0x2E, 100 * MS);
    cr_assert_eq(pit_advance(&p, 110 * MS + SLACK), 1);
}

Test(pit, the_counter_latch_freezes_one_reading_and_a_second_latch_is_ignored)
{
    struct pit p;
    pit_reset(&p);
    pit_program(&p, 0x34, 10000, 0);
    pit_write(&p, 0x43, 0x00, at_tick(3000));
    pit_write(&p, 0x43, 0x00, at_tick(4000)); // ignored: the first is not read yet
    cr_assert_eq(read16(&p, 0x40, at_tick(8000)), 7000);
    cr_assert_eq(read16(&p, 0x40, at_tick(8000)), 2000, "released after one whole read");
}

Test(pit, access_low_only_and_high_only)
{
    struct pit p;
    pit_reset(&p);
    pit_write(&p, 0x43, 0x14, 0); // low byte only, mode 2
    pit_write(&p, 0x40, 200, 0);
    cr_assert_eq(pit_read(&p, 0x40, at_tick(50)), 150);
    cr_assert_eq(pit_read(&p, 0x40, at_tick(60)), 140, "every read is the low byte");
    pit_write(&p, 0x43, 0x24, 0); // high byte only
    pit_write(&p, 0x40, 0x02, 0); // 0x200
    cr_assert_eq(pit_read(&p, 0x40, at_tick(1)), 0x01, "0x1FF: high byte");
    cr_assert_eq(pit_advance(&p, at_tick(0x200)), 1);
}

Test(pit, read_back_latches_status_then_count)
{
    struct pit p;
    pit_reset(&p);
    pit_write(&p, 0x43, 0xB0, 0); // channel 2, lo/hi, mode 0
    pit_write(&p, 0x43, 0xE8, 0); // read-back status of channel 2 (count bit 5 set: not latched)
    cr_assert_eq(pit_read(&p, 0x42, 0), 0x30 | 0x40, "OUT low, null count, lo/hi mode 0");
    pit_write(&p, 0x61, 0x01, 0); // gate high
    pit_write(&p, 0x42, 0x00, 0);
    pit_write(&p, 0x42, 0x10, 0);               // 0x1000
    pit_write(&p, 0x43, 0xC8, at_tick(0x1000)); // status and count of channel 2
    pit_write(&p, 0x43, 0xC8, at_tick(0x1100)); // ignored: both still latched
    cr_assert_eq(pit_read(&p, 0x42, at_tick(0x2000)), 0x80 | 0x30, "OUT high, count loaded");
    cr_assert_eq(read16(&p, 0x42, at_tick(0x2000)), 0, "the count at the read-back");
    pit_write(&p, 0x43, 0xD8, at_tick(0x1001)); // count only
    cr_assert_eq(read16(&p, 0x42, at_tick(0x2000)), 0xFFFF);
}

Test(pit, port_61_gates_channel_2_and_shows_out2_as_pit_calibrate_tsc_uses_it)
{
    struct pit p;
    pit_reset(&p);
    // tsc.c pit_calibrate_tsc: gate on, speaker off; mode 0, 50 ms; poll bit 5 until OUT2 rises
    pit_write(&p, 0x61, (uint8_t)((pit_read(&p, 0x61, 0) & ~0x02) | 0x01), 0);
    pit_write(&p, 0x43, 0xB0, 0);
    uint16_t latch = (uint16_t)(PIT_HZ / 20);
    pit_write(&p, 0x42, (uint8_t)latch, 0);
    pit_write(&p, 0x42, (uint8_t)(latch >> 8), 0);
    cr_assert_eq(pit_read(&p, 0x61, 49 * MS) & 0x23, 0x01, "OUT2 low, gate on, speaker off");
    cr_assert_eq(pit_read(&p, 0x61, 51 * MS) & 0x20, 0x20, "OUT2 high after 50 ms");
    cr_assert_eq(pit_advance(&p, 60 * MS), 0, "channel 2 is not IRQ0");
    // the gate low suspends mode 0 counting; high resumes it
    pit_write(&p, 0x42, 0x00, 100 * MS);
    pit_write(&p, 0x42, 0x10, 100 * MS); // 4096 clocks
    pit_write(&p, 0x61, 0x00, 100 * MS + at_tick(1000));
    cr_assert_eq(read16(&p, 0x42, 200 * MS), 4096 - 1000, "gate low: stopped");
    pit_write(&p, 0x61, 0x01, 200 * MS);
    cr_assert_eq(read16(&p, 0x42, 200 * MS + at_tick(96)), 3000, "gate high: resumed");
    cr_assert_eq(pit_read(&p, 0x61, 200 * MS + at_tick(3095)) & 0x20, 0);
    cr_assert_eq(pit_read(&p, 0x61, 200 * MS + at_tick(3096)) & 0x20, 0x20);
}

Test(pit, quick_pit_calibrate_sees_the_msb_count_down_smoothly)
{
    struct pit p;
    pit_reset(&p);
    pit_write(&p, 0x61, 0x01, 0);
    pit_write(&p, 0x43, 0xB0, 0);
    pit_write(&p, 0x42, 0xFF, 0);
    pit_write(&p, 0x42, 0xFF, 0);
    // tsc.c pit_verify_msb/pit_expect_msb: inb(0x42) (lsb), inb(0x42) (msb), polled
    unsigned prev = 0x100, changes = 0;
    for (uint64_t t = 1000; t < 50 * MS; t += 7 * US) {
        pit_read(&p, 0x42, t);
        unsigned msb = pit_read(&p, 0x42, t);
        uint64_t ticks = t * PIT_HZ / 1000000000ull;
        cr_assert_eq(msb, (0xFFFF - ticks) >> 8, "msb at %lu ns", (unsigned long)t);
        cr_assert(msb <= prev);
        cr_assert(prev - msb <= 1, "no MSB value is skipped");
        changes += msb != prev;
        prev = msb;
    }
    cr_assert_gt(changes, 200);
}

Test(pit, port_61_refresh_toggles_and_speaker_bits_read_back)
{
    struct pit p;
    pit_reset(&p);
    pit_write(&p, 0x61, 0xF3, 0);
    unsigned toggles = 0, last = pit_read(&p, 0x61, 0) & 0x10;
    for (uint64_t t = 0; t < 150 * US; t += 1 * US) {
        uint8_t v = pit_read(&p, 0x61, t);
        cr_assert_eq(v & 0xCF, 0x03, "bits 0-3 as written, 6-7 zero");
        toggles += (v & 0x10) != last;
        last = v & 0x10;
    }
    cr_assert(toggles >= 9 && toggles <= 10, "bit 4 toggles every ~15 us: %u", toggles);
}

Test(pit, bcd_counting)
{
    struct pit p;
    pit_reset(&p);
    pit_write(&p, 0x43, 0x35, 0); // lo/hi, mode 2, BCD
    pit_write(&p, 0x40, 0x00, 0);
    pit_write(&p, 0x40, 0x10, 0); // 1000 decimal
    cr_assert_eq(read16(&p, 0x40, at_tick(1)), 0x0999);
    cr_assert_eq(pit_advance(&p, at_tick(1000)), 1);
    cr_assert_eq(pit_next_ns(&p), at_tick(2000));
}

/* ---- fuzz ---- */
static uint64_t rng_state;
static uint64_t rnd(void) { return xorshift64(&rng_state); }

Test(pit, random_port_access_keeps_the_model_consistent)
{
    static const uint16_t ports[] = {0x40, 0x41, 0x42, 0x43, 0x43, 0x61, 0x44, 0x3F, 0x60, 0xFFFF};
    static const uint8_t cmds[] = {0x30, 0x34, 0x36, 0x32, 0x38, 0x3A, 0x00, 0xC2, 0xE2,
                                   0xD2, 0xB0, 0xB6, 0x80, 0x14, 0x24, 0x31, 0x3C};
    for (uint64_t seed = 1; seed <= 8; seed++) {
        rng_state = seed * 0x9E3779B97F4A7C15ull;
        struct pit p;
        pit_reset(&p);
        uint64_t now = 0;
        for (unsigned i = 0; i < 40000; i++) {
            uint64_t r = rnd();
            switch (r % 8) {
            case 0: now += rnd() % (100 * MS); break;
            case 1: now += rnd() % (20 * US); break;
            case 2: {
                uint16_t port = ports[rnd() % 10];
                uint8_t v = port == 0x43 && rnd() % 2 ? cmds[rnd() % 17] : (uint8_t)rnd();
                pit_write(&p, port, v, now);
                break;
            }
            case 3: {
                uint16_t port = ports[rnd() % 10];
                uint8_t v = pit_read(&p, port, now);
                if (port == 0x61) cr_assert_eq(v & 0xC0, 0, "seed %lu", (unsigned long)seed);
                if (port != 0x61 && (port < 0x40 || port > 0x42)) cr_assert_eq(v, 0xFF);
                break;
            }
            case 4: pit_write(&p, 0x40, (uint8_t)rnd(), now); break;
            default: {
                // The edges due by now are counted once; the next edge is strictly later, and
                // happens exactly then (OUT0 high there, nothing before it).
                pit_advance(&p, now);
                uint64_t next = pit_next_ns(&p);
                cr_assert(next > now, "seed %lu step %u: next %lu now %lu", (unsigned long)seed, i,
                          (unsigned long)next, (unsigned long)now);
                if (next == UINT64_MAX || next - now > 200 * MS) break;
                cr_assert_eq(pit_advance(&p, next - 1), 0, "seed %lu step %u", (unsigned long)seed,
                             i);
                cr_assert(pit_out0(&p, next));
                cr_assert_geq(pit_advance(&p, next), 1, "seed %lu step %u", (unsigned long)seed, i);
                now = next;
            }
            }
            // what a guest can do never looks like flipped bits (pit_repair leaves it alone)
            cr_assert(pit_consistent(&p, now), "seed %lu step %u", (unsigned long)seed, i);
        }
    }
}
