// SPDX-License-Identifier: MIT
// Host tests of the 16550A model (servers/vmm/uart.c) against the PC16550D datasheet and the
// sequences Linux's 8250 driver runs (drivers/tty/serial/8250/8250_port.c: autoconfig,
// autoconfig_16550a, serial8250_do_startup's THRE test, autoconfig_irq), then random register
// traffic from seeded generators checking the chip's invariants.
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include "uart.h"

static struct uart u;

static void setup(void) { uart_reset(&u); }
TestSuite(uart16550, .init = setup);

static uint8_t rd(uint16_t off) { return uart_read(&u, off); }
static void wr(uint16_t off, uint8_t v) { uart_write(&u, off, v); }

Test(uart16550, power_on_state)
{
    cr_assert_eq(rd(UART_IER), 0);
    cr_assert_eq(rd(UART_IIR), 0x01, "no interrupt, FIFOs off");
    cr_assert_eq(rd(UART_LCR), 0);
    cr_assert_eq(rd(UART_MCR), 0);
    cr_assert_eq(rd(UART_LSR), 0x60, "THR empty, transmitter empty");
    cr_assert_eq(rd(UART_MSR), 0xB0, "a connected modem: DCD, DSR, CTS; no deltas");
    cr_assert_eq(rd(UART_SCR), 0);
    cr_assert_not(uart_irq(&u));
    cr_assert_eq(rd(8), 0xFF, "beyond the eight registers: open bus");
    wr(8, 0x12);
    wr(0xFFFF, 0x12);
    uint8_t out[4];
    cr_assert_eq(uart_take_output(&u, out, 4), 0, "writes beyond 7 transmit nothing");
}

/* autoconfig(): the IER existence test, the loopback test, then FIFO detection by IIR. */
Test(uart16550, linux_autoconfig_finds_a_16550a)
{
    uint8_t scratch = rd(UART_IER);
    wr(UART_IER, 0);
    uint8_t scratch2 = rd(UART_IER) & 0x0F;
    wr(UART_IER, 0x0F);
    uint8_t scratch3 = rd(UART_IER) & 0x0F;
    wr(UART_IER, scratch);
    cr_assert(scratch2 == 0 && scratch3 == 0x0F, "IER test: %x %x", scratch2, scratch3);

    uint8_t save_mcr = rd(UART_MCR), save_lcr = rd(UART_LCR);
    wr(UART_MCR, UART_MCR_LOOP | 0x0A); // loopback with RTS and OUT2
    uint8_t status1 = rd(UART_MSR) & 0xF0;
    wr(UART_MCR, save_mcr);
    cr_assert_eq(status1, 0x90, "loopback: CTS follows RTS, DCD follows OUT2");

    wr(UART_LCR, 0xBF); // UART_LCR_CONF_MODE_B: EFR (offset 2) on enhanced chips; FCR here
    wr(UART_IIR, 0);
    wr(UART_LCR, 0);
    wr(UART_IIR, UART_FCR_ENABLE);
    cr_assert_eq(rd(UART_IIR) >> 6, 3, "IIR bits 6-7: 16550A");

    // autoconfig_16550a with the variant probes: nothing may look like an ST16C650, an EFR, a
    // National SuperIO, a TI16750 or an XScale UART
    wr(UART_LCR, 0x80);
    cr_assert_neq(rd(UART_IIR), 0, "no EFR behind DLAB");
    wr(UART_LCR, 0xBF);
    cr_assert_neq(rd(UART_IIR), 0, "no EFR behind 0xBF");
    wr(UART_LCR, 0);
    uint8_t mcr = rd(UART_MCR);
    wr(UART_LCR, 0xE0);
    uint8_t excr1 = rd(2);
    wr(UART_LCR, 0);
    wr(UART_MCR, mcr ^ UART_MCR_LOOP);
    wr(UART_LCR, 0xE0);
    uint8_t excr1b = rd(2);
    wr(UART_LCR, 0);
    wr(UART_MCR, mcr);
    cr_assert_eq((excr1 ^ excr1b) & UART_MCR_LOOP, 0, "no SuperIO bank register");
    wr(UART_IIR, UART_FCR_ENABLE | 0x20); // UART_FCR7_64BYTE
    uint8_t s1 = rd(UART_IIR) >> 5;
    wr(UART_IIR, UART_FCR_ENABLE);
    wr(UART_LCR, 0x80);
    wr(UART_IIR, UART_FCR_ENABLE | 0x20);
    uint8_t s2 = rd(UART_IIR) >> 5;
    wr(UART_IIR, UART_FCR_ENABLE);
    wr(UART_LCR, 0);
    cr_assert(s1 == 6 && s2 == 6, "no 64-byte FIFO (TI16750): %u %u", s1, s2);
    wr(UART_IER, 0x40); // UART_IER_UUE
    cr_assert_eq(rd(UART_IER) & 0x40, 0, "IER bits 4-7 read 0");
    wr(UART_IER, 0);
    wr(UART_LCR, save_lcr);

    // the reset at the end of autoconfig, then serial8250_do_startup's THRE test
    wr(UART_IIR, UART_FCR_ENABLE | UART_FCR_RX_RESET | UART_FCR_TX_RESET);
    wr(UART_IIR, 0);
    rd(UART_LSR), rd(UART_RBR), rd(UART_IIR), rd(UART_MSR);
    cr_assert_neq(rd(UART_LSR), 0xFF, "LSR safety check");
    wr(UART_IER, UART_IER_THRE);
    uint8_t iir1 = rd(UART_IIR);
    wr(UART_IER, 0);
    wr(UART_IER, UART_IER_THRE);
    uint8_t iir = rd(UART_IIR);
    wr(UART_IER, 0);
    cr_assert_eq(iir1, UART_IIR_THRE);
    cr_assert_eq(iir, UART_IIR_THRE, "THRE re-asserted: Linux sets no UART_BUG_THRE");
}

