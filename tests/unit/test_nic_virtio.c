// SPDX-License-Identifier: MIT
// nic-virtio's device model (servers/nic/virtio_net.c) against a fake legacy virtio-net: its
// registers, and a device side that reads the avail rings and writes the used rings in fake DMA
// memory as QEMU does (Virtio 1.0, 2.4, 4.1.4.8, 5.1). RX refill, TX reclaim, index wraparound,
// and a hostile device's used entries (ids out of range or not posted, absurd lengths, indices).
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include "servers/nic/nic.h"
#include "proto/net.h"
#include "xorshift.h"

#define PADDR 0x40000000ull /* where the fake DMA memory is, physically */
#define HDR   10u

struct fake {
    uint32_t host_features, guest_features, pfn[2];
    uint16_t qsel, qnum, notifies[2];
    uint8_t status, isr, cfg[8];
    uint16_t last_avail[2], used_idx[2]; /* the device's own indices */
    uint8_t *dma;
};

static struct fake dev;
static struct nic nic;

static uint32_t rd(void *ctx, unsigned w, uint32_t off)
{
    struct fake *f = ctx;
    switch (off) {
    case 0x00: return f->host_features;
    case 0x04: return f->guest_features;
    case 0x08: return f->pfn[f->qsel & 1];
    case 0x0C: return f->qsel < 2 ? f->qnum : 0;
    case 0x0E: return f->qsel;
    case 0x12: return f->status;
    case 0x13: {
        uint8_t x = f->isr;
        f->isr = 0;
        return x;
    }
    default:
        if (off >= 0x14 && off + w <= 0x14 + 8) {
            uint32_t x = 0;
            memcpy(&x, f->cfg + off - 0x14, w);
            return x;
        }
        return 0xFFFFFFFF;
    }
}

static void wr(void *ctx, unsigned w, uint32_t off, uint32_t x)
{
    struct fake *f = ctx;
    (void)w;
    switch (off) {
    case 0x04: f->guest_features = x; break;
    case 0x08:
        if (f->qsel < 2) f->pfn[f->qsel] = x;
        break;
    case 0x0E: f->qsel = (uint16_t)x; break;
    case 0x10:
        if (x < 2) f->notifies[x]++;
        break;
    case 0x12:
        f->status = (uint8_t)x;
        if (!x) { // reset (4.1.4.8): the queues are forgotten
            f->pfn[0] = f->pfn[1] = 0;
            memset(f->last_avail, 0, sizeof f->last_avail);
            memset(f->used_idx, 0, sizeof f->used_idx);
        }
        break;
    default: break;
    }
}

/* The fake device's view of queue q (the layout of 2.4.2 for size dev.qnum). */
static uint8_t *qbase(unsigned q) { return dev.dma + ((uint64_t)dev.pfn[q] << 12) - PADDR; }
static uint16_t *avail(unsigned q) { return (uint16_t *)(qbase(q) + 16ul * dev.qnum); }
static uint16_t *used(unsigned q)
{
    return (uint16_t *)(qbase(q) + ((16ul * dev.qnum + 6 + 2ul * dev.qnum + 4095) & ~4095ul));
}
struct desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags, next;
};
static struct desc *descs(unsigned q) { return (struct desc *)qbase(q); }

static void put_used(unsigned q, uint32_t id, uint32_t len)
{
    uint32_t *e = (uint32_t *)(used(q) + 2) + 2 * (dev.used_idx[q] % dev.qnum);
    e[0] = id, e[1] = len;
    used(q)[1] = ++dev.used_idx[q];
}

/* The device receives a frame: the next posted buffer gets header and frame. false: none. */
static bool dev_rx(const uint8_t *f, uint32_t len)
{
    if (dev.last_avail[0] == avail(0)[1]) return false;
    uint16_t id = avail(0)[2 + dev.last_avail[0]++ % dev.qnum];
    struct desc *d = &descs(0)[id];
    cr_assert(d->flags & 2, "a receive buffer is device-writable");
    cr_assert(d->len >= HDR + len);
    uint8_t *buf = dev.dma + d->addr - PADDR;
    memset(buf, 0, HDR);
    memcpy(buf + HDR, f, len);
    put_used(0, id, HDR + len);
    return true;
}

