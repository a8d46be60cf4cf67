// SPDX-License-Identifier: MIT
// The split virtqueue (virtqueue.h), device side, virtio 1.2 section 2.7: descriptors of 16 bytes
// (addr, len, flags, next), the available ring (flags, idx, ring[num]) and the used ring (flags,
// idx, ring[num] of {id, len}), all little-endian in guest RAM.
#include "virtqueue.h"
#include "le.h"

void vq_reset(struct virtq *q) { *q = (struct virtq){.num = VQ_NUM_MAX}; }

/* Whether [gpa, gpa + len) lies inside RAM (no wrap-around). */
static bool in_ram(const struct vq_ram *ram, uint64_t gpa, uint64_t len)
{
    return gpa <= ram->size && len <= ram->size - gpa;
}

bool vq_valid(const struct virtq *q, const struct vq_ram *ram)
{
    uint64_t n = q->num;
    return n && n <= VQ_NUM_MAX && !(n & (n - 1)) && !(q->desc & 15) && !(q->avail & 1) &&
           !(q->used & 3) && in_ram(ram, q->desc, 16 * n) && in_ram(ram, q->avail, 6 + 2 * n) &&
           in_ram(ram, q->used, 6 + 8 * n);
}

enum vq_result vq_pop(struct virtq *q, const struct vq_ram *ram, struct vq_chain *c)
{
    if (!vq_valid(q, ram)) return VQ_BROKEN;
    uint16_t avail_idx = le_get16(ram->base + q->avail + 2);
    uint16_t pending = (uint16_t)(avail_idx - q->last_avail);
    if (!pending) return VQ_EMPTY;
    if (pending > q->num) return VQ_BROKEN; // the driver cannot have more out than the ring holds
    uint16_t head = le_get16(ram->base + q->avail + 4 + 2 * (q->last_avail % q->num));
    *c = (struct vq_chain){.head = head};
    uint64_t total = 0;
    uint16_t i = head;
    bool seen_write = false;
    // a chain visits each descriptor once at most: more than num of them is a loop
    for (unsigned count = 0;; count++) {
        if (i >= q->num || count >= q->num || c->n >= VQ_SEG_MAX) return VQ_BROKEN;
        const uint8_t *d = ram->base + q->desc + 16ull * i;
        uint64_t addr = le_get64(d);
        uint32_t len = le_get32(d + 8);
        uint16_t flags = le_get16(d + 12), next = le_get16(d + 14);
        if (flags & VQ_DESC_F_INDIRECT) return VQ_BROKEN;
        if (!in_ram(ram, addr, len)) return VQ_BROKEN;
        total += len;
        if (total > VQ_BYTES_MAX) return VQ_BROKEN;
        bool w = flags & VQ_DESC_F_WRITE;
        if (!w && seen_write) return VQ_BROKEN; // 2.7.4.2: readable buffers come first
        seen_write |= w;
        c->seg[c->n++] = (struct vq_seg){addr, len, w};
        if (w) c->in_bytes += len;
        else c->out_bytes += len;
        if (!(flags & VQ_DESC_F_NEXT)) break;
        i = next;
    }
    q->last_avail++;
    return VQ_CHAIN;
}

bool vq_push(struct virtq *q, const struct vq_ram *ram, uint16_t head, uint32_t len)
{
    if (!vq_valid(q, ram)) return false;
    uint8_t *e = ram->base + q->used + 4 + 8ull * (q->used_idx % q->num);
    le_put32(e, head);
    le_put32(e + 4, len);
    __asm__ volatile("" ::: "memory"); // the element before the index (x86 keeps stores in order)
    q->used_idx++;
    le_put16(ram->base + q->used + 2, q->used_idx);
    return true;
}

static uint32_t chain_copy(const struct vq_chain *c, const struct vq_ram *ram, bool write_segs,
                           uint32_t off, uint8_t *buf, uint32_t n, bool to_guest)
{
    uint32_t done = 0;
    for (unsigned i = 0; i < c->n && i < VQ_SEG_MAX && done < n; i++) {
        const struct vq_seg *s = &c->seg[i];
        if (!!s->write != write_segs) continue;
        if (off >= s->len) {
            off -= s->len;
            continue;
        }
        uint32_t k = s->len - off < n - done ? s->len - off : n - done;
        if (!in_ram(ram, s->gpa + off, k)) break; // checked by vq_pop; RAM does not shrink
        uint8_t *g = ram->base + s->gpa + off;
        for (uint32_t j = 0; j < k; j++) {
            if (to_guest) g[j] = buf[done + j];
            else buf[done + j] = g[j];
        }
        done += k;
        off = 0;
    }
    return done;
}

uint32_t vq_chain_read(const struct vq_chain *c, const struct vq_ram *ram, uint32_t off, void *dst,
                       uint32_t n)
{
    return chain_copy(c, ram, false, off, dst, n, false);
}

uint32_t vq_chain_write(const struct vq_chain *c, const struct vq_ram *ram, uint32_t off,
                        const void *src, uint32_t n)
{
    return chain_copy(c, ram, true, off, (uint8_t *)src, n, true);
}
