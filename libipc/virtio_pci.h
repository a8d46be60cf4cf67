/* SPDX-License-Identifier: MIT */
/* The legacy (transitional) virtio PCI interface that servers/blk and servers/nic drive: register
 * offsets in I/O BAR 0 without MSI-X, and the device status bits (Virtio 1.0, 4.1.4.8 and 2.1).
 * The device-specific configuration starts at VIRTIO_PCI_CONFIG. */
#pragma once

#define VIRTIO_PCI_HOST_FEATURES  0x00
#define VIRTIO_PCI_GUEST_FEATURES 0x04
#define VIRTIO_PCI_QUEUE_PFN      0x08
#define VIRTIO_PCI_QUEUE_NUM      0x0C
#define VIRTIO_PCI_QUEUE_SEL      0x0E
#define VIRTIO_PCI_QUEUE_NOTIFY   0x10
#define VIRTIO_PCI_STATUS         0x12
#define VIRTIO_PCI_ISR            0x13
#define VIRTIO_PCI_CONFIG         0x14

#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER      2
#define VIRTIO_STATUS_DRIVER_OK   4
#define VIRTIO_STATUS_FAILED      128
