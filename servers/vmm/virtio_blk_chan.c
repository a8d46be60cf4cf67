// SPDX-License-Identifier: MIT
// The guest disk over a channel to servers/fs (virtio_blk_chan.h).
#include "virtio_blk_chan.h"

#include "proto/blk.h"

#define INFO_GPA(i)     ((i)&0xFFFFFFFFFFFFull)
#define INFO_SECTORS(i) ((uint32_t)((i) >> 48) & 0xFFu)
#define INFO_OP(i)      ((uint32_t)((i) >> 56))
#define ID_SLOT(id)     ((unsigned)((id)&0xFF))
#define ID_VIRTIO(id)   ((id) >> 16)

static struct vblk_chan_state *state(const struct vblk_chan *c)
{
    return (struct vblk_chan_state *)((uint8_t *)*c->cur + c->off);
}

unsigned vblk_chan_room(const struct vblk_chan *c)
{
    const struct vblk_chan_state *s = state(c);
    unsigned space = chan_space(&c->req), n = 0;
    for (; n < space; n++) {
        unsigned slot = (c->req.head + n) % CHAN_ENTRIES;
        if (s->rec[slot].id || (c->freed >> slot & 1)) break;
    }
    return n;
}

/* One request at the head: its record, its data (a write's), then the descriptor. */
static int produce(struct vblk_chan *c, uint64_t vid, uint32_t op, uint64_t sector,
                   const uint8_t *buf, uint32_t count)
{
    struct vblk_chan_state *s = state(c);
    uint32_t len = count * BLK_SECTOR;
    uint64_t gpa = buf ? (uint64_t)(buf - c->ram) : 0;
    // the virtio layer checked the buffer against guest RAM and the disk's size; the slot's
    // size is the segment limit the device offered (size_max), which a hostile guest may ignore
    if (len > c->slot_size || (buf && (gpa > c->ram_size || len > c->ram_size - gpa)) ||
        vid >> 47 || !vblk_chan_room(c))
        return VIRTIO_BLK_S_IOERR;
    unsigned slot = c->req.head % CHAN_ENTRIES;
    uint64_t id = vid << 16 | (uint64_t)c->instance << 8 | slot;
    chan_desc_t d = {.id = id,
                     .op = op,
                     .offset = sector,
                     .data_offset = slot * c->slot_size,
                     .len = op == CHAN_OP_FLUSH ? 0 : len};
    if (op == CHAN_OP_WRITE) {
        uint8_t *dst = c->data + d.data_offset;
        for (uint32_t i = 0; i < len; i++) dst[i] = buf[i];
    }
    s->rec[slot] =
        (struct vblk_chan_rec){id, gpa | (uint64_t)(count & 0xFF) << 48 | (uint64_t)op << 56};
    if (chan_produce(&c->req, &d)) { // fs corrupted its tail
        s->rec[slot] = (struct vblk_chan_rec){0};
        return VIRTIO_BLK_S_IOERR;
    }
    s->sent++;
    c->signal = true;
    return BLK_PENDING;
}

static int be_read(void *ctx, uint64_t id, uint64_t sector, uint8_t *buf, uint32_t count)
{
    return produce(ctx, id, CHAN_OP_READ, sector, buf, count);
}

static int be_write(void *ctx, uint64_t id, uint64_t sector, const uint8_t *buf, uint32_t count)
{
    return produce(ctx, id, CHAN_OP_WRITE, sector, buf, count);
}

static int be_flush(void *ctx, uint64_t id) { return produce(ctx, id, CHAN_OP_FLUSH, 0, NULL, 0); }

/* Whether a whole request of the most segments the device offers fits now. */
static bool be_ready(void *ctx) { return vblk_chan_room(ctx) >= VBLK_CHAN_SEG_MAX; }

