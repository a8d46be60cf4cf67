// SPDX-License-Identifier: MIT
// Host tests of the VMM's 8259A pair (servers/vmm/pic.c) against the Intel 8259A datasheet
// (order 231468) and what Linux's arch/x86/kernel/i8259.c does with it (probe, init_8259A,
// mask_and_ack_8259A with its spurious IRQ7/IRQ15 check, the ELCR), then a seeded fuzz.
#include <criterion/criterion.h>
#include "xorshift.h"
#include <string.h>
#include "pic.h"

TestSuite(pic);

#define VEC_MASTER 0x30 /* Linux x86-64: ISA_IRQ_VECTOR(0) */
#define VEC_SLAVE  0x38

/* init_8259A(0): ICW1 edge + ICW4, ICW2 vector base, ICW3 cascade, ICW4 8086 (or auto-EOI). */
static void linux_init(struct pic_pair *p, bool auto_eoi)
{
    pic_write(p, 0x21, 0xFF);
    pic_write(p, 0xA1, 0xFF);
    pic_write(p, 0x20, 0x11);
    pic_write(p, 0x21, VEC_MASTER);
    pic_write(p, 0x21, 1u << 2);
    pic_write(p, 0x21, auto_eoi ? 0x03 : 0x01);
    pic_write(p, 0xA0, 0x11);
    pic_write(p, 0xA1, VEC_SLAVE);
    pic_write(p, 0xA1, 2);
    pic_write(p, 0xA1, 0x01);
    pic_write(p, 0x21, 0x00); // everything unmasked (Linux unmasks line by line)
    pic_write(p, 0xA1, 0x00);
}

static struct pic_pair fresh(bool auto_eoi)
{
    struct pic_pair p;
    pic_reset(&p);
    linux_init(&p, auto_eoi);
    return p;
}

static void pulse(struct pic_pair *p, unsigned irq)
{
    pic_set_irq(p, irq, true);
    pic_set_irq(p, irq, false);
}

static uint8_t read_isr(struct pic_pair *p, uint16_t cmd)
{
    pic_write(p, cmd, 0x0B);
    uint8_t v = pic_read(p, cmd);
    pic_write(p, cmd, 0x0A);
    return v;
}

Test(pic, linux_probe_reads_the_mask_back)
{
    struct pic_pair p;
    pic_reset(&p);
    cr_assert_eq(pic_read(&p, 0x21), 0xFF, "power-on: all masked");
    pic_write(&p, 0xA1, 0xFF);
    pic_write(&p, 0x21, 0xFB); // probe_8259A: ~(1 << PIC_CASCADE_IR)
    cr_assert_eq(pic_read(&p, 0x21), 0xFB);
    cr_assert_eq(pic_read(&p, 0xA1), 0xFF);
    pic_set_irq(&p, 0, true);
    cr_assert(!pic_intr(&p), "masked");
    pic_write(&p, 0x21, 0xFA);
    cr_assert(pic_intr(&p));
    cr_assert_eq(pic_inta(&p), 0x08, "power-on vectors as a BIOS leaves them");
}

Test(pic, an_edge_is_delivered_once_then_blocks_until_eoi)
{
    struct pic_pair p = fresh(false);
    cr_assert(!pic_intr(&p));
    pic_set_irq(&p, 0, true);
    cr_assert(pic_intr(&p));
    cr_assert_eq(pic_inta(&p), VEC_MASTER);
    cr_assert(!pic_intr(&p), "the latch is consumed by the acknowledge");
    cr_assert_eq(read_isr(&p, 0x20), 0x01);
    pic_set_irq(&p, 0, true); // held high: no new edge
    cr_assert(!pic_intr(&p));
    pic_set_irq(&p, 0, false);
    pic_set_irq(&p, 0, true); // a new edge while IR0 is in service
    cr_assert(!pic_intr(&p), "fully nested: the same level waits for its EOI");
    pic_write(&p, 0x20, 0x20); // non-specific EOI
    cr_assert_eq(read_isr(&p, 0x20), 0);
    cr_assert(pic_intr(&p));
    cr_assert_eq(pic_inta(&p), VEC_MASTER);
}

