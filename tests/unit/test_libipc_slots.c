// SPDX-License-Identifier: MIT
// Host tests of libipc's slot allocator (libipc/slot_alloc.c): the range it manages, first-fit runs
// from the hint with one wrap, freeing, and the failure value 0.
#include <criterion/criterion.h>
#include "slot_alloc.h"

static ps_slots_t sa;

Test(slots, init_keeps_slot_0_out_and_clamps_the_range)
{
    ps_slots_init(&sa, 0, 10);
    cr_assert_eq(sa.start, 1, "slot 0 stays null: it is the failure value");
    cr_assert_eq(sa.end, 10);
    cr_assert_eq(sa.free_count, 9);
    ps_slots_init(&sa, 100, 100 + PS_SLOTS_MAX + 5);
    cr_assert_eq(sa.end, 100 + PS_SLOTS_MAX);
    cr_assert_eq(sa.free_count, PS_SLOTS_MAX);
    ps_slots_init(&sa, 50, 40);
    cr_assert_eq(sa.free_count, 0, "an inverted range is empty");
    cr_assert_eq(ps_slot_alloc(&sa), 0);
}

Test(slots, allocation_is_sequential_until_the_range_is_used_up)
{
    ps_slots_init(&sa, 20, 25);
    for (rs_cptr_t s = 20; s < 25; s++) {
        cr_assert_eq(ps_slot_alloc(&sa), s);
        cr_assert(ps_slot_used(&sa, s));
    }
    cr_assert_eq(sa.free_count, 0);
    cr_assert_eq(ps_slot_alloc(&sa), 0, "exhausted: 0");
    cr_assert_not(ps_slot_used(&sa, 19), "outside the range is never used");
    cr_assert_not(ps_slot_used(&sa, 25));
}

Test(slots, a_freed_slot_is_found_again_after_the_search_wraps)
{
    ps_slots_init(&sa, 1, 9);
    for (int i = 0; i < 7; i++) ps_slot_alloc(&sa); // 1..7; the hint is at 8
    ps_slot_free(&sa, 3);
    cr_assert_not(ps_slot_used(&sa, 3));
    cr_assert_eq(ps_slot_alloc(&sa), 8, "the search goes on from the hint");
    cr_assert_eq(ps_slot_alloc(&sa), 3, "then wraps to the start");
    cr_assert_eq(ps_slot_alloc(&sa), 0);
}

Test(slots, a_range_takes_the_first_run_long_enough)
{
    ps_slots_init(&sa, 1, 17);
    rs_cptr_t a = ps_slot_alloc_range(&sa, 4);
    cr_assert_eq(a, 1);
    for (rs_cptr_t s = 1; s <= 4; s++) cr_assert(ps_slot_used(&sa, s));
    cr_assert_eq(sa.free_count, 12);
    // holes of 1 and 2 slots do not fit 3
    ps_slot_alloc_range(&sa, 12);
    ps_slot_free(&sa, 6);
    ps_slot_free_range(&sa, 9, 2);
    ps_slot_free_range(&sa, 13, 3);
    cr_assert_eq(sa.free_count, 6);
    cr_assert_eq(ps_slot_alloc_range(&sa, 3), 13);
    cr_assert_eq(ps_slot_alloc_range(&sa, 3), 0, "three free slots, but no run of three");
    cr_assert_eq(sa.free_count, 3, "a failed search takes nothing");
    cr_assert_eq(ps_slot_alloc_range(&sa, 2), 9);
}

Test(slots, ranges_of_0_or_more_than_is_free_fail)
{
    ps_slots_init(&sa, 1, 5);
    cr_assert_eq(ps_slot_alloc_range(&sa, 0), 0);
    cr_assert_eq(ps_slot_alloc_range(&sa, 5), 0);
    cr_assert_eq(sa.free_count, 4);
    cr_assert_eq(ps_slot_alloc_range(&sa, 4), 1);
}

Test(slots, freeing_twice_or_outside_the_range_changes_nothing)
{
    ps_slots_init(&sa, 10, 20);
    rs_cptr_t s = ps_slot_alloc(&sa);
    ps_slot_free(&sa, s);
    ps_slot_free(&sa, s);
    cr_assert_eq(sa.free_count, 10);
    ps_slot_free(&sa, 9);
    ps_slot_free(&sa, 20);
    ps_slot_free_range(&sa, 0, 100);
    cr_assert_eq(sa.free_count, 10);
}

Test(slots, the_bitmap_covers_the_whole_largest_range)
{
    ps_slots_init(&sa, 1, 1 + PS_SLOTS_MAX);
    cr_assert_eq(ps_slot_alloc_range(&sa, PS_SLOTS_MAX), 1);
    cr_assert(ps_slot_used(&sa, PS_SLOTS_MAX));
    cr_assert_eq(sa.free_count, 0);
    ps_slot_free(&sa, PS_SLOTS_MAX);
    cr_assert_eq(ps_slot_alloc(&sa), PS_SLOTS_MAX);
}
