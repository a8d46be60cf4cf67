// SPDX-License-Identifier: MIT
// nethostile: a guest that throws garbage at its virtio-net (servers/vmm/virtio_net.c) while
// other traffic crosses the same switch (system-net-hostile). Started as a Linux kernel would be
// (a synthetic bzImage, pc platform), it drives the virtio-mmio device at 0xD0001000 by hand:
// transmit chains with runts, giants, zero lengths, header-only frames, descriptor loops,
// addresses outside RAM, absurd lengths, indirect and misordered descriptors, an available index
// far ahead, and receive buffers of the same kinds, from a table and from a seeded generator.
// Whenever the device says DEVICE_NEEDS_RESET it resets and sets it up again. Every 64th chain
// is a good broadcast frame from its own MAC (the switch must carry exactly those: the test
// compares the switch's count of this port with the count printed here). It starts only when a
// "GO" broadcast from the harness arrives, so that its storm overlaps the harness's flow whatever
// the host's speed (NET-0008), prints its counts and halts.
#include <stdint.h>
#include "../../../../guests/common/console.h"

#define MMIO         0xD0001000u
#define R_MAGIC      0x000
#define R_VERSION    0x004
#define R_DEVICE     0x008
#define R_DFEAT_SEL  0x024
#define R_DFEAT      0x020
#define R_QSEL       0x030
#define R_QNUM_MAX   0x034
#define R_QNUM       0x038
#define R_QREADY     0x044
#define R_QNOTIFY    0x050
#define R_INT_STATUS 0x060
#define R_INT_ACK    0x064
#define R_STATUS     0x070
#define R_QDESC      0x080
#define R_QDRIVER    0x090
#define R_QDEVICE    0x0A0
#define R_CONFIG     0x100
#define S_ACK        1u
#define S_DRIVER     2u
#define S_DRIVER_OK  4u
#define S_FEATURES   8u
#define S_NEEDS_RST  0x40u
#define F_NEXT       1u
#define F_WRITE      2u
#define F_INDIRECT   4u
#define QN           16u
#define HDR          12u

/* Below the 8 MiB of RAM the test gives it; the image sits at 1 MiB */
#define Q_BASE(q) (0x400000u + (q)*0x2000u)
#define DESC(q)   Q_BASE(q)
#define AVAIL(q)  (Q_BASE(q) + 0x400u)
#define USED(q)   (Q_BASE(q) + 0x800u)
#define BUF       0x500000u /* 64 KiB of frame data */
#define RXBUF     0x600000u /* receive buffers, 2 KiB each */

#define ROUNDS 3000u

static uint32_t ram_size = 8u << 20;
static uint16_t avail[2];
static uint32_t seed = 0x243F6A88u;
static unsigned long chains, resets, good, nodev;
static uint8_t mac[6];

static uint32_t rd(uint32_t off) { return *(volatile uint32_t *)(MMIO + off); }
static void wr(uint32_t off, uint32_t v) { *(volatile uint32_t *)(MMIO + off) = v; }
static void w16(uint32_t a, uint16_t v) { *(volatile uint16_t *)a = v; }
static void w32(uint32_t a, uint32_t v) { *(volatile uint32_t *)a = v; }

/* xorshift32 (no 64-bit division in a 32-bit freestanding program) */
static uint32_t rnd(void)
{
    seed ^= seed << 13;
    seed ^= seed >> 17;
    seed ^= seed << 5;
    return seed;
}

static void desc(unsigned q, unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
    uint32_t d = DESC(q) + 16 * (i % QN);
    w32(d, (uint32_t)addr);
    w32(d + 4, (uint32_t)(addr >> 32));
    w32(d + 8, len);
    w16(d + 12, flags);
    w16(d + 14, next);
}

static void offer(unsigned q, uint16_t head)
{
    w16(AVAIL(q) + 4 + 2 * (avail[q] % QN), head);
    __asm__ volatile("" ::: "memory");
    w16(AVAIL(q) + 2, ++avail[q]);
}

