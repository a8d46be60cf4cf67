// SPDX-License-Identifier: MIT
// The watchdog's verdict at a ping (servers/init/watchdog.h): a new instance gets its start-up
// budget before its first heartbeat, and is found hung after it; then two unanswered pings.
#include <criterion/criterion.h>
#include "watchdog.h"

#define PERIOD 200u

Test(watchdog, start_up_within_its_budget_is_not_hung)
{
    unsigned missed = 0;
    // a driver resetting its device: no heartbeat at any ping of its budget
    for (unsigned ping = 1; ping < WATCHDOG_START_PERIODS; ping++)
        cr_assert_not(watchdog_hung(7, 7, 7, &missed, ping * PERIOD, PERIOD), "ping %u", ping);
}

Test(watchdog, hang_before_the_first_heartbeat_is_found_after_the_budget)
{
    unsigned missed = 0;
    uint64_t budget = WATCHDOG_START_PERIODS * (uint64_t)PERIOD;
    cr_assert_not(watchdog_hung(7, 7, 7, &missed, budget - 1, PERIOD));
    cr_assert(watchdog_hung(7, 7, 7, &missed, budget, PERIOD));
    cr_assert(watchdog_hung(7, 7, 7, &missed, budget + 3 * PERIOD, PERIOD)); // a late tick
}

Test(watchdog, after_the_first_heartbeat_two_missed_pings)
{
    unsigned missed = 0;
    // the first heartbeat came (8 != 7 seen at the last ping): the normal period applies
    cr_assert_not(watchdog_hung(8, 7, 7, &missed, PERIOD, PERIOD));
    cr_assert_not(watchdog_hung(8, 7, 8, &missed, 2 * PERIOD, PERIOD));
    cr_assert(watchdog_hung(8, 7, 8, &missed, 3 * PERIOD, PERIOD));
}

Test(watchdog, a_moving_heartbeat_resets_the_count)
{
    unsigned missed = 0;
    cr_assert_not(watchdog_hung(9, 7, 9, &missed, 40 * PERIOD, PERIOD));
    cr_assert_eq(missed, 1);
    cr_assert_not(watchdog_hung(10, 7, 9, &missed, 41 * PERIOD, PERIOD));
    cr_assert_eq(missed, 0);
    cr_assert_not(watchdog_hung(10, 7, 10, &missed, 42 * PERIOD, PERIOD));
}
