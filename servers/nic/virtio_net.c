// SPDX-License-Identifier: MIT
// The virtio-net device through the legacy (transitional) PCI interface: registers in I/O BAR 0,
// receiveq 0 and transmitq 1 as split virtqueues in DMA memory, one descriptor per buffer holding
// the 10-byte virtio_net_hdr and the frame (Virtio 1.0, 4.1.4.8, 2.4 and 5.1).
#include "nic.h"
#include "proto/net.h"
#include "libipc/virtio_pci.h"

/* The device configuration at VIRTIO_PCI_CONFIG: mac[6], then u16 status (5.1.4). */
#define F_MAC    (1u << 5)  /* the config space has the MAC */
#define F_STATUS (1u << 16) /* ... and a link status */
#define LINK_UP  1u

#define ISR_QUEUE  1u
#define ISR_CONFIG 2u

#define D_WRITE 2 /* the device writes this buffer */

#define HDR_LEN    10u     /* struct virtio_net_hdr without VIRTIO_NET_F_MRG_RXBUF (5.1.6) */
#define RING_BYTES 0x8000u /* both virtqueues, up to 256 entries each */
#define RX_BUF_OFF RING_BYTES
#define TX_BUF_OFF (RX_BUF_OFF + NIC_RX_BUFS * NIC_BUF_SIZE)
#define RXQ        0
#define TXQ        1

struct vq_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags, next;
};

static uint32_t in(struct nic *n, unsigned w, uint32_t reg)
{
    return n->regs.read(n->regs.ctx, w, reg);
}
static void out(struct nic *n, unsigned w, uint32_t reg, uint32_t x)
{
    n->regs.write(n->regs.ctx, w, reg, x);
}

uint64_t nic_dev_dma_bytes(void) { return TX_BUF_OFF + NIC_TX_BUFS * NIC_BUF_SIZE; }
const char *nic_dev_name(void) { return "virtio-net"; }

static volatile struct vq_desc *desc(struct nic *n, unsigned q, unsigned i)
{
    return (volatile struct vq_desc *)(n->dma + n->v.q[q].desc_off) + i;
}
static volatile uint16_t *avail(struct nic *n, unsigned q)
{
    return (volatile uint16_t *)(n->dma + n->v.q[q].avail_off);
}
static volatile uint16_t *used(struct nic *n, unsigned q)
{
    return (volatile uint16_t *)(n->dma + n->v.q[q].used_off);
}

/* Queue q's size and layout (legacy alignment 4096, 2.4.2), placed at `base` in DMA memory;
 * returns the end of its memory, 0 when the device has no such queue. */
static uint32_t setup_queue(struct nic *n, unsigned q, uint32_t base)
{
    struct vnet_queue *vq = &n->v.q[q];
    out(n, 2, VIRTIO_PCI_QUEUE_SEL, q);
    uint32_t size = in(n, 2, VIRTIO_PCI_QUEUE_NUM);
    // a legacy queue's size is the device's choice and a power of 2 (2.4); ours must hold
    // every buffer of the queue
    if (!size || size > 256 || (size & (size - 1)) || size < NIC_RX_BUFS) return 0;
    vq->size = (uint16_t)size;
    vq->desc_off = base;
    vq->avail_off = base + 16 * size;
    vq->used_off = (vq->avail_off + 6 + 2 * size + 4095) & ~4095u;
    return (vq->used_off + 6 + 8 * size + 4095) & ~4095u;
}

/* Puts descriptor i into queue q's available ring (no notify). */
static void post(struct nic *n, unsigned q, uint16_t i)
{
    struct vnet_queue *vq = &n->v.q[q];
    volatile uint16_t *a = avail(n, q);
    a[2 + vq->avail_idx % vq->size] = i;
    __atomic_thread_fence(__ATOMIC_RELEASE); // the entry before the index (2.4.7)
    a[1] = ++vq->avail_idx;
}