/* The device sends what is queued (at most max frames), copying each out; returns how many. */
static unsigned dev_tx(unsigned max, uint8_t out[][2048], uint32_t *lens)
{
    unsigned n = 0;
    while (n < max && dev.last_avail[1] != avail(1)[1]) {
        uint16_t id = avail(1)[2 + dev.last_avail[1]++ % dev.qnum];
        struct desc *d = &descs(1)[id];
        cr_assert(d->len >= HDR && d->len <= HDR + NET_MAX_FRAME && !(d->flags & 2));
        if (out) memcpy(out[n], dev.dma + d->addr - PADDR + HDR, d->len - HDR);
        if (lens) lens[n] = d->len - HDR;
        put_used(1, id, 0);
        n++;
    }
    return n;
}

static void fill(uint8_t *f, uint32_t len, uint32_t seed)
{
    for (uint32_t i = 0; i < len; i++) f[i] = (uint8_t)(seed * 31 + i * 7);
}

static void setup(void)
{
    memset(&dev, 0, sizeof dev);
    dev.host_features = (1u << 5) | (1u << 16) | (1u << 15) | (1u << 0); // MAC, STATUS, MRG, CSUM
    dev.qnum = 256;
    memcpy(dev.cfg, "\x52\x54\x00\x12\x34\x56\x01\x00", 8);
    memset(&nic, 0xCC, sizeof nic);
    nic.regs = (struct nic_regs){rd, wr, &dev};
    nic.dma_size = nic_dev_dma_bytes();
    nic.dma = dev.dma = aligned_alloc(4096, nic.dma_size);
    memset(nic.dma, 0xA5, nic.dma_size); // a previous instance's leftovers
    nic.dma_paddr = PADDR;
    cr_assert_eq(nic_dev_init(&nic), RS_OK);
}
static void teardown(void) { free(dev.dma); }

TestSuite(nic_virtio, .init = setup, .fini = teardown);

Test(nic_virtio, init_reads_the_mac_and_link_and_posts_every_receive_buffer)
{
    cr_assert_eq(memcmp(nic.mac, "\x52\x54\x00\x12\x34\x56", 6), 0);
    cr_assert_eq(nic.status, NIC_STATUS_UP | NIC_STATUS_LINK);
    cr_assert_eq(dev.guest_features, (1u << 5) | (1u << 16), "no mergeable buffers, no offloads");
    cr_assert_eq(dev.status, 1 | 2 | 4);
    cr_assert(dev.pfn[0] && dev.pfn[1] && dev.pfn[0] != dev.pfn[1]);
    cr_assert_eq(avail(0)[1], NIC_RX_BUFS);
    cr_assert_eq(avail(1)[1], 0);
    cr_assert_eq(used(0)[1], 0, "the rings were zeroed");
    cr_assert_geq(dev.notifies[0], 1);
    uint32_t len;
    uint8_t buf[2048];
    cr_assert_eq(nic_dev_rx(&nic, buf, &len), RS_WOULD_BLOCK);
}

Test(nic_virtio, link_down_at_start_and_a_config_interrupt_brings_it_up)
{
    dev.cfg[6] = 0;
    cr_assert_eq(nic_dev_init(&nic), RS_OK);
    cr_assert_eq(nic.status, NIC_STATUS_UP);
    dev.isr = 1; // a queue interrupt: no link change
    cr_assert_not(nic_dev_irq(&nic));
    dev.cfg[6] = 1, dev.isr = 2;
    cr_assert(nic_dev_irq(&nic));
    cr_assert_eq(nic.status, NIC_STATUS_UP | NIC_STATUS_LINK);
    cr_assert_eq(nic.st.link_changes, 1);
}