int vblk_chan_init(struct vblk_chan *c, void *base, uint64_t data_size, uint8_t *ram,
                   uint64_t ram_size, void *const *cur, size_t off, uint64_t instance)
{
    uint64_t slot = 64 * 1024;
    while (slot > 4096 && slot * CHAN_ENTRIES > data_size) slot /= 2;
    *c = (struct vblk_chan){.data = chan_data(base),
                            .data_size = data_size,
                            .slot_size = (uint32_t)slot,
                            .ram = ram,
                            .ram_size = ram_size,
                            .cur = cur,
                            .off = off,
                            .instance = (uint8_t)instance};
    c->be = (struct blk_backend){.ctx = c,
                                 .sectors = 0,
                                 .read = be_read,
                                 .write = be_write,
                                 .flush = be_flush,
                                 .ready = be_ready,
                                 .seg_max = VBLK_CHAN_SEG_MAX,
                                 .size_max = (uint32_t)slot};
    if (slot * CHAN_ENTRIES > data_size) return RS_INVALID_ARGUMENT;
    int err = chan_producer_attach(&c->req, chan_req_ring(base));
    if (chan_consumer_attach(&c->comp, chan_comp_ring(base))) err = RS_RANGE_ERROR;
    return err;
}

int vblk_chan_ask_info(struct vblk_chan *c)
{
    chan_desc_t d = {.id = VBLK_CHAN_INFO_ID | (uint64_t)c->instance << 8, .op = BLK_OP_INFO};
    int err = chan_produce(&c->req, &d);
    if (!err) c->signal = true;
    return err;
}

int vblk_chan_info(struct vblk_chan *c, uint64_t *sectors)
{
    chan_desc_t d;
    int got = 0;
    while (!got && chan_consume(&c->comp, &d) == RS_OK) {
        chan_release(&c->comp);
        // any instance's size query: nothing else was ever sent before the size was known
        if (d.op != BLK_OP_INFO || (d.id & VBLK_CHAN_INFO_ID) != VBLK_CHAN_INFO_ID) continue;
        if (d.status != RS_OK) return -(int)(d.status ? d.status : RS_INVALID_ARGUMENT);
        *sectors = d.offset;
        got = 1;
    }
    return got;
}

unsigned vblk_chan_reap(struct vblk_chan *c, struct virtio_blk *b, const struct vq_ram *ram,
                        unsigned max)
{
    struct vblk_chan_state *s = state(c);
    unsigned n = 0;
    chan_desc_t d;
    while (n < max && chan_consume(&c->comp, &d) == RS_OK) {
        n++;
        c->consumed++;
        unsigned slot = ID_SLOT(d.id);
        struct vblk_chan_rec *r = slot < CHAN_ENTRIES ? &s->rec[slot] : NULL;
        if (!r || !d.id || r->id != d.id) { // a duplicate, an orphan, or the size query
            s->ignored++;
            continue;
        }
        uint64_t info = r->info;
        uint32_t len = INFO_SECTORS(info) * BLK_SECTOR;
        uint64_t gpa = INFO_GPA(info);
        int status = d.status == RS_OK ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR;
        // our own record says where the data lies and goes (fs's copy of it is not trusted);
        // a request the guest dropped by resetting the device writes nothing into its memory
        bool live = false;
        for (unsigned i = 0; i < BLK_INFLIGHT; i++) live |= b->inflight[i].id == ID_VIRTIO(d.id);
        if (live && status == VIRTIO_BLK_S_OK && INFO_OP(info) == CHAN_OP_READ && len &&
            gpa <= c->ram_size && len <= c->ram_size - gpa) {
            const uint8_t *src = c->data + (uint64_t)slot * c->slot_size;
            for (uint32_t i = 0; i < len; i++) c->ram[gpa + i] = src[i];
        }
        if (status != VIRTIO_BLK_S_OK) s->errors++;
        *r = (struct vblk_chan_rec){0};
        c->freed |= 1ull << slot;
        s->done++;
        virtio_blk_complete(b, ram, &c->be, ID_VIRTIO(d.id), status);
    }
    return n;
}

bool vblk_chan_committed(struct vblk_chan *c)
{
    bool any = c->consumed > 0;
    for (; c->consumed; c->consumed--) chan_release(&c->comp);
    c->freed = 0;
    return any;
}
