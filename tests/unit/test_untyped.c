// SPDX-License-Identifier: MIT
// Host tests of Untyped_Retype accounting (kernel/untyped.c) over the real CNode, CDT, object,
// TCB and IPC code, with heap memory standing in for the untyped region.
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <resurgo/invocation.h>
#include <resurgo/ipcbuf.h>
#include "cdt.h"
#include "cnode.h"
#include "endpoint.h"
#include "invoke.h"
#include "notification.h"
#include "sched.h"
#include "tcb.h"
#include "untyped.h"
#include "fake_arch.h"
#include "fastpath.h"
#include <resurgo/syscall.h>

/* fake_arch.c */
extern uint64_t fake_free_asids;
extern int fake_vspaces_finalised;

/* ---- The world: a caller thread, its root CNode, and an untyped cap in it ------------------- */

enum {
    ROOT_RADIX = 8,            /* 256 slots; the guard makes the CNode resolve cptrs of depth 64 */
    UT_INDEX = 255,            /* where the untyped under test lives in the root CNode */
    IPCBUF_VADDR = 0x10000400, /* not page-aligned: tcb_ipc_buffer must add the offset */
};

static struct {
    struct tcb *caller;
    struct rs_ipc_buffer *ipcbuf;
    struct slot root;    /* the root CNode cap, passed as CAP0 (the destination root) */
    struct slot *cnode;  /* its slots */
    struct slot *ut;     /* the untyped under test: cnode[UT_INDEX] */
    uint8_t *mem;        /* the untyped's memory */
    unsigned out_length; /* result words the last invocation wrote */
} w;

/* Every allocation is freed after the test, so LeakSanitizer sees a clean exit. */
static void *allocs[16];
static int nallocs;

static void *alloc(size_t align, size_t size)
{
    void *p = aligned_alloc(align, size);
    cr_assert_not_null(p);
    memset(p, 0, size);
    cr_assert_lt(nallocs, 16);
    return allocs[nallocs++] = p;
}

static void free_all(void)
{
    while (nallocs) free(allocs[--nallocs]);
}

/* A CNode cap of `radix` slots whose guard makes it a single-level CSpace for depth-64 cptrs. */
static struct cap cnode_cap(struct slot *slots, unsigned radix)
{
    return (struct cap){.type = RS_CAP_CNODE,
                        .rights = RS_RIGHTS_ALL,
                        .bits = (uint8_t)radix,
                        .small = 64 - radix,
                        .obj = (uintptr_t)slots};
}

/* Sets up the world with an untyped of 2^ut_bits bytes (device memory when `device`). */
static void world(unsigned ut_bits, bool device)
{
    w.caller = alloc(1u << RS_TCB_BITS, 1u << RS_TCB_BITS);
    tcb_init(w.caller);
    uint8_t *frame = alloc(4096, 4096);
    w.caller->slots[TCB_SLOT_IPCBUF].cap = (struct cap){
        .type = RS_CAP_FRAME, .rights = RS_RIGHTS_ALL, .bits = 12, .obj = (uintptr_t)frame};
    w.caller->ipc_buffer_vaddr = IPCBUF_VADDR;
    w.ipcbuf = (struct rs_ipc_buffer *)(frame + (IPCBUF_VADDR & 4095));
    w.cnode = alloc(64, sizeof(struct slot) << ROOT_RADIX);
    w.root.cap = cnode_cap(w.cnode, ROOT_RADIX);
    cdt_insert(NULL, &w.root);
    w.caller->slots[TCB_SLOT_CSPACE].cap = w.root.cap;
    w.mem = alloc((size_t)1 << ut_bits, (size_t)1 << ut_bits);
    w.ut = &w.cnode[UT_INDEX];
    w.ut->cap = (struct cap){.type = RS_CAP_UNTYPED,
                             .rights = RS_RIGHTS_ALL,
                             .bits = (uint8_t)ut_bits,
                             .flags = device ? CAP_FLAG_DEVICE : 0,
                             .obj = (uintptr_t)w.mem};
    cdt_insert(NULL, w.ut);
}

TestSuite(untyped, .fini = free_all);

/* Untyped_Retype of `ut` as a user would send it: MR0..MR3 in registers, MR4..MR5 in the IPC
 * buffer, the destination root as CAP0, dispatched through invoke_cap. */
static int retype_full(struct slot *ut, uint64_t type, uint64_t bits, uint64_t index,
                       uint64_t depth, uint64_t offset, uint64_t count)
{
    struct tcb *c = w.caller;
    c->ctx.rdx = type;
    c->ctx.r8 = bits;
    c->ctx.r9 = index;
    c->ctx.r10 = depth;
    w.ipcbuf->mr[4] = offset;
    w.ipcbuf->mr[5] = count;
    struct invocation inv = {.caller = c,
                             .slot = ut,
                             .cap = &ut->cap,
                             .label = RS_UNTYPED_RETYPE,
                             .length = 6,
                             .extra_count = 1,
                             .extra = {&w.root}};
    int err = invoke_cap(&inv);
    w.out_length = inv.out_length;
    return err;
}

/* Retype into the root CNode itself (depth 0) at `offset`. */
static int retype(uint64_t type, uint64_t bits, uint64_t offset, uint64_t count)
{
    return retype_full(w.ut, type, bits, 0, 0, offset, count);
}

static uint64_t mr(unsigned i)
{
    const uint64_t v[] = {w.caller->ctx.rdx, w.caller->ctx.r8, w.caller->ctx.r9, w.caller->ctx.r10};
    return v[i];
}

/* The error and its three detail words, as resurgo/errors.h defines them. */
static void expect_error(int got, int err, uint64_t d0, uint64_t d1, uint64_t d2)
{
    cr_expect_eq(got, err, "error %d (%s), expected %d (%s)", got, rs_error_name(got), err,
                 rs_error_name(err));
    cr_expect_eq(mr(0), d0, "MR0 %#lx, expected %#lx", (unsigned long)mr(0), (unsigned long)d0);
    cr_expect_eq(mr(1), d1, "MR1 %#lx, expected %#lx", (unsigned long)mr(1), (unsigned long)d1);
    cr_expect_eq(mr(2), d2, "MR2 %#lx, expected %#lx", (unsigned long)mr(2), (unsigned long)d2);
    cr_expect_eq(w.out_length, 3, "error detail is three words");
}