Test(nic_virtio, a_device_without_status_feature_is_up_and_too_small_a_queue_is_refused)
{
    dev.host_features = 1u << 5;
    dev.cfg[6] = 0;
    cr_assert_eq(nic_dev_init(&nic), RS_OK);
    cr_assert(nic.status & NIC_STATUS_LINK);
    dev.qnum = 32; // fewer entries than receive buffers
    cr_assert_eq(nic_dev_init(&nic), RS_NOT_FOUND);
    dev.qnum = 100; // not a power of 2
    cr_assert_eq(nic_dev_init(&nic), RS_NOT_FOUND);
    dev.qnum = 256;
    nic.dma_size = nic_dev_dma_bytes() - 1;
    cr_assert_eq(nic_dev_init(&nic), RS_NOT_SUPPORTED);
}

Test(nic_virtio, frames_come_out_in_order_and_buffers_are_refilled_across_wraparound)
{
    uint8_t f[2048], got[2048];
    uint32_t len;
    // 70,000 frames: the 16-bit ring indices wrap, every buffer is reused a thousand times
    for (uint32_t i = 0; i < 70000; i++) {
        uint32_t n = NET_MIN_FRAME + i % (NET_MAX_FRAME - NET_MIN_FRAME + 1);
        if (i % 64 != 0) n = 60 + i % 7; // mostly short ones, to keep it quick
        fill(f, n, i);
        cr_assert(dev_rx(f, n), "frame %u: the driver refilled the ring", i);
        if (i % 3 == 0 && i % 64 != 0) { // some arrive two at a time
            fill(f, 61, i + 1000000);
            cr_assert(dev_rx(f, 61));
            cr_assert_eq(nic_dev_rx(&nic, got, &len), RS_OK);
            cr_assert_eq(len, n);
            fill(f, n, i);
            cr_assert_eq(memcmp(got, f, n), 0);
            cr_assert_eq(nic_dev_rx(&nic, got, &len), RS_OK);
            cr_assert_eq(len, 61);
            continue;
        }
        cr_assert(nic_dev_rx_pending(&nic));
        cr_assert_eq(nic_dev_rx(&nic, got, &len), RS_OK);
        cr_assert_eq(len, n);
        cr_assert_eq(memcmp(got, f, n), 0, "frame %u", i);
    }
    cr_assert_not(nic_dev_rx_pending(&nic));
    cr_assert_eq(nic.st.rx_bad + nic.st.dev_garbage, 0);
    cr_assert_eq((uint16_t)(avail(0)[1] - dev.last_avail[0]), NIC_RX_BUFS, "all posted again");
}

Test(nic_virtio, a_full_ring_takes_every_frame_then_the_device_has_no_buffer)
{
    uint8_t f[64] = {0}, got[2048];
    uint32_t len;
    for (unsigned i = 0; i < NIC_RX_BUFS; i++) cr_assert(dev_rx(f, 60));
    cr_assert_not(dev_rx(f, 60), "64 buffers, no more");
    for (unsigned i = 0; i < NIC_RX_BUFS; i++) cr_assert_eq(nic_dev_rx(&nic, got, &len), RS_OK);
    cr_assert_eq(nic_dev_rx(&nic, got, &len), RS_WOULD_BLOCK);
    cr_assert(dev_rx(f, 60), "the buffers are back");
}

