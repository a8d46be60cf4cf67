/* SPDX-License-Identifier: MIT */
/* virtio-blk (virtio 1.2, 5.2) over virtio-mmio (virtio_mmio.h): one request queue; requests
 * IN (read), OUT (write), FLUSH and GET_ID; features VERSION_1, FLUSH and SEG_MAX. The disk
 * itself is a backend (struct blk_backend): sector reads, writes and flushes, each with the
 * request's id, which either complete at once or later (BLK_PENDING, then virtio_blk_complete
 * with that id), so that a backend may send them over a channel to another server. Requests in
 * flight are in the device state (ids, descriptor heads), committed with the rest of the VMM's
 * state: a restarted VMM completes them when their answers come, and never submits one twice.
 * blk_mem_backend is the backend over a disk image in memory (init's frames: manifest disk=).
 * Plain data, no pointers in struct virtio_blk. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "virtio_mmio.h"

#define VIRTIO_ID_BLOCK 2
#define BLK_SECTOR      512u
#define BLK_INFLIGHT    8u               /* requests a backend may hold at once */
#define BLK_SEG_MAX     (VQ_SEG_MAX - 2) /* data buffers per request (config seg_max) */
#define BLK_ID          "resurgo-vda"

/* request types and status (5.2.6) */
#define VIRTIO_BLK_T_IN       0u
#define VIRTIO_BLK_T_OUT      1u
#define VIRTIO_BLK_T_FLUSH    4u
#define VIRTIO_BLK_T_GET_ID   8u
#define VIRTIO_BLK_S_OK       0
#define VIRTIO_BLK_S_IOERR    1
#define VIRTIO_BLK_S_UNSUPP   2
#define VIRTIO_BLK_F_SIZE_MAX (1ull << 1)
#define VIRTIO_BLK_F_SEG_MAX  (1ull << 2)
#define VIRTIO_BLK_F_FLUSH    (1ull << 9)
#define VIRTIO_BLK_FEATURES   (VIRTIO_F_VERSION_1 | VIRTIO_BLK_F_SEG_MAX | VIRTIO_BLK_F_FLUSH)

/* A backend's answer: a VIRTIO_BLK_S_* status, or BLK_PENDING (virtio_blk_complete follows). */
#define BLK_PENDING (-1)
struct blk_backend {
    void *ctx;
    uint64_t sectors; /* the disk's size */
    /* count sectors at sector into / from buf (guest RAM), as part of request id */
    int (*read)(void *ctx, uint64_t id, uint64_t sector, uint8_t *buf, uint32_t count);
    int (*write)(void *ctx, uint64_t id, uint64_t sector, const uint8_t *buf, uint32_t count);
    int (*flush)(void *ctx, uint64_t id);
    /* optional: whether a request of up to seg_max buffers can be taken now (NULL: always);
     * the queue waits while not (virtio_blk_kick runs it again) */
    bool (*ready)(void *ctx);
    uint32_t seg_max;  /* data buffers per request offered (0: BLK_SEG_MAX) */
    uint32_t size_max; /* bytes per buffer offered (0: no limit, VIRTIO_BLK_F_SIZE_MAX off) */
};

struct blk_inflight {
    uint64_t id;         /* 0: free */
    uint64_t status_gpa; /* where the status byte goes */
    uint32_t used_len;   /* bytes written into the guest's buffers, status included */
    uint16_t head;       /* the chain's id in the used ring */
    uint8_t parts;       /* backend calls not answered yet */
    uint8_t status;
};

struct virtio_blk {
    struct virtio_mmio t;
    uint64_t next_id;                  /* ids given to requests so far (ids start at 1) */
    uint64_t requests, errors, broken; /* statistics */
    struct blk_inflight inflight[BLK_INFLIGHT];
};

/* Power-on state. */
void virtio_blk_reset(struct virtio_blk *b);
/* A register access at offset off of the device's window; ram is the guest's RAM, be the disk
 * (NULL: no medium: every request fails with IOERR). A QueueNotify runs the queue. */
void virtio_blk_access(struct virtio_blk *b, const struct vq_ram *ram, const struct blk_backend *be,
                       uint32_t off, unsigned size, bool write, uint64_t *value);
/* The backend answered request id (status VIRTIO_BLK_S_*): once all its parts are in, its
 * status goes to the guest and the chain to the used ring; then the queue runs again (it may
 * have waited for a free slot). An unknown id is ignored (false). */
bool virtio_blk_complete(struct virtio_blk *b, const struct vq_ram *ram,
                         const struct blk_backend *be, uint64_t id, int status);
/* Runs the queue again (a backend that was not ready may be now). */
void virtio_blk_kick(struct virtio_blk *b, const struct vq_ram *ram, const struct blk_backend *be);
/* The interrupt line. */
bool virtio_blk_irq(const struct virtio_blk *b);

/* The in-memory backend: a disk image of size bytes at base (whole sectors count). */
struct blk_mem {
    uint8_t *base;
    uint64_t size;
    struct blk_backend be;
};
void blk_mem_init(struct blk_mem *m, uint8_t *base, uint64_t size);