Test(pic, priorities_and_nesting)
{
    struct pic_pair p = fresh(false);
    pic_set_irq(&p, 4, true);
    pic_set_irq(&p, 3, true);
    cr_assert_eq(pic_inta(&p), VEC_MASTER + 3, "IR3 outranks IR4");
    cr_assert(!pic_intr(&p), "IR4 is lower than IR3 in service");
    pic_set_irq(&p, 1, true);
    cr_assert(pic_intr(&p), "IR1 outranks IR3 in service");
    cr_assert_eq(pic_inta(&p), VEC_MASTER + 1);
    cr_assert_eq(read_isr(&p, 0x20), 0x0A);
    pic_write(&p, 0x20, 0x20); // non-specific EOI ends IR1, the highest in service
    cr_assert_eq(read_isr(&p, 0x20), 0x08);
    pic_write(&p, 0x20, 0x63); // specific EOI of IR3
    cr_assert_eq(pic_inta(&p), VEC_MASTER + 4);
}

Test(pic, a_masked_request_waits_in_irr)
{
    struct pic_pair p = fresh(false);
    pic_write(&p, 0x21, 0x20);
    pulse(&p, 5);
    cr_assert(!pic_intr(&p));
    cr_assert_eq(pic_read(&p, 0x20), 0x20, "OCW3 read IRR (the default)");
    pic_write(&p, 0x21, 0x00);
    cr_assert(pic_intr(&p));
    cr_assert_eq(pic_inta(&p), VEC_MASTER + 5);
}

Test(pic, the_slave_cascades_through_ir2_and_linux_eois_both)
{
    struct pic_pair p = fresh(false);
    pulse(&p, 8 + 4); // IRQ12
    cr_assert(pic_intr(&p));
    cr_assert_eq(pic_inta(&p), VEC_SLAVE + 4);
    cr_assert_eq(read_isr(&p, 0x20), 0x04, "the master has IR2 in service");
    cr_assert_eq(read_isr(&p, 0xA0), 0x10);
    pulse(&p, 1);
    cr_assert(pic_intr(&p), "IR1 outranks the cascade");
    cr_assert_eq(pic_inta(&p), VEC_MASTER + 1);
    pic_write(&p, 0x20, 0x61);
    pulse(&p, 8 + 0); // IRQ8 outranks IRQ12 on the slave, but IR2 is in service on the master
    cr_assert(!pic_intr(&p));
    pic_write(&p, 0xA0, 0x64); // mask_and_ack_8259A: specific EOI on the slave ...
    pic_write(&p, 0x20, 0x62); // ... and of the cascade on the master
    cr_assert(pic_intr(&p));
    cr_assert_eq(pic_inta(&p), VEC_SLAVE + 0);
}

Test(pic, special_fully_nested_lets_a_higher_slave_request_through)
{
    struct pic_pair p = fresh(false);
    pic_write(&p, 0x20, 0x11);
    pic_write(&p, 0x21, VEC_MASTER);
    pic_write(&p, 0x21, 0x04);
    pic_write(&p, 0x21, 0x11); // ICW4: SFNM, 8086
    pic_write(&p, 0x21, 0x00);
    pulse(&p, 10);
    cr_assert_eq(pic_inta(&p), VEC_SLAVE + 2);
    pulse(&p, 11);
    cr_assert(!pic_intr(&p), "IRQ11 is below IRQ10 on the slave");
    pulse(&p, 9);
    cr_assert(pic_intr(&p), "IRQ9 outranks IRQ10 in service: SFNM lets IR2 in again");
    cr_assert_eq(pic_inta(&p), VEC_SLAVE + 1);
    pulse(&p, 5);
    cr_assert(!pic_intr(&p), "IR5 is below IR2 in service");
}

Test(pic, a_level_request_that_goes_away_gives_the_spurious_ir7)
{
    struct pic_pair p = fresh(false);
    pic_write(&p, 0x4D0, 0x20); // ELCR: IRQ5 level
    pic_set_irq(&p, 5, true);
    cr_assert(pic_intr(&p));
    pic_set_irq(&p, 5, false);
    cr_assert(!pic_intr(&p), "level: IRR follows the line");
    cr_assert_eq(pic_inta(&p), VEC_MASTER + 7);
    cr_assert_eq(read_isr(&p, 0x20), 0, "spurious: IR7 not in service (Linux checks this)");
    cr_assert_eq(pic_inta(&p), VEC_MASTER + 7, "nothing requested: spurious again");
}

Test(pic, level_lines_interrupt_again_after_eoi_while_high)
{
    struct pic_pair p = fresh(false);
    pic_write(&p, 0x4D1, 0x04); // IRQ10 level
    pic_set_irq(&p, 10, true);
    cr_assert_eq(pic_inta(&p), VEC_SLAVE + 2);
    pic_write(&p, 0xA0, 0x20);
    pic_write(&p, 0x20, 0x20);
    cr_assert(pic_intr(&p), "still high: again");
    cr_assert_eq(pic_inta(&p), VEC_SLAVE + 2);
    pic_set_irq(&p, 10, false);
    pic_write(&p, 0xA0, 0x20);
    pic_write(&p, 0x20, 0x20);
    cr_assert(!pic_intr(&p));
}

