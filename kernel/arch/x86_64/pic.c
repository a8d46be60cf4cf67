// SPDX-License-Identifier: MIT
// Legacy 8259 PIC pair: device IRQs 0..15 on vectors 0x20..0x2F, all masked until a user
// driver holds an IRQHandler cap for them.
#include "arch.h"
#include "cpu.h"

#define PIC1 0x20
#define PIC2 0xA0

static uint16_t pic_masks = 0xFFFB; // all masked but the cascade (IRQ 2)

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
    pic_write_masks();
}

void arch_pic_mask(unsigned irq, bool masked)
{
    if (irq >= IRQ_COUNT || irq == 2) return;
    if (masked) pic_masks |= 1u << irq;
    else pic_masks &= ~(1u << irq);
    pic_write_masks();
}

void arch_pic_eoi(unsigned irq)
{
    if (irq >= 8) outb(PIC2, 0x20);
    outb(PIC1, 0x20);
}

uint16_t arch_pic_isr(void)
{
    outb(PIC1, 0x0B); // OCW3: read the in-service register
    outb(PIC2, 0x0B);
    return (uint16_t)(inb(PIC1) | (inb(PIC2) << 8));
}

uint16_t arch_pic_pending(void)
{
    outb(PIC1, 0x0A); // OCW3: read the interrupt request register
    outb(PIC2, 0x0A);
    uint16_t irr = (uint16_t)(inb(PIC1) | (inb(PIC2) << 8));
    // a masked line's request is latched but never delivered; bit 2 only mirrors the slave
    return irr & ~pic_masks & ~(uint16_t)(1u << 2);
}