Test(nic_virtio, runts_giants_and_absurd_lengths_are_dropped_counted_and_the_buffer_reposted)
{
    uint8_t f[2048], got[2048];
    uint32_t len, bad[] = {0, 5, HDR, HDR + 13, HDR + NET_MAX_FRAME + 1, 0xFFFFFFFFu, 0x80000000u};
    fill(f, 100, 1);
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert(dev_rx(f, 100));
        uint32_t *e = (uint32_t *)(used(0) + 2) + 2 * ((dev.used_idx[0] - 1) % dev.qnum);
        e[1] = bad[i];
    }
    fill(f, 100, 2);
    cr_assert(dev_rx(f, 100));
    cr_assert_eq(nic_dev_rx(&nic, got, &len), RS_OK, "the good one after the bad ones");
    cr_assert_eq(len, 100);
    cr_assert_eq(memcmp(got, f, 100), 0);
    cr_assert_eq(nic.st.rx_bad, 7);
    cr_assert_eq(nic.st.rx, 1);
    cr_assert_eq((uint16_t)(avail(0)[1] - dev.last_avail[0]), NIC_RX_BUFS);
}

Test(nic_virtio, used_ids_out_of_range_or_not_posted_are_ignored)
{
    uint8_t f[64] = {0}, got[2048];
    uint32_t len;
    put_used(0, 64, 70);         // beyond our buffers
    put_used(0, 0xFFFFFFFF, 70); // absurd
    cr_assert(dev_rx(f, 60));    // buffer 0, really
    uint32_t id0 = ((uint32_t *)(used(0) + 2))[2 * 2];
    put_used(0, id0, 70); // the same buffer again before the driver reposts it ...
    cr_assert_eq(nic_dev_rx(&nic, got, &len), RS_OK);
    cr_assert_eq(len, 60);
    // ... is garbage only if it is not posted at that moment: the driver reposted buffer 0
    // right after the good frame, so the duplicate is read as a frame of 60 bytes
    cr_assert_eq(nic_dev_rx(&nic, got, &len), RS_OK);
    cr_assert_eq(nic.st.dev_garbage, 2);
    // a duplicate of a buffer that is not posted: taken once, then refused
    cr_assert(dev_rx(f, 60));
    uint32_t id = ((uint32_t *)(used(0) + 2))[2 * ((dev.used_idx[0] - 1) % dev.qnum)];
    cr_assert_eq(nic_dev_rx(&nic, got, &len), RS_OK);
    uint16_t posted = avail(0)[1];
    nic.v.rx_posted[id] = false; // as if it had not been reposted yet
    put_used(0, id, 70);
    cr_assert_eq(nic_dev_rx(&nic, got, &len), RS_WOULD_BLOCK);
    cr_assert_eq(nic.st.dev_garbage, 3);
    cr_assert_eq(avail(0)[1], posted, "a buffer not ours to give is not posted again");
}

Test(nic_virtio, a_used_index_far_ahead_is_skipped_not_followed)
{
    uint8_t got[2048];
    uint32_t len;
    used(0)[1] = 1000; // more entries than the queue has
    cr_assert_eq(nic_dev_rx(&nic, got, &len), RS_WOULD_BLOCK);
    cr_assert_eq(nic.st.dev_garbage, 1);
    used(1)[1] = 0x8000;
    cr_assert_eq(nic_dev_tx_reclaim(&nic), 0);
    cr_assert_eq(nic.st.dev_garbage, 2);
}

Test(nic_virtio, transmit_keeps_64_in_flight_and_reclaims_what_the_device_finished)
{
    uint8_t f[2048], out[64][2048];
    uint32_t lens[64];
    for (unsigned i = 0; i < NIC_TX_BUFS; i++) {
        fill(f, 60 + i, i);
        cr_assert_eq(nic_dev_tx(&nic, f, 60 + i), RS_OK);
    }
    fill(f, 60, 99);
    cr_assert_eq(nic_dev_tx(&nic, f, 60), RS_WOULD_BLOCK);
    cr_assert_eq(nic.st.tx_full, 1);
    nic_dev_kick(&nic);
    cr_assert_geq(dev.notifies[1], 1);
    cr_assert_eq(dev_tx(10, out, lens), 10);
    for (unsigned i = 0; i < 10; i++) {
        fill(f, 60 + i, i);
        cr_assert_eq(lens[i], 60 + i);
        cr_assert_eq(memcmp(out[i], f, lens[i]), 0, "frame %u as queued", i);
    }
    cr_assert_eq(nic_dev_tx_reclaim(&nic), 54);
    for (unsigned i = 0; i < 10; i++) cr_assert_eq(nic_dev_tx(&nic, f, 60), RS_OK);
    cr_assert_eq(nic_dev_tx(&nic, f, 60), RS_WOULD_BLOCK);
    // many rounds: the avail and used indices wrap
    for (unsigned r = 0; r < 3000; r++) {
        unsigned n = dev_tx(1 + r % 64, NULL, NULL);
        nic_dev_tx_reclaim(&nic);
        for (unsigned i = 0; i < n; i++) cr_assert_eq(nic_dev_tx(&nic, f, 14 + r % 1505), RS_OK);
    }
    cr_assert_eq(nic.st.dev_garbage, 0);
}

