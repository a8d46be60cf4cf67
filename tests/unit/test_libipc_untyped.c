// SPDX-License-Identifier: MIT
// Host tests of libipc's untyped allocator (libipc/untyped_alloc.c, through the real invocation
// stubs of invoke_stubs.c against a scripted kernel): which untyped it retypes from, the
// watermark it keeps by the kernel's alignment rules, and what it does with each kernel answer.
#include <criterion/criterion.h>
#include "fake_syscall.h"
#include "untyped_alloc.h"

#define ROOT 2
#define SLOT 40

static ps_ut_t ua;
static ps_untyped_t storage[4];

/* The kernel's answer to every Retype: `answer` (and MR0 = answer_mr0). */
static rs_word_t answer, answer_mr0;
static rs_result_t kernel(const struct fake_call *c, rs_ipc_buffer_t *b)
{
    (void)c;
    b->mr[0] = answer_mr0;
    return (rs_result_t){answer, 0, 0};
}

static void setup(void)
{
    answer = RS_OK, answer_mr0 = 0;
    fake_reset(kernel);
    ps_ut_init(&ua, storage, 4);
}

TestSuite(untyped, .init = setup);

/* Checks that call n was an Untyped_Retype of `count` objects on `cap` into SLOT of ROOT. */
static void expect_retype(unsigned n, rs_cptr_t cap, unsigned type, unsigned bits, unsigned count)
{
    const struct fake_call *c = &fake_calls[n];
    cr_assert_eq(c->nr, RS_SYS_CALL);
    cr_assert_eq(c->dest, cap, "call %u went to untyped %lu, not %lu", n, c->dest, cap);
    cr_assert_eq(rs_msginfo_label(c->info), RS_UNTYPED_RETYPE);
    cr_assert_eq(rs_msginfo_extra_caps(c->info), 1);
    cr_assert_eq(c->caps[0], ROOT);
    const rs_word_t want[] = {type, bits, 0, 0, SLOT, count};
    for (unsigned i = 0; i < 6; i++) cr_assert_eq(c->mr[i], want[i], "argument %u", i);
}

static int retype(unsigned type, unsigned bits, unsigned count, unsigned *which)
{
    return ps_ut_retype(&ua, ROOT, type, bits, 0, 0, SLOT, count, which);
}

Test(untyped, add_checks_the_size_and_the_storage)
{
    cr_assert_eq(ps_ut_add(&ua, 10, RS_MIN_UNTYPED_BITS - 1, 0, false), RS_INVALID_ARGUMENT);
    cr_assert_eq(ps_ut_add(&ua, 10, RS_MAX_UNTYPED_BITS + 1, 0, false), RS_INVALID_ARGUMENT);
    for (unsigned i = 0; i < 4; i++) cr_assert_eq(ps_ut_add(&ua, 10 + i, 12, 0, false), RS_OK);
    cr_assert_eq(ps_ut_add(&ua, 20, 12, 0, false), RS_RANGE_ERROR);
    cr_assert_eq(ua.count, 4);
    cr_assert_eq(fake_ncalls, 0);
}

Test(untyped, the_smallest_untyped_with_room_is_used)
{
    ps_ut_add(&ua, 10, 20, 0, false);
    ps_ut_add(&ua, 11, 13, 0, true); // device memory: never for kernel objects
    ps_ut_add(&ua, 12, 14, 0, false);
    ps_ut_add(&ua, 13, 16, 0, false);
    unsigned which = 99;
    cr_assert_eq(retype(RS_OBJ_FRAME, 0, 2, &which), RS_OK);
    expect_retype(0, 12, RS_OBJ_FRAME, 0, 2);
    cr_assert_eq(which, 2);
    cr_assert_eq(ua.ut[2].used, 2 * 4096);
    // 2^14 holds four frames: two more fit, the fifth goes to the next larger one
    cr_assert_eq(retype(RS_OBJ_FRAME, 0, 2, &which), RS_OK);
    cr_assert_eq(which, 2);
    cr_assert_eq(retype(RS_OBJ_FRAME, 0, 1, &which), RS_OK);
    expect_retype(2, 13, RS_OBJ_FRAME, 0, 1);
    cr_assert_eq(which, 3);
    cr_assert_eq(ua.ut[1].used, 0, "the device untyped was not touched");
}

