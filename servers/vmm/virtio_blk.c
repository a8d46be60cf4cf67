// SPDX-License-Identifier: MIT
// virtio-blk (virtio_blk.h), virtio 1.2 section 5.2: the request is a header {type u32, reserved
// u32, sector u64} in device-readable buffers, then the data (device-readable for OUT,
// device-writable for IN), then one device-writable status byte. Data buffers must hold whole
// sectors and lie within the disk; anything else is IOERR, an unknown type UNSUPP.
#include "virtio_blk.h"
#include "le.h"

struct blk_ctx {
    struct virtio_blk *b;
    const struct vq_ram *ram;
    const struct blk_backend *be;
};

void virtio_blk_reset(struct virtio_blk *b)
{
    uint64_t next = b->next_id; // ids stay unique across resets (an old answer may still come)
    *b = (struct virtio_blk){.next_id = next};
    virtio_mmio_reset(&b->t);
}

bool virtio_blk_irq(const struct virtio_blk *b) { return virtio_mmio_irq(&b->t); }

static uint64_t config_read(void *ctx, uint32_t off, unsigned size)
{
    const struct blk_ctx *c = ctx;
    uint8_t cfg[24] = {0}; // capacity u64, size_max u32, seg_max u32, geometry, blk_size u32
    le_put64(cfg, c->be ? c->be->sectors : 0);
    const struct blk_backend *be = c->be;
    le_put32(cfg + 8, be && be->size_max ? be->size_max : 0);
    le_put32(cfg + 12, be && be->seg_max && be->seg_max < BLK_SEG_MAX ? be->seg_max : BLK_SEG_MAX);
    le_put32(cfg + 20, BLK_SECTOR);
    uint64_t v = 0;
    for (unsigned k = 0; k < size; k++)
        if (off + k < sizeof(cfg)) v |= (uint64_t)cfg[off + k] << (8 * k);
    return v;
}

static void finish(struct virtio_blk *b, const struct vq_ram *ram, uint16_t head,
                   uint64_t status_gpa, uint32_t used_len, uint8_t status)
{
    if (status_gpa < ram->size) ram->base[status_gpa] = status;
    if (status != VIRTIO_BLK_S_OK) b->errors++;
    if (!vq_push(&b->t.q[0], ram, head, used_len)) virtio_mmio_broken(&b->t);
    else virtio_mmio_used(&b->t);
}

static struct blk_inflight *free_slot(struct virtio_blk *b)
{
    for (unsigned i = 0; i < BLK_INFLIGHT; i++)
        if (!b->inflight[i].id) return &b->inflight[i];
    return NULL;
}

/* Data of a request: each segment from byte `skip` of the device-readable (OUT) or writable (IN)
 * stream, up to `len` bytes (whole_sectors checked them), goes to the backend as whole sectors.
 * Returns the status of the calls answered at once; *parts counts those still out. */
static int transfer(const struct blk_ctx *x, const struct vq_chain *c, bool in, uint32_t skip,
                    uint32_t len, uint64_t sector, uint64_t id, uint8_t *parts)
{
    const struct blk_backend *be = x->be;
    if (!be || len % BLK_SECTOR || sector > be->sectors || len / BLK_SECTOR > be->sectors - sector)
        return VIRTIO_BLK_S_IOERR;
    int status = VIRTIO_BLK_S_OK;
    for (unsigned i = 0; i < c->n && i < VQ_SEG_MAX && len; i++) {
        const struct vq_seg *s = &c->seg[i];
        if (!!s->write != in) continue;
        if (skip >= s->len) {
            skip -= s->len;
            continue;
        }
        uint32_t n = s->len - skip < len ? s->len - skip : len;
        uint8_t *buf = x->ram->base + s->gpa + skip;
        int r = in ? be->read(be->ctx, id, sector, buf, n / BLK_SECTOR)
                   : be->write(be->ctx, id, sector, buf, n / BLK_SECTOR);
        if (r == BLK_PENDING) (*parts)++;
        else if (r != VIRTIO_BLK_S_OK) status = VIRTIO_BLK_S_IOERR;
        sector += n / BLK_SECTOR;
        len -= n;
        skip = 0;
    }
    return status;
}

