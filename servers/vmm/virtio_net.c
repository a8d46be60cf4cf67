// SPDX-License-Identifier: MIT
// virtio-net (virtio_net.h), virtio 1.2 section 5.1, on a network link (proto/net.h). The
// configuration space is {mac[6], status u16} (5.1.4); used elements are written during the
// transaction and their index published after its commit (virtio_net_committed).
#include "virtio_net.h"
#include "le.h"

struct net_ctx {
    struct virtio_net *n;
    const struct vq_ram *ram;
    struct vnet_link *l;
};

void virtio_net_reset(struct virtio_net *n, const uint8_t mac[6])
{
    *n = (struct virtio_net){0};
    for (unsigned i = 0; i < 6; i++) n->mac[i] = mac[i];
    virtio_mmio_reset(&n->t);
}

bool virtio_net_irq(const struct virtio_net *n) { return virtio_mmio_irq(&n->t); }

static bool link_tx_ok(const struct vnet_link *l)
{
    return l && l->tx && l->tx_data >= (uint64_t)CHAN_ENTRIES * NET_BUF_SIZE;
}

static bool link_rx_ok(const struct vnet_link *l)
{
    return l && l->rx && l->rx_data >= (uint64_t)CHAN_ENTRIES * NET_BUF_SIZE;
}

static uint64_t config_read(void *ctx, uint32_t off, unsigned size)
{
    const struct net_ctx *c = ctx;
    uint8_t cfg[8];
    for (unsigned i = 0; i < 6; i++) cfg[i] = c->n->mac[i];
    le_put16(cfg + 6, VIRTIO_NET_S_LINK_UP);
    uint64_t v = 0;
    for (unsigned k = 0; k < size; k++)
        if (off + k < sizeof(cfg)) v |= (uint64_t)cfg[off + k] << (8 * k);
    return v;
}

/* A used element, unpublished: the guest sees it once virtio_net_committed writes the index.
 * The used-buffer interrupt is withheld while the driver's available ring says
 * VIRTQ_AVAIL_F_NO_INTERRUPT (2.7.7; Linux sets it while its NAPI poll runs, and with napi_tx
 * off for its transmit queue); whether that was right is decided again after the index is
 * published (virtio_net_committed), so a driver that turned interrupts back on meanwhile gets
 * one. */
static bool put_used(struct net_ctx *x, unsigned qi, uint16_t head, uint32_t len)
{
    struct virtio_net *n = x->n;
    const struct vq_ram *ram = x->ram;
    struct virtq *q = &n->t.q[qi];
    if (!vq_valid(q, ram)) return false;
    uint8_t *e = ram->base + q->used + 4 + 8ull * (q->used_idx % q->num);
    le_put32(e, head);
    le_put32(e + 4, len);
    q->used_idx++;
    if ((le_get16(ram->base + q->avail) & VQ_AVAIL_F_NO_INTERRUPT) && x->l) {
        x->l->suppressed |= 1u << qi;
        n->s.irq_suppressed++;
    } else {
        virtio_mmio_used(&n->t);
    }
    return true;
}

static void broken(struct virtio_net *n)
{
    n->s.broken++;
    virtio_mmio_broken(&n->t);
}

/* The peer's completions of our frames: only to keep that ring moving and to count refusals. */
static void reap_tx(struct virtio_net *n, struct vnet_link *l)
{
    if (!link_tx_ok(l)) return;
    chan_consumer_t c;
    chan_desc_t d;
    chan_consumer_attach(&c, chan_comp_ring(l->tx));
    bool any = false;
    for (unsigned k = 0; k < CHAN_ENTRIES && chan_consume(&c, &d) == RS_OK; k++) {
        if (d.status != RS_OK) n->s.tx_refused++;
        chan_release(&c);
        any = true;
    }
    l->signal_tx |= any;
}