Test(untyped, objects_are_placed_by_the_kernels_alignment)
{
    ps_ut_add(&ua, 10, 16, 0, false);
    cr_assert_eq(retype(RS_OBJ_ENDPOINT, 0, 3, NULL), RS_OK);
    cr_assert_eq(ua.ut[0].used, 3 * 32);
    cr_assert_eq(retype(RS_OBJ_TCB, 0, 1, NULL), RS_OK);
    cr_assert_eq(ua.ut[0].used, 2048 + 2048, "a TCB aligns to its 2 KiB");
    cr_assert_eq(retype(RS_OBJ_CNODE, 8, 1, NULL), RS_OK); // 2^14 bytes, aligned to its size
    cr_assert_eq(ua.ut[0].used, 16384 + 16384);
    cr_assert_eq(retype(RS_OBJ_FRAME, 0, 1, NULL), RS_OK);
    cr_assert_eq(ua.ut[0].used, 32768 + 4096);
    // a CNode of 2^15 bytes would start at 64 KiB, the end: it does not fit, nothing is asked
    cr_assert_eq(retype(RS_OBJ_CNODE, 9, 1, NULL), RS_NOT_ENOUGH_MEMORY);
    cr_assert_eq(fake_ncalls, 4);
}

Test(untyped, large_frames_align_to_2_mib)
{
    ps_ut_add(&ua, 10, 22, 0, false);
    cr_assert_eq(retype(RS_OBJ_FRAME, 0, 1, NULL), RS_OK);
    cr_assert_eq(retype(RS_OBJ_LARGE_FRAME, 0, 1, NULL), RS_OK);
    cr_assert_eq(ua.ut[0].used, 4ull << 20);
    cr_assert_eq(retype(RS_OBJ_LARGE_FRAME, 0, 1, NULL), RS_NOT_ENOUGH_MEMORY);
}

Test(untyped, when_nothing_has_room_no_call_is_made)
{
    ps_ut_add(&ua, 10, 12, 0, false);
    cr_assert_eq(retype(RS_OBJ_FRAME, 0, 2, NULL), RS_NOT_ENOUGH_MEMORY);
    cr_assert_eq(fake_ncalls, 0);
    cr_assert_eq(retype(RS_OBJ_FRAME, 0, 1, NULL), RS_OK);
    cr_assert_eq(retype(RS_OBJ_ENDPOINT, 0, 1, NULL), RS_NOT_ENOUGH_MEMORY);
    cr_assert_eq(fake_ncalls, 1);
}

/* The first untyped is fuller than the allocator thinks (something else retyped from it). */
static rs_result_t first_is_full(const struct fake_call *c, rs_ipc_buffer_t *b)
{
    if (c->dest == 10) {
        b->mr[0] = 4096; // bytes left
        return (rs_result_t){RS_NOT_ENOUGH_MEMORY, 0, 0};
    }
    return (rs_result_t){RS_OK, 0, 0};
}

Test(untyped, a_fuller_untyped_takes_the_kernels_watermark_and_the_next_one_is_tried)
{
    ps_ut_add(&ua, 10, 14, 0, false);
    ps_ut_add(&ua, 11, 16, 0, false);
    fake_reset(first_is_full);
    unsigned which = 99;
    cr_assert_eq(retype(RS_OBJ_FRAME, 0, 2, &which), RS_OK);
    cr_assert_eq(fake_ncalls, 2);
    expect_retype(0, 10, RS_OBJ_FRAME, 0, 2);
    expect_retype(1, 11, RS_OBJ_FRAME, 0, 2);
    cr_assert_eq(which, 1);
    cr_assert_eq(ua.ut[0].used, (1u << 14) - 4096, "the kernel's watermark");
    cr_assert_eq(ua.ut[1].used, 2 * 4096);
    // one frame fits the first by the kernel's count, so it is asked; it refuses again with the
    // same count: then it is taken as full (no endless loop) and the next one is used
    cr_assert_eq(retype(RS_OBJ_FRAME, 0, 1, &which), RS_OK);
    cr_assert_eq(fake_ncalls, 4);
    expect_retype(2, 10, RS_OBJ_FRAME, 0, 1);
    expect_retype(3, 11, RS_OBJ_FRAME, 0, 1);
    cr_assert_eq(ua.ut[0].used, 1u << 14);
    cr_assert_eq(which, 1);
}

