// SPDX-License-Identifier: MIT
// The VMM's persistent state and its output. A transaction (one exit, or one tick) changes a
// copy of the committed state; committing switches copies with one store. The record of the last
// reply lets a restarted VMM answer an exit that comes back (its predecessor died after the commit
// but before the reply) with the same reply instead of emulating it twice; output is printed
// after its commit, so a crash before the commit prints nothing and the exit produces it again.
#include "vmm.h"
#include "fmt.h"

#define BARRIER() __asm__ volatile("" ::: "memory")

static void twin(struct vmm_persist *p);

/* replied_seq if its complement agrees; else (a stray write into either) `unknown`. */
static uint64_t replied(const struct vmm_persist *p, uint64_t unknown)
{
    return p->replied_chk == ~p->replied_seq ? p->replied_seq : unknown;
}

uint64_t vmm_state_sum(const struct vmm_state *s)
{
    // word by word: the state is 8-byte aligned and a multiple of 8 bytes (static assert below)
    const uint64_t *w = (const uint64_t *)(const void *)s;
    uint64_t h = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < sizeof(*s) / 8; i++) {
        h = (h ^ w[i]) * 0xBF58476D1CE4E5B9ull;
        h ^= h >> 31;
    }
    return h;
}
_Static_assert(sizeof(struct vmm_state) % 8 == 0, "vmm_state_sum reads whole words");

struct vmm_persist *vmm_persist_open(void *base, uint64_t size)
{
    struct vmm_persist *p = base;
    if (!base || size < sizeof(*p)) return NULL;
    // a few flipped bits of the magic are a stray write, not a region never used: resetting the
    // guest's devices under it would kill it
    unsigned flipped = 0;
    for (uint64_t d = p->magic ^ VMM_PERSIST_MAGIC; d; d &= d - 1) flipped++;
    if (flipped <= 8) p->magic = VMM_PERSIST_MAGIC;
    if (p->magic != VMM_PERSIST_MAGIC) {
        memset(p, 0, sizeof(*p));
        uart_reset(&p->copy[0].uart);
        uart_reset(&p->copy[1].uart);
        p->sum[0] = p->sum[1] = vmm_state_sum(&p->copy[0]);
        p->replied_chk = ~0ull;
        BARRIER();
        p->magic = VMM_PERSIST_MAGIC;
    }
    p->current &= 1; // the region is the VMM's own: a wild write must not take us out of bounds
    vmm_persist_check(p);
    // what a checksum cannot tell: a state committed with a field out of range (a stray write
    // into the copy under way, or a bug) is made safe before this instance uses it
    unsigned c = p->current & 1;
    if (vmm_state_sanitize(&p->copy[c])) {
        p->sum[c] = vmm_state_sum(&p->copy[c]);
        p->sanitized++;
    }
    twin(p); // a predecessor may have died in a transaction: the spare is no twin then
    return p;
}

/* The spare copy becomes the committed one's twin (what vmm_persist_check repairs from). */
static void twin(struct vmm_persist *p)
{
    unsigned c = p->current & 1;
    p->copy[!c] = p->copy[c];
    p->sum[!c] = p->sum[c];
    p->sealed = 0;
}

void vmm_abandon(struct vmm_persist *p) { twin(p); }

/* Both twins corrupt (a stray write of a few bits that hit both): they differ in a few words;
 * one choice per word gives back the state whose checksum the committed copy had. True if one
 * did (both copies are that state again). */