/* One transmit chain: header, then the frame. */
static void transmit(struct net_ctx *x, const struct vq_chain *c, chan_producer_t *p)
{
    struct virtio_net *n = x->n;
    uint32_t len = c->out_bytes >= VIRTIO_NET_HDR_LEN ? c->out_bytes - VIRTIO_NET_HDR_LEN : 0;
    if (len < NET_MIN_FRAME || len > NET_MAX_FRAME) {
        n->s.tx_bad++;
    } else if (!link_tx_ok(x->l) || !chan_space(p)) {
        n->s.tx_dropped++; // never wait for the peer (proto/net.h)
    } else {
        uint32_t off = NET_BUF_OFFSET(p->head);
        uint8_t *buf = chan_data(x->l->tx) + off;
        // the header asks for nothing we offer (no CSUM, no GSO): skipped
        if (vq_chain_read(c, x->ram, VIRTIO_NET_HDR_LEN, buf, len) == len) {
            chan_desc_t d = {
                .id = ++n->next_id, .op = NET_OP_FRAME, .data_offset = off, .len = len};
            if (chan_produce(p, &d) == RS_OK) {
                n->s.tx_frames++;
                x->l->signal_tx = true;
            } else {
                n->s.tx_dropped++; // the peer corrupted its tail
            }
        } else {
            n->s.tx_bad++;
        }
    }
    if (!put_used(x, VIRTIO_NET_TXQ, c->head, 0)) broken(n);
}

static void run_tx(struct net_ctx *x)
{
    struct virtio_net *n = x->n;
    chan_producer_t p = {0};
    reap_tx(n, x->l);
    if (link_tx_ok(x->l)) chan_producer_attach(&p, chan_req_ring(x->l->tx)); // at the shared head
    struct vq_chain c;
    // at most one ring's worth per notify: the guest cannot keep the VMM here
    for (unsigned k = 0; k < VQ_NUM_MAX && virtio_mmio_live(&n->t); k++) {
        if (!n->t.q[VIRTIO_NET_TXQ].ready) return;
        enum vq_result r = vq_pop(&n->t.q[VIRTIO_NET_TXQ], x->ram, &c);
        if (r == VQ_EMPTY) return;
        if (r == VQ_BROKEN) {
            broken(n);
            return;
        }
        transmit(x, &c, &p);
    }
}

/* One frame from the peer (request d, already checked) into the guest's next receive buffer. */
static uint32_t receive(struct net_ctx *x, const chan_desc_t *d)
{
    struct virtio_net *n = x->n;
    struct virtq *q = &n->t.q[VIRTIO_NET_RXQ];
    if (!virtio_mmio_live(&n->t) || !q->ready) {
        n->s.rx_dropped++;
        return NET_STATUS_DROPPED;
    }
    struct vq_chain c;
    enum vq_result r = vq_pop(q, x->ram, &c);
    if (r == VQ_EMPTY) {
        n->s.rx_dropped++;
        return NET_STATUS_DROPPED;
    }
    if (r == VQ_BROKEN) {
        broken(n);
        return NET_STATUS_DROPPED;
    }
    uint32_t total = VIRTIO_NET_HDR_LEN + d->len;
    if (c.in_bytes < total) { // given back empty: the driver counts a length error
        n->s.rx_small++;
        if (!put_used(x, VIRTIO_NET_RXQ, c.head, 0)) broken(n);
        return NET_STATUS_DROPPED;
    }
    uint8_t hdr[VIRTIO_NET_HDR_LEN] = {0};
    le_put16(hdr + 10, 1); // num_buffers
    vq_chain_write(&c, x->ram, 0, hdr, sizeof hdr);
    // straight from the channel's buffer: a peer changing it meanwhile changes only the bytes
    vq_chain_write(&c, x->ram, VIRTIO_NET_HDR_LEN, chan_data(x->l->rx) + d->data_offset, d->len);
    if (!put_used(x, VIRTIO_NET_RXQ, c.head, total)) {
        broken(n);
        return NET_STATUS_DROPPED;
    }
    n->s.rx_frames++;
    return RS_OK;
}

void virtio_net_poll(struct virtio_net *n, const struct vq_ram *ram, struct vnet_link *l)
{
    reap_tx(n, l);
    if (!link_rx_ok(l)) return;
    struct net_ctx x = {n, ram, l};
    // from the shared tail: what an uncommitted transaction took is taken again
    l->rx_taken = 0;
    chan_consumer_attach(&l->rx_req, chan_req_ring(l->rx));
    chan_desc_t d;
    while (l->rx_taken < CHAN_ENTRIES && chan_consume(&l->rx_req, &d) == RS_OK) {
        uint32_t status;
        if (d.op != NET_OP_FRAME || !d.id || d.len < NET_MIN_FRAME || d.len > NET_MAX_FRAME ||
            (uint64_t)d.data_offset + d.len > l->rx_data) {
            n->s.rx_bad++;
            status = RS_INVALID_ARGUMENT;
        } else {
            status = receive(&x, &d);
        }
        l->rx_status[l->rx_taken++] = status;
    }
}

