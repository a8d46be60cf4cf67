/* SPDX-License-Identifier: MIT */
/* The PC's two 8259A interrupt controllers: master at 0x20/0x21 (IRQ0-7), slave at 0xA0/0xA1
 * (IRQ8-15) cascaded on the master's IR2, and the edge/level control registers (0x4D0/0x4D1). */
#pragma once
#include <stdbool.h>
#include <stdint.h>

struct pic {
    uint8_t irr;      /* interrupt request register */
    uint8_t isr;      /* in-service register */
    uint8_t imr;      /* interrupt mask register (OCW1) */
    uint8_t line;     /* the IR input levels (edge detection; level mode follows them) */
    uint8_t elcr;     /* level-triggered lines (ELCR), reserved bits clear */
    uint8_t base;     /* ICW2: vector of IR0 (bits 7..3) */
    uint8_t icw3;     /* ICW3 as written (the cascade is fixed on IR2 / slave ID 2) */
    uint8_t init;     /* initialisation: 0 done, else the ICW expected next (2, 3, 4) */
    uint8_t icw4;     /* ICW1 IC4: an ICW4 follows */
    uint8_t single;   /* ICW1 SNGL */
    uint8_t ltim;     /* ICW1 LTIM: every line level-triggered */
    uint8_t aeoi;     /* ICW4 AEOI */
    uint8_t sfnm;     /* ICW4 SFNM: special fully nested mode */
    uint8_t rotate;   /* OCW2: rotate in automatic EOI mode */
    uint8_t highest;  /* the highest-priority IR (rotation); power-on 0 */
    uint8_t smm;      /* OCW3: special mask mode */
    uint8_t read_isr; /* OCW3: a read of the command port gives ISR (else IRR) */
    uint8_t poll;     /* OCW3 P: the next read is the poll word */
};

struct pic_pair {
    struct pic chip[2]; /* master, slave */
};

/* Power-on state as a PC firmware leaves it: initialised (master vectors 0x08-0x0F, slave
 * 0x70-0x77, cascade on IR2), every line masked and edge-triggered. (A zeroed struct is not
 * this state: it would deliver unmasked requests at vectors 0-7.) */
void pic_reset(struct pic_pair *p);
/* An IN from 0x20, 0x21, 0xA0, 0xA1 (IRR/ISR/poll, IMR/poll), 0x4D0, 0x4D1 (ELCR); any other
 * port reads 0xFF. */
uint8_t pic_read(struct pic_pair *p, uint16_t port);
/* An OUT to those ports: ICW1-ICW4, OCW1-OCW3, ELCR; any other port is ignored. */
void pic_write(struct pic_pair *p, uint16_t port, uint8_t v);
/* Input line irq (0..15) is now at level high: edge mode latches a rising edge into IRR, level
 * mode (ELCR or ICW1 LTIM) follows the line. IRQ2 is the cascade and irq >= 16 are ignored. */
void pic_set_irq(struct pic_pair *p, unsigned irq, bool high);
/* The master's INTR output: an unmasked request outranks everything in service. */
bool pic_intr(const struct pic_pair *p);
/* The CPU's interrupt acknowledge: the vector, with the request moved to in-service (or, with
 * nothing left to give, the spurious IR7 of the master or slave, nothing put in service). */
uint8_t pic_inta(struct pic_pair *p);

_Static_assert(sizeof(struct pic_pair) <= 512,
               "a device model is at most 512 bytes of VMM state (it is copied on every exit)");
