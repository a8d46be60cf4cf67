// SPDX-License-Identifier: MIT
// Device untyped (kernel/boot_root.c, devmem.c): the boot gives init untyped over the gaps of the
// memory map below the IO-APIC, never over RAM, and they make frames only.
#include "suites.h"

#define ME RS_INIT_CNODE

/* The last device untyped in bootinfo (slot and its descriptor), or 0. */
static rs_cptr_t last_device_untyped(const rs_untyped_desc_t **desc)
{
    rs_cptr_t found = 0;
    for (rs_cptr_t c = bootinfo->untyped.start; c < bootinfo->untyped.end; c++) {
        const rs_untyped_desc_t *d = &bootinfo->untyped_list[c - bootinfo->untyped.start];
        if (d->is_device) found = c, *desc = d;
    }
    return found;
}

static void devut_layout(void)
{
    unsigned devices = 0;
    for (rs_cptr_t c = bootinfo->untyped.start; c < bootinfo->untyped.end; c++) {
        const rs_untyped_desc_t *d = &bootinfo->untyped_list[c - bootinfo->untyped.start];
        uint64_t b = d->paddr, e = b + (1ul << d->size_bits);
        CHECK(!(b & ((1ul << d->size_bits) - 1))); // naturally aligned, as the kernel requires
        if (!d->is_device) continue;
        devices++;
        CHECK(b >= 0x100000 && e <= 0xFEC00000ul); // not the first MiB, not the IO-APIC/LAPIC
        for (rs_cptr_t o = bootinfo->untyped.start; o < bootinfo->untyped.end; o++) {
            const rs_untyped_desc_t *r = &bootinfo->untyped_list[o - bootinfo->untyped.start];
            if (o == c) continue;
            uint64_t rb = r->paddr, re = rb + (1ul << r->size_bits);
            if (rb < e && re > b)
                CHECK_EQ(o, 0); // overlaps another untyped (RAM or device): must not happen
        }
    }
    CHECK(devices >= 1); // QEMU pc and Bochs both leave the PCI hole out of the memory map
}

static void devut_frames_only(void)
{
    const rs_untyped_desc_t *d = NULL;
    rs_cptr_t ut = last_device_untyped(&d);
    REQUIRE(ut);
    CHECK_EQ(cap_type(ut), RS_CAP_UNTYPED);
    static const unsigned kernel_objects[][2] = {
        {RS_OBJ_TCB, 0},          {RS_OBJ_CNODE, 4},      {RS_OBJ_ENDPOINT, 0},
        {RS_OBJ_NOTIFICATION, 0}, {RS_OBJ_PAGE_TABLE, 0}, {RS_OBJ_VSPACE, 0},
    };
    rs_cptr_t s = new_slot();
    for (unsigned i = 0; i < sizeof(kernel_objects) / sizeof(kernel_objects[0]); i++) {
        CHECK_ERR(ps_untyped_retype(ut, ME, kernel_objects[i][0], kernel_objects[i][1], 0, 0, s, 1),
                  RS_INVALID_ARGUMENT);
        CHECK_EQ(cap_type(s), RS_CAP_NULL);
    }
    // a frame is fine, and sits at the start of the device range (not zeroed: nothing checks)
    uint64_t pa = 0;
    CHECK_OK(ps_untyped_retype(ut, ME, RS_OBJ_FRAME, 0, 0, 0, s, 1));
    CHECK_OK(ps_frame_get_address(s, &pa));
    CHECK_EQ(pa, d->paddr);
    // a child untyped stays device: it refuses a TCB too
    rs_cptr_t child = new_slot();
    CHECK_OK(ps_untyped_retype(ut, ME, RS_OBJ_UNTYPED, 12, 0, 0, child, 1));
    CHECK_ERR(ps_untyped_retype(child, ME, RS_OBJ_TCB, 0, 0, 0, new_slot(), 1),
              RS_INVALID_ARGUMENT);
    CHECK_OK(ps_cnode_revoke(ME, ut, 64)); // give the range back
    CHECK_EQ(cap_type(s), RS_CAP_NULL);
}

const struct test devut_tests[] = {
    {"DEVUT-0001",
     "device untyped lie between 1 MiB and the IO-APIC, aligned, overlapping no other untyped",
     devut_layout},
    {"DEVUT-0002",
     "device untyped (and untyped made from it) refuse kernel objects with "
     "RS_INVALID_ARGUMENT and make frames at their address",
     devut_frames_only},
    {0},
};
