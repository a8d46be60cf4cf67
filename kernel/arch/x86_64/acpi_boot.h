/* SPDX-License-Identifier: MIT */
/* The kernel's view of ACPI: what arch_acpi_init found at boot (acpi.h has the parsers). */
#pragma once
#include "acpi.h"
#include "arch.h"

/* What was found; status != ACPI_OK when there are no usable tables (the PC defaults apply). */
extern struct acpi_info acpi_info;

/* Finds the RSDP (the loader's copy in bi, else the EBDA and BIOS area) and parses the tables
 * that lie below phys_limit (the physmap's end); logs what it found, or why it fell back.
 * Never panics: firmware tables are input, not kernel invariants. */
void arch_acpi_init(const struct boot_info *bi, uint64_t phys_limit);
/* True when the RSDP and the RSDT/XSDT were valid. */
bool arch_acpi_ok(void);

/* Device IRQ routing (pic.c): true (the default; false with "ioapic=off") routes ISA IRQs through
 * the MADT's IO-APICs; false keeps the 8259. Set before arch_pic_init. */
extern bool arch_ioapic_allowed;
/* "IO-APIC" or "8259 PIC": what arch_pic_init chose; *why: for the 8259, the reason. */
const char *arch_irq_routing(const char **why);