/* 3.1.1: reset, features (VERSION_1 and MAC), both queues, DRIVER_OK. */
static void setup(void)
{
    wr(R_STATUS, 0);
    wr(R_STATUS, S_ACK | S_DRIVER);
    wr(R_DFEAT_SEL, 0);
    wr(R_DFEAT, 1u << 5); // MAC
    wr(R_DFEAT_SEL, 1);
    wr(R_DFEAT, 1u); // VERSION_1
    wr(R_STATUS, S_ACK | S_DRIVER | S_FEATURES);
    for (unsigned q = 0; q < 2; q++) {
        for (uint32_t a = Q_BASE(q); a < Q_BASE(q) + 0x1000; a += 4) w32(a, 0);
        wr(R_QSEL, q);
        wr(R_QNUM, QN);
        wr(R_QDESC, DESC(q));
        wr(R_QDESC + 4, 0);
        wr(R_QDRIVER, AVAIL(q));
        wr(R_QDRIVER + 4, 0);
        wr(R_QDEVICE, USED(q));
        wr(R_QDEVICE + 4, 0);
        wr(R_QREADY, 1);
        avail[q] = 0;
    }
    wr(R_STATUS, S_ACK | S_DRIVER | S_FEATURES | S_DRIVER_OK);
}

static void check_reset(void)
{
    wr(R_INT_ACK, rd(R_INT_STATUS));
    if (rd(R_STATUS) & S_NEEDS_RST) {
        resets++;
        setup();
    }
}

/* A good frame: a broadcast from our MAC, ethertype 0x88B5, 60 bytes. */
static void send_good(void)
{
    uint8_t *b = (uint8_t *)BUF;
    for (unsigned i = 0; i < HDR; i++) b[i] = 0;
    for (unsigned i = 0; i < 6; i++) b[HDR + i] = 0xFF, b[HDR + 6 + i] = mac[i];
    b[HDR + 12] = 0x88, b[HDR + 13] = 0xB5;
    for (unsigned i = 14; i < 60; i++) b[HDR + i] = (uint8_t)('H' + i);
    unsigned h = (avail[1] * 2) % QN;
    desc(1, h, BUF, HDR + 60, 0, 0);
    offer(1, (uint16_t)h);
    wr(R_QNOTIFY, 1);
    good++;
}

/* One hostile transmit chain, by kind; the random kinds take any value. */
static void hostile_tx(unsigned kind)
{
    unsigned h = (avail[1] * 2) % QN, n = (h + 1) % QN;
    uint32_t r = rnd();
    switch (kind) {
    case 0: desc(1, h, BUF, 0, 0, 0); break;                  // zero length
    case 1: desc(1, h, BUF, HDR, 0, 0); break;                // header only
    case 2: desc(1, h, BUF, 5, 0, 0); break;                  // half a header
    case 3: desc(1, h, BUF, HDR + 13, 0, 0); break;           // a 13-byte runt
    case 4: desc(1, h, BUF, HDR + 1519, 0, 0); break;         // a giant
    case 5: desc(1, h, BUF, HDR + 9000, 0, 0); break;         // a jumbo
    case 6: desc(1, h, BUF, 0x10000, 0, 0); break;            // 64 KiB
    case 7: desc(1, h, BUF, HDR, F_NEXT, (uint16_t)h); break; // a self loop
    case 8:                                                   // a loop through two
        desc(1, h, BUF, HDR, F_NEXT, (uint16_t)n);
        desc(1, n, BUF, 60, F_NEXT, (uint16_t)h);
        break;
    case 9: desc(1, h, BUF, HDR, F_NEXT, 0xFFFF); break; // next beyond
    case 10: desc(1, h, ram_size, 60, 0, 0); break;      // beyond RAM
    case 11: desc(1, h, ram_size - 30, 60, 0, 0); break; // past RAM's end
    case 12: desc(1, h, ~0ull - 15, 60, 0, 0); break;    // wraps
    case 13: desc(1, h, 0, 0xFFFFFFFFu, 0, 0); break;    // 4 GiB - 1
    case 14: desc(1, h, BUF, 16, F_INDIRECT, 0); break;  // indirect
    case 15:                                             // readable after writable
        desc(1, h, BUF, HDR, F_NEXT | F_WRITE, (uint16_t)n);
        desc(1, n, BUF, 60, 0, 0);
        break;
    case 16: desc(1, h, BUF, 1500, F_WRITE, 0); break; // write-only
    case 17:                                           // the available index far ahead
        w16(AVAIL(1) + 2, (uint16_t)(avail[1] + QN + 1 + (r % 1000)));
        wr(R_QNOTIFY, 1);
        chains++;
        return;
    default: // anything
        desc(1, h, r % (ram_size + 0x10000), rnd() % 70000, (uint16_t)(r >> 20) & 7,
             (uint16_t)((r >> 24) % (QN + 2)));
        desc(1, n, rnd() % ram_size, (uint32_t)rnd() % 3000, (uint16_t)rnd() & 7,
             (uint16_t)(rnd() % QN));
        break;
    }
    offer(1, (uint16_t)h);
    wr(R_QNOTIFY, 1);
    chains++;
}