static uint64_t watermark(void) { return w.ut->cap.w1; }
static uint64_t offset_of(const struct slot *s) { return s->cap.obj - (uintptr_t)w.mem; }

static void expect_object(unsigned index, unsigned cap_type, uint64_t offset)
{
    const struct slot *s = &w.cnode[index];
    cr_expect_eq(s->cap.type, cap_type, "slot %u: cap type %u, expected %u", index, s->cap.type,
                 cap_type);
    cr_expect_eq(offset_of(s), offset, "slot %u: object at %#lx, expected %#lx", index,
                 (unsigned long)offset_of(s), (unsigned long)offset);
    cr_expect_eq(s->parent, w.ut, "slot %u: derived from the untyped", index);
    cr_expect_eq(s->cap.rights, RS_RIGHTS_ALL);
}

static void expect_slots_empty(unsigned first, unsigned count)
{
    for (unsigned i = first; i < first + count; i++)
        cr_expect(cap_is_null(&w.cnode[i].cap) && !w.cnode[i].parent, "slot %u should be empty", i);
}

static bool all_bytes(const void *p, size_t n, uint8_t v)
{
    for (size_t i = 0; i < n; i++)
        if (((const uint8_t *)p)[i] != v) return false;
    return true;
}

/* ---- Watermark and alignment ----------------------------------------------------------------- */

Test(untyped, watermark_advances_with_alignment)
{
    world(16, false);
    cr_assert_eq(retype(RS_OBJ_ENDPOINT, 0, 0, 1), RS_OK);
    expect_object(0, RS_CAP_ENDPOINT, 0);
    cr_expect_eq(watermark(), 32);
    /* a TCB is 2 KiB and 2 KiB-aligned: it skips the rest of the first 2 KiB */
    cr_assert_eq(retype(RS_OBJ_TCB, 0, 1, 1), RS_OK);
    expect_object(1, RS_CAP_TCB, 2048);
    cr_expect_eq(watermark(), 4096);
    cr_assert_eq(retype(RS_OBJ_NOTIFICATION, 0, 2, 1), RS_OK);
    expect_object(2, RS_CAP_NOTIFICATION, 4096);
    cr_expect_eq(watermark(), 4096 + 32);
    /* pages are page-aligned */
    cr_assert_eq(retype(RS_OBJ_FRAME, 0, 3, 1), RS_OK);
    expect_object(3, RS_CAP_FRAME, 8192);
    cr_expect_eq(w.cnode[3].cap.bits, 12);
    cr_expect_eq(watermark(), 12288);
    /* a CNode of radix 3 is 512 bytes, aligned to its size */
    cr_assert_eq(retype(RS_OBJ_ENDPOINT, 0, 4, 1), RS_OK);
    expect_object(4, RS_CAP_ENDPOINT, 12288);
    cr_assert_eq(retype(RS_OBJ_CNODE, 3, 5, 1), RS_OK);
    expect_object(5, RS_CAP_CNODE, 12288 + 512);
    cr_expect_eq(watermark(), 12288 + 1024);
    /* an untyped is aligned to its own size */
    cr_assert_eq(retype(RS_OBJ_UNTYPED, 13, 6, 1), RS_OK);
    expect_object(6, RS_CAP_UNTYPED, 16384);
    cr_expect_eq(w.cnode[6].cap.bits, 13);
    cr_expect_eq(w.cnode[6].cap.w1, 0, "a new untyped is empty");
    cr_expect_eq(watermark(), 16384 + 8192);
    /* the untyped's children, newest first */
    const struct slot *c = w.ut->child;
    for (unsigned i = 0; i < 7; i++, c = c->next) cr_expect_eq(c, &w.cnode[6 - i], "child %u", i);
    cr_expect_null(c);
}

/* Objects bigger than a page align to their own size, not just to a page. */
Test(untyped, big_cnode_and_untyped_align_to_their_size)
{
    world(16, false);
    cr_assert_eq(retype(RS_OBJ_FRAME, 0, 0, 2), RS_OK);
    cr_assert_eq(retype(RS_OBJ_ENDPOINT, 0, 2, 1), RS_OK);
    cr_assert_eq(watermark(), 8192 + 32);
    cr_assert_eq(retype(RS_OBJ_CNODE, 7, 3, 1), RS_OK); /* 8 KiB: not at 12288 */
    expect_object(3, RS_CAP_CNODE, 16384);
    cr_assert_eq(retype(RS_OBJ_ENDPOINT, 0, 4, 1), RS_OK);
    cr_assert_eq(watermark(), 24576 + 32);
    cr_assert_eq(retype(RS_OBJ_UNTYPED, 14, 5, 1), RS_OK); /* 16 KiB: not at 28672 */
    expect_object(5, RS_CAP_UNTYPED, 32768);
    cr_expect_eq(watermark(), 49152);
}

Test(untyped, count_makes_consecutive_objects_in_consecutive_slots)
{
    world(16, false);
    cr_assert_eq(retype(RS_OBJ_NOTIFICATION, 0, 0, 1), RS_OK);
    cr_assert_eq(retype(RS_OBJ_ENDPOINT, 0, 10, 5), RS_OK);
    for (unsigned i = 0; i < 5; i++) expect_object(10 + i, RS_CAP_ENDPOINT, 32 + 32 * i);
    cr_expect_eq(watermark(), 32 * 6);
    expect_slots_empty(15, 1);
    cr_assert_eq(retype(RS_OBJ_TCB, 0, 20, 3), RS_OK);
    for (unsigned i = 0; i < 3; i++) expect_object(20 + i, RS_CAP_TCB, 2048 * (i + 1));
    cr_expect_eq(watermark(), 2048 * 4);
}