/* Whether every data piece of the request holds whole sectors (checked before the backend sees
 * any: a request fails as a whole, not half done). */
static bool whole_sectors(const struct vq_chain *c, bool in, uint32_t skip, uint32_t len)
{
    for (unsigned i = 0; i < c->n && i < VQ_SEG_MAX && len; i++) {
        const struct vq_seg *s = &c->seg[i];
        if (!!s->write != in) continue;
        if (skip >= s->len) {
            skip -= s->len;
            continue;
        }
        uint32_t n = s->len - skip < len ? s->len - skip : len;
        if (n % BLK_SECTOR) return false;
        len -= n;
        skip = 0;
    }
    return true;
}

/* One chain. */
static void request(const struct blk_ctx *x, const struct vq_chain *c)
{
    struct virtio_blk *b = x->b;
    b->requests++;
    uint8_t hdr[16];
    if (!c->in_bytes) { // no status byte: nothing to answer with
        finish(b, x->ram, c->head, UINT64_MAX, 0, VIRTIO_BLK_S_IOERR);
        return;
    }
    // the status byte: the last byte of the last device-writable segment
    uint64_t status_gpa = UINT64_MAX;
    for (unsigned i = 0; i < c->n && i < VQ_SEG_MAX; i++)
        if (c->seg[i].write && c->seg[i].len) status_gpa = c->seg[i].gpa + c->seg[i].len - 1;
    uint32_t data_in = c->in_bytes - 1;
    if (vq_chain_read(c, x->ram, 0, hdr, 16) != 16) {
        finish(b, x->ram, c->head, status_gpa, 1, VIRTIO_BLK_S_IOERR);
        return;
    }
    uint32_t type = le_get32(hdr);
    uint64_t sector = le_get64(hdr + 8), id = ++b->next_id;
    uint8_t parts = 0;
    int status;
    uint32_t used = 1;
    switch (type) {
    case VIRTIO_BLK_T_IN:
        status = whole_sectors(c, true, 0, data_in)
                     ? transfer(x, c, true, 0, data_in, sector, id, &parts)
                     : VIRTIO_BLK_S_IOERR;
        used += data_in;
        break;
    case VIRTIO_BLK_T_OUT:
        status = whole_sectors(c, false, 16, c->out_bytes - 16)
                     ? transfer(x, c, false, 16, c->out_bytes - 16, sector, id, &parts)
                     : VIRTIO_BLK_S_IOERR;
        break;
    case VIRTIO_BLK_T_FLUSH:
        status = x->be ? x->be->flush(x->be->ctx, id) : VIRTIO_BLK_S_IOERR;
        if (status == BLK_PENDING) parts = 1, status = VIRTIO_BLK_S_OK;
        break;
    case VIRTIO_BLK_T_GET_ID: {
        static const char devid[20] = BLK_ID; // 20 bytes, NUL-padded (not terminated if full)
        uint32_t n = data_in < 20 ? data_in : 20;
        used += vq_chain_write(c, x->ram, 0, devid, n);
        status = VIRTIO_BLK_S_OK;
        break;
    }
    default: status = VIRTIO_BLK_S_UNSUPP; break;
    }
    if (!parts) {
        finish(b, x->ram, c->head, status_gpa, status == VIRTIO_BLK_S_OK ? used : 1,
               (uint8_t)status);
        return;
    }
    // answered when the last part is (an error answered at once is kept till then)
    struct blk_inflight *f = free_slot(b); // run_queue made sure there is one
    if (f) *f = (struct blk_inflight){id, status_gpa, used, c->head, parts, (uint8_t)status};
}

/* Takes chains while a slot is free for one that may stay in flight. */
static void run_queue(const struct blk_ctx *x)
{
    struct virtio_blk *b = x->b;
    struct vq_chain c;
    // at most one ring's worth per run: the guest cannot keep the VMM here
    for (unsigned n = 0; n < VQ_NUM_MAX && virtio_mmio_live(&b->t) && free_slot(b) &&
                         (!x->be || !x->be->ready || x->be->ready(x->be->ctx));
         n++) {
        enum vq_result r = vq_pop(&b->t.q[0], x->ram, &c);
        if (r == VQ_EMPTY) return;
        if (r == VQ_BROKEN) {
            b->broken++;
            virtio_mmio_broken(&b->t);
            return;
        }
        request(x, &c);
    }
}

