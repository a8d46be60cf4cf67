// SPDX-License-Identifier: MIT
// The 8259A pair (Intel 8259A datasheet, order 231468): ICW1-ICW4, OCW1-OCW3, priority with
// rotation, special mask and special fully nested modes, automatic EOI, poll, and the PIIX/ICH
// ELCR that makes single lines level-triggered. Linux drives it from arch/x86/kernel/i8259.c.
//
// Choices: the master's IR2 is wired to the slave's INT and follows it as a level (so a slave
// request that outranks the one in service is never lost to a missed edge), and pic_set_irq(2)
// is ignored; the cascade does not depend on ICW1 SNGL or ICW3. The ELCR's reserved bits (IRQ 0,
// 1, 2, 8, 13: always edge on a PC) read 0. A poll with nothing requesting reads 0.
#include "pic.h"

#define ELCR_MASK_MASTER 0xF8
#define ELCR_MASK_SLAVE  0xDE
#define CASCADE_IR       2

static uint8_t level_lines(const struct pic *c) { return c->ltim ? 0xFF : c->elcr; }

/* The priority (0 highest) of the highest-priority IR set in mask; 8 if none. */
static unsigned priority(const struct pic *c, uint8_t mask)
{
    for (unsigned i = 0; i < 8; i++)
        if (mask & (1u << ((i + c->highest) & 7))) return i;
    return 8;
}

/* The IR this chip asks the CPU (or the master) for now, or -1: the highest unmasked request,
 * if it outranks everything in service (fully nested mode). */
static int request(const struct pic *c, bool master)
{
    unsigned p = priority(c, c->irr & ~c->imr);
    if (p == 8) return -1;
    unsigned irq = (p + c->highest) & 7;
    uint8_t isr = c->smm ? c->isr & ~c->imr : c->isr; // special mask: masked levels don't block
    unsigned cur = priority(c, isr);
    // Special fully nested mode: the slave may interrupt again while IR2 is in service.
    if (p < cur || (master && c->sfnm && irq == CASCADE_IR && p == cur)) return (int)irq;
    return -1;
}

/* The master's IR2 is the slave's INT. */
static void cascade(struct pic_pair *p)
{
    struct pic *m = &p->chip[0];
    uint8_t bit = 1u << CASCADE_IR;
    if (request(&p->chip[1], false) >= 0) m->irr |= bit, m->line |= bit;
    else m->irr &= (uint8_t)~bit, m->line &= (uint8_t)~bit;
}

/* The acknowledge of irq: an edge request is consumed (a level one stays while its line is
 * high); irq goes in service unless in automatic EOI mode. */
static void ack(struct pic *c, unsigned irq)
{
    uint8_t bit = 1u << irq;
    if (!(level_lines(c) & bit)) c->irr &= (uint8_t)~bit;
    if (!c->aeoi) c->isr |= bit;
    else if (c->rotate) c->highest = (irq + 1) & 7; // rotate in AEOI: irq becomes the lowest
}

void pic_reset(struct pic_pair *p)
{
    *p = (struct pic_pair){0};
    for (unsigned i = 0; i < 2; i++) {
        p->chip[i].imr = 0xFF;
        p->chip[i].icw4 = 1;
    }
    p->chip[0].base = 0x08;
    p->chip[0].icw3 = 1u << CASCADE_IR;
    p->chip[1].base = 0x70;
    p->chip[1].icw3 = CASCADE_IR;
}

void pic_set_irq(struct pic_pair *p, unsigned irq, bool high)
{
    if (irq >= 16 || irq == CASCADE_IR) return;
    struct pic *c = &p->chip[irq >> 3];
    uint8_t bit = 1u << (irq & 7);
    if (level_lines(c) & bit) c->irr = high ? c->irr | bit : c->irr & (uint8_t)~bit;
    else if (high && !(c->line & bit)) c->irr |= bit; // edge: the rising edge is latched
    c->line = high ? c->line | bit : c->line & (uint8_t)~bit;
    cascade(p);
}

bool pic_intr(const struct pic_pair *p) { return request(&p->chip[0], true) >= 0; }

