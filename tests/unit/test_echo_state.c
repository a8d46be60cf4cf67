// SPDX-License-Identifier: MIT
// Host tests of echo's persistent counter (proto/echo.h): bits a stray write flipped in one of
// its copies never change the value echo reads and increments (a storm of `corrupt` into echo,
// docs/resilience.md: 3,551 read as 3,543).
#include <criterion/criterion.h>
#include "proto/echo.h"

static struct echo_state with(uint64_t v) { return (struct echo_state){.counter = {v, v, v}}; }

Test(echo_state, a_bit_flipped_in_one_copy_is_outvoted)
{
    for (unsigned copy = 0; copy < 3; copy++)
        for (unsigned bit = 0; bit < 64; bit++) {
            struct echo_state st = with(3551);
            st.counter[copy] ^= 1ull << bit;
            cr_assert_eq(echo_counter(&st), 3551, "copy %u bit %u", copy, bit);
        }
}

Test(echo_state, flips_in_other_bits_of_two_copies_are_outvoted)
{
    struct echo_state st = with(4493);
    st.counter[0] ^= 1ull << 24 | 1ull << 3;
    st.counter[2] ^= 1ull << 7;
    cr_assert_eq(echo_counter(&st), 4493);
}