/* autoconfig_irq(): with OUT2 set and every interrupt enabled, a byte to THR raises the line. */
Test(uart16550, linux_autoconfig_irq_sees_irq4)
{
    wr(UART_MCR, UART_MCR_OUT1 | UART_MCR_OUT2);
    wr(UART_MCR, 0);
    wr(UART_MCR, UART_MCR_DTR | UART_MCR_RTS | UART_MCR_OUT2);
    wr(UART_IER, 0x0F);
    rd(UART_LSR), rd(UART_RBR), rd(UART_IIR), rd(UART_MSR);
    cr_assert_not(uart_irq(&u), "all sources read away");
    wr(UART_RBR, 0xFF);
    cr_assert(uart_irq(&u), "THR written: THRE interrupt on IRQ 4");
    wr(UART_MCR, UART_MCR_DTR | UART_MCR_RTS);
    cr_assert_not(uart_irq(&u), "OUT2 clear: the PC's gate is shut");
    wr(UART_MCR, UART_MCR_OUT2 | UART_MCR_LOOP);
    cr_assert_not(uart_irq(&u), "loopback forces OUT2 inactive");
}

Test(uart16550, scratch_register)
{
    for (unsigned v = 0; v < 256; v += 0x55) {
        wr(UART_SCR, (uint8_t)v);
        cr_assert_eq(rd(UART_SCR), v);
    }
}

Test(uart16550, divisor_latch)
{
    wr(UART_IER, UART_IER_RDA);
    wr(UART_LCR, 0x83);
    wr(UART_RBR, 0x01); // 115200 baud
    wr(UART_IER, 0x00);
    cr_assert_eq(rd(UART_RBR), 0x01);
    cr_assert_eq(rd(UART_IER), 0x00);
    cr_assert_eq(u.divisor, 1);
    wr(UART_IER, 0xC2);
    cr_assert_eq(rd(UART_IER), 0xC2, "all eight bits of DLM");
    uint8_t out[8];
    cr_assert_eq(uart_take_output(&u, out, 8), 0, "divisor bytes are not transmitted");
    wr(UART_LCR, 0x03);
    cr_assert_eq(rd(UART_IER), UART_IER_RDA, "IER kept behind the latch");
    cr_assert_eq(rd(UART_LCR), 0x03);
    wr(UART_RBR, 'A');
    cr_assert_eq(uart_take_output(&u, out, 8), 1);
    cr_assert_eq(out[0], 'A');
}

Test(uart16550, receive_holding_register_without_fifo)
{
    const uint8_t in[] = "xyz";
    cr_assert_eq(uart_receive(&u, in, 3), 1, "one holding register");
    cr_assert_eq(rd(UART_LSR), 0x61, "DR");
    cr_assert_eq(uart_receive(&u, in + 1, 2), 0, "full: the caller keeps the rest");
    cr_assert_eq(rd(UART_RBR), 'x');
    cr_assert_eq(rd(UART_LSR), 0x60);
    cr_assert_eq(rd(UART_RBR), 'x', "an empty RBR reads its last byte again");
    wr(UART_IER, UART_IER_RDA);
    uart_receive(&u, in + 1, 2);
    cr_assert_eq(rd(UART_IIR), UART_IIR_RDA);
    rd(UART_RBR);
    cr_assert_eq(rd(UART_IIR), UART_IIR_NONE);
}

