/* SPDX-License-Identifier: MIT */
/* The ACPI tables of the pc platform (ACPI 6.4): how a guest finds its virtio-mmio devices, which
 * Debian's kernel discovers only through a DSDT (_HID "LNRO0005", _CRS Memory32Fixed +
 * Interrupt), as Firecracker and QEMU's microvm describe theirs. Hardware-reduced ACPI (FADT flag
 * HW_REDUCED_ACPI: no SCI, no PM registers, no legacy PIC or PIT for the OS to use): Linux then
 * runs on the local APIC timer and routes every interrupt through the IO-APIC by the MADT and the
 * DSDT's resources, so COM1 (PNP0501, IRQ 4) and the CMOS RTC (PNP0B00, IRQ 8) are in the DSDT
 * too. The tables live in the BIOS area Linux scans for the RSDP (0xE0000..0xFFFFF, reserved in
 * e820), from ACPI_BASE below the MP table (mptable.h, 0xF0000), and never overlap it. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define ACPI_RSDP     0xE0000u /* "RSD PTR ", 16-byte aligned (ACPI 5.2.5.1) */
#define ACPI_XSDT     0xE0040u
#define ACPI_FADT     0xE0080u
#define ACPI_MADT     0xE0200u
#define ACPI_DSDT     0xE0300u
#define ACPI_END      0xE1000u /* everything lies below this (and below MPTABLE_FLOAT) */
#define ACPI_DEVS_MAX 4
#define ACPI_IRQ0_GSI 2 /* the interrupt source override ISA IRQ 0 -> GSI 2 (as the MP table) */

/* A virtio-mmio device for the DSDT: its register window and its IO-APIC pin (level, active
 * high). */
struct acpi_virtio {
    uint32_t base, size;
    uint32_t gsi;
};

/* Writes RSDP, XSDT, FADT, MADT (one LAPIC, the IO-APIC, IRQ0 -> GSI 2, LINT1 NMI) and DSDT
 * (COM1, RTC, and the n virtio-mmio devices devs[0..n)) into guest RAM (guest-physical
 * 0 .. ram_size). 0, or RS_RANGE_ERROR if RAM does not cover ACPI_END or n > ACPI_DEVS_MAX. */
int acpi_build(uint8_t *ram, uint64_t ram_size, const struct acpi_virtio *devs, unsigned n);
