// SPDX-License-Identifier: MIT
// Device memory at boot (kernel/devmem.c): the gaps of a memory map below 4 GiB, against QEMU's
// map, unaligned and overlapping entries, and a seeded fuzzer checked page by page.
#include <criterion/criterion.h>
#include "devmem.h"
#include "xorshift.h"

#define R(b, e) ((struct devmem_range){(b), (e)})

/* QEMU pc, 128 MiB, SeaBIOS (its e820): RAM, reserved at the top of RAM (ACPI), the BIOS. */
Test(devmem, qemu_pc_map)
{
    struct devmem_range ex[] = {R(0, 0x9fc00),
                                R(0x9fc00, 0xa0000),
                                R(0xf0000, 0x100000),
                                R(0x100000, 0x7fe0000),
                                R(0x7fe0000, 0x8000000),
                                R(0xfeffc000, 0xff000000),
                                R(0xfffc0000, 0x100000000)},
                        out[8];
    int n = devmem_ranges(ex, 7, DEVMEM_LOW, DEVMEM_HIGH, out, 8);
    cr_assert_eq(n, 1);
    cr_assert_eq(out[0].base, 0x8000000);
    cr_assert_eq(out[0].end, 0xFEC00000);
}

/* Entries in any order, overlapping, unaligned: a page an entry touches is never handed out. */
Test(devmem, unaligned_and_overlapping)
{
    struct devmem_range ex[] = {R(0x200000, 0x300001),
                                R(0x100000, 0x180000),
                                R(0x250000, 0x260000),
                                R(0x400fff, 0x401000),
                                R(5, 5),
                                R(0x1000000, 0x0)},
                        out[8];
    int n = devmem_ranges(ex, 6, 0x100000, 0x800000, out, 8);
    cr_assert_eq(n, 3);
    cr_assert_eq(out[0].base, 0x180000);
    cr_assert_eq(out[0].end, 0x200000);
    cr_assert_eq(out[1].base, 0x301000);
    cr_assert_eq(out[1].end, 0x400000);
    cr_assert_eq(out[2].base, 0x401000);
    cr_assert_eq(out[2].end, 0x800000);
}

Test(devmem, nothing_left_and_full_output)
{
    struct devmem_range ex[] = {R(0, UINT64_MAX)}, out[2];
    cr_assert_eq(devmem_ranges(ex, 1, DEVMEM_LOW, DEVMEM_HIGH, out, 2), 0);
    struct devmem_range holes[] = {R(0x1000, 0x2000), R(0x3000, 0x4000), R(0x5000, 0x6000)};
    cr_assert_eq(devmem_ranges(holes, 3, 0, 0x10000, out, 2), 2); // out[] is full: the rest dropped
    cr_assert_eq(out[1].base, 0x2000);
    cr_assert_eq(out[1].end, 0x3000);
    cr_assert_eq(devmem_ranges(NULL, 0, 0x1234, 0x1fff, out, 2), 0); // no whole page
}

/* Random maps: every page of the result is inside [lo, hi), touched by no entry, and every page
 * of [lo, hi) touched by no entry is in the result; ranges sorted and disjoint. */
Test(devmem, fuzz)
{
    uint64_t seed = 0xdece5;
    for (int round = 0; round < 3000; round++) {
        struct devmem_range ex[12], out[16];
        int ne = (int)(xorshift64(&seed) % 12);
        for (int i = 0; i < ne; i++) {
            uint64_t b = xorshift64(&seed) % 0x40000, len = xorshift64(&seed) % 0x8000;
            ex[i] = R(b, xorshift64(&seed) % 16 ? b + len : b - len);
        }
        uint64_t lo = xorshift64(&seed) % 0x10000, hi = lo + xorshift64(&seed) % 0x40000;
        int n = devmem_ranges(ex, ne, lo, hi, out, 16);
        cr_assert(n >= 0 && n <= 16);
        bool full = n == 16;
        for (uint64_t p = 0; p < 0x50000; p += 0x1000) {
            bool in = false;
            for (int i = 0; i < n; i++) in |= p >= out[i].base && p < out[i].end;
            bool touched = false;
            for (int i = 0; i < ne; i++)
                touched |= ex[i].end > ex[i].base && ex[i].base < p + 0x1000 && ex[i].end > p;
            bool free = p >= lo && p + 0x1000 <= hi && !touched;
            if (in) cr_assert(free, "round %d page %lx handed out but not free", round, p);
            if (!full && free) cr_assert(in, "round %d page %lx free but missed", round, p);
        }
        for (int i = 0; i < n; i++) {
            cr_assert(out[i].base < out[i].end && !(out[i].base & 0xfff) && !(out[i].end & 0xfff));
            if (i) cr_assert(out[i - 1].end <= out[i].base);
        }
    }
}
