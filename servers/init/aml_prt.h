/* SPDX-License-Identifier: MIT */
/* A restricted, bounded reader of the PCI interrupt routing table \_SB.PCI0._PRT in an ACPI DSDT
 * (AML, ACPI 6.5 chapters 6.2.13 and 20). It evaluates nothing: it walks the namespace's static
 * declarations (Scope, Device, Name, Method) and understands only
 *  - Name (_PRT, Package { Package {Address, Pin, Source, SourceIndex}, ... }), Source Zero and
 *    SourceIndex the GSI (the form many servers emit), or Source a link device whose _CRS is a
 *    Name holding one Extended Interrupt descriptor (QEMU q35's GSIA..GSIH);
 *  - Method (_PRT) { If (F) { Return (A) } [Else] Return (P) } (or If (F == Zero), If (!F) with
 *    the branches swapped) where F is the flag \_PIC sets (Method (_PIC) { F = Arg0 }) and A, P
 *    name such Packages: A is taken, the APIC-mode table (an OS using the IO-APIC calls _PIC(1)).
 * Everything else (a _PRT computed by code, links with a _CRS Method) is refused with a reason.
 * Every length is checked against its container, recursion and work are bounded: any input
 * gives an answer. Pure code: no system calls, no allocation, no globals. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define PRT_MAX 256 /* entries kept; a longer table is refused */

enum { PRT_LEVEL = 1, PRT_ACTIVE_LOW = 2 }; /* prt_entry.flags */

struct prt_entry {
    uint16_t dev;  /* PCI device (slot) number on the root bus: Address >> 16 */
    uint8_t pin;   /* 0..3: INTA..INTD */
    uint8_t flags; /* PRT_LEVEL, PRT_ACTIVE_LOW: Source Zero is level, active low (6.2.13) */
    uint32_t gsi;
};

struct prt {
    unsigned count;
    struct prt_entry e[PRT_MAX];
    const char *form; /* which understood form it was, for the boot log */
};

/* Reads \_SB.PCI0._PRT from the DSDT at dsdt (len readable bytes; the table's own length and
 * checksum are checked too). Returns 0 and fills out, or -1 with *why a short English reason
 * (static text). */
int prt_read(const void *dsdt, size_t len, struct prt *out, const char **why);

/* The entry for device dev's interrupt pin `pin` as PCI configuration space numbers it (1 =
 * INTA .. 4 = INTD), or NULL. */
const struct prt_entry *prt_lookup(const struct prt *p, unsigned dev, unsigned pin);