Test(uart16550, fifo_depth_trigger_levels_and_resets)
{
    uint8_t in[20];
    for (int i = 0; i < 20; i++) in[i] = (uint8_t)('a' + i);
    wr(UART_IER, UART_IER_RDA);
    wr(UART_IIR, UART_FCR_ENABLE | 0x80); // trigger 8
    cr_assert_eq(uart_receive(&u, in, 3), 3);
    cr_assert_eq(rd(UART_IIR), 0xC0 | UART_IIR_TIMEOUT, "below the trigger: character timeout");
    cr_assert_eq(uart_receive(&u, in + 3, 17), 13, "16 bytes deep");
    cr_assert_eq(rd(UART_IIR), 0xC0 | UART_IIR_RDA, "at the trigger level: data available");
    for (int i = 0; i < 16; i++) cr_assert_eq(rd(UART_RBR), 'a' + i, "in order");
    cr_assert_eq(rd(UART_LSR) & UART_LSR_DR, 0);
    cr_assert_eq(rd(UART_IIR), 0xC1);

    static const unsigned trig[4] = {1, 4, 8, 14};
    for (unsigned t = 0; t < 4; t++) {
        wr(UART_IIR, (uint8_t)(UART_FCR_ENABLE | UART_FCR_RX_RESET | t << 6));
        uart_receive(&u, in, trig[t] - 1);
        if (trig[t] > 1) cr_assert_eq(rd(UART_IIR), 0xCC, "trigger %u", trig[t]);
        uart_receive(&u, in, 1);
        cr_assert_eq(rd(UART_IIR), 0xC4, "trigger %u", trig[t]);
    }
    wr(UART_IIR, UART_FCR_ENABLE | UART_FCR_RX_RESET);
    cr_assert_eq(rd(UART_LSR), 0x60, "RX reset empties the FIFO");
    uart_receive(&u, in, 5);
    wr(UART_IIR, 0);
    cr_assert_eq(rd(UART_LSR), 0x60, "turning the FIFOs off clears them");
    cr_assert_eq(rd(UART_IIR), 0x01, "IIR bits 6-7 clear without FIFOs");
    wr(UART_IIR, 0xC6); // no enable bit: nothing else is written either
    cr_assert_eq(u.fcr, 0);
}

Test(uart16550, overrun_in_loopback)
{
    wr(UART_MCR, UART_MCR_LOOP);
    wr(UART_RBR, '1');
    wr(UART_RBR, '2'); // no FIFO: overwrites the holding register
    cr_assert_eq(rd(UART_LSR), 0x63, "DR and OE");
    cr_assert_eq(rd(UART_LSR), 0x61, "OE clears when LSR is read");
    cr_assert_eq(rd(UART_RBR), '2');
    wr(UART_IIR, UART_FCR_ENABLE);
    for (int i = 0; i < 17; i++) wr(UART_RBR, (uint8_t)i);
    cr_assert_eq(rd(UART_LSR), 0x63);
    for (int i = 0; i < 16; i++) cr_assert_eq(rd(UART_RBR), i, "the FIFO keeps its bytes");
}

Test(uart16550, loopback_routes_thr_to_rbr_and_mcr_to_msr)
{
    const uint8_t x = 'x';
    wr(UART_MCR, UART_MCR_LOOP);
    cr_assert_eq(rd(UART_MSR), 0x0B, "CTS, DSR, DCD dropped: their deltas");
    cr_assert_eq(uart_receive(&u, &x, 1), 0, "the outside line is disconnected");
    wr(UART_RBR, 'L');
    uint8_t out[4];
    cr_assert_eq(uart_take_output(&u, out, 4), 0, "nothing goes out");
    cr_assert_eq(rd(UART_LSR), 0x61);
    cr_assert_eq(rd(UART_RBR), 'L');
    wr(UART_MCR, UART_MCR_LOOP | UART_MCR_DTR);
    cr_assert_eq(rd(UART_MSR), UART_MSR_DSR | UART_MSR_DDSR);
    wr(UART_MCR, UART_MCR_LOOP | UART_MCR_DTR | UART_MCR_OUT1);
    cr_assert_eq(rd(UART_MSR), UART_MSR_DSR | UART_MSR_RI, "RI's rising edge sets no delta");
    wr(UART_MCR, UART_MCR_LOOP | UART_MCR_DTR);
    cr_assert_eq(rd(UART_MSR), UART_MSR_DSR | UART_MSR_TERI, "trailing edge of RI");
    wr(UART_MCR, UART_MCR_LOOP | UART_MCR_RTS | UART_MCR_OUT2);
    cr_assert_eq(rd(UART_MSR),
                 UART_MSR_CTS | UART_MSR_DCD | UART_MSR_DCTS | UART_MSR_DDCD | UART_MSR_DDSR);
    wr(UART_MCR, 0);
    cr_assert_eq(rd(UART_MSR), 0xB0 | UART_MSR_DDSR, "back to the modem's lines");
    cr_assert_eq(rd(UART_MSR), 0xB0);
    cr_assert_eq(uart_receive(&u, &x, 1), 1, "connected again");
}