Test(untyped, large_frame_is_2mib_aligned)
{
    world(22, false);
    cr_assert_eq(retype(RS_OBJ_ENDPOINT, 0, 0, 1), RS_OK);
    cr_assert_eq(retype(RS_OBJ_LARGE_FRAME, 0, 1, 1), RS_OK);
    expect_object(1, RS_CAP_FRAME, 1u << 21);
    cr_expect_eq(w.cnode[1].cap.bits, 21);
    cr_expect_eq(watermark(), 1u << 22);
    expect_error(retype(RS_OBJ_ENDPOINT, 0, 2, 1), RS_NOT_ENOUGH_MEMORY, 0, 0, 0);
}

Test(untyped, cnode_takes_64_bytes_per_slot)
{
    world(16, false);
    for (unsigned radix = 1; radix <= 8; radix++) {
        uint64_t before = watermark();
        cr_assert_eq(retype(RS_OBJ_CNODE, radix, radix, 1), RS_OK, "radix %u", radix);
        uint64_t size = 64ull << radix, start = (before + size - 1) & ~(size - 1);
        expect_object(radix, RS_CAP_CNODE, start);
        cr_expect_eq(w.cnode[radix].cap.bits, radix, "the CNode cap's radix");
        cr_expect_eq(w.cnode[radix].cap.small, 0, "a new CNode has no guard");
        cr_expect_eq(watermark(), start + size, "radix %u", radix);
    }
}

/* The memory comes from the untyped's region and is usable as the object at once. */
Test(untyped, objects_are_initialised_from_dirty_memory)
{
    world(16, false);
    memset(w.mem, 0xA5, 1u << 16);
    cr_assert_eq(retype(RS_OBJ_ENDPOINT, 0, 0, 1), RS_OK);
    cr_expect(all_bytes(w.mem, 32, 0), "endpoint zeroed");
    cr_expect(all_bytes(w.mem + 32, 2048 - 32, 0xA5), "nothing beyond the endpoint touched");
    cr_assert_eq(retype(RS_OBJ_TCB, 0, 1, 1), RS_OK);
    struct tcb *t = (struct tcb *)(w.mem + 2048);
    struct tcb expect;
    memset(&expect, 0, sizeof(expect));
    expect.ctx.cs = GDT_USER_CS;
    expect.ctx.ss = GDT_USER_DS;
    expect.ctx.rflags = 0x202;
    expect.state = TS_INACTIVE;
    cr_expect_eq(memcmp(t, &expect, sizeof(expect)), 0, "TCB zeroed, then tcb_init");
    cr_expect(all_bytes(w.mem + 2048 + sizeof(struct tcb), 2048 - sizeof(struct tcb), 0),
              "TCB tail zeroed");
    cr_assert_eq(retype(RS_OBJ_CNODE, 4, 2, 1), RS_OK);
    cr_expect(all_bytes(w.mem + 4096, 1024, 0), "CNode slots zeroed");
    cr_assert_eq(retype(RS_OBJ_FRAME, 0, 3, 1), RS_OK);
    cr_expect(all_bytes(w.mem + 8192, 4096, 0), "frame zeroed");
    cr_assert_eq(retype(RS_OBJ_NOTIFICATION, 0, 4, 1), RS_OK);
    cr_expect(all_bytes(w.mem + 12288, 32, 0), "notification zeroed");
    /* an untyped's memory is zeroed when objects are made from it, not when it is made */
    cr_assert_eq(retype(RS_OBJ_UNTYPED, 12, 5, 1), RS_OK);
    cr_expect(all_bytes(w.mem + 16384, 4096, 0xA5), "a new untyped's memory is left as it was");
    cr_assert_eq(retype_full(&w.cnode[5], RS_OBJ_ENDPOINT, 0, 0, 0, 6, 1), RS_OK);
    cr_expect(all_bytes(w.mem + 16384, 32, 0), "endpoint from the sub-untyped zeroed");
    cr_expect(all_bytes(w.mem + 16384 + 32, 4096 - 32, 0xA5));
}

/* ---- Running out ------------------------------------------------------------------------------ */

Test(untyped, not_enough_memory_reports_bytes_left)
{
    world(12, false);
    cr_assert_eq(retype(RS_OBJ_TCB, 0, 0, 1), RS_OK);
    cr_assert_eq(watermark(), 2048);
    expect_error(retype(RS_OBJ_TCB, 0, 1, 2), RS_NOT_ENOUGH_MEMORY, 2048, 0, 0);
    expect_slots_empty(1, 2);
    cr_expect_eq(watermark(), 2048, "a failed retype changes nothing");
    cr_expect_eq(w.ut->child->next, NULL);
    /* exactly what is left still fits */
    cr_assert_eq(retype(RS_OBJ_TCB, 0, 1, 1), RS_OK);
    expect_object(1, RS_CAP_TCB, 2048);
    expect_error(retype(RS_OBJ_ENDPOINT, 0, 2, 1), RS_NOT_ENOUGH_MEMORY, 0, 0, 0);
}

/* The bytes left are counted from the watermark: alignment may leave them unusable. */
Test(untyped, not_enough_memory_after_alignment)
{
    world(12, false);
    cr_assert_eq(retype(RS_OBJ_ENDPOINT, 0, 0, 1), RS_OK);
    expect_error(retype(RS_OBJ_FRAME, 0, 1, 1), RS_NOT_ENOUGH_MEMORY, 4096 - 32, 0, 0);
    expect_error(retype(RS_OBJ_UNTYPED, 13, 1, 1), RS_NOT_ENOUGH_MEMORY, 4096 - 32, 0, 0);
    expect_slots_empty(1, 1);
    cr_expect_eq(watermark(), 32);
}

Test(untyped, bigger_than_the_untyped)
{
    world(16, false);
    expect_error(retype(RS_OBJ_UNTYPED, 17, 0, 1), RS_NOT_ENOUGH_MEMORY, 1u << 16, 0, 0);
    expect_error(retype(RS_OBJ_CNODE, 11, 0, 1), RS_NOT_ENOUGH_MEMORY, 1u << 16, 0, 0);
    cr_expect_null(w.ut->child);
    cr_expect_eq(retype(RS_OBJ_CNODE, 10, 0, 1), RS_OK, "exactly the whole untyped");
    cr_expect_eq(watermark(), 1u << 16);
}

