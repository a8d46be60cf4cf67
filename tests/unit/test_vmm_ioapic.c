// SPDX-License-Identifier: MIT
// Host tests of the guest's IO-APIC (servers/vmm/ioapic.c) against the Intel 82093AA datasheet
// (section numbers below), its delivery into the local APIC, Linux's check_timer() path, and a
// seeded random walk over its registers and pins.
#include <criterion/criterion.h>
#include "ioapic.h"
#include "mptable.h"

TestSuite(ioapic);

_Static_assert(sizeof(struct ioapic) <= 512, "a device model's state is at most 512 bytes");

static struct ioapic io;
static struct lapic a;

static void setup(void)
{
    ioapic_reset(&io, MPTABLE_IOAPIC_ID);
    lapic_reset(&a, 0);
    lapic_write(&a, LAPIC_SVR, 0x1FF, 0);
}

static uint32_t reg(uint8_t r)
{
    ioapic_write(&io, IOAPIC_REGSEL, r, &a);
    return ioapic_read(&io, IOAPIC_WIN);
}

static void set_reg(uint8_t r, uint32_t v)
{
    ioapic_write(&io, IOAPIC_REGSEL, r, &a);
    ioapic_write(&io, IOAPIC_WIN, v, &a);
}

/* Redirection entry of pin: the high half first, then the low half (as Linux writes it). */
static void route(unsigned pin, uint32_t low, uint8_t dest)
{
    set_reg((uint8_t)(0x11 + 2 * pin), (uint32_t)dest << 24);
    set_reg((uint8_t)(0x10 + 2 * pin), low);
}

/* The CPU takes the interrupt the LAPIC offers, if any: its vector, or -1. */
static int take(void)
{
    int v = lapic_pending(&a);
    if (v >= 0) lapic_deliver(&a, (uint8_t)v);
    return v;
}

/* The guest's EOI, passed on to the IO-APIC as a level EOI message. */
static void eoi(void)
{
    lapic_write(&a, LAPIC_EOI, 0, 0);
    for (int v; (v = lapic_take_eoi(&a)) >= 0;) ioapic_eoi(&io, (uint8_t)v, &a);
}

Test(ioapic, registers_after_reset, .init = setup)
{
    cr_assert_eq(reg(0x00), 1u << 24, "3.2.1: ID in bits 27:24");
    cr_assert_eq(reg(0x01), 0x00170011, "3.2.2: 24 entries, version 0x11");
    cr_assert_eq(reg(0x02), 1u << 24, "3.2.3: arbitration ID");
    cr_assert_eq(ioapic_read(&io, IOAPIC_REGSEL), 0x02);
    for (unsigned pin = 0; pin < IOAPIC_PINS; pin++) {
        cr_assert_eq(reg((uint8_t)(0x10 + 2 * pin)), 1u << 16, "3.2.4: entries reset masked");
        cr_assert_eq(reg((uint8_t)(0x11 + 2 * pin)), 0);
    }
    cr_assert_eq(reg(0x40), 0, "beyond the table");
    cr_assert_eq(reg(0x03), 0);
    cr_assert_eq(ioapic_read(&io, 0x40), 0, "no EOI register in version 0x11");
    cr_assert_eq(ioapic_read(&io, 0x04), 0);
}

Test(ioapic, writable_bits, .init = setup)
{
    set_reg(0x00, 0xFFFFFFFF);
    cr_assert_eq(reg(0x00), 0x0F000000, "ID: 4 bits");
    set_reg(0x01, 0);
    set_reg(0x02, 0);
    cr_assert_eq(reg(0x01), IOAPIC_VERSION, "version read-only");
    set_reg(0x10 + 2 * 5, 0xFFFFFFFF);
    set_reg(0x11 + 2 * 5, 0xFFFFFFFF);
    cr_assert_eq(reg(0x10 + 2 * 5), 0x1AFFF, "delivery status and remote IRR are read-only");
    cr_assert_eq(reg(0x11 + 2 * 5), 0xFF000000, "destination: bits 63:56");
    ioapic_write(&io, IOAPIC_REGSEL, 0x1FF, &a);
    cr_assert_eq(ioapic_read(&io, IOAPIC_REGSEL), 0xFF, "IOREGSEL: 8 bits");
    cr_assert_eq(ioapic_read(&io, IOAPIC_WIN), 0);
    ioapic_write(&io, IOAPIC_WIN, 0x1234, &a); // register 0xFF: nothing
    ioapic_write(&io, 0x20, 0x1234, &a);       // not a register
    cr_assert_eq(reg(0x10 + 2 * 5), 0x1AFFF);
}