/* Datasheet table: RLS > RDA (or timeout) > THRE > MSR; each cleared its own way. */
Test(uart16550, iir_priorities)
{
    wr(UART_MCR, UART_MCR_LOOP | UART_MCR_DTR); // a DSR delta for the MSR source
    wr(UART_RBR, 1);
    wr(UART_RBR, 2); // overrun
    wr(UART_IER, 0x0F);
    cr_assert_eq(rd(UART_IIR), UART_IIR_RLS);
    cr_assert_eq(rd(UART_IIR), UART_IIR_RLS, "reading IIR does not clear RLS");
    rd(UART_LSR);
    cr_assert_eq(rd(UART_IIR), UART_IIR_RDA);
    rd(UART_RBR);
    cr_assert_eq(rd(UART_IIR), UART_IIR_THRE);
    cr_assert_eq(rd(UART_IIR), UART_IIR_MSR, "reading IIR cleared THRE");
    rd(UART_MSR);
    cr_assert_eq(rd(UART_IIR), UART_IIR_NONE);
}

Test(uart16550, thre_interrupt_rule)
{
    wr(UART_IER, UART_IER_THRE);
    cr_assert_eq(rd(UART_IIR), UART_IIR_THRE, "enabling it while THR is empty arms it");
    cr_assert_eq(rd(UART_IIR), UART_IIR_NONE, "reading IIR as its source cleared it");
    wr(UART_IER, UART_IER_THRE | UART_IER_RDA);
    cr_assert_eq(rd(UART_IIR), UART_IIR_NONE, "no re-arm without a 0 -> 1 change");
    wr(UART_RBR, 'a');
    cr_assert_eq(rd(UART_IIR), UART_IIR_THRE, "a THR write re-arms it (instant transmission)");
    wr(UART_RBR, 'b');
    const uint8_t in = 'i';
    uart_receive(&u, &in, 1);
    cr_assert_eq(rd(UART_IIR), UART_IIR_RDA, "hidden behind received data...");
    cr_assert_eq(rd(UART_IIR), UART_IIR_RDA, "...and not cleared by IIR reads that report RDA");
    rd(UART_RBR);
    cr_assert_eq(rd(UART_IIR), UART_IIR_THRE, "still pending");
    wr(UART_IER, 0);
    wr(UART_RBR, 'c');
    cr_assert_not(uart_irq(&u));
    wr(UART_MCR, UART_MCR_OUT2);
    wr(UART_IER, UART_IER_THRE);
    cr_assert(uart_irq(&u), "the tty layer's start_tx: IER.THRI on raises IRQ 4");
    rd(UART_IIR);
    cr_assert_not(uart_irq(&u));
    uint8_t out[8];
    cr_assert_eq(uart_take_output(&u, out, 8), 3);
    cr_assert(out[0] == 'a' && out[1] == 'b' && out[2] == 'c');
}

Test(uart16550, output_is_taken_in_order_and_overflow_is_counted)
{
    for (int i = 0; i < UART_TX_MAX + 3; i++) wr(UART_RBR, (uint8_t)i);
    cr_assert_eq(u.tx_lost, 3);
    uint8_t out[UART_TX_MAX];
    cr_assert_eq(uart_take_output(&u, out, 10), 10);
    cr_assert_eq(out[9], 9);
    cr_assert_eq(uart_take_output(&u, out, UART_TX_MAX), UART_TX_MAX - 10);
    cr_assert_eq(out[0], 10);
    cr_assert_eq(out[UART_TX_MAX - 11], UART_TX_MAX - 1);
    cr_assert_eq(uart_take_output(&u, out, UART_TX_MAX), 0);
}

/* ---- random traffic ---- */
static uint64_t rng;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* What must hold after any sequence of accesses (IIR and LSR read on a copy: their reads have
 * side effects). */