Test(untyped, vspace_needs_a_free_asid)
{
    world(16, false);
    fake_free_asids = 1;
    expect_error(retype(RS_OBJ_VSPACE, 0, 0, 2), RS_NOT_ENOUGH_MEMORY, 0, 0, 0);
    expect_slots_empty(0, 2);
    cr_expect_eq(watermark(), 0);
    cr_assert_eq(retype(RS_OBJ_VSPACE, 0, 0, 1), RS_OK);
    expect_object(0, RS_CAP_VSPACE, 0);
    cr_expect_neq(w.cnode[0].cap.small, 0, "the VSpace cap records its ASID");
    cr_expect_eq(fake_free_asids, 0);
    /* deleting it gives the ASID back */
    cdt_delete(&w.cnode[0]);
    cr_expect_eq(fake_vspaces_finalised, 1);
    cr_expect_eq(fake_free_asids, 1);
}

/* ---- Argument checks -------------------------------------------------------------------------- */

Test(untyped, range_error_details_for_size_bits)
{
    world(16, false);
    expect_error(retype(RS_OBJ_UNTYPED, 3, 0, 1), RS_RANGE_ERROR, 1, RS_MIN_UNTYPED_BITS,
                 RS_MAX_UNTYPED_BITS);
    expect_error(retype(RS_OBJ_UNTYPED, 48, 0, 1), RS_RANGE_ERROR, 1, RS_MIN_UNTYPED_BITS,
                 RS_MAX_UNTYPED_BITS);
    expect_error(retype(RS_OBJ_UNTYPED, 64 + 12, 0, 1), RS_RANGE_ERROR, 1, RS_MIN_UNTYPED_BITS,
                 RS_MAX_UNTYPED_BITS);
    expect_error(retype(RS_OBJ_UNTYPED, UINT64_MAX, 0, 1), RS_RANGE_ERROR, 1, RS_MIN_UNTYPED_BITS,
                 RS_MAX_UNTYPED_BITS);
    expect_error(retype(RS_OBJ_CNODE, 0, 0, 1), RS_RANGE_ERROR, 1, 1, RS_MAX_CNODE_RADIX);
    expect_error(retype(RS_OBJ_CNODE, 21, 0, 1), RS_RANGE_ERROR, 1, 1, RS_MAX_CNODE_RADIX);
    expect_slots_empty(0, 1);
    cr_expect_eq(watermark(), 0);
    /* the edges themselves are accepted (size_bits means nothing for fixed-size objects) */
    cr_expect_eq(retype(RS_OBJ_UNTYPED, 4, 0, 1), RS_OK);
    cr_expect_eq(retype(RS_OBJ_CNODE, 1, 1, 1), RS_OK);
    cr_expect_eq(retype(RS_OBJ_ENDPOINT, 99, 2, 1), RS_OK);
}

Test(untyped, range_error_details_for_count)
{
    world(16, false);
    expect_error(retype(RS_OBJ_ENDPOINT, 0, 0, 0), RS_RANGE_ERROR, 5, 1, 256);
    expect_error(retype(RS_OBJ_ENDPOINT, 0, 0, 257), RS_RANGE_ERROR, 5, 1, 256);
    expect_error(retype(RS_OBJ_ENDPOINT, 0, 0, UINT64_MAX), RS_RANGE_ERROR, 5, 1, 256);
    cr_expect_null(w.ut->child);
    /* 256 at once, into a second CNode of 256 slots (the root's last slot holds the untyped) */
    struct slot *sub = alloc(64, sizeof(struct slot) << 8);
    w.cnode[9].cap = cnode_cap(sub, 8);
    cdt_insert(NULL, &w.cnode[9]);
    cr_expect_eq(retype_full(w.ut, RS_OBJ_ENDPOINT, 0, 9, 64, 0, 256), RS_OK);
    cr_expect_eq(sub[255].cap.obj, (uintptr_t)w.mem + 255 * 32);
    cr_expect_eq(watermark(), 256 * 32);
}

/* The destination window must lie inside the CNode: MR0 = 4 (the offset), MR2 = the last
 * offset at which `count` slots still fit. */
Test(untyped, range_error_details_for_offset)
{
    world(16, false);
    expect_error(retype(RS_OBJ_ENDPOINT, 0, 256, 1), RS_RANGE_ERROR, 4, 0, 255);
    expect_error(retype(RS_OBJ_ENDPOINT, 0, 250, 10), RS_RANGE_ERROR, 4, 0, 246);
    expect_error(retype(RS_OBJ_ENDPOINT, 0, UINT64_MAX, 1), RS_RANGE_ERROR, 4, 0, 255);
    cr_expect_null(w.ut->child);
    cr_expect_eq(retype(RS_OBJ_ENDPOINT, 0, 246, 9), RS_OK); /* 246..254: the untyped is at 255 */
}

/* A window wider than the whole CNode has no valid offset at all: the maximum offset reported
 * must not be the wrapped-around slots - count. */
Test(untyped, range_error_for_window_wider_than_cnode)
{
    world(16, false);
    struct slot *small = alloc(64, sizeof(struct slot) << 2);
    w.cnode[7].cap = cnode_cap(small, 2);
    cdt_insert(NULL, &w.cnode[7]);
    int err = retype_full(w.ut, RS_OBJ_ENDPOINT, 0, 7, 64, 0, 5);
    cr_expect_eq(err, RS_RANGE_ERROR);
    cr_expect_leq(mr(2), 4, "max offset %#lx: slots - count wrapped around", (unsigned long)mr(2));
}

