/* SPDX-License-Identifier: MIT */
/* A NIC as the shared driver loop (servers/nic/main.c) sees it: one device model per program
 * (virtio_net.c for nic-virtio, e1000.c for nic-e1000) implements the nic_dev_* functions over
 * registers reached through struct nic_regs and rings in DMA memory. Nothing here makes a system
 * call, so the descriptor handling runs on the host against fake device memory (tests/unit).
 *
 * Buffers. The device owns NIC_RX_BUFS receive and NIC_TX_BUFS transmit buffers of NIC_BUF_SIZE
 * bytes in DMA memory; frames are copied between them and the link's buffers, so a link request
 * is released as soon as its frame is in a device buffer.
 *
 * Trust. The device is trusted to do DMA (there is no IOMMU), but what it writes into the rings
 * is checked like any input: a buffer id that is not one the driver gave it, a length below
 * NET_MIN_FRAME or above NET_MAX_FRAME, an index that jumps further than the ring is long: each
 * is dropped and counted (struct nic_stats), never followed. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#define NIC_RX_BUFS  64u
#define NIC_TX_BUFS  64u
#define NIC_BUF_SIZE 2048u
#define NIC_MAC_LEN  6u

/* The status word (struct nic.status): what the driver knows of its device. */
#define NIC_STATUS_UP   1u /* the device is set up and running */
#define NIC_STATUS_LINK 2u /* the link is up (a device without a link status says up) */

/* How the device's registers are reached: offsets into its I/O BAR (virtio) or memory BAR 0
 * (e1000); width 1, 2 or 4 bytes. */
struct nic_regs {
    uint32_t (*read)(void *ctx, unsigned width, uint32_t off);
    void (*write)(void *ctx, unsigned width, uint32_t off, uint32_t value);
    void *ctx;
};

struct nic_stats {
    uint64_t rx, tx;      /* frames from and to the wire */
    uint64_t rx_bad;      /* runts, giants, bad lengths and split frames from the wire */
    uint64_t tx_bad;      /* frames of a bad length offered for the wire */
    uint64_t tx_full;     /* nic_dev_tx found every transmit buffer in flight */
    uint64_t dev_garbage; /* ring entries naming no buffer of ours, absurd indices */
    uint64_t irqs, link_changes;
};

struct vnet_queue {
    uint16_t size, last_used, avail_idx;
    uint32_t desc_off, avail_off, used_off; /* into DMA memory */
};

struct nic {
    struct nic_regs regs;
    uint8_t *dma;                 /* DMA memory: the driver's address ... */
    uint64_t dma_paddr, dma_size; /* ... its physical address and size */
    uint8_t mac[NIC_MAC_LEN];
    uint32_t status; /* NIC_STATUS_* */
    struct nic_stats st;
    /* device state: the model's own */
    union {
        struct {
            struct vnet_queue q[2]; /* receiveq 0, transmitq 1 (Virtio 1.0, 5.1.2) */
            uint64_t features;
            bool rx_posted[NIC_RX_BUFS], tx_busy[NIC_TX_BUFS];
            uint16_t tx_free[NIC_TX_BUFS], ntx_free;
        } v;
        struct {
            uint32_t rx_next;           /* next receive descriptor to look at */
            uint32_t tx_tail, tx_clean; /* next free, oldest in flight */
        } e;
    };
};

/* The DMA memory a model needs, in bytes (rings and buffers). */
uint64_t nic_dev_dma_bytes(void);
/* The device's name for messages ("virtio-net", "e1000"). */
const char *nic_dev_name(void);
/* Resets the device and sets it up from scratch: rings zeroed, every receive buffer posted,
 * interrupts on; reads the MAC into n->mac and the link state into n->status. n->regs and the
 * DMA fields must be set, the rest is zeroed here. RS_NOT_SUPPORTED if the rings do not fit the DMA
 * memory, RS_NOT_FOUND if the device lacks a queue, RS_BUSY if it does not come out of reset. */
int nic_dev_init(struct nic *n);
/* Reads (and so acknowledges) the device's interrupt cause and updates the link state; returns
 * true if the link state changed. */
bool nic_dev_irq(struct nic *n);
/* Takes the next good frame the device received: copies it (without the FCS) to out (room for
 * NIC_BUF_SIZE bytes), stores its length in *len and gives the buffer back to the device.
 * RS_OK, or RS_WOULD_BLOCK when no frame waits. Bad entries are skipped and counted. */
int nic_dev_rx(struct nic *n, uint8_t *out, uint32_t *len);
/* Whether a received frame waits (nic_dev_rx would not say RS_WOULD_BLOCK, bad ones aside). */
bool nic_dev_rx_pending(struct nic *n);
/* Copies a frame of len bytes into a free transmit buffer and queues it (no notify). Frees the
 * buffers of finished frames first. RS_OK, RS_INVALID_ARGUMENT for a length outside
 * NET_MIN_FRAME..NET_MAX_FRAME, RS_WOULD_BLOCK when every buffer is in flight (counted). */
int nic_dev_tx(struct nic *n, const uint8_t *frame, uint32_t len);
/* Frees the buffers of finished frames; returns how many are still in flight. */
unsigned nic_dev_tx_reclaim(struct nic *n);
/* Tells the device that receive buffers were given back or frames queued. */
void nic_dev_kick(struct nic *n);
