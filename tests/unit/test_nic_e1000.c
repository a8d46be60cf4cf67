// SPDX-License-Identifier: MIT
// nic-e1000's device model (servers/nic/e1000.c) against a fake 82540EM: its registers (reset,
// EERD, ICR read-to-clear) and a device side that fills receive descriptors from RDH up to RDT
// and sends transmit descriptors from TDH up to TDT, writing DD back (Intel 317453, 3.2, 3.3).
// RX refill, TX reclaim, ring wraparound, and a hostile device's descriptors (absurd lengths,
// split frames, errors, DD set out of order).
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include "servers/nic/nic.h"
#include "proto/net.h"
#include "xorshift.h"

#define PADDR 0x7FE00000ull
#define NREGS (0x20000 / 4)

struct fake {
    uint32_t r[NREGS];
    uint32_t rdh, tdh; /* the device's heads */
    uint16_t eeprom[64];
    unsigned resets;
    uint8_t *dma;
};
static struct fake dev;
static struct nic nic;

#define R(x) dev.r[(x) / 4]

static uint32_t rd(void *ctx, unsigned w, uint32_t off)
{
    cr_assert_eq(ctx, &dev);
    cr_assert_eq(w, 4);
    cr_assert(off < 0x20000 && !(off & 3));
    uint32_t x = dev.r[off / 4];
    if (off == 0x00C0) dev.r[off / 4] = 0; // ICR: read to clear
    return x;
}

static void wr(void *ctx, unsigned w, uint32_t off, uint32_t x)
{
    cr_assert_eq(ctx, &dev);
    cr_assert_eq(w, 4);
    cr_assert(off < 0x20000 && !(off & 3));
    switch (off) {
    case 0x0000:
        if (x & (1u << 26)) { // reset: rings and receive/transmit off, RAL0/RAH0 from EEPROM
            dev.resets++;
            uint32_t ral = R(0x5400), rah = R(0x5404), status = R(0x0008);
            memset(dev.r, 0, sizeof dev.r);
            R(0x5400) = ral, R(0x5404) = rah, R(0x0008) = status;
            dev.rdh = dev.tdh = 0;
            x &= ~(1u << 26);
        }
        R(0) = x;
        break;
    case 0x0014: // EERD
        if (x & 1) R(0x14) = (uint32_t)dev.eeprom[(x >> 8) & 63] << 16 | (x & 0xFF00) | 0x10;
        break;
    case 0x00D0: R(0xD0) |= x; break;
    case 0x00D8: R(0xD0) &= ~x; break;
    case 0x2810:
        dev.rdh = x;
        R(off) = x;
        break;
    case 0x3810:
        dev.tdh = x;
        R(off) = x;
        break;
    default: dev.r[off / 4] = x; break;
    }
}

struct rxd {
    uint64_t addr;
    uint16_t length, csum;
    uint8_t status, errors;
    uint16_t special;
};
struct txd {
    uint64_t addr;
    uint16_t length;
    uint8_t cso, cmd, status, css;
    uint16_t special;
};
static unsigned rx_count(void) { return R(0x2808) / 16; }
static struct rxd *rx_ring(void)
{
    return (struct rxd *)(dev.dma + ((uint64_t)R(0x2804) << 32 | R(0x2800)) - PADDR);
}
static struct txd *tx_ring(void)
{
    return (struct txd *)(dev.dma + ((uint64_t)R(0x3804) << 32 | R(0x3800)) - PADDR);
}

/* The device receives a frame into the descriptor at its head, if it owns one (RDH != RDT). */
static bool dev_rx(const uint8_t *f, uint32_t len, uint8_t status, uint8_t errors)
{
    if (!(R(0x0100) & 2) || dev.rdh == R(0x2818)) return false;
    struct rxd *d = &rx_ring()[dev.rdh];
    memcpy(dev.dma + d->addr - PADDR, f, len < 2048 ? len : 2048);
    d->length = (uint16_t)len;
    d->errors = errors;
    d->status = status;
    dev.rdh = (dev.rdh + 1) % rx_count();
    R(0x00C0) |= 0x80;
    return true;
}