Test(untyped, bad_type_and_unsupported_types)
{
    world(16, false);
    expect_error(retype(RS_OBJ_TYPE_COUNT, 0, 0, 1), RS_INVALID_ARGUMENT, 0, 0, 0);
    expect_error(retype(UINT64_MAX, 0, 0, 1), RS_INVALID_ARGUMENT, 0, 0, 0);
    expect_error(retype(RS_OBJ_VCPU, 0, 0, 1), RS_NOT_SUPPORTED, 0, 0, 0);
    expect_error(retype(RS_OBJ_GUEST_SPACE, 0, 0, 1), RS_NOT_SUPPORTED, 0, 0, 0);
    cr_expect_null(w.ut->child);
}

Test(untyped, message_checks)
{
    world(16, false);
    struct invocation inv = {.caller = w.caller,
                             .slot = w.ut,
                             .cap = &w.ut->cap,
                             .label = RS_UNTYPED_RETYPE,
                             .length = 5,
                             .extra_count = 1,
                             .extra = {&w.root}};
    w.caller->ctx.rdx = RS_OBJ_ENDPOINT;
    w.ipcbuf->mr[5] = 1;
    w.out_length = 0;
    int err = untyped_decode(&inv);
    w.out_length = inv.out_length;
    expect_error(err, RS_TRUNCATED_MESSAGE, 6, 5, 0);

    inv = (struct invocation){.caller = w.caller,
                              .slot = w.ut,
                              .cap = &w.ut->cap,
                              .label = RS_UNTYPED_RETYPE,
                              .length = 6};
    w.caller->ctx.rdx = RS_OBJ_ENDPOINT;
    err = untyped_decode(&inv);
    w.out_length = inv.out_length;
    expect_error(err, RS_INVALID_CAPABILITY, 1, 0, 0);

    inv = (struct invocation){.caller = w.caller,
                              .slot = w.ut,
                              .cap = &w.ut->cap,
                              .label = RS_CNODE_COPY,
                              .length = 6,
                              .extra_count = 1,
                              .extra = {&w.root}};
    err = untyped_decode(&inv);
    w.out_length = inv.out_length;
    expect_error(err, RS_ILLEGAL_OPERATION, 0, 0, 0);

    /* CAP0 must be a CNode */
    inv = (struct invocation){.caller = w.caller,
                              .slot = w.ut,
                              .cap = &w.ut->cap,
                              .label = RS_UNTYPED_RETYPE,
                              .length = 6,
                              .extra_count = 1,
                              .extra = {w.ut}};
    w.caller->ctx.rdx = RS_OBJ_ENDPOINT;
    w.caller->ctx.r10 = 0;
    w.ipcbuf->mr[4] = 0;
    w.ipcbuf->mr[5] = 1;
    err = untyped_decode(&inv);
    w.out_length = inv.out_length;
    expect_error(err, RS_INVALID_CAPABILITY, 1, 0, 0);
    cr_expect_null(w.ut->child);
}

/* The destination CNode is (index, depth) below CAP0; depth 0 means CAP0 itself. */
Test(untyped, destination_cnode_by_index_and_depth)
{
    world(16, false);
    struct slot *sub = alloc(64, sizeof(struct slot) << 4);
    w.cnode[9].cap = cnode_cap(sub, 4);
    cdt_insert(NULL, &w.cnode[9]);
    cr_assert_eq(retype_full(w.ut, RS_OBJ_ENDPOINT, 0, 9, 64, 3, 2), RS_OK);
    cr_expect_eq(sub[3].cap.type, RS_CAP_ENDPOINT);
    cr_expect_eq(sub[4].cap.type, RS_CAP_ENDPOINT);
    cr_expect_eq(sub[4].cap.obj, (uintptr_t)w.mem + 32);
    cr_expect(sub[3].parent == w.ut && sub[4].parent == w.ut);
    expect_slots_empty(3, 2);
    /* the sub-CNode has 16 slots */
    expect_error(retype_full(w.ut, RS_OBJ_ENDPOINT, 0, 9, 64, 15, 2), RS_RANGE_ERROR, 4, 0, 14);
    /* the slot named is not a CNode */
    expect_error(retype_full(w.ut, RS_OBJ_ENDPOINT, 0, 8, 64, 0, 1), RS_INVALID_CAPABILITY, 2, 0,
                 0);
    /* depth beyond 64 bits */
    expect_error(retype_full(w.ut, RS_OBJ_ENDPOINT, 0, 9, 65, 0, 1), RS_RANGE_ERROR, 3, 0, 64);
    /* the guard does not match: nothing resolved, 64 bits left */
    expect_error(retype_full(w.ut, RS_OBJ_ENDPOINT, 0, 9 | 1ull << 40, 64, 0, 1), RS_FAILED_LOOKUP,
                 2, 64, 0);
    /* depth too small for the root's guard and radix */
    expect_error(retype_full(w.ut, RS_OBJ_ENDPOINT, 0, 9, 32, 0, 1), RS_FAILED_LOOKUP, 2, 32, 0);
    cr_expect_eq(watermark(), 64);
}

Test(untyped, occupied_destination_is_delete_first)
{
    world(16, false);
    cr_assert_eq(retype(RS_OBJ_NOTIFICATION, 0, 5, 1), RS_OK);
    expect_error(retype(RS_OBJ_ENDPOINT, 0, 3, 4), RS_DELETE_FIRST, 4, 5, 0);
    expect_slots_empty(3, 2);
    expect_slots_empty(6, 1);
    cr_expect_eq(watermark(), 32);
    /* the untyped's own slot is occupied too */
    expect_error(retype(RS_OBJ_ENDPOINT, 0, UT_INDEX, 1), RS_DELETE_FIRST, 4, UT_INDEX, 0);
    cr_expect_eq(w.ut->child, &w.cnode[5]);
    cr_expect_null(w.cnode[5].next);
}

/* ---- Device memory ---------------------------------------------------------------------------- */

