/* SPDX-License-Identifier: MIT */
/* A split virtqueue (virtio 1.2, 2.7) in guest RAM, seen from the device: descriptor table,
 * available ring (the driver's) and used ring (ours). The guest owns all three; nothing read
 * from them is trusted. Every descriptor chain is bounds-checked before any byte of it is used:
 * its descriptors' indices below the queue size, at most `num` of them (a longer chain loops),
 * each buffer wholly inside guest RAM without wrapping, the total length bounded, no indirect
 * descriptors (VIRTIO_F_INDIRECT_DESC is not offered). The available index may run at most `num`
 * ahead of what the device consumed. Any violation is VQ_BROKEN: the transport then marks the
 * device DEVICE_NEEDS_RESET and stops using the queue (2.1.2), so no guest value makes the VMM
 * loop or touch memory outside RAM. Plain data, no pointers: lives in the VMM's state. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VQ_NUM_MAX   256        /* queue size offered (QueueNumMax); a power of 2 */
#define VQ_SEG_MAX   64         /* buffers per chain (the blk device's seg_max + 2) */
#define VQ_BYTES_MAX (4u << 20) /* total bytes of one chain */

#define VQ_DESC_F_NEXT     1
#define VQ_DESC_F_WRITE    2
#define VQ_DESC_F_INDIRECT 4

struct virtq {
    uint64_t desc, avail, used; /* guest-physical addresses of the three parts */
    uint16_t num;               /* queue size the driver chose (QueueNum): a power of 2 */
    uint16_t last_avail;        /* available ring entries consumed */
    uint16_t used_idx;          /* used ring entries produced (the used ring's idx) */
    uint8_t ready;              /* QueueReady */
    uint8_t pad;
};

/* Guest RAM: guest-physical 0 .. size at base. */
struct vq_ram {
    uint8_t *base;
    uint64_t size;
};

/* One buffer of a chain: size bytes at guest-physical gpa (inside RAM), device-writable or not. */
struct vq_seg {
    uint64_t gpa;
    uint32_t len;
    uint8_t write;
};
struct vq_chain {
    uint16_t head;                /* the chain's first descriptor: its id in the used ring */
    unsigned n;                   /* segments */
    uint32_t in_bytes, out_bytes; /* device-writable, device-readable bytes */
    struct vq_seg seg[VQ_SEG_MAX];
};

enum vq_result { VQ_EMPTY = 0, VQ_CHAIN = 1, VQ_BROKEN = -1 };

/* Power-on state of a queue (not ready, size VQ_NUM_MAX). */
void vq_reset(struct virtq *q);
/* Whether the three parts lie inside RAM, aligned (2.7: 16, 2, 4), with a power-of-2 size. */
bool vq_valid(const struct virtq *q, const struct vq_ram *ram);
/* The next available chain into *c (then last_avail moves on), VQ_EMPTY, or VQ_BROKEN. */
enum vq_result vq_pop(struct virtq *q, const struct vq_ram *ram, struct vq_chain *c);
/* Puts chain `head` with `len` bytes written into the used ring and publishes it. False if the
 * ring is not (or no longer) valid. */
bool vq_push(struct virtq *q, const struct vq_ram *ram, uint16_t head, uint32_t len);
/* Copies bytes from / into the chain as one byte stream: the device-readable segments (read)
 * or the device-writable ones (write), from byte `off` of that stream. Returns bytes done. */
uint32_t vq_chain_read(const struct vq_chain *c, const struct vq_ram *ram, uint32_t off, void *dst,
                       uint32_t n);
uint32_t vq_chain_write(const struct vq_chain *c, const struct vq_ram *ram, uint32_t off,
                        const void *src, uint32_t n);
