// SPDX-License-Identifier: MIT
// Validation of an inherited VMM state: every index, count and enumerated field of each device
// model brought into range by that model's own rule, so that a state with flipped bits (found by
// its checksum with no good copy to fall back on, or committed with them) never makes a model
// index out of bounds or loop, and the guest keeps what survived (docs/virtualization.md, "Validating inherited state").
#include "vmm.h"

/* Sets *f to v if it is not ok; counts the change. */
static unsigned fix8(uint8_t *f, bool ok, uint8_t v)
{
    if (ok) return 0;
    *f = v;
    return 1;
}

static unsigned fix32(uint32_t *f, bool ok, uint32_t v)
{
    if (ok) return 0;
    *f = v;
    return 1;
}

static unsigned fix16(uint16_t *f, bool ok, uint16_t v)
{
    if (ok) return 0;
    *f = v;
    return 1;
}

/* A flag is 0 or 1; anything else was 1 with bits flipped (or 0: either is a state the model
 * can be in, so the guest sees at most a spurious or a lost event). */
static unsigned flag(uint8_t *f) { return fix8(f, *f <= 1, 1); }

/* UART: the receive FIFO's head and count, the transmit buffer's length; the rest are registers
 * whose every value is one a guest can write. Lost bytes rather than bytes from nowhere. */
static unsigned uart_sanitize(struct uart *u)
{
    unsigned n = fix8(&u->rx_head, u->rx_head < UART_FIFO, 0);
    n += fix8(&u->rx_count, u->rx_count <= UART_FIFO, 0);
    n += fix8(&u->tx_len, u->tx_len <= UART_TX_MAX, 0);
    n += flag(&u->thre_pending);
    return n;
}

/* The console's line and input queue: a bad length drops what they held. */
static unsigned console_sanitize(struct vmm_console *c)
{
    unsigned n = fix16(&c->len, c->len <= UART_LINE_MAX, 0);
    n += fix8(&c->q_head, c->q_head < VMM_INPUT_QUEUE, 0);
    n += fix8(&c->q_len, c->q_len <= VMM_INPUT_QUEUE, 0);
    n += flag(&c->raw);
    return n;
}

/* 8254: a channel's control word has 6 bits, its count 16, its latch at most 2 bytes. */
static unsigned pit_sanitize(struct pit *p)
{
    unsigned n = fix8(&p->port61, p->port61 <= 0x0F, p->port61 & 0x0F);
    for (unsigned i = 0; i < 3; i++) {
        struct pit_channel *c = &p->ch[i];
        n += fix8(&c->ctrl, c->ctrl <= 0x3F, c->ctrl & 0x3F);
        n += fix32(&c->count, c->count <= 0xFFFF, c->count & 0xFFFF);
        n += fix8(&c->latch_bytes, c->latch_bytes <= 2, 0);
        n += flag(&c->loaded) + flag(&c->started) + flag(&c->counting);
        n += flag(&c->write_high) + flag(&c->read_high) + flag(&c->status_latched);
    }
    return n;
}

/* 8259A: the ICW expected next is 2, 3 or 4 (0: initialised); the rotation's highest IR 0..7;
 * ICW2's low 3 bits are not part of the vector base. */
static unsigned pic_sanitize(struct pic_pair *pp)
{
    unsigned n = 0;
    for (unsigned i = 0; i < 2; i++) {
        struct pic *c = &pp->chip[i];
        n += fix8(&c->init, c->init == 0 || (c->init >= 2 && c->init <= 4), 0);
        n += fix8(&c->highest, c->highest <= 7, c->highest & 7);
        n += fix8(&c->base, !(c->base & 7), c->base & 0xF8);
        n += flag(&c->icw4) + flag(&c->single) + flag(&c->ltim) + flag(&c->aeoi);
        n += flag(&c->sfnm) + flag(&c->rotate) + flag(&c->smm) + flag(&c->read_isr);
        n += flag(&c->poll);
    }
    return n;
}

/* MC146818: the index register has 7 bits (bit 7 is the NMI mask, kept apart). */
static unsigned rtc_sanitize(struct rtc *r)
{
    return fix8(&r->index, r->index <= 0x7F, r->index & 0x7F) + flag(&r->nmi_off);
}

