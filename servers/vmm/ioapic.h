/* SPDX-License-Identifier: MIT */
/* The guest's IO-APIC: one Intel 82093AA (datasheet, May 1996) at IOAPIC_BASE with 24 pins,
 * delivering to the one local APIC (lapic.h). Registers through IOREGSEL (offset 0x00) and IOWIN
 * (0x10): ID (0), version (1: 0x11, so no EOI register: the local APIC's EOI messages clear remote
 * IRR, see ioapic_eoi), arbitration (2), and the redirection table (0x10 + 2n low, 0x11 + 2n
 * high). Fixed and lowest-priority delivery reach the local APIC; SMI, NMI, INIT and ExtINT
 * entries deliver nothing (the 8259 reaches the CPU through LINT0, lapic_extint).
 * Pure C, plain data: the state lives in the VMM's persistent state.
 *
 * Wiring in the VMM (as the MP table, mptable.h, describes it): ioapic_reset(io,
 * MPTABLE_IOAPIC_ID) and lapic_reset(a, 0); ISA IRQ n drives PIC input n and IO-APIC pin n,
 * but IRQ 0 (the PIT) drives pin MPTABLE_IRQ0_PIN (2); after every LAPIC write, pass each
 * lapic_take_eoi() vector to ioapic_eoi(). To inject: the PIC's vector if lapic_extint() and
 * the PIC asks, else lapic_pending() (then lapic_deliver() once the CPU takes it). */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "lapic.h"

#define IOAPIC_BASE    0xFEC00000ull
#define IOAPIC_SIZE    0x1000ull /* the page the VMM routes here */
#define IOAPIC_PINS    24
#define IOAPIC_REGSEL  0x00
#define IOAPIC_WIN     0x10
#define IOAPIC_VERSION 0x00170011u /* max redirection entry 23, version 0x11 */

/* redirection entry bits (82093AA 3.2.4) */
#define IOAPIC_RTE_DELIVS   (1ull << 12) /* delivery status: read-only */
#define IOAPIC_RTE_ACTLOW   (1ull << 13) /* polarity: active low */
#define IOAPIC_RTE_REMOTE   (1ull << 14) /* remote IRR: read-only */
#define IOAPIC_RTE_LEVEL    (1ull << 15)
#define IOAPIC_RTE_MASKED   (1ull << 16)
#define IOAPIC_RTE_WRITABLE 0xFF0000000001AFFFull

struct ioapic {
    uint64_t rte[IOAPIC_PINS]; /* redirection table */
    uint32_t lines;            /* pin n's input is high: bit n */
    uint8_t id;                /* 4 bits */
    uint8_t regsel;
};

/* Power-on state: ID id, every entry masked, all lines low. */
void ioapic_reset(struct ioapic *io, uint8_t id);
/* A 32-bit read at offset in the page: IOREGSEL, IOWIN (the register IOREGSEL selects; an
 * unknown one reads 0); any other offset reads 0. */
uint32_t ioapic_read(struct ioapic *io, uint32_t offset);
/* A 32-bit write. Writing a redirection entry may deliver through a: a level-triggered pin
 * still asserted once it is unmasked (and remote IRR is clear). */
void ioapic_write(struct ioapic *io, uint32_t offset, uint32_t v, struct lapic *a);
/* Pin's input line goes high or low (pin >= 24: ignored). Per the entry: polarity; edge
 * entries deliver on the assertion edge, level entries while asserted and remote IRR is clear
 * (then setting it); masked entries deliver nothing (a masked edge is lost). */
void ioapic_set_irq(struct ioapic *io, unsigned pin, bool high, struct lapic *a);
/* The local APIC's EOI message for vector (lapic_take_eoi): clears remote IRR of the
 * level-triggered entries with that vector; a line still asserted is delivered again. */
void ioapic_eoi(struct ioapic *io, uint8_t vector, struct lapic *a);