Test(ioapic, edge_entries_deliver_on_the_rising_edge_only, .init = setup)
{
    route(4, 0x34, 0);
    ioapic_set_irq(&io, 4, true, &a);
    cr_assert_eq(take(), 0x34);
    eoi();
    ioapic_set_irq(&io, 4, true, &a);
    cr_assert_eq(take(), -1, "still high: no new edge");
    ioapic_set_irq(&io, 4, false, &a);
    cr_assert_eq(take(), -1);
    ioapic_set_irq(&io, 4, true, &a);
    cr_assert_eq(take(), 0x34, "a new edge");
    cr_assert_eq(lapic_read(&a, LAPIC_TMR + 0x10, 0), 0, "edge: TMR clear");
    eoi();
    cr_assert_eq(reg(0x10 + 2 * 4) & IOAPIC_RTE_REMOTE, 0, "edge entries never set remote IRR");
}

Test(ioapic, masked_edges_are_lost, .init = setup)
{
    route(4, 0x10000 | 0x34, 0);
    ioapic_set_irq(&io, 4, true, &a);
    ioapic_set_irq(&io, 4, false, &a);
    route(4, 0x34, 0);
    cr_assert_eq(take(), -1);
    ioapic_set_irq(&io, 4, true, &a);
    route(4, 0x10000 | 0x34, 0);
    route(4, 0x34, 0);
    cr_assert_eq(take(), 0x34, "the edge before the mask was delivered");
    eoi();
    cr_assert_eq(take(), -1, "unmasking a high edge line delivers nothing");
}

Test(ioapic, level_entries_hold_remote_irr_until_the_eoi, .init = setup)
{
    route(10, IOAPIC_RTE_LEVEL | 0x3A, 0);
    ioapic_set_irq(&io, 10, true, &a);
    cr_assert_eq(reg(0x10 + 2 * 10) & IOAPIC_RTE_REMOTE, IOAPIC_RTE_REMOTE);
    cr_assert_eq(take(), 0x3A);
    ioapic_set_irq(&io, 10, true, &a);
    cr_assert_eq(take(), -1, "remote IRR set: nothing more");
    eoi();
    cr_assert_eq(take(), 0x3A, "EOI with the line still high: again");
    ioapic_set_irq(&io, 10, false, &a);
    eoi();
    cr_assert_eq(reg(0x10 + 2 * 10) & IOAPIC_RTE_REMOTE, 0);
    cr_assert_eq(take(), -1, "EOI with the line low: done");
    ioapic_eoi(&io, 0x3A, &a);
    cr_assert_eq(take(), -1, "a stray EOI message delivers nothing");
}

Test(ioapic, active_low_polarity, .init = setup)
{
    ioapic_set_irq(&io, 11, true, &a); // the line idles high
    route(11, IOAPIC_RTE_LEVEL | IOAPIC_RTE_ACTLOW | 0x3B, 0);
    cr_assert_eq(take(), -1, "high is not asserted");
    ioapic_set_irq(&io, 11, false, &a);
    cr_assert_eq(take(), 0x3B, "low is");
    ioapic_set_irq(&io, 11, true, &a);
    eoi();
    cr_assert_eq(take(), -1);
    route(12, IOAPIC_RTE_ACTLOW | 0x3C, 0); // edge, active low: the falling edge
    ioapic_set_irq(&io, 12, true, &a);
    cr_assert_eq(take(), -1);
    ioapic_set_irq(&io, 12, false, &a);
    cr_assert_eq(take(), 0x3C);
}

Test(ioapic, unmasking_an_asserted_level_line_delivers, .init = setup)
{
    route(9, IOAPIC_RTE_MASKED | IOAPIC_RTE_LEVEL | 0x39, 0);
    ioapic_set_irq(&io, 9, true, &a);
    cr_assert_eq(take(), -1);
    route(9, IOAPIC_RTE_LEVEL | 0x39, 0);
    cr_assert_eq(take(), 0x39);
}

