// SPDX-License-Identifier: MIT
// The virtio-mmio transport (virtio_mmio.h), virtio 1.2 section 4.2.2 (version 2 layout) and the
// device initialisation of 3.1.1: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK (kept only
// if the driver's features are a subset of ours with VERSION_1), queues, DRIVER_OK.
#include "virtio_mmio.h"

void virtio_mmio_reset(struct virtio_mmio *t)
{
    *t = (struct virtio_mmio){0};
    for (unsigned i = 0; i < VIRTIO_MMIO_QUEUES; i++) vq_reset(&t->q[i]);
}

bool virtio_mmio_irq(const struct virtio_mmio *t) { return t->int_status != 0; }

bool virtio_mmio_live(const struct virtio_mmio *t)
{
    return (t->status & VIRTIO_S_DRIVER_OK) && !(t->status & VIRTIO_S_NEEDS_RESET);
}

void virtio_mmio_broken(struct virtio_mmio *t)
{
    if (t->status & VIRTIO_S_NEEDS_RESET) return;
    t->status |= VIRTIO_S_NEEDS_RESET;
    t->int_status |= VIRTIO_INT_CONFIG;
    t->config_gen++;
}

void virtio_mmio_used(struct virtio_mmio *t) { t->int_status |= VIRTIO_INT_USED; }

/* The selected queue, or NULL if the selector names none the device has. */
static struct virtq *selected(struct virtio_mmio *t, const struct virtio_dev *d)
{
    unsigned n = d->queues < VIRTIO_MMIO_QUEUES ? d->queues : VIRTIO_MMIO_QUEUES;
    return t->queue_sel < n ? &t->q[t->queue_sel] : NULL;
}

static uint32_t reg_read(struct virtio_mmio *t, const struct virtio_dev *d, uint32_t off)
{
    struct virtq *q = selected(t, d);
    switch (off) {
    case VMMIO_MAGIC: return VIRTIO_MMIO_MAGIC;
    case VMMIO_VERSION: return 2;
    case VMMIO_DEVICE_ID: return d->device_id;
    case VMMIO_VENDOR_ID: return VIRTIO_MMIO_VENDOR;
    case VMMIO_DEV_FEATURES:
        return t->dev_feat_sel < 2 ? (uint32_t)(d->features >> (32 * t->dev_feat_sel)) : 0;
    case VMMIO_QUEUE_NUM_MAX: return q ? VQ_NUM_MAX : 0;
    case VMMIO_QUEUE_NUM: return q ? q->num : 0;
    case VMMIO_QUEUE_READY: return q ? q->ready : 0;
    case VMMIO_INT_STATUS: return t->int_status;
    case VMMIO_STATUS: return t->status;
    case VMMIO_QUEUE_DESC_LO: return q ? (uint32_t)q->desc : 0;
    case VMMIO_QUEUE_DESC_HI: return q ? (uint32_t)(q->desc >> 32) : 0;
    case VMMIO_QUEUE_AVAIL_LO: return q ? (uint32_t)q->avail : 0;
    case VMMIO_QUEUE_AVAIL_HI: return q ? (uint32_t)(q->avail >> 32) : 0;
    case VMMIO_QUEUE_USED_LO: return q ? (uint32_t)q->used : 0;
    case VMMIO_QUEUE_USED_HI: return q ? (uint32_t)(q->used >> 32) : 0;
    case VMMIO_CONFIG_GEN: return t->config_gen;
    default: return 0; // write-only and reserved registers
    }
}

static void set_lo(uint64_t *r, uint32_t v) { *r = (*r & ~0xFFFFFFFFull) | v; }
static void set_hi(uint64_t *r, uint32_t v) { *r = (*r & 0xFFFFFFFFull) | (uint64_t)v << 32; }