/* Local APIC: TDCR has bits 0, 1, 3 (SDM vol 3 10.5.4). */
static unsigned lapic_sanitize(struct lapic *l)
{
    return fix32(&l->tdcr, !(l->tdcr & ~0xBu), l->tdcr & 0xB) + flag(&l->enabled) +
           flag(&l->timer_running);
}

/* 82093AA: a 4-bit ID. */
static unsigned ioapic_sanitize(struct ioapic *io)
{
    unsigned n = fix8(&io->id, io->id <= 0xF, io->id & 0xF);
    n += fix32(&io->lines, !(io->lines >> IOAPIC_PINS), io->lines & ((1u << IOAPIC_PINS) - 1));
    return n;
}

/* A virtio-mmio transport: the queue selector in range, each queue's size a power of 2 no
 * larger than offered. A queue that is not is one the device cannot use: it goes to
 * DEVICE_NEEDS_RESET (virtio 1.1 2.1.2), as for malformed rings, and the driver resets it. */
static unsigned vmmio_sanitize(struct virtio_mmio *t)
{
    unsigned n = fix32(&t->queue_sel, t->queue_sel < VIRTIO_MMIO_QUEUES, 0);
    for (unsigned i = 0; i < VIRTIO_MMIO_QUEUES; i++) {
        struct virtq *q = &t->q[i];
        n += flag(&q->ready);
        if (q->num > VQ_NUM_MAX || (q->num & (q->num - 1))) {
            q->num = 0;
            q->ready = 0;
            t->status |= VIRTIO_S_NEEDS_RESET;
            n++;
        }
    }
    return n;
}

/* virtio-blk: a request in flight names a used-ring entry below the queue size; one that does
 * not is dropped (its parts may never be answered) and the device asks for a reset. */
static unsigned vblk_sanitize(struct virtio_blk *b)
{
    unsigned n = vmmio_sanitize(&b->t);
    for (unsigned i = 0; i < BLK_INFLIGHT; i++) {
        struct blk_inflight *f = &b->inflight[i];
        if (f->id && (f->head >= VQ_NUM_MAX || f->parts > VQ_SEG_MAX)) {
            *f = (struct blk_inflight){0};
            b->t.status |= VIRTIO_S_NEEDS_RESET;
            n++;
        }
    }
    return n;
}

unsigned vmm_state_sanitize(struct vmm_state *s)
{
    unsigned n = flag(&s->irq_pending) + fix32(&s->dirty, !s->dirty, 0);
    // a stop is for good: only a clean VMM_STOPPED stops the guest, flipped bits do not
    n += fix8(&s->stopped, s->stopped <= VMM_STOPPED && (!s->stopped || s->stop_reason),
              VMM_RUNNING);
    n += fix8(&s->platform, s->platform <= VMM_PLATFORM_PC,
              s->pc.initialised == 1 ? VMM_PLATFORM_PC : VMM_PLATFORM_FLAT);
    n += uart_sanitize(&s->uart) + console_sanitize(&s->console) + pit_sanitize(&s->pit);
    // the tiny guests' time is now_ns: timer times out of its reach are repaired (pit.h); the
    // pc platform's PIT runs on TSC time, which the state does not hold
    if (s->platform == VMM_PLATFORM_FLAT) n += pit_repair(&s->pit, s->now_ns);
    n += fix32(&s->once.n, s->once.n <= VMM_ONCE_MAX, VMM_ONCE_MAX);
    n += fix32(&s->last.len, s->last.len <= RS_REPLY_MR_COUNT, RS_REPLY_MR_COUNT);
    n += fix32(&s->out.len, s->out.len <= VMM_OUT_MAX, 0);
    if (s->platform == VMM_PLATFORM_PC) {
        struct pc *pc = &s->pc;
        n += pic_sanitize(&pc->pic) + rtc_sanitize(&pc->rtc) + lapic_sanitize(&pc->lapic);
        n += ioapic_sanitize(&pc->ioapic);
        n += flag(&pc->initialised) + flag(&pc->reset_wanted) + flag(&pc->blk_present);
        n += flag(&pc->blk_line) + flag(&pc->net_present) + flag(&pc->net_line);
        n += vblk_sanitize(&pc->blk) + vmmio_sanitize(&pc->net.t);
    }
    return n;
}
