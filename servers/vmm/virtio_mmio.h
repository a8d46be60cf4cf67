/* SPDX-License-Identifier: MIT */
/* The virtio-mmio transport, version 2 register layout (virtio 1.2, 4.2.2): magic, version,
 * device and vendor IDs, feature words by selector, the selected queue's size, ready bit and
 * addresses, QueueNotify, interrupt status and acknowledge, device status, config generation,
 * and the device's configuration space from offset 0x100. Registers are 32 bits wide (another
 * size or alignment reads 0 and writes nothing); the configuration space takes 1, 2, 4 or 8
 * bytes. The device behind it is a struct virtio_dev (its features, configuration and queue
 * handling: virtio_blk.c). A device that finds the driver's rings malformed sets
 * DEVICE_NEEDS_RESET (2.1.2) with a configuration-change interrupt and ignores its queues until
 * the driver resets it (status 0). Plain data, no pointers: lives in the VMM's state. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "virtqueue.h"

#define VIRTIO_MMIO_SIZE   0x200u
#define VIRTIO_MMIO_QUEUES 2u
#define VIRTIO_MMIO_MAGIC  0x74726976u /* "virt" */
#define VIRTIO_MMIO_VENDOR 0x52534730u /* "RSG0" */

/* registers (4.2.2) */
#define VMMIO_MAGIC          0x000
#define VMMIO_VERSION        0x004
#define VMMIO_DEVICE_ID      0x008
#define VMMIO_VENDOR_ID      0x00C
#define VMMIO_DEV_FEATURES   0x010
#define VMMIO_DEV_FEAT_SEL   0x014
#define VMMIO_DRV_FEATURES   0x020
#define VMMIO_DRV_FEAT_SEL   0x024
#define VMMIO_QUEUE_SEL      0x030
#define VMMIO_QUEUE_NUM_MAX  0x034
#define VMMIO_QUEUE_NUM      0x038
#define VMMIO_QUEUE_READY    0x044
#define VMMIO_QUEUE_NOTIFY   0x050
#define VMMIO_INT_STATUS     0x060
#define VMMIO_INT_ACK        0x064
#define VMMIO_STATUS         0x070
#define VMMIO_QUEUE_DESC_LO  0x080
#define VMMIO_QUEUE_DESC_HI  0x084
#define VMMIO_QUEUE_AVAIL_LO 0x090
#define VMMIO_QUEUE_AVAIL_HI 0x094
#define VMMIO_QUEUE_USED_LO  0x0A0
#define VMMIO_QUEUE_USED_HI  0x0A4
#define VMMIO_CONFIG_GEN     0x0FC
#define VMMIO_CONFIG         0x100

/* device status bits (2.1) */
#define VIRTIO_S_ACKNOWLEDGE 1u
#define VIRTIO_S_DRIVER      2u
#define VIRTIO_S_DRIVER_OK   4u
#define VIRTIO_S_FEATURES_OK 8u
#define VIRTIO_S_NEEDS_RESET 64u
#define VIRTIO_S_FAILED      128u

#define VIRTIO_INT_USED   1u /* InterruptStatus: a used buffer */
#define VIRTIO_INT_CONFIG 2u /* the configuration (or the device status) changed */

#define VIRTIO_F_VERSION_1 (1ull << 32)

struct virtio_mmio {
    uint64_t driver_features;
    uint32_t dev_feat_sel, drv_feat_sel, queue_sel;
    uint32_t int_status;
    uint32_t config_gen;
    uint8_t status;
    uint8_t pad[3];
    struct virtq q[VIRTIO_MMIO_QUEUES];
};

/* The device behind a transport (not persistent: built for each access). */
struct virtio_dev {
    uint32_t device_id;
    uint64_t features; /* offered; must include VIRTIO_F_VERSION_1 */
    unsigned queues;   /* 1..VIRTIO_MMIO_QUEUES */
    void *ctx;
    /* size (1, 2, 4, 8) bytes of the configuration space at off; 0 beyond it */
    uint64_t (*config_read)(void *ctx, uint32_t off, unsigned size);
    /* the driver notified queue q (ready, device live) */
    void (*notify)(void *ctx, unsigned q);
    /* the driver reset the device (status 0): drop what is in flight */
    void (*reset)(void *ctx);
};

/* Power-on state. */
void virtio_mmio_reset(struct virtio_mmio *t);
/* An access of size bytes at offset off of the register window; a read returns in *value. */
void virtio_mmio_access(struct virtio_mmio *t, const struct virtio_dev *d, uint32_t off,
                        unsigned size, bool write, uint64_t *value);
/* The interrupt line (level): an interrupt status bit is set. */
bool virtio_mmio_irq(const struct virtio_mmio *t);
/* Whether the device is live: DRIVER_OK and not NEEDS_RESET. */
bool virtio_mmio_live(const struct virtio_mmio *t);
/* The device found the driver's rings malformed: DEVICE_NEEDS_RESET and a config interrupt. */
void virtio_mmio_broken(struct virtio_mmio *t);
/* Used buffers were added: the used-buffer interrupt. */
void virtio_mmio_used(struct virtio_mmio *t);