Test(untyped, device_untyped_makes_only_frames)
{
    world(22, true);
    memset(w.mem, 0x5A, 1u << 22);
    const unsigned refused[] = {RS_OBJ_TCB,   RS_OBJ_ENDPOINT,   RS_OBJ_NOTIFICATION,
                                RS_OBJ_CNODE, RS_OBJ_PAGE_TABLE, RS_OBJ_PAGE_DIRECTORY,
                                RS_OBJ_PDPT,  RS_OBJ_VSPACE};
    for (unsigned i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        expect_error(retype(refused[i], 4, 0, 1), RS_INVALID_ARGUMENT, 0, 0, 0);
        cr_expect_null(w.ut->child, "type %u made from device memory", refused[i]);
    }
    cr_assert_eq(retype(RS_OBJ_FRAME, 0, 0, 1), RS_OK);
    expect_object(0, RS_CAP_FRAME, 0);
    cr_expect(w.cnode[0].cap.flags & CAP_FLAG_DEVICE, "a device frame is marked");
    cr_expect(all_bytes(w.mem, 4096, 0x5A), "device memory is not written");
    cr_assert_eq(retype(RS_OBJ_UNTYPED, 12, 2, 1), RS_OK);
    expect_object(2, RS_CAP_UNTYPED, 4096);
    cr_expect(w.cnode[2].cap.flags & CAP_FLAG_DEVICE, "device memory stays device memory");
    /* and the sub-untyped refuses kernel objects in turn */
    w.out_length = 0;
    expect_error(retype_full(&w.cnode[2], RS_OBJ_ENDPOINT, 0, 0, 0, 3, 1), RS_INVALID_ARGUMENT, 0,
                 0, 0);
    cr_assert_eq(retype_full(&w.cnode[2], RS_OBJ_FRAME, 0, 0, 0, 3, 1), RS_OK);
    cr_expect(w.cnode[3].cap.flags & CAP_FLAG_DEVICE);
    cr_expect(all_bytes(w.mem + 4096, 4096, 0x5A));
    cr_assert_eq(retype(RS_OBJ_LARGE_FRAME, 0, 1, 1), RS_OK);
    expect_object(1, RS_CAP_FRAME, 1u << 21);
    cr_expect(w.cnode[1].cap.flags & CAP_FLAG_DEVICE);
    cr_expect(all_bytes(w.mem + (1u << 21), 1u << 21, 0x5A), "device memory is not written");
}

/* ---- Revoke and reuse ------------------------------------------------------------------------- */

/* CNode_Revoke on the untyped, as a user would invoke it on the root CNode. */
static int revoke_untyped(void)
{
    w.caller->ctx.rdx = UT_INDEX;
    w.caller->ctx.r8 = 64;
    struct invocation inv = {.caller = w.caller,
                             .slot = &w.root,
                             .cap = &w.root.cap,
                             .label = RS_CNODE_REVOKE,
                             .length = 2};
    return invoke_cap(&inv);
}

Test(untyped, revoke_resets_watermark_and_memory_is_reused)
{
    world(16, false);
    cr_assert_eq(retype(RS_OBJ_ENDPOINT, 0, 0, 3), RS_OK);
    cr_assert_eq(retype(RS_OBJ_TCB, 0, 3, 1), RS_OK);
    cr_assert_eq(retype(RS_OBJ_CNODE, 2, 4, 1), RS_OK);
    cr_assert_eq(watermark(), 4096 + 256);
    cdt_revoke(w.ut, NULL);
    cr_expect_eq(watermark(), 4096 + 256, "cdt_revoke alone does not touch the watermark");
    untyped_revoked(w.ut);
    cr_expect_eq(watermark(), 0);
    cr_expect_null(w.ut->child);
    expect_slots_empty(0, 5);
    memset(w.mem, 0xEE, 4096 + 256); /* what the dead objects left behind */
    /* the same memory again, zeroed again */
    cr_assert_eq(retype(RS_OBJ_NOTIFICATION, 0, 0, 1), RS_OK);
    expect_object(0, RS_CAP_NOTIFICATION, 0);
    cr_expect(all_bytes(w.mem, 32, 0));
    cr_expect_eq(watermark(), 32);
}

Test(untyped, cnode_revoke_invocation_resets_watermark)
{
    world(12, false);
    cr_assert_eq(retype(RS_OBJ_TCB, 0, 0, 2), RS_OK);
    expect_error(retype(RS_OBJ_ENDPOINT, 0, 2, 1), RS_NOT_ENOUGH_MEMORY, 0, 0, 0);
    cr_assert_eq(revoke_untyped(), RS_OK);
    cr_expect_eq(watermark(), 0);
    expect_slots_empty(0, 2);
    cr_assert_eq(retype(RS_OBJ_FRAME, 0, 0, 1), RS_OK);
    expect_object(0, RS_CAP_FRAME, 0);
}

Test(untyped, untyped_with_children_is_not_reset)
{
    world(16, false);
    cr_assert_eq(retype(RS_OBJ_ENDPOINT, 0, 0, 1), RS_OK);
    untyped_revoked(w.ut);
    cr_expect_eq(watermark(), 32, "children left: the watermark stands");
    /* revoking a sub-untyped resets it, not its parent, which still has it as a child */
    cr_assert_eq(retype(RS_OBJ_UNTYPED, 12, 1, 1), RS_OK);
    struct slot *sub = &w.cnode[1];
    cr_assert_eq(retype_full(sub, RS_OBJ_ENDPOINT, 0, 0, 0, 2, 4), RS_OK);
    cr_expect_eq(sub->cap.w1, 128);
    cdt_revoke(sub, NULL);
    untyped_revoked(sub);
    cr_expect_eq(sub->cap.w1, 0);
    expect_slots_empty(2, 4);
    untyped_revoked(w.ut);
    cr_expect_eq(watermark(), 8192, "the parent still has children");
    cr_assert_eq(retype(RS_OBJ_ENDPOINT, 0, 2, 1), RS_OK);
    expect_object(2, RS_CAP_ENDPOINT, 8192);
    /* untyped_revoked ignores other cap types */
    struct cap before = w.cnode[0].cap;
    untyped_revoked(&w.cnode[0]);
    cr_expect_eq(memcmp(&before, &w.cnode[0].cap, sizeof(before)), 0);
}

