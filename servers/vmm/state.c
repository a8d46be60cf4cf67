// SPDX-License-Identifier: MIT
// The VMM's persistent state and its output. A transaction (one exit, or one tick) changes a
// copy of the committed state; committing switches copies with one store. The record of the last
// reply lets a restarted VMM answer an exit that comes back (its predecessor died after the commit
// but before the reply) with the same reply instead of emulating it twice; output is printed
// after its commit, so a crash before the commit prints nothing and the exit produces it again.
#include "vmm.h"
#include "fmt.h"

#define BARRIER() __asm__ volatile("" ::: "memory")

struct vmm_persist *vmm_persist_open(void *base, uint64_t size)
{
    struct vmm_persist *p = base;
    if (!base || size < sizeof(*p)) return NULL;
    if (p->magic != VMM_PERSIST_MAGIC) {
        memset(p, 0, sizeof(*p));
        uart_reset(&p->copy[0].uart);
        uart_reset(&p->copy[1].uart);
        BARRIER();
        p->magic = VMM_PERSIST_MAGIC;
    }
    p->current &= 1; // the region is the VMM's own: a wild write must not take us out of bounds
    return p;
}

const struct vmm_state *vmm_committed(const struct vmm_persist *p)
{
    return &p->copy[p->current & 1];
}

struct vmm_state *vmm_begin(struct vmm_persist *p)
{
    struct vmm_state *s = &p->copy[!(p->current & 1)];
    *s = p->copy[p->current & 1];
    s->out.len = 0;
    return s;
}

void vmm_record(struct vmm_state *s, uint64_t fp, const struct vmm_reply *r)
{
    s->seq++;
    s->last_fp = fp;
    s->last = *r;
}

void vmm_commit(struct vmm_persist *p)
{
    unsigned spare = !(p->current & 1);
    struct vmm_state *s = &p->copy[spare];
    if (s->out.len) s->out_seq++, s->out_end += s->out.len;
    BARRIER(); // the copy is complete before it becomes the committed one
    p->current = spare;
    BARRIER();
}

void vmm_mark_replied(struct vmm_persist *p) { p->replied_seq = vmm_committed(p)->seq; }

bool vmm_is_redelivery(const struct vmm_persist *p, uint64_t fp)
{
    const struct vmm_state *s = vmm_committed(p);
    return s->seq && s->seq != p->replied_seq && s->last_fp == fp;
}

const struct vmm_out *vmm_unprinted(const struct vmm_persist *p)
{
    static const struct vmm_out none;
    const struct vmm_state *s = vmm_committed(p);
    return s->out_seq != p->printed_seq && s->out.len <= VMM_OUT_MAX ? &s->out : &none;
}

void vmm_mark_printed(struct vmm_persist *p) { p->printed_seq = vmm_committed(p)->out_seq; }

bool vmm_output_copy(struct vmm_output_ring *ring, const struct vmm_out *o, uint64_t end)
{
    uint64_t tail = ring->tail, start = end - o->len;
    if (!o->len || tail >= end) return true;        // nothing, or init printed it all already
    if (end - tail > VMM_OUTPUT_RING) return false; // bytes init has not printed would go
    for (unsigned i = 0; i < o->len && i < VMM_OUT_MAX; i++)
        ring->buf[(start + i) % VMM_OUTPUT_RING] = (uint8_t)o->text[i];
    BARRIER(); // the bytes are in before head says so (x86 keeps stores in order)
    if (ring->head < end) ring->head = end;
    return true;
}

/* A 64-bit multiply-xorshift hash of the words, one round per word (an exit has 34): only a
 * re-delivered exit is compared with it, so it needs to tell exits apart, not resist attack.
 * The interrupt-state bits are left out: the VMM's own requests change them while an exit is
 * held (an interrupt-window request after a restart, an injection the kernel holds), and the
 * same exit coming back with them changed must still be known, or it is emulated twice (a UART
 * byte printed twice: system-linux-vmm-crash found it). */
uint64_t vmm_fingerprint(const uint64_t *w, unsigned n)
{
    uint64_t h = 0x9E3779B97F4A7C15ull ^ n;
    for (unsigned i = 0; i < n; i++) {
        uint64_t word = w[i];
        if (i == RS_EXIT_MR_SEG)
            word &= ~(RS_EXIT_IRQ_SHADOW | RS_EXIT_IRQ_PENDING | RS_EXIT_IRQ_WINDOW);
        h = (h ^ word) * 0xBF58476D1CE4E5B9ull;
        h ^= h >> 31;
    }
    return h;
}

bool vmm_once(struct vmm_once *o, uint64_t key)
{
    uint32_t n = o->n < VMM_ONCE_MAX ? o->n : VMM_ONCE_MAX;
    for (uint32_t i = 0; i < n; i++)
        if (o->key[i] == key) return false;
    if (n == VMM_ONCE_MAX) return false;
    o->key[n] = key;
    o->n = n + 1;
    return true;
}

/* Appends text to the transaction's output; what does not fit is cut (the line still ends). */
static void out_append(struct vmm_out *o, const char *text, size_t len)
{
    if (o->len > VMM_OUT_MAX - 1) return;
    size_t room = VMM_OUT_MAX - 1 - o->len; // one byte kept for the newline
    if (len > room) len = room;
    memcpy(o->text + o->len, text, len);
    o->len += (uint32_t)len;
}

static void out_newline(struct vmm_out *o)
{
    if (o->len < VMM_OUT_MAX) o->text[o->len++] = '\n';
}

void vmm_guest_line(struct vmm *v, const char *text, size_t len)
{
    char buf[UART_LINE_MAX];
    if (len > sizeof(buf)) len = sizeof(buf);
    // the guest's bytes never reach the console raw: no escape sequences, no forged lines
    for (size_t i = 0; i < len; i++) buf[i] = text[i] >= 0x20 && text[i] < 0x7F ? text[i] : '.';
    out_append(&v->st->out, "[", 1);
    out_append(&v->st->out, v->name, strlen(v->name));
    out_append(&v->st->out, "] ", 2);
    out_append(&v->st->out, buf, len);
    out_newline(&v->st->out);
}

void vmm_guest_raw(struct vmm *v, const uint8_t *bytes, size_t len)
{
    struct vmm_out *o = &v->st->out;
    if (o->len > VMM_OUT_MAX) return;
    if (len > VMM_OUT_MAX - o->len) len = VMM_OUT_MAX - o->len; // the rest of a full output is lost
    memcpy(o->text + o->len, bytes, len);
    o->len += (uint32_t)len;
}

void vmm_guest_printf(struct vmm *v, const char *fmt, ...)
{
    char buf[UART_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = fmt_vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n > 0) vmm_guest_line(v, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

void vmm_log(struct vmm *v, const char *fmt, ...)
{
    char buf[160];
    va_list ap;
    va_start(ap, fmt);
    int n = fmt_vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0) return;
    out_append(&v->st->out, "vmm ", 4);
    out_append(&v->st->out, v->name, strlen(v->name));
    out_append(&v->st->out, ": ", 2);
    out_append(&v->st->out, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
    out_newline(&v->st->out);
}
