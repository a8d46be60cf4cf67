// SPDX-License-Identifier: MIT
// The guest's IO-APIC (ioapic.h): the indirect registers, the redirection table and delivery to
// the local APIC. Section numbers are the Intel 82093AA datasheet's.
#include "ioapic.h"

#define REG_ID   0x00
#define REG_VER  0x01
#define REG_ARB  0x02
#define REG_RTE0 0x10 /* entry n: 0x10 + 2n (bits 31:0), 0x11 + 2n (bits 63:32) */

static bool asserted(const struct ioapic *io, unsigned pin)
{
    bool high = io->lines >> pin & 1;
    return high != ((io->rte[pin] & IOAPIC_RTE_ACTLOW) != 0);
}

/* Sends pin's interrupt to the local APIC if the entry lets it: unmasked, fixed or lowest
 * priority (one CPU: the same thing), addressed to it. A level entry then sets remote IRR
 * until the EOI (3.2.4). */
static void deliver(struct ioapic *io, unsigned pin, struct lapic *a)
{
    uint64_t e = io->rte[pin];
    bool level = e & IOAPIC_RTE_LEVEL;
    if ((e & IOAPIC_RTE_MASKED) || (level && (e & IOAPIC_RTE_REMOTE))) return;
    if ((e >> 8 & 7) > 1) return;
    if (!lapic_accepting(a) || !lapic_match_dest(a, (uint8_t)(e >> 56), e >> 11 & 1)) return;
    lapic_accept(a, (uint8_t)e, level);
    if (level) io->rte[pin] |= IOAPIC_RTE_REMOTE;
}

void ioapic_reset(struct ioapic *io, uint8_t id)
{
    *io = (struct ioapic){0};
    io->id = id & 0xF;
    for (unsigned i = 0; i < IOAPIC_PINS; i++) io->rte[i] = IOAPIC_RTE_MASKED;
}

static uint32_t read_reg(const struct ioapic *io, uint8_t reg)
{
    switch (reg) {
    case REG_ID:
    case REG_ARB: return (uint32_t)io->id << 24; // arbitration ID: the APIC ID after reset
    case REG_VER: return IOAPIC_VERSION;
    default: break;
    }
    if (reg < REG_RTE0 || reg >= REG_RTE0 + 2 * IOAPIC_PINS) return 0;
    uint64_t e = io->rte[(reg - REG_RTE0) / 2];
    return (reg & 1) ? (uint32_t)(e >> 32) : (uint32_t)e;
}

uint32_t ioapic_read(struct ioapic *io, uint32_t offset)
{
    if (offset == IOAPIC_REGSEL) return io->regsel;
    if (offset == IOAPIC_WIN) return read_reg(io, io->regsel);
    return 0;
}

static void write_rte(struct ioapic *io, unsigned pin, bool high_half, uint32_t v, struct lapic *a)
{
    uint64_t e = io->rte[pin];
    uint64_t keep = high_half ? 0x00000000FFFFFFFFull : 0xFFFFFFFF00000000ull;
    uint64_t val = high_half ? (uint64_t)v << 32 : v;
    uint64_t n = (e & keep) | (val & ~keep & IOAPIC_RTE_WRITABLE) | (e & IOAPIC_RTE_REMOTE);
    // an entry made edge-triggered forgets remote IRR (KVM too; old Linux EOIs that way)
    if (!(n & IOAPIC_RTE_LEVEL)) n &= ~IOAPIC_RTE_REMOTE;
    io->rte[pin] = n;
    // a level line asserted while masked is delivered once unmasked; an edge was lost
    if ((n & IOAPIC_RTE_LEVEL) && asserted(io, pin)) deliver(io, pin, a);
}

void ioapic_write(struct ioapic *io, uint32_t offset, uint32_t v, struct lapic *a)
{
    if (offset == IOAPIC_REGSEL) {
        io->regsel = (uint8_t)v;
        return;
    }
    if (offset != IOAPIC_WIN) return;
    uint8_t reg = io->regsel;
    if (reg == REG_ID) io->id = v >> 24 & 0xF;
    else if (reg >= REG_RTE0 && reg < REG_RTE0 + 2 * IOAPIC_PINS)
        write_rte(io, (reg - REG_RTE0) / 2, reg & 1, v, a);
    // version and arbitration are read-only
}

void ioapic_set_irq(struct ioapic *io, unsigned pin, bool high, struct lapic *a)
{
    if (pin >= IOAPIC_PINS) return;
    bool was = asserted(io, pin);
    if (high) io->lines |= 1u << pin;
    else io->lines &= ~(1u << pin);
    bool now = asserted(io, pin);
    if (!now) return;
    if (io->rte[pin] & IOAPIC_RTE_LEVEL) deliver(io, pin, a);
    else if (!was) deliver(io, pin, a);
}

void ioapic_eoi(struct ioapic *io, uint8_t vector, struct lapic *a)
{
    for (unsigned pin = 0; pin < IOAPIC_PINS; pin++) {
        uint64_t e = io->rte[pin];
        if ((uint8_t)e != vector || !(e & IOAPIC_RTE_LEVEL) || !(e & IOAPIC_RTE_REMOTE)) continue;
        io->rte[pin] = e & ~IOAPIC_RTE_REMOTE;
        if (asserted(io, pin)) deliver(io, pin, a);
    }
}