/* The device sends what lies between its head and TDT (at most max), writing DD back. */
static unsigned dev_tx(unsigned max, uint8_t out[][2048], uint32_t *lens)
{
    unsigned n = 0;
    while (n < max && dev.tdh != R(0x3818)) {
        struct txd *d = &tx_ring()[dev.tdh];
        cr_assert(d->cmd & 1, "EOP: one descriptor a frame");
        cr_assert(d->cmd & 8, "RS: status is reported");
        if (out) memcpy(out[n], dev.dma + d->addr - PADDR, d->length);
        if (lens) lens[n] = d->length;
        d->status |= 1;
        dev.tdh = (dev.tdh + 1) % (R(0x3808) / 16);
        n++;
    }
    return n;
}

static void fill(uint8_t *f, uint32_t len, uint32_t seed)
{
    for (uint32_t i = 0; i < len; i++) f[i] = (uint8_t)(seed * 13 + i * 3);
}

static void setup(void)
{
    memset(&dev, 0, sizeof dev);
    R(0x5400) = 0x12005452; // 52:54:00:12:34:56 (SDM 13.4.56: the first byte lowest)
    R(0x5404) = 0x80005634; // AV
    R(0x0008) = 2;          // LU
    memset(&nic, 0xCC, sizeof nic);
    nic.regs = (struct nic_regs){rd, wr, &dev};
    nic.dma_size = nic_dev_dma_bytes();
    nic.dma = dev.dma = aligned_alloc(4096, nic.dma_size);
    memset(nic.dma, 0xA5, nic.dma_size);
    nic.dma_paddr = PADDR;
    cr_assert_eq(nic_dev_init(&nic), RS_OK);
}
static void teardown(void) { free(dev.dma); }

TestSuite(nic_e1000, .init = setup, .fini = teardown);

Test(nic_e1000, init_resets_reads_the_mac_and_gives_every_buffer_but_one)
{
    cr_assert_eq(dev.resets, 1);
    cr_assert_eq(memcmp(nic.mac, "\x52\x54\x00\x12\x34\x56", 6), 0);
    cr_assert_eq(nic.status, NIC_STATUS_UP | NIC_STATUS_LINK);
    cr_assert_eq(rx_count(), NIC_RX_BUFS);
    cr_assert_eq(R(0x3808) / 16, NIC_TX_BUFS);
    cr_assert_eq(R(0x2818), NIC_RX_BUFS - 1, "RDT: the device owns all but one");
    cr_assert_eq(R(0x3818), 0);
    cr_assert(R(0x0100) & 2, "receive on");
    cr_assert(R(0x0100) & (1u << 26), "the FCS stripped");
    cr_assert(R(0x0400) & 2, "transmit on");
    cr_assert(R(0x00D0) & 0x80, "RXT0 enabled");
    cr_assert(R(0x00D0) & 0x04, "LSC enabled");
    cr_assert(R(0) & (1u << 6), "SLU");
    for (unsigned i = 0; i < NIC_RX_BUFS; i++) {
        cr_assert_eq(rx_ring()[i].status, 0);
        cr_assert_geq(rx_ring()[i].addr, PADDR);
        cr_assert_lt(rx_ring()[i].addr + 2048, PADDR + nic.dma_size + 1);
    }
}

Test(nic_e1000, the_mac_comes_from_the_eeprom_when_receive_address_0_is_not_valid)
{
    R(0x5400) = 0, R(0x5404) = 0;
    dev.eeprom[0] = 0x0002, dev.eeprom[1] = 0x0403, dev.eeprom[2] = 0x0605;
    R(0x0008) = 0;
    cr_assert_eq(nic_dev_init(&nic), RS_OK);
    cr_assert_eq(memcmp(nic.mac, "\x02\x00\x03\x04\x05\x06", 6), 0);
    cr_assert_eq(R(0x5404), 0x80000605, "written back, valid");
    cr_assert_eq(nic.status, NIC_STATUS_UP, "link down");
    R(0x0008) = 2, R(0x00C0) = 0x04;
    cr_assert(nic_dev_irq(&nic));
    cr_assert_eq(nic.status, NIC_STATUS_UP | NIC_STATUS_LINK);
    cr_assert_eq(R(0x00C0), 0, "ICR read and so cleared");
    R(0x00C0) = 0x80;
    cr_assert_not(nic_dev_irq(&nic), "a receive interrupt changes no link");
}

