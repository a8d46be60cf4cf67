/* SPDX-License-Identifier: MIT */
/* Device memory at boot: the physical ranges below 4 GiB that no memory map entry, the kernel or
 * the loader claims, which become device untyped caps for the root task (MMIO BARs live there). */
#pragma once
#include <stdint.h>

struct devmem_range {
    uint64_t base, end; /* [base, end) */
};

/* Lowest and highest (exclusive) address of device memory handed out: above the legacy first
 * MiB (BIOS, VGA, option ROMs) and below the IO-APIC at 0xFEC00000, which with the HPET, the
 * LAPIC (0xFEE00000) and the firmware's flash above it belongs to the kernel or the platform. */
#define DEVMEM_LOW  0x100000ull
#define DEVMEM_HIGH 0xFEC00000ull

/* Writes to out[] (at most max ranges, sorted by base, page aligned inward, non-empty) what is
 * left of [lo, hi) after removing every range of excl[] (any order, may overlap, end exclusive;
 * empty ones ignored). Returns the number written; ranges that do not fit are dropped. */
int devmem_ranges(const struct devmem_range *excl, int n_excl, uint64_t lo, uint64_t hi,
                  struct devmem_range *out, int max);