static void write_status(struct virtio_mmio *t, const struct virtio_dev *d, uint32_t v)
{
    if (!v) { // reset (4.2.2.1: the driver writes 0 and reads it back)
        if (d->reset) d->reset(d->ctx);
        virtio_mmio_reset(t);
        return;
    }
    uint8_t s = (uint8_t)v;
    if ((s & VIRTIO_S_FEATURES_OK) && !(t->status & VIRTIO_S_FEATURES_OK)) {
        // accepted only for a subset of what we offer, with VERSION_1 (a legacy driver: no)
        bool ok = !(t->driver_features & ~d->features) && (t->driver_features & VIRTIO_F_VERSION_1);
        if (!ok) s &= (uint8_t)~VIRTIO_S_FEATURES_OK;
    }
    if ((s & VIRTIO_S_DRIVER_OK) && !(s & VIRTIO_S_FEATURES_OK)) s &= (uint8_t)~VIRTIO_S_DRIVER_OK;
    // the driver cannot clear NEEDS_RESET but by a reset
    t->status = (uint8_t)(s | (t->status & VIRTIO_S_NEEDS_RESET));
}

static void reg_write(struct virtio_mmio *t, const struct virtio_dev *d, uint32_t off, uint32_t v)
{
    struct virtq *q = selected(t, d);
    bool q_writable = q && !q->ready; // 4.2.2.3: a queue's set-up only while it is not ready
    switch (off) {
    case VMMIO_DEV_FEAT_SEL: t->dev_feat_sel = v; break;
    case VMMIO_DRV_FEATURES:
        if (t->drv_feat_sel < 2 && !(t->status & VIRTIO_S_FEATURES_OK)) {
            if (t->drv_feat_sel) set_hi(&t->driver_features, v);
            else set_lo(&t->driver_features, v);
        }
        break;
    case VMMIO_DRV_FEAT_SEL: t->drv_feat_sel = v; break;
    case VMMIO_QUEUE_SEL: t->queue_sel = v; break;
    case VMMIO_QUEUE_NUM:
        if (q_writable) q->num = v <= VQ_NUM_MAX ? (uint16_t)v : 0; // vq_valid refuses 0
        break;
    case VMMIO_QUEUE_READY:
        if (q) q->ready = v & 1;
        break;
    case VMMIO_QUEUE_NOTIFY:
        if (v < d->queues && v < VIRTIO_MMIO_QUEUES && t->q[v].ready && virtio_mmio_live(t) &&
            d->notify)
            d->notify(d->ctx, v);
        break;
    case VMMIO_INT_ACK: t->int_status &= ~v; break;
    case VMMIO_STATUS: write_status(t, d, v); break;
    case VMMIO_QUEUE_DESC_LO:
        if (q_writable) set_lo(&q->desc, v);
        break;
    case VMMIO_QUEUE_DESC_HI:
        if (q_writable) set_hi(&q->desc, v);
        break;
    case VMMIO_QUEUE_AVAIL_LO:
        if (q_writable) set_lo(&q->avail, v);
        break;
    case VMMIO_QUEUE_AVAIL_HI:
        if (q_writable) set_hi(&q->avail, v);
        break;
    case VMMIO_QUEUE_USED_LO:
        if (q_writable) set_lo(&q->used, v);
        break;
    case VMMIO_QUEUE_USED_HI:
        if (q_writable) set_hi(&q->used, v);
        break;
    default: break; // read-only and reserved registers
    }
}

void virtio_mmio_access(struct virtio_mmio *t, const struct virtio_dev *d, uint32_t off,
                        unsigned size, bool write, uint64_t *value)
{
    if (off >= VMMIO_CONFIG) { // the configuration space: read-only here (blk has nothing to set)
        if (!write)
            *value = (size == 1 || size == 2 || size == 4 || size == 8) && d->config_read
                         ? d->config_read(d->ctx, off - VMMIO_CONFIG, size)
                         : 0;
        return;
    }
    if (size != 4 || (off & 3)) {
        if (!write) *value = 0;
        return;
    }
    if (write) reg_write(t, d, off, (uint32_t)*value);
    else *value = reg_read(t, d, off);
}