Test(nic_e1000, frames_come_out_in_order_and_the_ring_wraps_many_times)
{
    uint8_t f[2048], got[2048];
    uint32_t len;
    for (uint32_t i = 0; i < 20000; i++) {
        uint32_t n = i % 50 ? 60 + i % 9 : NET_MIN_FRAME + i % (NET_MAX_FRAME - NET_MIN_FRAME + 1);
        fill(f, n, i);
        cr_assert(dev_rx(f, n, 3, 0), "frame %u: a descriptor was given back", i);
        cr_assert(nic_dev_rx_pending(&nic));
        cr_assert_eq(nic_dev_rx(&nic, got, &len), RS_OK);
        cr_assert_eq(len, n);
        cr_assert_eq(memcmp(got, f, n), 0, "frame %u", i);
    }
    cr_assert_eq(nic_dev_rx(&nic, got, &len), RS_WOULD_BLOCK);
    cr_assert_eq(nic.st.rx, 20000);
    cr_assert_eq(R(0x2818), (dev.rdh + NIC_RX_BUFS - 1) % NIC_RX_BUFS, "all given back");
}

Test(nic_e1000, a_full_ring_holds_63_frames_then_the_device_has_no_descriptor)
{
    uint8_t f[64] = {0}, got[2048];
    uint32_t len;
    for (unsigned i = 0; i < NIC_RX_BUFS - 1; i++) cr_assert(dev_rx(f, 60, 3, 0));
    cr_assert_not(dev_rx(f, 60, 3, 0));
    for (unsigned i = 0; i < NIC_RX_BUFS - 1; i++) cr_assert_eq(nic_dev_rx(&nic, got, &len), RS_OK);
    cr_assert_eq(nic_dev_rx(&nic, got, &len), RS_WOULD_BLOCK);
    cr_assert(dev_rx(f, 60, 3, 0));
}

Test(nic_e1000, runts_giants_split_frames_and_errors_are_dropped_and_counted)
{
    uint8_t f[2048], got[2048];
    uint32_t len;
    fill(f, 2048, 5);
    cr_assert(dev_rx(f, 0, 3, 0));
    cr_assert(dev_rx(f, 13, 3, 0));
    cr_assert(dev_rx(f, 1519, 3, 0));
    cr_assert(dev_rx(f, 0xFFFF, 3, 0));
    cr_assert(dev_rx(f, 100, 1, 0));    // DD without EOP: a frame split over descriptors
    cr_assert(dev_rx(f, 100, 3, 0x80)); // RXE
    cr_assert(dev_rx(f, 200, 3, 0));
    cr_assert_eq(nic_dev_rx(&nic, got, &len), RS_OK);
    cr_assert_eq(len, 200);
    cr_assert_eq(memcmp(got, f, 200), 0);
    cr_assert_eq(nic.st.rx_bad, 6);
    cr_assert_eq(R(0x2818), 6, "every one of them given back");
    cr_assert_eq(rx_ring()[3].status, 0);
}

