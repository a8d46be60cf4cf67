// SPDX-License-Identifier: MIT
// Host tests of the VMM's PIT (servers/vmm/pit.c): its programming and timing, against
// guests/README.md.
#include <criterion/criterion.h>
#include "vmm_fake.h"

TestSuite(pit);

#define MS    1000000ull
#define SLACK 100000ull /* 11932 PIT clocks are 10.00015 ms: ticks drift 152 ns per period */

/* Programs channel 0 as a PC guest does: command, low byte, high byte. */
static void pit_program(struct pit *p, uint8_t cmd, uint16_t divisor, uint64_t now)
{
    pit_write(p, 0x43, cmd, now);
    pit_write(p, 0x40, (uint8_t)divisor, now);
    pit_write(p, 0x40, (uint8_t)(divisor >> 8), now);
}

Test(pit, rate_generator_at_100_hz_fires_once_per_10_ms)
{
    struct pit p = {0};
    cr_assert(!pit_advance(&p, 50 * MS), "not programmed: silent");
    pit_program(&p, 0x34, 11932, 0);
    cr_assert(!pit_advance(&p, 9 * MS));
    cr_assert(pit_advance(&p, 10 * MS + SLACK));
    cr_assert(!pit_advance(&p, 15 * MS));
    cr_assert(pit_advance(&p, 20 * MS + SLACK));
    unsigned fired = 0;
    for (uint64_t t = 30; t <= 1020; t += 10) fired += pit_advance(&p, t * MS + SLACK);
    cr_assert_eq(fired, 100);
}

Test(pit, missed_periods_are_coalesced_into_one_interrupt)
{
    struct pit p = {0};
    pit_program(&p, 0x36, 11932, 0);
    cr_assert(pit_advance(&p, 105 * MS));
    cr_assert(!pit_advance(&p, 106 * MS), "the next one is due one period after the last due time");
    cr_assert(pit_advance(&p, 110 * MS + SLACK));
}

Test(pit, one_shot_mode_fires_once)
{
    struct pit p = {0};
    pit_program(&p, 0x30, 1193, 0); // mode 0, 1 ms
    cr_assert(pit_advance(&p, 2 * MS));
    cr_assert(!pit_advance(&p, 100 * MS));
}

Test(pit, divisor_zero_means_65536_and_other_channels_are_ignored)
{
    struct pit p = {0};
    pit_program(&p, 0x34, 0, 0);
    cr_assert(!pit_advance(&p, 54 * MS));
    cr_assert(pit_advance(&p, 55 * MS));
    pit_write(&p, 0x43, 0xB6, 0); // channel 2: the speaker
    cr_assert_eq(p.mode, 2, "channel 0 unchanged");
    cr_assert_eq(pit_read(&p, 0x42, 0), 0);
}

Test(pit, a_command_stops_counting_until_the_divisor_is_written)
{
    struct pit p = {0};
    pit_program(&p, 0x34, 11932, 0);
    pit_write(&p, 0x43, 0x34, 5 * MS);
    cr_assert(!pit_advance(&p, 100 * MS));
    pit_write(&p, 0x40, 0x9C, 100 * MS);
    pit_write(&p, 0x40, 0x2E, 100 * MS);
    cr_assert(pit_advance(&p, 110 * MS + SLACK));
}

Test(pit, the_counter_counts_down_and_a_latch_freezes_it)
{
    struct pit p = {0};
    pit_program(&p, 0x34, 10000, 0);
    uint16_t lo = pit_read(&p, 0x40, 2 * MS), hi = pit_read(&p, 0x40, 2 * MS);
    uint16_t c = (uint16_t)(lo | hi << 8);
    cr_assert(c < 10000 - 2000 && c > 10000 - 2500, "2 ms into the period: %u", c);
    pit_write(&p, 0x43, 0x00, 3 * MS); // latch
    lo = pit_read(&p, 0x40, 8 * MS);
    hi = pit_read(&p, 0x40, 8 * MS);
    uint16_t latched = (uint16_t)(lo | hi << 8);
    cr_assert(latched < 10000 - 3400 && latched > 10000 - 3700, "the value at the latch: %u",
              latched);
    lo = pit_read(&p, 0x40, 8 * MS);
    hi = pit_read(&p, 0x40, 8 * MS);
    cr_assert_neq((uint16_t)(lo | hi << 8), latched, "the latch is released after one read");
}