Test(pic, elcr_reserved_bits_read_zero)
{
    struct pic_pair p = fresh(false);
    pic_write(&p, 0x4D0, 0xFF);
    pic_write(&p, 0x4D1, 0xFF);
    cr_assert_eq(pic_read(&p, 0x4D0), 0xF8, "IRQ0-2 are edge only");
    cr_assert_eq(pic_read(&p, 0x4D1), 0xDE, "IRQ8 and IRQ13 are edge only");
    pic_set_irq(&p, 0, true);
    cr_assert_eq(pic_inta(&p), VEC_MASTER);
    pic_write(&p, 0x20, 0x20);
    cr_assert(!pic_intr(&p), "IRQ0 stays edge-triggered");
}

Test(pic, auto_eoi_leaves_nothing_in_service_and_can_rotate)
{
    struct pic_pair p = fresh(true);
    pulse(&p, 3);
    cr_assert_eq(pic_inta(&p), VEC_MASTER + 3);
    cr_assert_eq(read_isr(&p, 0x20), 0);
    pulse(&p, 4);
    cr_assert_eq(pic_inta(&p), VEC_MASTER + 4, "no EOI needed");
    pic_write(&p, 0x20, 0x80); // rotate in automatic EOI mode
    pulse(&p, 4);
    cr_assert_eq(pic_inta(&p), VEC_MASTER + 4);
    pulse(&p, 4);
    pulse(&p, 6);
    cr_assert_eq(pic_inta(&p), VEC_MASTER + 6, "IR4 served last is now the lowest");
}

Test(pic, rotate_on_eoi_and_set_priority)
{
    struct pic_pair p = fresh(false);
    pulse(&p, 3);
    cr_assert_eq(pic_inta(&p), VEC_MASTER + 3);
    pic_write(&p, 0x20, 0xA0); // rotate on non-specific EOI: IR3 becomes the lowest
    pulse(&p, 3);
    pulse(&p, 1);
    pulse(&p, 5);
    cr_assert_eq(pic_inta(&p), VEC_MASTER + 5, "priority 4, 5, ... 3 now");
    pic_write(&p, 0x20, 0xE5); // rotate on specific EOI of IR5
    cr_assert_eq(pic_inta(&p), VEC_MASTER + 1);
    pic_write(&p, 0x20, 0x20);
    pic_write(&p, 0x20, 0xC0 | 2); // set priority: IR2 lowest, IR3 highest
    pulse(&p, 0);
    cr_assert_eq(pic_inta(&p), VEC_MASTER + 3);
}

Test(pic, ocw3_poll_acknowledges_the_highest_request)
{
    struct pic_pair p = fresh(false);
    pic_write(&p, 0x21, 0xFF); // masked lines are not polled
    pulse(&p, 6);
    pic_write(&p, 0x20, 0x0C);
    cr_assert_eq(pic_read(&p, 0x20), 0x00, "nothing unmasked");
    pic_write(&p, 0x21, 0x00);
    pic_write(&p, 0x20, 0x0C);
    cr_assert_eq(pic_read(&p, 0x21), 0x86, "either port reads the poll word once");
    cr_assert_eq(read_isr(&p, 0x20), 0x40);
    cr_assert_eq(pic_read(&p, 0x21), 0x00, "then the mask again");
}

Test(pic, special_mask_mode_lets_lower_levels_in)
{
    struct pic_pair p = fresh(false);
    pulse(&p, 2 + 1); // IR3
    cr_assert_eq(pic_inta(&p), VEC_MASTER + 3);
    pulse(&p, 6);
    cr_assert(!pic_intr(&p));
    pic_write(&p, 0x20, 0x68); // set special mask
    pic_write(&p, 0x21, 0x08); // mask IR3 (in service)
    cr_assert(pic_intr(&p), "IR6 is let in");
    cr_assert_eq(pic_inta(&p), VEC_MASTER + 6);
    pic_write(&p, 0x20, 0x48); // reset special mask
    pic_write(&p, 0x20, 0x66);
    pic_write(&p, 0x20, 0x63);
    cr_assert_eq(read_isr(&p, 0x20), 0);
}