Test(nic_e1000, transmit_keeps_63_in_flight_and_reclaims_in_order)
{
    uint8_t f[2048], out[64][2048];
    uint32_t lens[64];
    for (unsigned i = 0; i < NIC_TX_BUFS - 1; i++) {
        fill(f, 60 + i, i);
        cr_assert_eq(nic_dev_tx(&nic, f, 60 + i), RS_OK);
    }
    cr_assert_eq(nic_dev_tx(&nic, f, 60), RS_WOULD_BLOCK);
    cr_assert_eq(nic.st.tx_full, 1);
    cr_assert_eq(R(0x3818), 0, "no tail before the kick");
    nic_dev_kick(&nic);
    cr_assert_eq(R(0x3818), NIC_TX_BUFS - 1);
    cr_assert_eq(dev_tx(5, out, lens), 5);
    for (unsigned i = 0; i < 5; i++) {
        fill(f, 60 + i, i);
        cr_assert_eq(lens[i], 60 + i);
        cr_assert_eq(memcmp(out[i], f, lens[i]), 0);
    }
    cr_assert_eq(nic_dev_tx_reclaim(&nic), NIC_TX_BUFS - 6);
    for (unsigned i = 0; i < 5; i++) cr_assert_eq(nic_dev_tx(&nic, f, 60), RS_OK);
    cr_assert_eq(nic_dev_tx(&nic, f, 60), RS_WOULD_BLOCK);
    for (unsigned r = 0; r < 5000; r++) { // the ring wraps some hundred times
        nic_dev_kick(&nic);
        unsigned n = dev_tx(1 + r % 63, NULL, NULL);
        nic_dev_tx_reclaim(&nic);
        for (unsigned i = 0; i < n; i++) cr_assert_eq(nic_dev_tx(&nic, f, 14 + r % 1505), RS_OK);
    }
}

Test(nic_e1000, done_bits_out_of_order_or_on_idle_descriptors_free_nothing)
{
    uint8_t f[64] = {0};
    for (unsigned i = 0; i < 4; i++) cr_assert_eq(nic_dev_tx(&nic, f, 60), RS_OK);
    tx_ring()[2].status = 1;  // the third done before the first: the device keeps order
    tx_ring()[40].status = 1; // one not in flight
    cr_assert_eq(nic_dev_tx_reclaim(&nic), 4);
    tx_ring()[0].status = 1;
    tx_ring()[1].status = 1;
    cr_assert_eq(nic_dev_tx_reclaim(&nic), 1, "the first three are done");
    cr_assert_eq(nic_dev_tx(&nic, f, 13), RS_INVALID_ARGUMENT);
    cr_assert_eq(nic_dev_tx(&nic, f, 1519), RS_INVALID_ARGUMENT);
    cr_assert_eq(nic.st.tx_bad, 2);
}

Test(nic_e1000, random_descriptor_garbage_from_a_hostile_device_keeps_the_invariants)
{
    uint64_t s = 0xE1000;
    uint8_t f[2048] = {0}, got[2048];
    uint32_t len;
    for (unsigned i = 0; i < 200000; i++) {
        uint64_t r = xorshift64(&s);
        switch (r % 6) {
        case 0: dev_rx(f, 14 + (r >> 8) % 1505, 3, 0); break;
        case 1: { // garbage over a random receive descriptor's write-back fields
            struct rxd *d = &rx_ring()[(r >> 8) % NIC_RX_BUFS];
            d->length = (uint16_t)(r >> 16), d->status = (uint8_t)(r >> 32);
            d->errors = (uint8_t)(r >> 40);
            break;
        }
        case 2: tx_ring()[(r >> 8) % NIC_TX_BUFS].status = (uint8_t)(r >> 16); break;
        case 3: nic_dev_rx(&nic, got, &len); break;
        case 4: nic_dev_tx(&nic, f, 14 + (r >> 8) % 1600), nic_dev_kick(&nic); break;
        case 5: dev_tx((r >> 8) % 8, NULL, NULL); break;
        }
        cr_assert_lt(nic.e.rx_next, NIC_RX_BUFS);
        cr_assert_lt(nic.e.tx_tail, NIC_TX_BUFS);
        cr_assert_lt(nic.e.tx_clean, NIC_TX_BUFS);
        cr_assert_lt(R(0x2818), NIC_RX_BUFS, "RDT in the ring");
        if (r % 6 == 3 && len) cr_assert_leq(len, NET_MAX_FRAME);
        len = 0;
    }
}
