// SPDX-License-Identifier: MIT
// Device IRQ lines, all masked until a user driver holds an IRQHandler cap for them: ISA IRQs
// 0..15 on vectors 0x20..0x2F through the IO-APIC the ACPI MADT names (its overrides give each
// IRQ's GSI, polarity and trigger mode; the default), else through the legacy 8259 pair; and with
// the IO-APIC, GSIs 16 and up (PCI INTx) on vectors 0x40 and up, level-triggered, active low.
#include "arch.h"
#include "cpu.h"
#include "acpi_boot.h"

#define PIC1 0x20
#define PIC2 0xA0

static uint16_t pic_masks = 0xFFFB; // all masked but the cascade (IRQ 2)

bool arch_ioapic_allowed = true;

/* IO-APIC routing (Intel 82093AA datasheet, section 3.2): one redirection entry per ISA IRQ. */
#define IOAPIC_VER   0x01
#define IOAPIC_REDIR 0x10 /* entry n: registers 0x10 + 2n (low) and + 1 (high, destination) */
#define REDIR_MASK   (1u << 16)
#define REDIR_LEVEL  (1u << 15)
#define REDIR_LOW    (1u << 13)
#define LAPIC_ID_REG 0x020
#define LAPIC_EOI    0x0B0
#define LAPIC_ISR    0x100 /* 8 registers of 32 vectors, 16 bytes apart */
#define LAPIC_ICR_LO 0x300
#define ICR_SELF     (1u << 18) /* destination shorthand 01: self (SDM vol 3A 11.6.1) */

static struct {
    bool on;
    volatile uint32_t *lapic;
    unsigned lines; /* lines 0..lines-1 exist: 16, and the GSIs from 16 with an IO-APIC pin */
    volatile uint32_t *base[IRQ_COUNT]; /* the IO-APIC serving each line; NULL: not usable */
    uint8_t pin[IRQ_COUNT];
    uint32_t low[IRQ_COUNT]; /* the redirection entry's low half, unmasked */
    /* Edge-triggered lines are masked in software only, once first unmasked: a masked IO-APIC
     * pin drops an edge (82093AA datasheet 3.2.4, mask bit), where the 8259 latches it in its
     * IRR and delivers it on unmask. So an edge arriving while the line is masked is latched
     * here and sent again (self-IPI) when the line is unmasked, as the 8259 would. */
    uint16_t edge, soft_masked, latched, hw_unmasked;
} ioapic;
static const char *ioapic_why; /* why the 8259 stays in charge */

static uint32_t ioapic_read(volatile uint32_t *b, uint32_t reg)
{
    b[0] = reg; // IOREGSEL at +0, IOWIN at +0x10
    return b[4];
}

static void ioapic_write(volatile uint32_t *b, uint32_t reg, uint32_t v)
{
    b[0] = reg;
    b[4] = v;
}

/* Switches ISA IRQs to the IO-APICs of the MADT if every IRQ but 2 has a pin on one; else
 * leaves the 8259 in charge. Every entry starts masked. */