#define VOTE_MAX 8 /* differing words tried: 2^8 checksums at most */
static bool vote(struct vmm_persist *p)
{
    unsigned c = p->current & 1, idx[VOTE_MAX], n = 0;
    uint64_t *a = (uint64_t *)(void *)&p->copy[c], *b = (uint64_t *)(void *)&p->copy[!c];
    for (size_t i = 0; i < sizeof(struct vmm_state) / 8; i++) {
        if (a[i] == b[i]) continue;
        if (n == VOTE_MAX) return false;
        idx[n++] = (unsigned)i;
    }
    uint64_t orig[VOTE_MAX], other[VOTE_MAX];
    for (unsigned k = 0; k < n; k++) orig[k] = a[idx[k]], other[k] = b[idx[k]];
    for (unsigned m = 0; m < (1u << n); m++) {
        for (unsigned k = 0; k < n; k++) a[idx[k]] = m >> k & 1 ? other[k] : orig[k];
        uint64_t sum = vmm_state_sum(&p->copy[c]);
        // the other's checksum: the committed one's may be a flipped word too; but not a state
        // behind a reply the guest has seen (see vmm_persist_check)
        if (sum == p->sum[c] || (sum == p->sum[!c] && p->copy[c].seq >= replied(p, UINT64_MAX))) {
            p->sum[c] = sum;
            twin(p);
            return true;
        }
    }
    for (unsigned k = 0; k < n; k++) a[idx[k]] = orig[k];
    return false;
}

enum vmm_check vmm_persist_check(struct vmm_persist *p)
{
    unsigned c = p->current & 1;
    if (vmm_state_sum(&p->copy[c]) == p->sum[c]) return VMM_STATE_OK;
    const struct vmm_state *o = &p->copy[!c];
    // (replied_seq unknown: the guest may have seen any reply, so no older state is taken)
    // the twin's checksum the committed one's too: the same state, whatever replied_seq says
    if (vmm_state_sum(o) == p->sum[!c] &&
        (p->sum[!c] == p->sum[c] || o->seq >= replied(p, UINT64_MAX))) {
        p->copy[c] = *o;
        p->sum[c] = p->sum[!c];
        p->repaired++;
        return VMM_STATE_REPAIRED;
    }
    if (vote(p)) {
        p->repaired++;
        return VMM_STATE_REPAIRED;
    }
    vmm_state_sanitize(&p->copy[c]);
    p->sum[c] = vmm_state_sum(&p->copy[c]);
    p->sanitized++;
    return VMM_STATE_SANITIZED;
}

const struct vmm_state *vmm_committed(const struct vmm_persist *p)
{
    return &p->copy[p->current & 1];
}

struct vmm_state *vmm_begin(struct vmm_persist *p)
{
    vmm_persist_check(p);
    p->sealed = 0;
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

void vmm_seal(struct vmm_persist *p)
{
    unsigned spare = !(p->current & 1);
    p->sum[spare] = vmm_state_sum(&p->copy[spare]);
    p->sealed = VMM_SEALED;
}

void vmm_commit(struct vmm_persist *p)
{
    unsigned spare = !(p->current & 1);
    struct vmm_state *s = &p->copy[spare];
    // changed since its seal: a stray write into the transaction; committed, it would carry a
    // good checksum. The crash makes the exit come back to a new instance, which emulates it
    // again from the committed state.
    if (p->sealed == VMM_SEALED && vmm_state_sum(s) != p->sum[spare]) __builtin_trap();
    p->sealed = 0;
    if (s->out.len) s->out_seq++, s->out_end += s->out.len;
    p->sum[spare] = vmm_state_sum(s);
    BARRIER(); // the copy and its checksum are complete before it becomes the committed one
    p->current = spare;
    BARRIER();
    // the other copy becomes this one's twin: what vmm_persist_check repairs from. A crash
    // before this is done leaves the other copy as the state before the commit, with its own
    // checksum: the exit whose reply has not gone out comes back and is emulated again from it.
    twin(p);
}

void vmm_mark_replied(struct vmm_persist *p)
{
    uint64_t seq = vmm_committed(p)->seq;
    p->replied_seq = seq;
    BARRIER();
    p->replied_chk = ~seq;
}

bool vmm_is_redelivery(struct vmm_persist *p, uint64_t fp)
{
    vmm_persist_check(p); // the record answered from must be the one committed
    const struct vmm_state *s = vmm_committed(p);
    // replied_seq unknown (flipped bits): taken as replied. A HLT's exit often repeats the last
    // one word for word: answering it from the record would let the guest run past its HLT
    // again and again with nothing ever emulated (system-campaign-vmm-corrupt found it)
    return s->seq && s->seq != replied(p, s->seq) && s->last_fp == fp;
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
