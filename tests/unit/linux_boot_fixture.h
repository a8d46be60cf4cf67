// SPDX-License-Identifier: MIT
// The fixture both loader tests share (test_linux_boot.c: bzImages, test_linux_elf.c: vmlinux
// ELFs): an image of exactly `size` allocated bytes (so ASan sees overreads), parse and plan
// wrappers that capture the loader's message, and the check that an image is refused exactly.
#ifndef TESTS_UNIT_LINUX_BOOT_FIXTURE_H
#define TESTS_UNIT_LINUX_BOOT_FIXTURE_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "le.h"
#include "linux_boot.h"

#define MIB (1ul << 20)

static char err[200];

struct img {
    uint8_t *p;
    size_t size;
};

static enum linux_boot_error parse(struct img m, struct linux_image *out)
{
    memset(err, 0, sizeof(err));
    return linux_boot_parse(m.p, m.size, out, err, sizeof(err));
}

/* The image must be refused with code e and exactly msg; frees it. */
static void refused(struct img m, enum linux_boot_error e, const char *msg)
{
    struct linux_image li;
    enum linux_boot_error got = parse(m, &li);
    cr_assert_eq(got, e, "got %s (%s), expected %s", linux_boot_error_name(got), err,
                 linux_boot_error_name(e));
    cr_assert_str_eq(err, msg);
    free(m.p);
}

static enum linux_boot_error plan(const struct linux_image *li, uint64_t ram, uint64_t initrd,
                                  uint64_t cmdline, struct linux_layout *l)
{
    memset(err, 0, sizeof(err));
    return linux_boot_plan(li, ram, initrd, cmdline, l, err, sizeof(err));
}

#endif