static bool ioapic_setup(void)
{
    const struct acpi_madt *m = &acpi_info.madt;
    if (!arch_ioapic_allowed) return ioapic_why = "IO-APIC routing switched off: ioapic=off", false;
    if (acpi_info.status != ACPI_OK || acpi_info.madt_status != ACPI_OK)
        return ioapic_why = "no valid MADT", false;
    if (!m->ioapic_count) return ioapic_why = "no IO-APIC in the MADT", false;
    unsigned pins[ACPI_MAX_IOAPICS];
    for (unsigned i = 0; i < m->ioapic_count; i++) {
        uint32_t ver = ioapic_read(PHYS_TO_VIRT(m->ioapic[i].addr), IOAPIC_VER);
        if (ver == 0xFFFFFFFFu)
            return ioapic_why = "no IO-APIC answers at the MADT's address", false;
        pins[i] = ((ver >> 16) & 0xFF) + 1;
        for (unsigned p = 0; p < pins[i]; p++)
            ioapic_write(PHYS_TO_VIRT(m->ioapic[i].addr), IOAPIC_REDIR + 2 * p, REDIR_MASK);
    }
    ioapic.lapic = PHYS_TO_VIRT(rdmsr(MSR_APIC_BASE) & ~0xFFFull);
    uint32_t dest = ioapic.lapic[LAPIC_ID_REG / 4] & 0xFF000000u; // this CPU, physical mode
    for (unsigned irq = 0; irq < IRQ_ISA_COUNT; irq++) {
        if (irq == 2) continue; // the 8259 cascade: no ISA device
        uint16_t flags;
        uint32_t gsi = acpi_isa_gsi(m, irq, &flags);
        unsigned i = 0;
        while (i < m->ioapic_count &&
               !(gsi >= m->ioapic[i].gsi_base && gsi - m->ioapic[i].gsi_base < pins[i]))
            i++;
        if (i == m->ioapic_count) return ioapic_why = "an ISA IRQ has no IO-APIC pin", false;
        ioapic.base[irq] = PHYS_TO_VIRT(m->ioapic[i].addr);
        ioapic.pin[irq] = (uint8_t)(gsi - m->ioapic[i].gsi_base);
        // MPS INTI flags: polarity 3 = active low, trigger 3 = level; 0 = as the bus (ISA:
        // active high, edge). Fixed delivery, physical destination.
        bool level = ((flags >> 2) & 3) == 3;
        ioapic.low[irq] = (uint32_t)(IRQ_VECTOR_BASE + irq) | ((flags & 3) == 3 ? REDIR_LOW : 0) |
                          (level ? REDIR_LEVEL : 0);
        if (!level) ioapic.edge |= (uint16_t)(1u << irq);
        ioapic_write(ioapic.base[irq], IOAPIC_REDIR + 2 * ioapic.pin[irq] + 1, dest);
        ioapic_write(ioapic.base[irq], IOAPIC_REDIR + 2 * ioapic.pin[irq],
                     ioapic.low[irq] | REDIR_MASK);
    }
    // GSIs 16 and up: PCI INTx lines, which ACPI describes only in _PRT (init reads it). Their
    // entries are level-triggered, active low: the PCI default when _PRT names a GSI directly
    // (ACPI 6.5 5.2.12.5, 6.2.13). A GSI an ISA override already routes stays that ISA line.
    ioapic.lines = IRQ_ISA_COUNT;
    for (uint32_t gsi = IRQ_ISA_COUNT; gsi < IRQ_COUNT; gsi++) {
        unsigned i = 0;
        while (i < m->ioapic_count &&
               !(gsi >= m->ioapic[i].gsi_base && gsi - m->ioapic[i].gsi_base < pins[i]))
            i++;
        if (i == m->ioapic_count) break; // the lines stop at the first GSI without a pin
        ioapic.lines = gsi + 1;
        bool isa = false;
        for (unsigned irq = 0; irq < IRQ_ISA_COUNT; irq++)
            isa |= irq != 2 && acpi_isa_gsi(m, irq, NULL) == gsi;
        if (isa) continue;
        ioapic.base[gsi] = PHYS_TO_VIRT(m->ioapic[i].addr);
        ioapic.pin[gsi] = (uint8_t)(gsi - m->ioapic[i].gsi_base);
        ioapic.low[gsi] = irq_vector(gsi) | REDIR_LEVEL | REDIR_LOW;
        ioapic_write(ioapic.base[gsi], IOAPIC_REDIR + 2 * ioapic.pin[gsi] + 1, dest);
        ioapic_write(ioapic.base[gsi], IOAPIC_REDIR + 2 * ioapic.pin[gsi],
                     ioapic.low[gsi] | REDIR_MASK);
    }
    return true;
}

unsigned arch_irq_lines(void) { return ioapic.on ? ioapic.lines : IRQ_ISA_COUNT; }

bool arch_irq_line_usable(unsigned irq)
{
    if (irq >= arch_irq_lines() || irq == 2) return false;
    return irq < IRQ_ISA_COUNT || ioapic.base[irq];
}

const char *arch_irq_routing(const char **why)
{
    *why = ioapic.on ? NULL : ioapic_why;
    return ioapic.on ? "IO-APIC" : "8259 PIC";
}

static void pic_write_masks(void)
{
    outb(PIC1 + 1, pic_masks & 0xFF);
    outb(PIC2 + 1, pic_masks >> 8);
}

