/* SPDX-License-Identifier: MIT */
/* A virtio-blk device through the legacy (transitional) PCI interface: registers in I/O BAR 0,
 * one split virtqueue in DMA memory (Virtio 1.0 spec, 4.1.4.8 "Legacy Interfaces: A Note on PCI
 * Device Layout", 2.4 "Virtqueues", 5.2 "Block Device"). The modern (capability-based MMIO)
 * interface is not used: the kernel makes no device untyped yet, so no BAR can be mapped. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#define VBLK_SLOTS 64 /* requests in flight at most (3 descriptors each) */

struct vblk {
    uint64_t io;  /* I/O BAR base */
    uint8_t *dma; /* DMA memory (driver's address) */
    uint64_t dma_paddr, dma_size;
    uint16_t qsize, last_used; /* the virtqueue's size; used entries taken so far */
    unsigned slots;            /* requests in flight at most: min(VBLK_SLOTS, qsize / 3) */
    uint64_t sectors;
    bool can_flush;
};

/* Resets the device and sets it up from scratch (the virtqueue memory is zeroed first: it may
 * hold a previous instance's requests). RS_NOT_SUPPORTED if the queue does not fit the DMA
 * memory, RS_NOT_FOUND if the device has no queue 0. */
int vblk_init(struct vblk *v, uint64_t io, void *dma, uint64_t dma_paddr, uint64_t dma_size);
/* Queues request `slot` (< v->slots): op CHAN_OP_READ/WRITE (data at physical `paddr`, len
 * bytes) or CHAN_OP_FLUSH, from `sector`; does not notify the device. */
void vblk_submit(struct vblk *v, unsigned slot, unsigned op, uint64_t sector, uint64_t paddr,
                 uint32_t len);
/* Tells the device that requests were queued. */
void vblk_notify(struct vblk *v);
/* The next finished request: its slot, and its virtio status (0 OK, 1 I/O error, 2
 * unsupported) in *status. -1 when none is finished. */
int vblk_next_done(struct vblk *v, uint8_t *status);
/* Reads (and so clears) the interrupt status register. */
uint8_t vblk_isr(struct vblk *v);