Test(untyped, a_vspace_refused_for_want_of_asids_is_not_retried)
{
    ps_ut_add(&ua, 10, 14, 0, false);
    ps_ut_add(&ua, 11, 16, 0, false);
    answer = RS_NOT_ENOUGH_MEMORY, answer_mr0 = 0; // MR0 0: no ASID, not no memory
    cr_assert_eq(retype(RS_OBJ_VSPACE, 0, 1, NULL), RS_NOT_ENOUGH_MEMORY);
    cr_assert_eq(fake_ncalls, 1);
    cr_assert_eq(ua.ut[0].used, 0);
}

Test(untyped, other_kernel_errors_come_back_and_leave_the_watermark)
{
    ps_ut_add(&ua, 10, 14, 0, false);
    answer = RS_DELETE_FIRST;
    unsigned which = 99;
    cr_assert_eq(retype(RS_OBJ_FRAME, 0, 1, &which), RS_DELETE_FIRST);
    cr_assert_eq(fake_ncalls, 1);
    cr_assert_eq(ua.ut[0].used, 0);
    cr_assert_eq(which, 99, "which is set only on success");
}

Test(untyped, a_request_the_allocator_cannot_size_goes_to_the_kernel_as_it_is)
{
    ps_ut_add(&ua, 10, 14, 0, false);
    answer = RS_INVALID_ARGUMENT;
    cr_assert_eq(retype(RS_OBJ_TYPE_COUNT, 0, 1, NULL), RS_INVALID_ARGUMENT);
    expect_retype(0, 10, RS_OBJ_TYPE_COUNT, 0, 1);
    answer = RS_RANGE_ERROR;
    cr_assert_eq(retype(RS_OBJ_FRAME, 0, 0, NULL), RS_RANGE_ERROR, "count 0");
    expect_retype(1, 10, RS_OBJ_FRAME, 0, 0);
    ps_ut_init(&ua, storage, 4);
    cr_assert_eq(retype(RS_OBJ_TYPE_COUNT, 0, 1, NULL), RS_NOT_ENOUGH_MEMORY, "no untyped at all");
    cr_assert_eq(fake_ncalls, 2);
}

Test(untyped, reset_empties_one_untyped)
{
    ps_ut_add(&ua, 10, 12, 0, false);
    ps_ut_add(&ua, 11, 12, 0, false);
    retype(RS_OBJ_FRAME, 0, 1, NULL);
    retype(RS_OBJ_FRAME, 0, 1, NULL);
    cr_assert_eq(retype(RS_OBJ_FRAME, 0, 1, NULL), RS_NOT_ENOUGH_MEMORY);
    ps_ut_reset(&ua, 11);
    ps_ut_reset(&ua, 99); // unknown: ignored
    cr_assert_eq(ua.ut[0].used, 4096);
    cr_assert_eq(ua.ut[1].used, 0);
    unsigned which = 99;
    cr_assert_eq(retype(RS_OBJ_FRAME, 0, 1, &which), RS_OK);
    cr_assert_eq(which, 1);
}

Test(untyped, the_bootinfo_list_is_added_in_order)
{
    static rs_bootinfo_t bi;
    bi.untyped.start = 30;
    bi.untyped.end = 33;
    for (unsigned i = 0; i < 3; i++)
        bi.untyped_list[i] = (rs_untyped_desc_t){
            .paddr = 0x100000 * (i + 1), .size_bits = 20 + i, .is_device = i == 1};
    cr_assert_eq(ps_ut_add_bootinfo(&ua, &bi), RS_OK);
    cr_assert_eq(ua.count, 3);
    for (unsigned i = 0; i < 3; i++) {
        cr_assert_eq(ua.ut[i].cap, 30 + i);
        cr_assert_eq(ua.ut[i].size_bits, 20 + i);
        cr_assert_eq(ua.ut[i].paddr, 0x100000 * (i + 1));
        cr_assert_eq(ua.ut[i].is_device, i == 1);
    }
    bi.untyped.end = 35; // two more than the storage holds
    bi.untyped_list[3].size_bits = bi.untyped_list[4].size_bits = 12;
    ps_ut_init(&ua, storage, 4);
    cr_assert_eq(ps_ut_add_bootinfo(&ua, &bi), RS_RANGE_ERROR);
}
