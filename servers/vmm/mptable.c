// SPDX-License-Identifier: MIT
// The MP table (mptable.h), byte by byte in the MP specification 1.4's layout (chapter 4:
// floating pointer 4.1, configuration table header 4.2, base table entries 4.3).
#include "mptable.h"
#include <resurgo/errors.h>
#include "ioapic.h"
#include "lapic.h"
#include "le.h"

#define ENTRY_PROCESSOR 0
#define ENTRY_BUS       1
#define ENTRY_IOAPIC    2
#define ENTRY_IOINT     3
#define ENTRY_LOCALINT  4
#define INT_INT         0
#define INT_NMI         1
#define INT_EXTINT      3
#define SPEC_REV_1_4    4

/* The byte that makes the bytes of p[0..len) sum to 0 (mod 256), with the checksum byte 0. */
static uint8_t checksum(const uint8_t *p, unsigned len)
{
    uint8_t sum = 0;
    for (unsigned i = 0; i < len; i++) sum = (uint8_t)(sum + p[i]);
    return (uint8_t)-sum;
}

/* An I/O (type 3) or local (type 4) interrupt entry, 8 bytes; flags 0: conforming. */
static uint8_t *interrupt(uint8_t *p, uint8_t type, uint8_t kind, uint8_t irq, uint8_t apic,
                          uint8_t pin)
{
    p[0] = type;
    p[1] = kind;
    le_put16(p + 2, 0);
    p[4] = 0; // source bus: ISA
    p[5] = irq;
    p[6] = apic;
    p[7] = pin;
    return p + 8;
}

int mptable_build(uint8_t *ram, uint64_t ram_size)
{
    if (!ram || ram_size < MPTABLE_END) return RS_RANGE_ERROR;
    uint8_t *cfg = ram + MPTABLE_CONFIG;
    for (unsigned i = MPTABLE_FLOAT; i < MPTABLE_END; i++) ram[i] = 0;

    uint8_t *p = cfg + 44; // entries after the header
    unsigned count = 0;
    // processor: LAPIC 0, enabled, the BSP; signature family 6, features FPU and APIC
    p[0] = ENTRY_PROCESSOR;
    p[1] = 0;
    p[2] = LAPIC_VERSION & 0xFF;
    p[3] = 0x3;
    le_put32(p + 4, 0x600);
    le_put32(p + 8, 0x201);
    p += 20, count++;
    // bus 0: ISA
    p[0] = ENTRY_BUS;
    p[1] = 0;
    for (unsigned i = 0; i < 6; i++) p[2 + i] = (uint8_t) "ISA   "[i];
    p += 8, count++;
    // the IO-APIC, enabled
    p[0] = ENTRY_IOAPIC;
    p[1] = MPTABLE_IOAPIC_ID;
    p[2] = IOAPIC_VERSION & 0xFF;
    p[3] = 1;
    le_put32(p + 4, (uint32_t)IOAPIC_BASE);
    p += 8, count++;
    for (uint8_t irq = 0; irq < 16; irq++) {
        if (irq == 2) continue; // the cascade; pin 2 is IRQ 0's
        uint8_t pin = irq == 0 ? MPTABLE_IRQ0_PIN : irq;
        p = interrupt(p, ENTRY_IOINT, INT_INT, irq, MPTABLE_IOAPIC_ID, pin), count++;
    }
    p = interrupt(p, ENTRY_LOCALINT, INT_EXTINT, 0, 0xFF, 0), count++;
    p = interrupt(p, ENTRY_LOCALINT, INT_NMI, 0, 0xFF, 1), count++;
    uint16_t len = (uint16_t)(p - cfg);

    // header (4.2): "PCMP", length, revision, checksum, OEM and product IDs, entry count,
    // the local APIC's address; no OEM table, no extended entries
    for (unsigned i = 0; i < 4; i++) cfg[i] = (uint8_t) "PCMP"[i];
    le_put16(cfg + 4, len);
    cfg[6] = SPEC_REV_1_4;
    for (unsigned i = 0; i < 8; i++) cfg[8 + i] = (uint8_t) "RESURGO "[i];
    for (unsigned i = 0; i < 12; i++) cfg[16 + i] = (uint8_t) "VMM         "[i];
    le_put16(cfg + 34, (uint16_t)count);
    le_put32(cfg + 36, (uint32_t)LAPIC_BASE);
    cfg[7] = checksum(cfg, len);

    // floating pointer (4.1): "_MP_", the table's address, length 1 (16 bytes), revision,
    // checksum; feature byte 1 = 0: a table is present; byte 2 bit 7 = 0: virtual wire (no IMCR)
    uint8_t *f = ram + MPTABLE_FLOAT;
    for (unsigned i = 0; i < 4; i++) f[i] = (uint8_t) "_MP_"[i];
    le_put32(f + 4, MPTABLE_CONFIG);
    f[8] = 1;
    f[9] = SPEC_REV_1_4;
    f[10] = checksum(f, 16);
    return 0;
}
