// SPDX-License-Identifier: MIT
// init's CMOS-to-Unix conversion (servers/init/wallclock.c): BCD and binary, 12- and 24-hour,
// century, leap years, garbage refused. Expected values from `date -u -d @N`.
#include <criterion/criterion.h>
#include "wallclock.h"

Test(wallclock, epoch_and_leap_days)
{
    cr_assert_eq(days_from_civil(1970, 1, 1), 0);
    cr_assert_eq(days_from_civil(2000, 3, 1), 11017); // after 2000-02-29 (a leap day)
    cr_assert_eq(days_from_civil(2100, 3, 1), 47541); // 2100 has no 29 February
    cr_assert_eq(days_from_civil(2026, 12, 6), 20793);
}

Test(wallclock, bcd_24h_with_century)
{
    // 2026-12-06 22:17:15 UTC = 1796595435
    struct cmos_time t = {0x15, 0x17, 0x22, 0x06, 0x12, 0x26, 0x20, 0x02};
    uint64_t s = 0;
    cr_assert(cmos_to_unix(&t, &s));
    cr_assert_eq(s, 1796595435ull);
}

Test(wallclock, binary_12h_pm_without_century)
{
    // binary mode, 12-hour: 10 PM = 0x80 | 10; no century register: years < 70 are 20xx
    struct cmos_time t = {15, 17, 0x80 | 10, 6, 12, 26, 0, 0x04};
    uint64_t s = 0;
    cr_assert(cmos_to_unix(&t, &s));
    cr_assert_eq(s, 1796595435ull); // 10 PM is 22:00
    t.hour = 12;                    // 12 AM is midnight
    cr_assert(cmos_to_unix(&t, &s));
    cr_assert_eq(s % 86400, 17 * 60 + 15);
}

Test(wallclock, garbage_refused)
{
    uint64_t s = 7;
    struct cmos_time ff = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02};
    cr_assert_not(cmos_to_unix(&ff, &s));
    struct cmos_time month13 = {0, 0, 0, 1, 0x13, 0x26, 0x20, 0x02};
    cr_assert_not(cmos_to_unix(&month13, &s));
    struct cmos_time day0 = {0, 0, 0, 0, 0x01, 0x26, 0x20, 0x02};
    cr_assert_not(cmos_to_unix(&day0, &s));
    struct cmos_time hour13_12h = {0, 0, 0x13, 1, 1, 0x26, 0x20, 0x00};
    cr_assert_not(cmos_to_unix(&hour13_12h, &s));
    cr_assert_eq(s, 7);
}