uint8_t pic_inta(struct pic_pair *p)
{
    struct pic *m = &p->chip[0], *s = &p->chip[1];
    int irq = request(m, true);
    uint8_t vector;
    if (irq < 0) {
        vector = m->base | 7; // spurious: the request went away; IR7's vector, nothing in service
    } else {
        ack(m, (unsigned)irq);
        vector = m->base | (uint8_t)irq;
        if (irq == CASCADE_IR) { // the slave puts its vector on the bus
            int sirq = request(s, false);
            if (sirq >= 0) ack(s, (unsigned)sirq);
            vector = s->base | (uint8_t)(sirq >= 0 ? sirq : 7);
        }
    }
    cascade(p);
    return vector;
}

/* OCW3 P: the poll word (bit 7: a request; bits 2..0: its IR), acknowledged as by an INTA. */
static uint8_t poll(struct pic_pair *p, struct pic *c)
{
    c->poll = 0;
    int irq = request(c, c == &p->chip[0]);
    if (irq < 0) return 0;
    ack(c, (unsigned)irq);
    cascade(p);
    return (uint8_t)(0x80 | irq);
}

static void eoi(struct pic *c, unsigned irq, bool rotate)
{
    c->isr &= (uint8_t) ~(1u << irq);
    if (rotate) c->highest = (irq + 1) & 7;
}

static void command(struct pic *c, uint8_t v)
{
    if (v & 0x10) { // ICW1: starts initialisation
        c->icw4 = v & 1;
        c->single = (v >> 1) & 1;
        c->ltim = (v >> 3) & 1;
        // The edge sense is reset: a line already high must go low and high again.
        c->irr = c->line & level_lines(c);
        c->imr = c->isr = 0;
        c->highest = c->smm = c->read_isr = c->poll = c->rotate = 0;
        if (!c->icw4) c->aeoi = c->sfnm = 0;
        c->init = 2;
        return;
    }
    if (v & 0x08) { // OCW3
        if (v & 0x04) c->poll = 1;
        if (v & 0x02) c->read_isr = v & 1;
        if (v & 0x40) c->smm = (v >> 5) & 1;
        return;
    }
    unsigned level = v & 7, in_service = priority(c, c->isr); // OCW2: R, SL, EOI in bits 7..5
    switch (v >> 5) {
    case 0: c->rotate = 0; break;
    case 4: c->rotate = 1; break;
    case 1:
    case 5:
        if (in_service < 8) eoi(c, (in_service + c->highest) & 7, v >> 7);
        break;
    case 3:
    case 7: eoi(c, level, v >> 7); break;
    case 6: c->highest = (level + 1) & 7; break; // set priority: level becomes the lowest
    default: break;                              // 2: no operation
    }
}

static void data(struct pic *c, uint8_t v)
{
    switch (c->init) {
    case 2:
        c->base = v & 0xF8;
        c->init = c->single ? (c->icw4 ? 4 : 0) : 3;
        break;
    case 3:
        c->icw3 = v;
        c->init = c->icw4 ? 4 : 0;
        break;
    case 4:
        c->aeoi = (v >> 1) & 1;
        c->sfnm = (v >> 4) & 1;
        c->init = 0;
        break;
    default: c->imr = v; // OCW1
    }
}

static void set_elcr(struct pic *c, uint8_t v, uint8_t mask)
{
    c->elcr = v & mask;
    uint8_t level = level_lines(c);
    c->irr = (uint8_t)((c->irr & ~level) | (c->line & level)); // level requests follow the lines
}

void pic_write(struct pic_pair *p, uint16_t port, uint8_t v)
{
    switch (port) {
    case 0x20: command(&p->chip[0], v); break;
    case 0x21: data(&p->chip[0], v); break;
    case 0xA0: command(&p->chip[1], v); break;
    case 0xA1: data(&p->chip[1], v); break;
    case 0x4D0: set_elcr(&p->chip[0], v, ELCR_MASK_MASTER); break;
    case 0x4D1: set_elcr(&p->chip[1], v, ELCR_MASK_SLAVE); break;
    default: return;
    }
    cascade(p);
}

uint8_t pic_read(struct pic_pair *p, uint16_t port)
{
    if (port == 0x4D0) return p->chip[0].elcr;
    if (port == 0x4D1) return p->chip[1].elcr;
    if (port != 0x20 && port != 0x21 && port != 0xA0 && port != 0xA1) return 0xFF;
    struct pic *c = &p->chip[port >= 0xA0];
    if (c->poll) return poll(p, c);
    if (port & 1) return c->imr;
    return c->read_isr ? c->isr : c->irr;
}