/* Publishes queue qi's used index (2.7.8: the elements are in place before the index). */
static void publish(const struct virtio_net *n, unsigned qi, const struct vq_ram *ram)
{
    const struct virtq *q = &n->t.q[qi];
    if (!q->ready || !vq_valid(q, ram)) return;
    __asm__ volatile("" ::: "memory"); // x86 keeps stores in order
    le_put16(ram->base + q->used + 2, q->used_idx);
    // 2.7.10: the receive queue needs no notifications (frames are never held for buffers),
    // which saves the guest an exit per refill; the transmit queue does
    le_put16(ram->base + q->used, qi == VIRTIO_NET_RXQ ? VQ_USED_F_NO_NOTIFY : 0);
}

bool virtio_net_committed(const struct virtio_net *n, const struct vq_ram *ram, struct vnet_link *l)
{
    publish(n, VIRTIO_NET_RXQ, ram);
    publish(n, VIRTIO_NET_TXQ, ram);
    bool late = false;
    if (l && l->suppressed) {
        // 2.7.7's order: the used index, then the flag. A full fence: the index is a store, the
        // flag a load, which x86 may otherwise perform first (SDM vol 3, 9.2.3.4); the driver's
        // side is the mirror image (flag cleared, fence, index read: Linux virtqueue_poll)
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        for (unsigned qi = 0; qi < VIRTIO_NET_QUEUES; qi++) {
            const struct virtq *q = &n->t.q[qi];
            if (!(l->suppressed & (1u << qi)) || !q->ready || !vq_valid(q, ram)) continue;
            // still set: the driver polls after it clears the flag, so after this index
            if (!(le_get16(ram->base + q->avail) & VQ_AVAIL_F_NO_INTERRUPT)) late = true;
        }
        l->suppressed = 0;
    }
    if (!l || !l->rx_taken || !link_rx_ok(l)) return late;
    chan_producer_t p;
    chan_producer_attach(&p, chan_comp_ring(l->rx));
    for (uint32_t k = 0; k < l->rx_taken && k < CHAN_ENTRIES; k++) {
        const chan_desc_t *r = &l->rx_req.ring->desc[(l->rx_req.tail) % CHAN_ENTRIES];
        chan_desc_t d = {.id = r->id, .op = NET_OP_FRAME, .status = l->rx_status[k]};
        // a completion ring the peer does not drain: the completion is lost, the request is
        // still released (the sender needs completions only to count drops)
        chan_produce(&p, &d);
        chan_release(&l->rx_req);
    }
    l->rx_taken = 0;
    l->signal_rx = true;
    return late;
}

void virtio_net_interrupt(struct virtio_net *n, struct vnet_link *l)
{
    if (virtio_mmio_live(&n->t)) virtio_mmio_used(&n->t);
    if (l) l->suppressed = 0;
}

static void notify(void *ctx, unsigned q)
{
    struct net_ctx *x = ctx;
    if (q == VIRTIO_NET_TXQ) {
        run_tx(x);
        // and what waits on the link: taken in this exit, one commit and one interrupt for both
        // directions, instead of a notification's transaction of its own after it
        virtio_net_poll(x->n, x->ram, x->l);
    }
    // new receive buffers: frames are not held for them (dropped when none), nothing to do
}

static void reset(void *ctx)
{
    (void)ctx; // nothing in flight: every chain taken was given back in the same transaction
}

void virtio_net_access(struct virtio_net *n, const struct vq_ram *ram, struct vnet_link *l,
                       uint32_t off, unsigned size, bool write, uint64_t *value)
{
    struct net_ctx x = {n, ram, l};
    const struct virtio_dev d = {VIRTIO_ID_NET, VIRTIO_NET_FEATURES, 2, &x, config_read, notify,
                                 reset};
    virtio_mmio_access(&n->t, &d, off, size, write, value);
}
