/* SPDX-License-Identifier: MIT */
/* The MP table (Intel MultiProcessor Specification 1.4, chapter 4) that tells a guest where its
 * local APIC and IO-APIC are and how the ISA interrupts reach them: one processor (LAPIC ID 0,
 * the BSP), bus 0 (ISA), the IO-APIC (ID MPTABLE_IOAPIC_ID at IOAPIC_BASE), ISA IRQ 0 on pin 2 and
 * IRQs 1, 3..15 on their own pins (edge, active high: "conforming" for ISA), ExtINT on LINT0 and
 * NMI on LINT1 of every local APIC. IRQ 2 (the 8259 cascade) has no entry: pin 2 is IRQ 0's, as
 * on PCs (SeaBIOS builds the same table for QEMU). Linux finds the floating pointer by scanning
 * 0xF0000..0xFFFFF, which the loader marks reserved in e820. Virtual-wire mode (no IMCR). */
#pragma once
#include <stdint.h>

#define MPTABLE_FLOAT     0xF0000u /* the floating pointer structure (16 bytes) */
#define MPTABLE_CONFIG    0xF0010u /* the configuration table it points at */
#define MPTABLE_END       0xF0100u /* everything lies below this */
#define MPTABLE_IOAPIC_ID 1        /* the LAPIC has ID 0 */
#define MPTABLE_IRQ0_PIN  2        /* the IO-APIC pin ISA IRQ 0 (the PIT) drives */

/* Writes the floating pointer and the configuration table into guest RAM (ram: guest-physical
 * 0 .. ram_size). 0, or RS_RANGE_ERROR if RAM does not cover the table's place. */
int mptable_build(uint8_t *ram, uint64_t ram_size);