Test(ioapic, level_to_edge_clears_remote_irr, .init = setup)
{
    route(9, IOAPIC_RTE_LEVEL | 0x39, 0);
    ioapic_set_irq(&io, 9, true, &a);
    cr_assert_eq(take(), 0x39);
    route(9, IOAPIC_RTE_MASKED | 0x39, 0); // Linux's EOI for IO-APICs without the EOI register
    cr_assert_eq(reg(0x10 + 2 * 9) & IOAPIC_RTE_REMOTE, 0);
}

Test(ioapic, destination_and_delivery_mode, .init = setup)
{
    route(3, 0x33, 1); // physical APIC 1: nobody
    ioapic_set_irq(&io, 3, true, &a);
    cr_assert_eq(take(), -1);
    ioapic_set_irq(&io, 3, false, &a);
    lapic_write(&a, LAPIC_LDR, 0x01000000, 0);
    route(3, 0x800 | 0x33, 0x01); // logical, flat: Linux 6.1's apic_flat
    ioapic_set_irq(&io, 3, true, &a);
    cr_assert_eq(take(), 0x33);
    ioapic_set_irq(&io, 3, false, &a);
    route(3, 0x100 | 0x800 | 0x43, 0x01); // lowest priority: the one CPU
    ioapic_set_irq(&io, 3, true, &a);
    cr_assert_eq(take(), 0x43);
    ioapic_set_irq(&io, 3, false, &a);
    route(3, 0x700 | 0x53, 0); // ExtINT: the 8259 reaches the CPU through LINT0 instead
    ioapic_set_irq(&io, 3, true, &a);
    ioapic_set_irq(&io, 3, false, &a);
    route(3, 0x400 | 0x53, 0); // NMI: not modelled
    ioapic_set_irq(&io, 3, true, &a);
    cr_assert_eq(take(), -1);
    ioapic_set_irq(&io, 99, true, &a);
    ioapic_set_irq(&io, UINT32_MAX, true, &a);
    cr_assert_eq(take(), -1, "no such pin");
}

Test(ioapic, a_software_disabled_lapic_takes_nothing_and_remote_irr_stays_clear, .init = setup)
{
    lapic_write(&a, LAPIC_SVR, 0xFF, 0);
    route(9, IOAPIC_RTE_LEVEL | 0x39, 0);
    ioapic_set_irq(&io, 9, true, &a);
    cr_assert_eq(reg(0x10 + 2 * 9) & IOAPIC_RTE_REMOTE, 0);
    lapic_write(&a, LAPIC_SVR, 0x1FF, 0);
    ioapic_set_irq(&io, 9, true, &a);
    cr_assert_eq(take(), 0x39, "the line is still asserted");
}

/* Linux 6.1's check_timer() (arch/x86/kernel/apic/io_apic.c), first path: LVT0 masked ExtINT,
 * IRQ 0 on the MP table's pin 2, edge, unmasked; it wants jiffies to advance. The PIT's
 * pulses must arrive through the IO-APIC and not also through the 8259. */
Test(ioapic, linux_check_timer_takes_irq0_through_pin_2, .init = setup)
{
    lapic_write(&a, LAPIC_LVT0, LAPIC_LVT_MASKED | 0x700, 0);
    cr_assert(!lapic_extint(&a), "the 8259's INTR does not reach the CPU");
    route(MPTABLE_IRQ0_PIN, 0x800 | 0x30, 0x01);
    lapic_write(&a, LAPIC_LDR, 0x01000000, 0);
    unsigned ticks = 0;
    for (unsigned i = 0; i < 10; i++) {
        ioapic_set_irq(&io, MPTABLE_IRQ0_PIN, true, &a); // the PIT pulses
        ioapic_set_irq(&io, MPTABLE_IRQ0_PIN, false, &a);
        if (take() == 0x30) ticks++;
        eoi();
    }
    cr_assert_eq(ticks, 10, "every tick arrives");
}

/* ---- a seeded random walk ---- */

static uint64_t rng;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