Test(pic, icw1_clears_the_mask_and_needs_a_new_edge)
{
    struct pic_pair p = fresh(false);
    pic_set_irq(&p, 4, true);
    pic_write(&p, 0x21, 0xFF);
    pic_write(&p, 0x20, 0x11);
    pic_write(&p, 0x21, 0x40);
    pic_write(&p, 0x21, 0x04);
    pic_write(&p, 0x21, 0x01);
    cr_assert_eq(pic_read(&p, 0x21), 0x00, "ICW1 cleared the mask");
    cr_assert(!pic_intr(&p), "the edge sense was reset: IR4 high is no request");
    pic_set_irq(&p, 4, false);
    pic_set_irq(&p, 4, true);
    cr_assert_eq(pic_inta(&p), 0x44, "the new vector base");
}

Test(pic, out_of_range_lines_and_ports_are_ignored)
{
    struct pic_pair p = fresh(false), before = p;
    for (unsigned irq = 16; irq < 300; irq += 7) pic_set_irq(&p, irq, true);
    pic_set_irq(&p, 2, true);
    pic_write(&p, 0x22, 0x11);
    pic_write(&p, 0x4D2, 0xFF);
    cr_assert_eq(memcmp(&p, &before, sizeof(p)), 0);
    cr_assert_eq(pic_read(&p, 0x22), 0xFF);
    cr_assert(!pic_intr(&p));
}

/* ---- fuzz ---- */
static uint64_t rng_state;
static uint64_t rnd(void) { return xorshift64(&rng_state); }

/* What the datasheet promises after any sequence: the master's IR2 is the slave's INT; an
 * asserted INTR is acknowledged with a real vector put in service (or automatically ended), and
 * without INTR the acknowledge is the spurious IR7 and changes nothing in service. */
Test(pic, random_access_keeps_the_invariants)
{
    static const uint16_t ports[] = {0x20, 0x21, 0xA0, 0xA1, 0x4D0, 0x4D1, 0x22, 0x00};
    static const uint8_t cmds[] = {0x11, 0x19, 0x13, 0x10, 0x20, 0x60, 0x62, 0xA0, 0xE3,
                                   0xC7, 0x80, 0x00, 0x0A, 0x0B, 0x0C, 0x68, 0x48, 0x40};
    for (uint64_t seed = 1; seed <= 8; seed++) {
        rng_state = seed * 0x9E3779B97F4A7C15ull;
        struct pic_pair p;
        pic_reset(&p);
        unsigned acked = 0;
        for (unsigned i = 0; i < 100000; i++) {
            switch (rnd() % 6) {
            case 0:
            case 1: pic_set_irq(&p, (unsigned)(rnd() % 20), rnd() & 1); break;
            case 2: {
                uint16_t port = ports[rnd() % 8];
                pic_write(&p, port, !(port & 1) && rnd() % 2 ? cmds[rnd() % 18] : (uint8_t)rnd());
                break;
            }
            case 3: pic_read(&p, ports[rnd() % 8]); break;
            default: {
                struct pic_pair b = p;
                bool intr = pic_intr(&p);
                uint8_t v = pic_inta(&p);
                if (!intr) {
                    cr_assert_eq(v, b.chip[0].base | 7, "seed %lu step %u", seed, i);
                    cr_assert_eq(p.chip[0].isr, b.chip[0].isr);
                    cr_assert_eq(p.chip[1].isr, b.chip[1].isr);
                    break;
                }
                acked++;
                uint8_t vb = v & 0xF8;
                bool is_m = vb == b.chip[0].base, is_s = vb == b.chip[1].base;
                cr_assert(is_m || is_s, "seed %lu step %u: vector 0x%x", seed, i, v);
                if (is_m == is_s) break; // both chips on one base: cannot tell
                if (is_m) cr_assert_neq(v & 7, 2, "IR2 gives the slave's vector");
                if (is_s && !b.chip[0].aeoi) cr_assert(p.chip[0].isr & 4, "cascade in service");
                const struct pic *c = &p.chip[is_s], *cb = &b.chip[is_s];
                uint8_t bit = 1u << (v & 7);
                cr_assert(cb->irr & bit, "seed %lu step %u: it was requested", seed, i);
                if (!cb->aeoi)
                    cr_assert(c->isr & bit && !(cb->isr & bit), "seed %lu step %u", seed, i);
            }
            }
            bool slave_int = p.chip[1].irr & ~p.chip[1].imr; // a necessary condition
            if (p.chip[0].irr & 4) cr_assert(slave_int, "seed %lu step %u: IR2 follows", seed, i);
            cr_assert_eq(p.chip[0].elcr & ~0xF8, 0);
            cr_assert_eq(p.chip[1].elcr & ~0xDE, 0);
            cr_assert_eq(p.chip[0].highest & ~7, 0);
            cr_assert_eq(p.chip[1].highest & ~7, 0);
        }
        cr_assert_gt(acked, 1000, "the fuzz reaches real acknowledges (%u)", acked);
    }
}