static void notify(void *ctx, unsigned q)
{
    if (q == 0) run_queue(ctx);
}

static void reset(void *ctx)
{
    struct blk_ctx *x = ctx;
    // requests in flight are forgotten: their answers find no id and are dropped
    for (unsigned i = 0; i < BLK_INFLIGHT; i++) x->b->inflight[i] = (struct blk_inflight){0};
}

static struct virtio_dev device(struct blk_ctx *x)
{
    uint64_t features = VIRTIO_BLK_FEATURES;
    if (x->be && x->be->size_max) features |= VIRTIO_BLK_F_SIZE_MAX;
    return (struct virtio_dev){VIRTIO_ID_BLOCK, features, 1, x, config_read, notify, reset};
}

void virtio_blk_access(struct virtio_blk *b, const struct vq_ram *ram, const struct blk_backend *be,
                       uint32_t off, unsigned size, bool write, uint64_t *value)
{
    struct blk_ctx x = {b, ram, be};
    const struct virtio_dev d = device(&x);
    virtio_mmio_access(&b->t, &d, off, size, write, value);
}

bool virtio_blk_complete(struct virtio_blk *b, const struct vq_ram *ram,
                         const struct blk_backend *be, uint64_t id, int status)
{
    for (unsigned i = 0; id && i < BLK_INFLIGHT; i++) {
        struct blk_inflight *f = &b->inflight[i];
        if (f->id != id) continue;
        if (status != VIRTIO_BLK_S_OK) f->status = VIRTIO_BLK_S_IOERR;
        if (f->parts) f->parts--;
        if (!f->parts) {
            uint32_t used = f->status == VIRTIO_BLK_S_OK ? f->used_len : 1;
            finish(b, ram, f->head, f->status_gpa, used, f->status);
            *f = (struct blk_inflight){0};
            struct blk_ctx x = {b, ram, be};
            run_queue(&x);
        }
        return true;
    }
    return false;
}

void virtio_blk_kick(struct virtio_blk *b, const struct vq_ram *ram, const struct blk_backend *be)
{
    struct blk_ctx x = {b, ram, be};
    if (virtio_mmio_live(&b->t) && b->t.q[0].ready) run_queue(&x); // as a QueueNotify would
}

/* ---- the in-memory backend ---- */

static int mem_read(void *ctx, uint64_t id, uint64_t sector, uint8_t *buf, uint32_t count)
{
    (void)id;
    const struct blk_mem *m = ctx;
    if (sector > m->be.sectors || count > m->be.sectors - sector) return VIRTIO_BLK_S_IOERR;
    const uint8_t *src = m->base + sector * BLK_SECTOR;
    for (uint64_t i = 0; i < (uint64_t)count * BLK_SECTOR; i++) buf[i] = src[i];
    return VIRTIO_BLK_S_OK;
}

static int mem_write(void *ctx, uint64_t id, uint64_t sector, const uint8_t *buf, uint32_t count)
{
    (void)id;
    const struct blk_mem *m = ctx;
    if (sector > m->be.sectors || count > m->be.sectors - sector) return VIRTIO_BLK_S_IOERR;
    uint8_t *dst = m->base + sector * BLK_SECTOR;
    for (uint64_t i = 0; i < (uint64_t)count * BLK_SECTOR; i++) dst[i] = buf[i];
    return VIRTIO_BLK_S_OK;
}

static int mem_flush(void *ctx, uint64_t id)
{
    (void)ctx, (void)id; // the image is the memory init keeps: written is durable
    return VIRTIO_BLK_S_OK;
}

void blk_mem_init(struct blk_mem *m, uint8_t *base, uint64_t size)
{
    *m = (struct blk_mem){
        base, size, {m, size / BLK_SECTOR, mem_read, mem_write, mem_flush, NULL, 0, 0}};
}