/* Receive buffers of every kind: frames the switch floods to this port land in them. */
static void hostile_rx(unsigned kind)
{
    unsigned h = avail[0] % QN, n = (h + 1) % QN;
    switch (kind % 6) {
    case 0: desc(0, h, RXBUF + 2048 * h, 0, F_WRITE, 0); break;   // zero length
    case 1: desc(0, h, RXBUF + 2048 * h, HDR, F_WRITE, 0); break; // header only
    case 2: desc(0, h, RXBUF + 2048 * h, 2048, 0, 0); break;      // read-only
    case 3:                                                       // a loop
        desc(0, h, RXBUF, 64, F_WRITE | F_NEXT, (uint16_t)n);
        desc(0, n, RXBUF, 64, F_WRITE | F_NEXT, (uint16_t)h);
        break;
    case 4: desc(0, h, ram_size + 4096, 2048, F_WRITE, 0); break;   // beyond RAM
    default: desc(0, h, RXBUF + 2048 * h, 2048, F_WRITE, 0); break; // a good one
    }
    offer(0, (uint16_t)h);
}

/* Good receive buffers until a broadcast of ethertype 0x88B6 saying "GO" arrives: the harness
 * sends it when its frames start to flow. Each poll reads the interrupt status, an exit that lets
 * the VMM deliver what the switch holds for us. */
static void wait_for_go(void)
{
    uint16_t seen = 0;
    for (unsigned i = 0; i < QN; i++) {
        desc(0, i, RXBUF + 2048 * i, 2048, F_WRITE, 0);
        offer(0, (uint16_t)i);
    }
    wr(R_QNOTIFY, 0);
    for (;;) {
        wr(R_INT_ACK, rd(R_INT_STATUS));
        while (seen != *(volatile uint16_t *)(USED(0) + 2)) {
            uint32_t id = *(volatile uint32_t *)(USED(0) + 4 + 8 * (seen % QN)) % QN;
            const volatile uint8_t *f = (const volatile uint8_t *)(RXBUF + 2048 * id + HDR);
            seen++;
            if (f[0] == 0xFF && f[12] == 0x88 && f[13] == 0xB6 && f[14] == 'G' && f[15] == 'O')
                return;
            offer(0, (uint16_t)id);
            wr(R_QNOTIFY, 0);
        }
    }
}

void nethostile_main(void)
{
    uart_write("nethostile: start\n");
    if (rd(R_MAGIC) != 0x74726976u || rd(R_DEVICE) != 1) {
        uart_write("nethostile: no virtio-net at 0xD0001000\n");
        return;
    }
    for (unsigned i = 0; i < 6; i++) mac[i] = *(volatile uint8_t *)(MMIO + R_CONFIG + i);
    uart_write("nethostile: virtio-net, MAC");
    for (unsigned i = 0; i < 6; i++) {
        uart_write(i ? ":" : " ");
        uart_putc("0123456789abcdef"[mac[i] >> 4]);
        uart_putc("0123456789abcdef"[mac[i] & 15]);
    }
    uart_write("\n");
    setup();
    wait_for_go();
    uart_write("nethostile: go\n");
    setup(); // the storm starts from a fresh device, so its counts do not depend on the wait
    for (unsigned k = 0; k < ROUNDS; k++) {
        if (k % 64 == 63) send_good();
        else hostile_tx(k % 24);
        check_reset();
        if (k % 4 == 0) {
            hostile_rx(k / 4);
            check_reset();
        }
        if (k % 1000 == 999) {
            uart_write("nethostile: ");
            putdec(k + 1);
            uart_write(" rounds\n");
        }
    }
    // a last reset, so nothing of ours is in flight, then the counts
    setup();
    uart_write("nethostile: done: ");
    putdec(chains);
    uart_write(" hostile chains, ");
    putdec(resets);
    uart_write(" resets, ");
    putdec(good);
    uart_write(" good frames\n");
    (void)nodev;
}