Test(nic_virtio, bad_lengths_are_refused_for_transmit)
{
    uint8_t f[2048] = {0};
    cr_assert_eq(nic_dev_tx(&nic, f, 13), RS_INVALID_ARGUMENT);
    cr_assert_eq(nic_dev_tx(&nic, f, 1519), RS_INVALID_ARGUMENT);
    cr_assert_eq(nic_dev_tx(&nic, f, 0), RS_INVALID_ARGUMENT);
    cr_assert_eq(nic.st.tx_bad, 3);
    cr_assert_eq(avail(1)[1], 0);
    cr_assert_eq(nic_dev_tx(&nic, f, 14), RS_OK);
    cr_assert_eq(nic_dev_tx(&nic, f, 1518), RS_OK);
}

Test(nic_virtio, duplicated_or_foreign_transmit_completions_free_nothing_twice)
{
    uint8_t f[64] = {0};
    for (unsigned i = 0; i < 3; i++) cr_assert_eq(nic_dev_tx(&nic, f, 60), RS_OK);
    cr_assert_eq(dev_tx(1, NULL, NULL), 1);
    uint32_t id = ((uint32_t *)(used(1) + 2))[0];
    put_used(1, id, 0);   // the same one again
    put_used(1, 63, 0);   // one not in flight
    put_used(1, 4096, 0); // out of range
    cr_assert_eq(nic_dev_tx_reclaim(&nic), 2);
    cr_assert_eq(nic.st.dev_garbage, 3);
    cr_assert_eq(nic.v.ntx_free, NIC_TX_BUFS - 2);
}

Test(nic_virtio, random_used_rings_from_a_hostile_device_keep_the_invariants)
{
    uint64_t s = 0x1234567;
    uint8_t f[2048] = {0}, got[2048];
    uint32_t len;
    for (unsigned i = 0; i < 200000; i++) {
        uint64_t r = xorshift64(&s);
        switch (r % 6) {
        case 0: dev_rx(f, 14 + (r >> 8) % 1505); break;
        case 1: put_used((r >> 3) & 1, (uint32_t)(r >> 16) % 80, (uint32_t)(r >> 32) % 2000); break;
        case 2: used((r >> 3) & 1)[1] += (uint16_t)(r >> 20) % 4; break;
        case 3: nic_dev_rx(&nic, got, &len); break;
        case 4: nic_dev_tx(&nic, f, 14 + (r >> 8) % 1600); break;
        case 5:
            dev_tx((r >> 8) % 8, NULL, NULL);
            nic_dev_tx_reclaim(&nic);
            break;
        }
        unsigned posted = 0, busy = 0;
        for (unsigned k = 0; k < NIC_RX_BUFS; k++) posted += nic.v.rx_posted[k];
        for (unsigned k = 0; k < NIC_TX_BUFS; k++) busy += nic.v.tx_busy[k];
        cr_assert_leq(nic.v.ntx_free, NIC_TX_BUFS);
        cr_assert_eq(busy + nic.v.ntx_free, NIC_TX_BUFS, "step %u", i);
        cr_assert_leq(posted, NIC_RX_BUFS);
    }
}
