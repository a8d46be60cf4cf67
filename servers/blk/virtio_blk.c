// SPDX-License-Identifier: MIT
// The virtio-blk device: legacy PCI registers, one split virtqueue, requests as descriptor
// chains header -> data -> status (Virtio 1.0, 5.2.6).
#include "virtio_blk.h"
#include "ipc.h"
#include "invoke_stubs.h"
#include "proto/init.h"
#include "libipc/channel.h"
#include "libipc/virtio_pci.h"

/* The device configuration at VIRTIO_PCI_CONFIG: u64 capacity in 512-byte sectors (5.2.4). */
#define F_BLK_FLUSH (1u << 9)

#define T_IN    0
#define T_OUT   1
#define T_FLUSH 4

#define D_NEXT  1
#define D_WRITE 2 /* the device writes this buffer */

#define HDR_OFFSET    0xC000u /* request headers after the queue (at most 12 pages, 256 entries+) */
#define STATUS_OFFSET (HDR_OFFSET + VBLK_SLOTS * 16)

struct vq_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags, next;
};
struct blk_hdr {
    uint32_t type, reserved;
    uint64_t sector;
};

static uint32_t in(struct vblk *v, unsigned w, unsigned reg)
{
    uint32_t x = 0;
    ps_ioport_in(IPC_SLOT_IOPORT, w, (uint16_t)(v->io + reg), &x);
    return x;
}
static void out(struct vblk *v, unsigned w, unsigned reg, uint32_t x)
{
    ps_ioport_out(IPC_SLOT_IOPORT, w, (uint16_t)(v->io + reg), x);
}

/* Split virtqueue layout, legacy alignment 4096 (Virtio 1.0, 2.4.2). */
static uint64_t avail_off(const struct vblk *v) { return 16ul * v->qsize; }
static uint64_t used_off(const struct vblk *v)
{
    return (avail_off(v) + 6 + 2ul * v->qsize + 4095) & ~4095ul;
}
static volatile uint16_t *avail(struct vblk *v)
{
    return (volatile uint16_t *)(v->dma + avail_off(v));
}
static volatile uint16_t *used(struct vblk *v)
{
    return (volatile uint16_t *)(v->dma + used_off(v));
}

int vblk_init(struct vblk *v, uint64_t io, void *dma, uint64_t dma_paddr, uint64_t dma_size)
{
    *v = (struct vblk){.io = io, .dma = dma, .dma_paddr = dma_paddr, .dma_size = dma_size};
    out(v, 1, VIRTIO_PCI_STATUS,
        0); // reset: the device forgets any queue a previous instance set up
    out(v, 1, VIRTIO_PCI_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
    out(v, 1, VIRTIO_PCI_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    uint32_t features = in(v, 4, VIRTIO_PCI_HOST_FEATURES);
    v->can_flush = features & F_BLK_FLUSH;
    out(v, 4, VIRTIO_PCI_GUEST_FEATURES, features & F_BLK_FLUSH);
    out(v, 2, VIRTIO_PCI_QUEUE_SEL, 0);
    v->qsize = (uint16_t)in(v, 2, VIRTIO_PCI_QUEUE_NUM);
    if (!v->qsize) return RS_NOT_FOUND;
    uint64_t qbytes = used_off(v) + 6 + 8ul * v->qsize;
    if (qbytes > HDR_OFFSET || dma_size < STATUS_OFFSET + VBLK_SLOTS) return RS_NOT_SUPPORTED;
    for (uint64_t i = 0; i < qbytes; i++) v->dma[i] = 0;
    v->slots = v->qsize / 3 < VBLK_SLOTS ? v->qsize / 3 : VBLK_SLOTS;
    out(v, 4, VIRTIO_PCI_QUEUE_PFN, (uint32_t)(dma_paddr >> 12));
    v->sectors = in(v, 4, VIRTIO_PCI_CONFIG) | (uint64_t)in(v, 4, VIRTIO_PCI_CONFIG + 4) << 32;
    out(v, 1, VIRTIO_PCI_STATUS,
        VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_DRIVER_OK);
    return RS_OK;
}

void vblk_submit(struct vblk *v, unsigned slot, unsigned op, uint64_t sector, uint64_t paddr,
                 uint32_t len)
{
    struct vq_desc *d = (struct vq_desc *)v->dma;
    struct blk_hdr *h = (struct blk_hdr *)(v->dma + HDR_OFFSET) + slot;
    uint8_t *status = v->dma + STATUS_OFFSET + slot;
    h->type = op == CHAN_OP_READ ? T_IN : op == CHAN_OP_WRITE ? T_OUT : T_FLUSH;
    h->reserved = 0;
    h->sector = op == CHAN_OP_FLUSH ? 0 : sector;
    *status = 0xFF;
    unsigned first = slot * 3, k = first;
    d[k] = (struct vq_desc){v->dma_paddr + HDR_OFFSET + slot * 16ul, 16, D_NEXT, (uint16_t)(k + 1)};
    k++;
    if (op != CHAN_OP_FLUSH) {
        d[k] = (struct vq_desc){paddr, len, (uint16_t)(D_NEXT | (op == CHAN_OP_READ ? D_WRITE : 0)),
                                (uint16_t)(k + 1)};
        k++;
    }
    d[k] = (struct vq_desc){v->dma_paddr + STATUS_OFFSET + slot, 1, D_WRITE, 0};
    volatile uint16_t *a = avail(v);
    uint16_t idx = a[1];
    a[2 + idx % v->qsize] = (uint16_t)first;
    __atomic_thread_fence(__ATOMIC_RELEASE); // the entry before the index (Virtio 1.0, 2.4.7)
    a[1] = (uint16_t)(idx + 1);
}

void vblk_notify(struct vblk *v)
{
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    out(v, 2, VIRTIO_PCI_QUEUE_NOTIFY, 0);
}

int vblk_next_done(struct vblk *v, uint8_t *status)
{
    volatile uint16_t *u = used(v);
    while (u[1] != v->last_used) {
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        volatile uint32_t *elem = (volatile uint32_t *)(u + 2) + 2 * (v->last_used % v->qsize);
        uint32_t id = elem[0];
        v->last_used++;
        // the device's answer is checked like any input: an id that is no chain head we made
        if (id % 3 || id / 3 >= v->slots) continue;
        *status = v->dma[STATUS_OFFSET + id / 3];
        return (int)(id / 3);
    }
    return -1;
}

uint8_t vblk_isr(struct vblk *v) { return (uint8_t)in(v, 1, VIRTIO_PCI_ISR); }