void arch_pic_init(void)
{
    outb(PIC1, 0x11); // ICW1: edge, cascade, ICW4 follows
    outb(PIC2, 0x11);
    outb(PIC1 + 1, IRQ_VECTOR_BASE);
    outb(PIC2 + 1, IRQ_VECTOR_BASE + 8);
    outb(PIC1 + 1, 4); // slave on IRQ 2
    outb(PIC2 + 1, 2);
    outb(PIC1 + 1, 1); // 8086 mode
    outb(PIC2 + 1, 1);
    // The 8259 pair is set up even when the IO-APIC takes over, so that a stray request it
    // might still make lands on vectors 0x20-0x2F rather than on exception vectors.
    ioapic.on = ioapic_setup();
    if (ioapic.on) pic_masks = 0xFFFF;
    pic_write_masks();
}

void arch_pic_mask(unsigned irq, bool masked)
{
    if (!arch_irq_line_usable(irq)) return;
    uint16_t bit = irq < IRQ_ISA_COUNT ? (uint16_t)(1u << irq) : 0; // only ISA lines are edge
    if (ioapic.on && (ioapic.edge & bit)) {
        if (masked) {
            ioapic.soft_masked |= bit;
            return;
        }
        ioapic.soft_masked &= (uint16_t)~bit;
        if (!(ioapic.hw_unmasked & bit))
            ioapic_write(ioapic.base[irq], IOAPIC_REDIR + 2 * ioapic.pin[irq], ioapic.low[irq]);
        ioapic.hw_unmasked |= bit;
        if (ioapic.latched & bit) { // taken on the way out to user mode, like any interrupt
            ioapic.latched &= (uint16_t)~bit;
            ioapic.lapic[LAPIC_ICR_LO / 4] = ICR_SELF | (uint32_t)(IRQ_VECTOR_BASE + irq);
        }
        return;
    }
    if (ioapic.on) {
        ioapic_write(ioapic.base[irq], IOAPIC_REDIR + 2 * ioapic.pin[irq],
                     ioapic.low[irq] | (masked ? REDIR_MASK : 0));
        return;
    }
    if (masked) pic_masks |= 1u << irq;
    else pic_masks &= ~(1u << irq);
    pic_write_masks();
}

bool arch_pic_accept(unsigned irq)
{
    if (!ioapic.on || irq >= IRQ_ISA_COUNT) return true;
    uint16_t bit = (uint16_t)(1u << irq);
    if (!(ioapic.soft_masked & bit)) return true;
    ioapic.latched |= bit;
    ioapic.lapic[LAPIC_EOI / 4] = 0;
    return false;
}

void arch_pic_eoi(unsigned irq)
{
    // IO-APIC: the LAPIC's EOI; for a level-triggered entry the LAPIC passes it on to the
    // IO-APIC, which clears the entry's remote IRR (SDM vol 3A 11.8.5).
    if (ioapic.on) {
        ioapic.lapic[LAPIC_EOI / 4] = 0;
        return;
    }
    if (irq >= IRQ_ISA_COUNT) return; // no such line on the 8259
    if (irq >= 8) outb(PIC2, 0x20);
    outb(PIC1, 0x20);
}

uint16_t arch_pic_isr(void)
{
    // vectors 0x20-0x2F are bits 0-15 of the LAPIC's second in-service register
    if (ioapic.on) return (uint16_t)ioapic.lapic[(LAPIC_ISR + 0x10) / 4];
    outb(PIC1, 0x0B); // OCW3: read the in-service register
    outb(PIC2, 0x0B);
    return (uint16_t)(inb(PIC1) | (inb(PIC2) << 8));
}

uint16_t arch_pic_pending(void)
{
    // through the IO-APIC a request goes straight to the LAPIC, whose IRR the caller reads
    if (ioapic.on) return 0;
    outb(PIC1, 0x0A); // OCW3: read the interrupt request register
    outb(PIC2, 0x0A);
    uint16_t irr = (uint16_t)(inb(PIC1) | (inb(PIC2) << 8));
    // a masked line's request is latched but never delivered; bit 2 only mirrors the slave
    return irr & ~pic_masks & ~(uint16_t)(1u << 2);
}