Test(ioapic, random_traffic_keeps_the_invariants, .init = setup)
{
    for (uint64_t seed = 1; seed <= 8; seed++) {
        rng = seed * 0x9E3779B97F4A7C15ull;
        setup();
        lapic_write(&a, LAPIC_LDR, (uint32_t)next() << 24, 0);
        for (unsigned i = 0; i < 50000; i++) {
            switch (next() % 8) {
            case 0:
                ioapic_write(&io, IOAPIC_REGSEL,
                             (uint32_t)(next() % 4 ? 0x10 + next() % 0x32 : next()), &a);
                break;
            case 1:
            case 2: {
                uint32_t v = (uint32_t)next();
                if (next() % 2) v = (v & 0x1A0FF) | (uint32_t)(next() % 2) << 8;
                ioapic_write(&io, next() % 8 ? IOAPIC_WIN : (uint32_t)next() % 0x100, v, &a);
                break;
            }
            case 3: (void)ioapic_read(&io, next() % 4 ? IOAPIC_WIN : (uint32_t)next()); break;
            case 4:
            case 5: ioapic_set_irq(&io, (unsigned)(next() % 26), next() % 2, &a); break;
            case 6: take(); break;
            default:
                if (next() % 2) eoi();
                else ioapic_eoi(&io, (uint8_t)next(), &a);
                break;
            }
            cr_assert_eq(io.lines >> IOAPIC_PINS, 0, "seed %lu: only 24 lines", seed);
            cr_assert_leq(io.id, 0xF);
            for (unsigned p = 0; p < IOAPIC_PINS; p++) {
                uint64_t e = io.rte[p];
                cr_assert_eq(e & ~(IOAPIC_RTE_WRITABLE | IOAPIC_RTE_REMOTE), 0, "pin %u", p);
                if (e & IOAPIC_RTE_REMOTE) cr_assert(e & IOAPIC_RTE_LEVEL, "remote IRR: level");
            }
            cr_assert_eq(a.irr[0] & 0xFFFF, 0);
        }
        ioapic_write(&io, IOAPIC_REGSEL, 1, &a);
        cr_assert_eq(ioapic_read(&io, IOAPIC_WIN), IOAPIC_VERSION);
    }
}

/* The IO-APIC pin the MP table gives ISA IRQ irq, -1 if none (MP spec 1.4 4.3.4; the table's
 * own layout is checked in test_vmm_mptable.c). */
static int mp_pin(const uint8_t *ram, unsigned irq)
{
    const uint8_t *cfg = ram + (ram[MPTABLE_FLOAT + 4] | ram[MPTABLE_FLOAT + 5] << 8 |
                                (uint32_t)ram[MPTABLE_FLOAT + 6] << 16);
    const uint8_t *p = cfg + 44;
    for (unsigned n = 0, count = cfg[34] | cfg[35] << 8; n < count; n++) {
        if (p[0] == 3 && p[5] == irq) return p[7];
        p += p[0] == 0 ? 20 : 8;
    }
    return -1;
}

/* What Linux 6.1 does with the APICs from boot to its first LAPIC timer tick, on the models
 * alone: the 8259 path while the APIC is software disabled (lapic_extint), setup_local_APIC,
 * the IO-APIC entry for IRQ 0 where the MP table puts it, check_timer's first path, the timer
 * calibration against the PIT (HZ 250), a one-shot tick and an irq_work self-IPI. */