/* Deleting every child one by one empties the untyped as well as a revoke does. */
Test(untyped, childless_untyped_counts_as_empty)
{
    world(12, false);
    cr_assert_eq(retype(RS_OBJ_TCB, 0, 0, 2), RS_OK);
    cdt_delete(&w.cnode[0]);
    expect_error(retype(RS_OBJ_TCB, 0, 0, 1), RS_NOT_ENOUGH_MEMORY, 0, 0, 0);
    cdt_delete(&w.cnode[1]);
    cr_assert_eq(retype(RS_OBJ_TCB, 0, 0, 2), RS_OK);
    expect_object(0, RS_CAP_TCB, 0);
    expect_object(1, RS_CAP_TCB, 2048);
}

/* A copy of an object's cap keeps the untyped from counting as empty, wherever the copy is. */
Test(untyped, copies_keep_the_memory_in_use)
{
    world(12, false);
    cr_assert_eq(retype(RS_OBJ_TCB, 0, 0, 2), RS_OK);
    /* CNode_Copy of slot 0 to slot 7 */
    w.caller->ctx.rdx = 7;
    w.caller->ctx.r8 = 64;
    w.caller->ctx.r9 = 0;
    w.caller->ctx.r10 = 64;
    struct invocation inv = {.caller = w.caller,
                             .slot = &w.root,
                             .cap = &w.root.cap,
                             .label = RS_CNODE_COPY,
                             .length = 4,
                             .extra_count = 1,
                             .extra = {&w.root}};
    cr_assert_eq(invoke_cap(&inv), RS_OK);
    cdt_delete(&w.cnode[0]);
    cdt_delete(&w.cnode[1]);
    cr_expect_eq(w.cnode[7].parent, w.ut, "the copy took the original's place");
    expect_error(retype(RS_OBJ_ENDPOINT, 0, 0, 1), RS_NOT_ENOUGH_MEMORY, 0, 0, 0);
    cdt_delete(&w.cnode[7]);
    cr_expect_eq(retype(RS_OBJ_ENDPOINT, 0, 0, 1), RS_OK);
    expect_object(0, RS_CAP_ENDPOINT, 0);
}

/* Untyped caps are never copied: the watermark lives in the one cap. */
Test(untyped, untyped_cap_cannot_be_copied)
{
    world(12, false);
    w.caller->ctx.rdx = 7;
    w.caller->ctx.r8 = 64;
    w.caller->ctx.r9 = UT_INDEX;
    w.caller->ctx.r10 = 64;
    struct invocation inv = {.caller = w.caller,
                             .slot = &w.root,
                             .cap = &w.root.cap,
                             .label = RS_CNODE_COPY,
                             .length = 4,
                             .extra_count = 1,
                             .extra = {&w.root}};
    cr_expect_eq(invoke_cap(&inv), RS_ILLEGAL_OPERATION);
    expect_slots_empty(7, 1);
}

/* Revoking destroys live objects properly: a thread made from the untyped leaves the run queue,
 * a thread from elsewhere waiting on an endpoint made from it is woken with RS_PEER_DIED. */
Test(untyped, revoke_destroys_live_objects)
{
    world(16, false);
    struct tcb *outsider = alloc(1u << RS_TCB_BITS, 1u << RS_TCB_BITS);
    tcb_init(outsider);
    outsider->prio = 3;
    cr_assert_eq(retype(RS_OBJ_ENDPOINT, 0, 0, 1), RS_OK);
    cr_assert_eq(retype(RS_OBJ_TCB, 0, 1, 1), RS_OK);
    cr_assert_eq(retype(RS_OBJ_NOTIFICATION, 0, 2, 1), RS_OK);
    struct tcb *inner = (struct tcb *)w.cnode[1].cap.obj;
    inner->prio = 200;
    sched_make_runnable(inner, false);
    cr_assert_eq(sched_pick(), inner);
    /* inner is bound to the notification; outsider waits to receive on the endpoint */
    notification_bind((struct notification *)w.cnode[2].cap.obj, inner);
    sched_make_runnable(outsider, false);
    endpoint_recv(&w.cnode[0].cap, outsider, true);
    cr_assert_eq(outsider->state, TS_BLOCKED_RECV);
    cr_assert_eq(revoke_untyped(), RS_OK);
    cr_expect_eq(outsider->state, TS_RUNNABLE);
    cr_expect_eq(outsider->ctx.rax, RS_PEER_DIED);
    cr_expect_null(outsider->blocked_on);
    cr_expect_eq(sched_pick(), outsider, "the destroyed thread left the run queue");
    cr_expect_eq(inner->state, TS_INACTIVE);
    cr_expect_eq(watermark(), 0);
    expect_slots_empty(0, 3);
}

/* ---- Preemption ------------------------------------------------------------------------------- */

/* A Retype stopped at every preemption point returns RS_PREEMPTED with nothing written back (the
 * caller's registers still hold its arguments, so the system call can be made again as it was),
 * and repeated until done makes the objects an uninterrupted one makes, zeroed, at the same
 * watermark, with every byte zeroed once. */
Test(untyped, retype_preempted_at_every_point_ends_as_uninterrupted)
{
    world(23, false);
    memset(w.mem, 0xA5, 1u << 23);
    cr_assert_eq(retype(RS_OBJ_ENDPOINT, 0, 0, 1), RS_OK); /* a child: the watermark counts */
    fake_irq_pending_every = 1;
    unsigned long polls = fake_irq_polls;
    int err, stops = 0;
    while ((err = retype(RS_OBJ_LARGE_FRAME, 0, 1, 2)) == RS_PREEMPTED) {
        stops++;
        cr_assert_eq(w.out_length, 0, "a stopped Retype wrote results");
        cr_assert(mr(0) == RS_OBJ_LARGE_FRAME && mr(1) == 0 && mr(2) == 0 && mr(3) == 0,
                  "a stopped Retype changed its arguments");
        cr_assert(cap_is_null(&w.cnode[1].cap) && cap_is_null(&w.cnode[2].cap));
        cr_assert_eq(watermark(), 32, "the watermark moves only when the objects are made");
    }
    fake_irq_pending_every = 0;
    cr_assert_eq(err, RS_OK);
    /* 6 MiB (from the endpoint up, alignment gap included) in 4 KiB chunks of 8 units, a poll
     * every 64 units: one stop per 32 KiB but after the last */
    cr_expect_eq(stops, (6 << 20) / (32 << 10) - 1, "%d stops", stops);
    cr_expect_eq(fake_irq_polls - polls, (unsigned long)stops);
    expect_object(1, RS_CAP_FRAME, 2u << 20);
    expect_object(2, RS_CAP_FRAME, 4u << 20);
    cr_expect_eq(watermark(), 6u << 20);
    cr_expect(all_bytes(w.mem + 32, (2u << 20) - 32, 0), "the alignment gap is zeroed too");
    cr_expect(all_bytes(w.mem + (2u << 20), 4u << 20, 0), "both frames zeroed");
    cr_expect(all_bytes(w.mem + (6u << 20), 2u << 20, 0xA5), "nothing beyond touched");
}