static void post_rx(struct nic *n, unsigned i)
{
    *desc(n, RXQ, i) =
        (struct vq_desc){n->dma_paddr + RX_BUF_OFF + i * NIC_BUF_SIZE, NIC_BUF_SIZE, D_WRITE, 0};
    n->v.rx_posted[i] = true;
    post(n, RXQ, (uint16_t)i);
}

static void read_link(struct nic *n)
{
    bool up = !(n->v.features & F_STATUS) || (in(n, 2, VIRTIO_PCI_CONFIG + 6) & LINK_UP);
    n->status = (n->status & ~NIC_STATUS_LINK) | (up ? NIC_STATUS_LINK : 0);
}

int nic_dev_init(struct nic *n)
{
    struct nic_regs regs = n->regs;
    uint8_t *dma = n->dma;
    uint64_t paddr = n->dma_paddr, size = n->dma_size;
    *n = (struct nic){.regs = regs, .dma = dma, .dma_paddr = paddr, .dma_size = size};
    if (size < nic_dev_dma_bytes()) return RS_NOT_SUPPORTED;
    out(n, 1, VIRTIO_PCI_STATUS,
        0); // reset: the device forgets the queues a previous instance set up
    out(n, 1, VIRTIO_PCI_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
    out(n, 1, VIRTIO_PCI_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    n->v.features = in(n, 4, VIRTIO_PCI_HOST_FEATURES) & (F_MAC | F_STATUS);
    out(n, 4, VIRTIO_PCI_GUEST_FEATURES, (uint32_t)n->v.features);
    for (uint32_t i = 0; i < RING_BYTES; i++) dma[i] = 0;
    uint32_t end = setup_queue(n, RXQ, 0);
    end = end ? setup_queue(n, TXQ, end) : 0;
    if (!end) {
        out(n, 1, VIRTIO_PCI_STATUS, VIRTIO_STATUS_FAILED);
        return RS_NOT_FOUND;
    }
    if (end > RING_BYTES) {
        out(n, 1, VIRTIO_PCI_STATUS, VIRTIO_STATUS_FAILED);
        return RS_NOT_SUPPORTED;
    }
    for (unsigned q = 0; q < 2; q++) {
        out(n, 2, VIRTIO_PCI_QUEUE_SEL, q);
        out(n, 4, VIRTIO_PCI_QUEUE_PFN, (uint32_t)((paddr + n->v.q[q].desc_off) >> 12));
    }
    for (unsigned i = 0; i < NIC_MAC_LEN; i++)
        n->mac[i] = (n->v.features & F_MAC) ? (uint8_t)in(n, 1, VIRTIO_PCI_CONFIG + i) : 0;
    for (unsigned i = 0; i < NIC_RX_BUFS; i++) post_rx(n, i);
    for (unsigned i = 0; i < NIC_TX_BUFS; i++) n->v.tx_free[i] = (uint16_t)(NIC_TX_BUFS - 1 - i);
    n->v.ntx_free = NIC_TX_BUFS;
    out(n, 1, VIRTIO_PCI_STATUS,
        VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_DRIVER_OK);
    read_link(n);
    n->status |= NIC_STATUS_UP;
    nic_dev_kick(n);
    return RS_OK;
}

bool nic_dev_irq(struct nic *n)
{
    uint32_t isr = in(n, 1, VIRTIO_PCI_ISR); // reading clears it and lowers the (level) line
    n->st.irqs++;
    if (!(isr & ISR_CONFIG)) return false;
    uint32_t before = n->status;
    read_link(n);
    if (before == n->status) return false;
    n->st.link_changes++;
    return true;
}

/* The next used entry of queue q: its descriptor id and length; false when there is none. An
 * index that ran further ahead than the queue is long is garbage: everything up to it is
 * skipped (counted once). */
static bool next_used(struct nic *n, unsigned q, uint32_t *id, uint32_t *len)
{
    struct vnet_queue *vq = &n->v.q[q];
    volatile uint16_t *u = used(n, q);
    uint16_t idx = u[1];
    if (idx == vq->last_used) return false;
    if ((uint16_t)(idx - vq->last_used) > vq->size) {
        n->st.dev_garbage++;
        vq->last_used = idx;
        return false;
    }
    __atomic_thread_fence(__ATOMIC_ACQUIRE); // the entry after the index (2.4.8)
    volatile uint32_t *elem = (volatile uint32_t *)(u + 2) + 2 * (vq->last_used % vq->size);
    *id = elem[0];
    *len = elem[1];
    vq->last_used++;
    return true;
}

bool nic_dev_rx_pending(struct nic *n) { return used(n, RXQ)[1] != n->v.q[RXQ].last_used; }

int nic_dev_rx(struct nic *n, uint8_t *out_frame, uint32_t *out_len)
{
    uint32_t id, len;
    while (next_used(n, RXQ, &id, &len)) {
        if (id >= NIC_RX_BUFS || !n->v.rx_posted[id]) {
            n->st.dev_garbage++; // not a buffer the device holds: never repost it twice
            continue;
        }
        n->v.rx_posted[id] = false;
        // copied once, then checked: the device cannot change the length after the check
        if (len < HDR_LEN + NET_MIN_FRAME || len > HDR_LEN + NET_MAX_FRAME) {
            n->st.rx_bad++;
            post_rx(n, id);
            continue;
        }
        const uint8_t *src = n->dma + RX_BUF_OFF + id * NIC_BUF_SIZE + HDR_LEN;
        for (uint32_t i = 0; i < len - HDR_LEN; i++) out_frame[i] = src[i];
        *out_len = len - HDR_LEN;
        post_rx(n, id);
        n->st.rx++;
        return RS_OK;
    }
    return RS_WOULD_BLOCK;
}

unsigned nic_dev_tx_reclaim(struct nic *n)
{
    uint32_t id, len;
    while (next_used(n, TXQ, &id, &len)) {
        if (id >= NIC_TX_BUFS || !n->v.tx_busy[id]) {
            n->st.dev_garbage++;
            continue;
        }
        n->v.tx_busy[id] = false;
        n->v.tx_free[n->v.ntx_free++] = (uint16_t)id;
    }
    return NIC_TX_BUFS - n->v.ntx_free;
}

int nic_dev_tx(struct nic *n, const uint8_t *frame, uint32_t len)
{
    if (len < NET_MIN_FRAME || len > NET_MAX_FRAME) {
        n->st.tx_bad++;
        return RS_INVALID_ARGUMENT;
    }
    if (!n->v.ntx_free) nic_dev_tx_reclaim(n);
    if (!n->v.ntx_free) {
        n->st.tx_full++;
        return RS_WOULD_BLOCK;
    }
    uint16_t id = n->v.tx_free[--n->v.ntx_free];
    uint8_t *buf = n->dma + TX_BUF_OFF + id * NIC_BUF_SIZE;
    for (uint32_t i = 0; i < HDR_LEN; i++) buf[i] = 0; // no checksum offload, no GSO
    for (uint32_t i = 0; i < len; i++) buf[HDR_LEN + i] = frame[i];
    *desc(n, TXQ, id) =
        (struct vq_desc){n->dma_paddr + TX_BUF_OFF + id * NIC_BUF_SIZE, HDR_LEN + len, 0, 0};
    n->v.tx_busy[id] = true;
    post(n, TXQ, id);
    n->st.tx++;
    return RS_OK;
}

void nic_dev_kick(struct nic *n)
{
    __atomic_thread_fence(__ATOMIC_SEQ_CST); // the index before the notify (2.4.7)
    out(n, 2, VIRTIO_PCI_QUEUE_NOTIFY, RXQ);
    out(n, 2, VIRTIO_PCI_QUEUE_NOTIFY, TXQ);
}