Test(ioapic, linux_6_1_interrupt_setup_end_to_end)
{
    static uint8_t ram[0x100000];
    lapic_reset(&a, 0);
    ioapic_reset(&io, MPTABLE_IOAPIC_ID);
    cr_assert_eq(mptable_build(ram, sizeof(ram)), 0);
    cr_assert(lapic_extint(&a), "early boot: the PIT ticks through the 8259");

    // setup_local_APIC (arch/x86/kernel/apic/apic.c), apic_flat
    uint64_t t = 1000000;
    lapic_write(&a, LAPIC_DFR, 0xFFFFFFFF, t);
    lapic_write(&a, LAPIC_LDR, (lapic_read(&a, LAPIC_LDR, t) & 0x00FFFFFF) | 1u << 24, t);
    lapic_write(&a, LAPIC_TPR, 0, t);
    lapic_write(&a, LAPIC_SVR, (lapic_read(&a, LAPIC_SVR, t) & ~0xFFu) | 0x100 | 0xFF, t);
    uint32_t lvt0 = lapic_read(&a, LAPIC_LVT0, t) & LAPIC_LVT_MASKED;
    cr_assert(lvt0, "LVT0 masked since reset: Linux masks ExtINT");
    lapic_write(&a, LAPIC_LVT0, 0x700 | LAPIC_LVT_MASKED, t);
    lapic_write(&a, LAPIC_LVT1, 0x400, t);
    lapic_write(&a, LAPIC_ESR, 0, t);
    lapic_write(&a, LAPIC_LVT_ERR, 0xFE, t);
    lapic_write(&a, LAPIC_ESR, 0, t);
    cr_assert_eq(lapic_read(&a, LAPIC_ESR, t), 0, "no APIC error");
    cr_assert(!lapic_extint(&a));

    // setup_IO_APIC: IRQ 0 on the pin the MP table names, ISA: edge, active high
    int pin = mp_pin(ram, 0);
    cr_assert_eq(pin, 2);
    route((unsigned)pin, 0x800 | 0x30, 0x01);
    route(4, 0x800 | 0x34, 0x01); // the UART, IRQ 4

    // check_timer -> timer_irq_works: more than 4 jiffies through the IO-APIC
    lapic_write(&a, LAPIC_LVT0, LAPIC_LVT_MASKED | 0x700, t);
    unsigned jiffies = 0;
    for (unsigned i = 0; i < 10; i++) {
        t += 4000000;
        ioapic_set_irq(&io, (unsigned)pin, true, &a);
        ioapic_set_irq(&io, (unsigned)pin, false, &a);
        if (take() == 0x30) jiffies++;
        lapic_write(&a, LAPIC_EOI, 0, t);
    }
    cr_assert_eq(jiffies, 10);
    cr_assert_eq(lapic_take_eoi(&a), -1, "edge: nothing for the IO-APIC");

    // calibrate_APIC_clock: periodic, masked, divide 16, 0xFFFFFFFF / 16; 25 PIT ticks
    lapic_write(&a, LAPIC_LVT_TMR, LAPIC_LVT_MASKED | LAPIC_LVT_PERIODIC | 0xEC, t);
    lapic_write(&a, LAPIC_TDCR, (lapic_read(&a, LAPIC_TDCR, t) & ~0xBu) | 0x3, t);
    lapic_write(&a, LAPIC_TMICT, 0xFFFFFFFFu / 16, t);
    uint32_t first = 0, last = 0;
    for (unsigned i = 0; i <= 25; i++) {
        t += 4000000;
        ioapic_set_irq(&io, (unsigned)pin, true, &a);
        ioapic_set_irq(&io, (unsigned)pin, false, &a);
        cr_assert_eq(take(), 0x30);
        uint32_t c = lapic_read(&a, LAPIC_TMCCT, t); // lapic_cal_handler
        if (i == 0) first = c;
        last = c;
        lapic_write(&a, LAPIC_EOI, 0, t);
    }
    uint32_t period = (first - last) * 16 / 25;
    cr_assert_eq(period, 1000000000 / 250, "lapic_timer_period: LAPIC_TIMER_HZ / HZ");

    // lapic_next_event in one-shot mode: the next tick, 4 ms from now
    lapic_write(&a, LAPIC_LVT_TMR, 0xEC, t);
    lapic_write(&a, LAPIC_TMICT, period / 16, t);
    cr_assert_eq(lapic_next_ns(&a), t + 4000000);
    t = lapic_next_ns(&a);
    lapic_advance(&a, t);
    cr_assert_eq(take(), 0xEC, "the LAPIC timer ticks");
    // irq_work raised inside the tick handler: a self-IPI, above the timer's class
    lapic_write(&a, LAPIC_ICR_LO, 0x40000 | 0xF6, t);
    cr_assert_eq(take(), 0xF6, "nests above the timer");
    lapic_write(&a, LAPIC_EOI, 0, t);
    lapic_write(&a, LAPIC_EOI, 0, t);
    cr_assert_eq(lapic_read(&a, LAPIC_ISR + 0x70, t), 0, "both retired (0xE0..0xFF)");
    ioapic_set_irq(&io, 4, true, &a); // a UART byte
    cr_assert_eq(take(), 0x34);
}