static void check_invariants(const struct uart *s, uint64_t seed, unsigned it)
{
    struct uart c = *s;
    uint8_t iir = uart_read(&c, UART_IIR), lsr = uart_read(&c, UART_LSR);
    bool fifo = s->fcr & UART_FCR_ENABLE;
    cr_assert_leq(s->rx_count, fifo ? UART_FIFO : 1, "seed %lx it %u", seed, it);
    cr_assert_leq(s->tx_len, UART_TX_MAX);
    cr_assert_eq(iir & 0x30, 0, "IIR bits 4-5 (seed %lx it %u)", seed, it);
    cr_assert_eq(iir & 0xC0, fifo ? 0xC0 : 0);
    uint8_t id = iir & 0x0F;
    cr_assert(id == 1 || id == 0 || id == 2 || id == 4 || id == 6 || id == 0x0C);
    cr_assert_eq(id == 0x0C, fifo && id == 0x0C, "timeouts only with FIFOs");
    cr_assert_eq(lsr & 0x60, 0x60, "the transmitter is always empty");
    cr_assert_eq(lsr & 0x9C, 0, "no parity, framing, break or FIFO errors");
    cr_assert_eq(!!(lsr & UART_LSR_DR), s->rx_count > 0);
    cr_assert_eq(s->ier & 0xF0, 0);
    cr_assert_eq(s->mcr & 0xE0, 0);
    if (uart_irq(s)) {
        cr_assert_eq(iir & 1, 0, "the line is up only with a source in IIR");
        cr_assert_eq(s->mcr & (UART_MCR_OUT2 | UART_MCR_LOOP), UART_MCR_OUT2);
    } else if ((s->mcr & (UART_MCR_OUT2 | UART_MCR_LOOP)) == UART_MCR_OUT2) {
        cr_assert_eq(iir & 1, 1, "a source in IIR raises the line when OUT2 is set");
    }
}

static void fuzz(uint64_t seed)
{
    rng = seed;
    uart_reset(&u);
    uint8_t buf[32];
    for (unsigned it = 0; it < 20000; it++) {
        uint64_t x = next();
        // mostly registers 0..7, sometimes far beyond; LCR often with DLAB, MCR often LOOP
        uint16_t off = x % 16 == 0 ? (uint16_t)(x >> 16) : (uint16_t)(x >> 8) % 8;
        uint8_t v = (uint8_t)(x >> 32);
        switch ((x >> 40) % 8) {
        case 0:
        case 1:
        case 2: uart_write(&u, off, v); break;
        case 3:
        case 4:
        case 5: uart_read(&u, off); break;
        case 6: {
            unsigned n = (unsigned)(x >> 48) % sizeof(buf), before = u.rx_count;
            bool loop = u.mcr & UART_MCR_LOOP;
            unsigned got = uart_receive(&u, buf, n);
            cr_assert_leq(got, n);
            cr_assert_eq(u.rx_count, before + got, "seed %lx it %u", seed, it);
            if (loop) cr_assert_eq(got, 0);
            break;
        }
        default: {
            unsigned n = (unsigned)(x >> 48) % sizeof(buf), before = u.tx_len;
            unsigned got = uart_take_output(&u, buf, n);
            cr_assert_eq(got, before < n ? before : n);
            break;
        }
        }
        check_invariants(&u, seed, it);
    }
}

Test(uart16550, random_accesses_keep_the_invariants)
{
    uint64_t base = 0x16550A0000ull;
    const char *env = getenv("UART_FUZZ_SEED");
    if (env) base = strtoull(env, NULL, 0);
    for (unsigned s = 0; s < 50; s++) fuzz(base + s * 0x9E3779B97F4A7C15ull);
}

/* A state the persistent region hands back corrupted (a wild write): still defined behaviour. */
Test(uart16550, any_state_bytes_are_safe)
{
    rng = 0xBADC0DEull;
    uint8_t buf[UART_TX_MAX + 8];
    for (unsigned it = 0; it < 2000; it++) {
        uint8_t *raw = (uint8_t *)&u;
        for (size_t i = 0; i < sizeof(u); i++) raw[i] = (uint8_t)next();
        for (unsigned k = 0; k < 20; k++) {
            uint64_t x = next();
            if (x & 1) uart_write(&u, (uint16_t)(x >> 8) % 9, (uint8_t)(x >> 16));
            else uart_read(&u, (uint16_t)(x >> 8) % 9);
        }
        uart_irq(&u);
        uart_receive(&u, buf, 8);
        cr_assert_leq(uart_take_output(&u, buf, sizeof(buf)), UART_TX_MAX);
    }
}