/* What a stop had zeroed is forgotten when the untyped is reset meanwhile (a Revoke): memory the
 * objects made in between used is zeroed again. */
Test(untyped, revoke_between_stops_forgets_zeroing)
{
    world(22, false);
    memset(w.mem, 0xA5, 1u << 22);
    fake_irq_pending_every = 1;
    cr_assert_eq(retype(RS_OBJ_LARGE_FRAME, 0, 0, 1), RS_PREEMPTED);
    fake_irq_pending_every = 0;
    cr_assert_gt(w.ut->cap.w2, 0, "progress is kept in the cap");
    cr_assert_eq(retype(RS_OBJ_ENDPOINT, 0, 1, 1), RS_OK); /* uses memory the stop had zeroed */
    cr_assert_eq(revoke_untyped(), RS_OK);
    cr_expect_eq(w.ut->cap.w2, 0);
    memset(w.mem, 0x5A, 32); /* what the dead endpoint left */
    cr_assert_eq(retype(RS_OBJ_LARGE_FRAME, 0, 0, 1), RS_OK);
    cr_expect(all_bytes(w.mem, 2u << 20, 0));
}

/* The system call level: a stopped invocation rewinds the caller's RIP over its `syscall` and
 * leaves rax (the call number) and the argument registers as they were, so the thread makes the
 * same call again once the interrupt has been taken; the last round returns the result. */
Test(untyped, preempted_syscall_is_made_again)
{
    world(22, false);
    w.cnode[1].cap = w.root.cap; /* CAP0: the root CNode, by cptr */
    cdt_insert(&w.root, &w.cnode[1]);
    struct tcb *c = w.caller;
    fake_irq_pending_every = 1;
    int rounds = 0, how;
    for (;;) {
        rounds++;
        c->ctx.rax = RS_SYS_CALL;
        c->ctx.rdi = UT_INDEX;
        c->ctx.rsi = rs_msginfo(RS_UNTYPED_RETYPE, 0, 1, 6);
        c->ctx.rdx = RS_OBJ_LARGE_FRAME;
        c->ctx.r8 = c->ctx.r9 = c->ctx.r10 = 0;
        w.ipcbuf->mr[4] = 2;
        w.ipcbuf->mr[5] = 1;
        w.ipcbuf->caps_or_badges[0] = 1;
        c->ctx.rip = 0x400002; /* after the syscall at 0x400000 */
        RUN(how, syscall_slowpath(c));
        cr_assert_neq(how, STAYED);
        if (c->ctx.rip == 0x400002) break;
        cr_assert_eq(c->ctx.rip, 0x400000, "RIP not rewound to the syscall");
        cr_assert(c->ctx.rax == RS_SYS_CALL && c->ctx.rdi == UT_INDEX &&
                      c->ctx.rsi == rs_msginfo(RS_UNTYPED_RETYPE, 0, 1, 6) &&
                      c->ctx.rdx == RS_OBJ_LARGE_FRAME && c->ctx.r8 == 0 && c->ctx.r9 == 0 &&
                      c->ctx.r10 == 0,
                  "a restarted call's registers changed");
        cr_assert_lt(rounds, 1000);
    }
    fake_irq_pending_every = 0;
    cr_expect_eq(c->ctx.rax, RS_OK);
    cr_expect_eq(rounds, 64, "2 MiB: one stop per 32 KiB, then the last round");
    expect_object(2, RS_CAP_FRAME, 0);
    cr_expect_eq(watermark(), 2u << 20);
}

/* CNode_Revoke of an untyped, stopped at every preemption point: each stop puts the parked cap
 * back in its slot (with the children not yet deleted), and the repeats end as one uninterrupted
 * Revoke does: no children, watermark 0, the cap where it was. */
Test(untyped, revoke_invocation_preempted_at_every_point)
{
    world(20, false);
    cr_assert_eq(retype(RS_OBJ_ENDPOINT, 0, 0, 200), RS_OK);
    cr_assert_eq(retype(RS_OBJ_CNODE, 6, 200, 1), RS_OK);
    struct slot *inner = (struct slot *)(uintptr_t)w.cnode[200].cap.obj;
    for (int i = 0; i < 64; i++) { /* copies of endpoint i, kept in the CNode the revoke destroys */
        inner[i].cap = w.cnode[i].cap;
        cdt_insert(&w.cnode[i], &inner[i]);
    }
    fake_irq_pending_every = 1;
    int err, stops = 0;
    while ((err = revoke_untyped()) == RS_PREEMPTED) {
        stops++;
        cr_assert_eq(w.ut->cap.type, RS_CAP_UNTYPED, "the parked cap is back after a stop");
        cr_assert_not_null(w.ut->child, "stopped with nothing left to do");
        cr_assert_lt(stops, 10000);
    }
    fake_irq_pending_every = 0;
    cr_assert_eq(err, RS_OK);
    cr_expect_gt(stops, 10);
    cr_expect_eq(w.ut->cap.type, RS_CAP_UNTYPED);
    cr_expect_null(w.ut->child);
    cr_expect_eq(watermark(), 0);
    expect_slots_empty(0, 201);
}
