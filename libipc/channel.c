// SPDX-License-Identifier: MIT
// Channel rings: single-producer/single-consumer descriptor queues in memory shared with an
// untrusted peer. Every index the peer writes is read once, checked, and never stored back.
#include "channel.h"

/* The peer's index: one acquire load, so that the entries it published before moving the index
 * are visible before we read them (on x86 a compiler barrier; SDM vol 3 8.2.2: loads are not
 * reordered with other loads). */
static inline uint32_t load_acquire(volatile uint32_t *p)
{
    return __atomic_load_n((uint32_t *)p, __ATOMIC_ACQUIRE);
}

/* Our own index: a release store, so that the entries (or the reads of them) before it are
 * complete when the peer sees it (SDM vol 3 8.2.2: stores are not reordered with older loads
 * or stores). */
static inline void store_release(volatile uint32_t *p, uint32_t v)
{
    __atomic_store_n((uint32_t *)p, v, __ATOMIC_RELEASE);
}

void chan_format(void *base)
{
    uint8_t *b = base;
    for (unsigned i = 0; i < CHAN_DATA_OFFSET; i++) b[i] = 0;
}

int chan_producer_attach(chan_producer_t *p, chan_ring_t *ring)
{
    p->ring = ring;
    p->head = ring->head;
    uint32_t tail = load_acquire(&ring->tail);
    if (p->head - tail > CHAN_ENTRIES) {
        p->head = tail;
        store_release(&ring->head, tail);
        return RS_RANGE_ERROR;
    }
    return RS_OK;
}

unsigned chan_pending(const chan_producer_t *p)
{
    uint32_t used = p->head - load_acquire(&p->ring->tail);
    return used > CHAN_ENTRIES ? CHAN_ENTRIES : used;
}

unsigned chan_space(const chan_producer_t *p) { return CHAN_ENTRIES - chan_pending(p); }

int chan_produce(chan_producer_t *p, const chan_desc_t *d)
{
    uint32_t used = p->head - load_acquire(&p->ring->tail);
    if (used > CHAN_ENTRIES) return RS_RANGE_ERROR;
    if (used == CHAN_ENTRIES) return RS_WOULD_BLOCK;
    p->ring->desc[p->head % CHAN_ENTRIES] = *d;
    p->head++;
    store_release(&p->ring->head, p->head);
    return RS_OK;
}

int chan_consumer_attach(chan_consumer_t *c, chan_ring_t *ring)
{
    c->ring = ring;
    c->tail = c->next = ring->tail;
    return load_acquire(&ring->head) - c->tail > CHAN_ENTRIES ? RS_RANGE_ERROR : RS_OK;
}

void chan_consumer_skip_all(chan_consumer_t *c)
{
    c->tail = c->next = load_acquire(&c->ring->head);
    store_release(&c->ring->tail, c->tail);
}

int chan_consume(chan_consumer_t *c, chan_desc_t *d)
{
    uint32_t head = load_acquire(&c->ring->head);
    // both relative to our tail: a head behind what we read, or too far ahead, is the peer's bug
    if (head - c->tail > CHAN_ENTRIES || head - c->tail < c->next - c->tail) return RS_RANGE_ERROR;
    if (head == c->next) return RS_WOULD_BLOCK;
    *d = c->ring->desc[c->next % CHAN_ENTRIES]; // a private copy: checked and used from here on
    c->next++;
    return RS_OK;
}

int chan_release(chan_consumer_t *c)
{
    if (c->tail == c->next) return RS_WOULD_BLOCK;
    c->tail++;
    store_release(&c->ring->tail, c->tail);
    return RS_OK;
}

int chan_desc_check(const chan_desc_t *d, uint64_t data_size, uint64_t sectors, uint32_t max_len)
{
    if (d->op != CHAN_OP_READ && d->op != CHAN_OP_WRITE && d->op != CHAN_OP_FLUSH)
        return RS_ILLEGAL_OPERATION;
    if (!d->id) return RS_INVALID_ARGUMENT;
    if (d->op == CHAN_OP_FLUSH) return RS_OK;
    if (!d->len || d->len % CHAN_SECTOR || d->len > max_len) return RS_INVALID_ARGUMENT;
    // 64-bit sums of 32-bit values cannot wrap
    if ((uint64_t)d->data_offset + d->len > data_size) return RS_BAD_ADDRESS;
    uint64_t n = d->len / CHAN_SECTOR;
    if (d->offset >= sectors || n > sectors - d->offset) return RS_RANGE_ERROR;
    return RS_OK;
}
