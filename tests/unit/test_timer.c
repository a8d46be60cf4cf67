// SPDX-License-Identifier: MIT
// Host tests of the timer queue (kernel/timer_obj.c): arming keeps the queue sorted by deadline
// (equal deadlines in arming order), the interrupt takes exactly the expired ones in order, and
// the hardware deadline always follows the earliest; a random sequence against a model.
#include <criterion/criterion.h>
#include <string.h>
#include "fake_arch.h"
#include "timer_obj.h"
#include "notification.h"

#define N 16
static struct ktimer timers[N];
static struct notification ntfn;

/* Timer i bound to the notification with badge bit i. */
static void setup(void)
{
    memset(timers, 0, sizeof(timers));
    memset(&ntfn, 0, sizeof(ntfn));
    for (unsigned i = 0; i < N; i++)
        timers[i].ntfn.cap = (struct cap){.type = RS_CAP_NOTIFICATION,
                                          .rights = RS_RIGHTS_ALL,
                                          .obj = (uintptr_t)&ntfn,
                                          .w1 = 1ul << i};
    fake_timer_deadline = UINT64_MAX;
}

static void teardown(void)
{
    for (unsigned i = 0; i < N; i++) ktimer_disarm(&timers[i]);
}

TestSuite(timer, .init = setup, .fini = teardown);

/* Bits the notification got since the last call. */
static uint64_t take(void)
{
    uint64_t b = ntfn.pending;
    ntfn.pending = 0;
    return b;
}

Test(timer, hardware_deadline_follows_the_earliest)
{
    ktimer_arm(&timers[0], 500);
    cr_expect_eq(fake_timer_deadline, 500);
    ktimer_arm(&timers[1], 300);
    cr_expect_eq(fake_timer_deadline, 300);
    ktimer_arm(&timers[2], 900);
    cr_expect_eq(fake_timer_deadline, 300);
    ktimer_disarm(&timers[1]);
    cr_expect_eq(fake_timer_deadline, 500, "the head went: the next one");
    ktimer_arm(&timers[0], 1000); // re-arm later: moves behind 2
    cr_expect_eq(fake_timer_deadline, 900);
    cr_expect_eq(ktimer_earliest(), 900);
    ktimer_disarm(&timers[2]);
    ktimer_disarm(&timers[0]);
    cr_expect_eq(fake_timer_deadline, UINT64_MAX);
    cr_expect_eq(ktimer_earliest(), UINT64_MAX);
}

Test(timer, expire_takes_exactly_the_due_ones_in_order)
{
    ktimer_arm(&timers[3], 30);
    ktimer_arm(&timers[1], 10);
    ktimer_arm(&timers[2], 20);
    ktimer_expire(9);
    cr_expect_eq(take(), 0, "nothing due before 10");
    ktimer_expire(10);
    cr_expect_eq(take(), 1u << 1, "due at its deadline, not later");
    cr_expect_eq(timers[1].deadline, 0, "disarmed once fired");
    cr_expect_eq(fake_timer_deadline, 20);
    ktimer_expire(35);
    cr_expect_eq(take(), (1u << 2) | (1u << 3));
    cr_expect_eq(fake_timer_deadline, UINT64_MAX);
    ktimer_expire(1000);
    cr_expect_eq(take(), 0, "once");
}

Test(timer, equal_deadlines_fire_in_arming_order)
{
    // one expiry signals them together: the order shows in the queue itself
    ktimer_arm(&timers[5], 100);
    ktimer_arm(&timers[4], 100);
    ktimer_arm(&timers[6], 100);
    cr_expect_eq(timers[5].next, &timers[4]);
    cr_expect_eq(timers[4].next, &timers[6]);
    cr_expect_eq(timers[6].next, NULL);
}

Test(timer, a_timer_whose_notification_went_fires_into_nothing)
{
    timers[7].ntfn.cap = cap_null();
    ktimer_arm(&timers[7], 5);
    ktimer_arm(&timers[8], 6);
    ktimer_expire(6);
    cr_expect_eq(take(), 1u << 8);
    cr_expect_eq(timers[7].deadline, 0);
}

Test(timer, finalise_disarms_and_hands_back_the_slot)
{
    ktimer_arm(&timers[9], 50);
    ktimer_arm(&timers[10], 40);
    struct slot_array a = ktimer_finalise(&timers[10]);
    cr_expect_eq(a.slots, &timers[10].ntfn);
    cr_expect_eq(a.count, 1);
    cr_expect_eq(timers[10].deadline, 0);
    cr_expect_eq(fake_timer_deadline, 50);
    ktimer_expire(100);
    cr_expect_eq(take(), 1u << 9);
}

/* Random arm / disarm / expire against a model: each timer's deadline or none. After every step
 * the queue is sorted, holds exactly the armed timers, and the hardware deadline is the minimum;
 * an expiry signals exactly the model's due timers. */
Test(timer, random_against_a_model)
{
    uint64_t model[N] = {0}, seed = 0x5eed71e5, now = 1;
    for (unsigned step = 0; step < 200000; step++) {
        seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
        unsigned i = seed % N, op = (seed >> 8) % 4;
        if (op <= 1) {
            uint64_t dl = now + 1 + (seed >> 16) % 64;
            ktimer_arm(&timers[i], dl);
            model[i] = dl;
        } else if (op == 2) {
            ktimer_disarm(&timers[i]);
            model[i] = 0;
        } else {
            now += (seed >> 16) % 16;
            uint64_t want = 0;
            for (unsigned k = 0; k < N; k++)
                if (model[k] && model[k] <= now) {
                    want |= 1ul << k;
                    model[k] = 0;
                }
            ktimer_expire(now);
            cr_assert_eq(take(), want, "step %u", step);
        }
        unsigned armed = 0;
        uint64_t min = UINT64_MAX;
        for (unsigned k = 0; k < N; k++)
            if (model[k]) {
                armed++;
                if (model[k] < min) min = model[k];
                cr_assert_eq(timers[k].deadline, model[k], "step %u", step);
            }
        cr_assert_eq(fake_timer_deadline, min, "step %u", step);
        unsigned seen = 0;
        uint64_t last = 0;
        for (unsigned k = 0; k < N; k++) {
            if (!model[k] || timers[k].prev) continue;
            for (struct ktimer *t = &timers[k]; t; t = t->next) { // from the head
                cr_assert_geq(t->deadline, last, "sorted, step %u", step);
                last = t->deadline;
                seen++;
            }
        }
        cr_assert_eq(seen, armed, "step %u", step);
    }
}
