// SPDX-License-Identifier: MIT
// The VMM's persistent state and its output. A transaction (one exit, or one tick) changes a
// copy of the committed state; committing switches copies with one store. The record of the last
// reply lets a restarted VMM answer an exit that comes back (its predecessor died after the commit
// but before the reply) with the same reply instead of emulating it twice; output is printed
// after its commit, so a crash before the commit prints nothing and the exit produces it again.
#include "vmm.h"
#include "fmt.h"

#define BARRIER() __asm__ volatile("" ::: "memory")

/* The segments' places in struct vmm_state (vmm_seg). */
static const struct {
    uint16_t off, size;
} seg_at[VMM_SEGS] = {
    [VMM_SEG_CORE] = {0, offsetof(struct vmm_state, out)},
    [VMM_SEG_OUT] = {offsetof(struct vmm_state, out), sizeof(struct vmm_out)},
    [VMM_SEG_ONCE] = {offsetof(struct vmm_state, once), sizeof(struct vmm_once)},
    [VMM_SEG_UART] = {offsetof(struct vmm_state, uart), sizeof(struct uart)},
    [VMM_SEG_CONSOLE] = {offsetof(struct vmm_state, console), sizeof(struct vmm_console)},
    [VMM_SEG_PIT] = {offsetof(struct vmm_state, pit), sizeof(struct pit)},
    [VMM_SEG_PC] = {offsetof(struct vmm_state, pc), offsetof(struct pc, blk)},
    [VMM_SEG_BLK] = {offsetof(struct vmm_state, pc.blk), sizeof(struct virtio_blk)},
    [VMM_SEG_NET] = {offsetof(struct vmm_state, pc.net), sizeof(struct virtio_net)},
    [VMM_SEG_DISK] = {offsetof(struct vmm_state, disk_chan), sizeof(struct vblk_chan_state)},
};
_Static_assert(offsetof(struct vmm_state, last) % 8 == 0 &&
                   offsetof(struct vmm_state, out) % 8 == 0,
               "segments start on words");

/* The bytes of segment seg that hold something: the reply's words and the output's bytes in
 * use, the keys remembered (a corrupt count is bounded here, and caught by the checksum). */
static size_t seg_used(const struct vmm_state *s, unsigned seg)
{
    switch (seg) {
    case VMM_SEG_CORE: // with the record's words in use (it follows the core)
        return offsetof(struct vmm_state, last.w) +
               8 * (s->last.len < RS_REPLY_MR_COUNT ? s->last.len : RS_REPLY_MR_COUNT);
    case VMM_SEG_OUT:
        return offsetof(struct vmm_out, text) +
               (s->out.len < VMM_OUT_MAX ? s->out.len : VMM_OUT_MAX);
    case VMM_SEG_ONCE:
        return offsetof(struct vmm_once, key) +
               8 * (s->once.n < VMM_ONCE_MAX ? s->once.n : VMM_ONCE_MAX);
    default: return seg_at[seg].size;
    }
}

/* One round per word: a multiply, then a rotation that brings the high bits the multiply made
 * into the next word's low ones (bits flipped in two words cannot cancel out). */
static inline uint64_t mix(uint64_t h, uint64_t w)
{
    h = (h ^ w) * 0xBF58476D1CE4E5B9ull;
    return h << 31 | h >> 33;
}

uint64_t vmm_seg_sum(const struct vmm_state *s, unsigned seg)
{
    if (seg >= VMM_SEGS) return 0;
    size_t n = seg_used(s, seg);
    const uint64_t *w = (const uint64_t *)(const void *)((const uint8_t *)s + seg_at[seg].off);
    uint64_t h = 0x9E3779B97F4A7C15ull ^ seg ^ n << 8;
    for (size_t i = 0; i < n / 8; i++) h = mix(h, w[i]); // every segment starts on a word
    w += n / 8;
    n %= 8;
    const uint8_t *b = (const uint8_t *)w;
    uint64_t t = 0;
    for (unsigned i = 0; i < n; i++) t |= (uint64_t)b[i] << (8 * i);
    return mix(h, t);
}

/* Whether n words at a and b are equal; copies n words (string instructions: one step a word,
 * where a loop takes five). */
static bool same_words(const void *a, const void *b, size_t n)
{
    bool eq = true;
    if (n) __asm__ volatile("repe cmpsq" : "=@ccz"(eq), "+S"(a), "+D"(b), "+c"(n) : : "memory");
    return eq;
}

static void copy_words(void *to, const void *from, size_t n)
{
    __asm__ volatile("rep movsq" : "+D"(to), "+S"(from), "+c"(n) : : "memory");
}

/* replied_seq if its complement agrees; else (a stray write into either) `unknown`. */
static uint64_t replied(const struct vmm_persist *p, uint64_t unknown)
{
    return p->replied_chk == ~p->replied_seq ? p->replied_seq : unknown;
}

/* The spare copy takes the committed one's segments in mask (and their checksums): it is their
 * twin again. */
static void twin(struct vmm_persist *p, uint32_t mask)
{
    unsigned c = p->current & 1;
    const uint8_t *from = (const uint8_t *)&p->copy[c];
    uint8_t *to = (uint8_t *)&p->copy[!c];
    for (mask &= VMM_DIRTY_ALL; mask; mask &= mask - 1) {
        unsigned seg = (unsigned)__builtin_ctz(mask);
        size_t n = seg_used(&p->copy[c], seg);
        copy_words(to + seg_at[seg].off, from + seg_at[seg].off, n / 8); // segments start on words
        for (size_t i = n & ~(size_t)7; i < n; i++)
            to[seg_at[seg].off + i] = from[seg_at[seg].off + i];
        p->sum[!c][seg] = p->sum[c][seg];
    }
}

static void sum_all(struct vmm_persist *p, unsigned c)
{
    for (unsigned seg = 0; seg < VMM_SEGS; seg++) p->sum[c][seg] = vmm_seg_sum(&p->copy[c], seg);
}

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
        p->copy[1] = p->copy[0];
        sum_all(p, 0);
        sum_all(p, 1);
        p->replied_chk = ~0ull;
        BARRIER();
        p->magic = VMM_PERSIST_MAGIC;
    }
    p->current &= 1; // the region is the VMM's own: a wild write must not take us out of bounds
    vmm_persist_check(p);
    // what a checksum cannot tell: a state committed with a field out of range (a stray write
    // into the transaction under way, or a bug) is made safe before this instance uses it
    unsigned c = p->current & 1;
    if (vmm_state_sanitize(&p->copy[c])) {
        sum_all(p, c);
        p->sanitized++;
        twin(p, VMM_DIRTY_ALL);
    }
    return p;
}

enum vmm_check vmm_persist_check(struct vmm_persist *p)
{
    unsigned c = p->current & 1;
    uint32_t bad = 0, twin_bad = 0;
    for (unsigned seg = 0; seg < VMM_SEGS; seg++) {
        if (vmm_seg_sum(&p->copy[c], seg) != p->sum[c][seg]) bad |= VMM_DIRTY(seg);
        if (vmm_seg_sum(&p->copy[!c], seg) != p->sum[!c][seg]) twin_bad |= VMM_DIRTY(seg);
    }
    enum vmm_check result = VMM_STATE_OK;
    if (bad) {
        // a segment whose twin holds the same checksum: the same contents
        uint8_t *to = (uint8_t *)&p->copy[c];
        const uint8_t *from = (const uint8_t *)&p->copy[!c];
        for (unsigned seg = 0; seg < VMM_SEGS; seg++) {
            if (!(bad & VMM_DIRTY(seg)) || (twin_bad & VMM_DIRTY(seg)) ||
                p->sum[!c][seg] != p->sum[c][seg])
                continue;
            memcpy(to + seg_at[seg].off, from + seg_at[seg].off, seg_used(&p->copy[!c], seg));
            bad &= ~VMM_DIRTY(seg);
        }
        result = VMM_STATE_REPAIRED;
    }
    if (bad && !twin_bad && p->copy[!c].seq >= replied(p, UINT64_MAX)) {
        // the whole twin: the state before a commit whose reply never went out (its exit comes
        // back and is emulated again), or the same state; not one behind a reply the guest saw
        // (replied_seq unknown: the guest may have seen any)
        p->current = c = !c;
        bad = 0;
    }
    if (bad) {
        vmm_state_sanitize(&p->copy[c]);
        sum_all(p, c);
        p->sanitized++;
        result = VMM_STATE_SANITIZED;
    } else if (result == VMM_STATE_REPAIRED) {
        p->repaired++;
    }
    twin(p, VMM_DIRTY_ALL); // a predecessor may have died in a transaction or in a commit's copy
    p->copy[!c].dirty = 0;
    return result;
}

const struct vmm_state *vmm_committed(const struct vmm_persist *p)
{
    return &p->copy[p->current & 1];
}

/* Whether the two copies agree where a flipped bit would stall or kill the guest, compared at
 * every transaction's start (some 40 words: it is on every exit's path): the core but the record
 * (which vmm_is_redelivery checks by its checksum), the PIT, the UART's registers and FIFOs, the
 * console's line in the making. Not the pc platform's other devices: too big for every exit. */
static bool twins_agree(const struct vmm_persist *p)
{
    const struct vmm_state *a = &p->copy[0], *b = &p->copy[1];
    const struct vmm_console *c = &a->console;
    size_t line = c->len < UART_LINE_MAX ? c->len : UART_LINE_MAX;
    return same_words(a, b, offsetof(struct vmm_state, last) / 8) &&
           same_words(&a->pit, &b->pit, sizeof(a->pit) / 8) &&
           same_words(&a->uart, &b->uart, sizeof(a->uart) / 8) &&
           same_words(c, &b->console, (offsetof(struct vmm_console, line) + line + 7) / 8);
}
_Static_assert(offsetof(struct vmm_state, last) % 8 == 0 &&
                   offsetof(struct vmm_state, pit) % 8 == 0 &&
                   offsetof(struct vmm_state, uart) % 8 == 0 &&
                   offsetof(struct vmm_state, console) % 8 == 0 && sizeof(struct pit) % 8 == 0,
               "compared by words");

struct vmm_state *vmm_begin(struct vmm_persist *p)
{
    struct vmm_state *s = &p->copy[!(p->current & 1)];
    // a transaction begun and dropped (a HLT that waits): what it changed is taken back
    if (s->dirty) twin(p, (s->dirty | VMM_DIRTY_ALWAYS | VMM_DIRTY(VMM_SEG_ONCE)) & VMM_DIRTY_ALL);
    // Between transactions the copies are twins. Bits a stray write flipped in either would be
    // committed with the next change to their segment, checksum and all, and trusted for good
    // (a timer stopped, time thrown years ahead: the guest waits for ever): the copies are
    // compared, and checked by their checksums if they differ (the sound one is kept).
    if (!twins_agree(p)) {
        p->mismatches++;
        vmm_persist_check(p);
    }
    s->out.len = 0;
    s->dirty = s->platform == VMM_PLATFORM_PC ? VMM_DIRTY_PC : VMM_DIRTY_ALWAYS;
    return s;
}

void vmm_record(struct vmm_state *s, uint64_t fp, const struct vmm_reply *r)
{
    s->seq++;
    s->last_fp = fp;
    unsigned len = r->len < RS_REPLY_MR_COUNT ? r->len : RS_REPLY_MR_COUNT;
    s->last.label = r->label;
    s->last.len = len;
    for (unsigned i = 0; i < len; i++) s->last.w[i] = r->w[i]; // the words that go out
}

/* The segments the transaction on spare s changed since committed copy k, CORE aside: those
 * marked that differ (a model marked but left as it was, as the pc platform marks its timed
 * devices each exit, is neither checksummed nor copied: comparing costs a step a word, a
 * checksum some seven), OUT with output in either (an empty one in both is the same segment),
 * ONCE when it grew. */
static inline __attribute__((always_inline)) uint32_t changed(const struct vmm_state *s,
                                                              const struct vmm_state *k)
{
    uint32_t dirty = s->dirty & VMM_DIRTY_ALL & ~VMM_DIRTY_ALWAYS;
    const uint8_t *a = (const uint8_t *)s, *b = (const uint8_t *)k;
    for (uint32_t m = dirty; m; m &= m - 1) {
        unsigned seg = (unsigned)__builtin_ctz(m);
        size_t off = seg_at[seg].off, words = (seg_used(s, seg) + 7) / 8; // with its padding
        if (same_words(a + off, b + off, words)) dirty &= ~VMM_DIRTY(seg);
    }
    if (s->out.len || k->out.len) dirty |= VMM_DIRTY(VMM_SEG_OUT);
    if (s->once.n != k->once.n) dirty |= VMM_DIRTY(VMM_SEG_ONCE);
    return dirty;
}

/* Checksums the spare's segments in dirty, makes it the committed copy and the other its twin. */
static void commit_segments(struct vmm_persist *p, uint32_t dirty)
{
    unsigned spare = !(p->current & 1);
    struct vmm_state *s = &p->copy[spare];
    s->dirty = 0;
    for (uint32_t m = dirty; m; m &= m - 1) {
        unsigned seg = (unsigned)__builtin_ctz(m);
        p->sum[spare][seg] = vmm_seg_sum(s, seg);
    }
    BARRIER(); // the copy and its checksums are complete before it becomes the committed one
    p->current = spare;
    BARRIER();
    // the other copy becomes this one's twin again; a crash before that is done leaves it
    // partly the old state, which vmm_persist_check's checksums tell apart
    twin(p, dirty);
}

void vmm_commit(struct vmm_persist *p)
{
    unsigned c = p->current & 1;
    struct vmm_state *s = &p->copy[!c];
    if (s->out.len) s->out_seq++, s->out_end += s->out.len;
    commit_segments(p, changed(s, &p->copy[c]) | VMM_DIRTY(VMM_SEG_CORE));
}

bool vmm_commit_exit(struct vmm_persist *p, const uint64_t *w, const struct vmm_reply *r)
{
    unsigned c = p->current & 1;
    struct vmm_state *s = &p->copy[!c];
    const struct vmm_state *k = &p->copy[c];
    uint32_t dirty = changed(s, k);
    // the core but the transaction's marks: the record (vmm_record has not run) and the rest
    const size_t mark = offsetof(struct vmm_state, dirty) / 8, after = mark + 1;
    _Static_assert(offsetof(struct vmm_state, dirty) % 8 == 0 &&
                       offsetof(struct vmm_state, last_fp) == 8 * (mark + 1),
                   "the marks have a word of their own");
    if (!s->out.len && !(dirty & ~VMM_DIRTY(VMM_SEG_OUT)) && same_words(s, k, mark) &&
        same_words((const uint64_t *)s + after, (const uint64_t *)k + after,
                   (seg_used(s, VMM_SEG_CORE) + 7) / 8 - after)) {
        // nothing to keep: the exit, if it comes back, is emulated again to the same reply. The
        // spare is the committed copy's twin again (output: it was emptied, not written).
        s->out.len = k->out.len;
        s->dirty = 0;
        return false;
    }
    vmm_record(s, vmm_fingerprint(w), r);
    if (s->out.len) s->out_seq++, s->out_end += s->out.len;
    commit_segments(p, dirty | VMM_DIRTY(VMM_SEG_CORE));
    return true;
}

void vmm_mark_replied(struct vmm_persist *p)
{
    uint64_t seq = vmm_committed(p)->seq;
    p->replied_seq = seq;
    BARRIER();
    p->replied_chk = ~seq;
}

bool vmm_reply_owed(const struct vmm_persist *p)
{
    const struct vmm_state *s = vmm_committed(p);
    // replied_seq unknown (flipped bits): taken as replied, so that no exit is answered from a
    // record it does not own
    return s->seq && s->seq != replied(p, s->seq);
}

bool vmm_is_redelivery(struct vmm_persist *p, uint64_t fp)
{
    const struct vmm_state *s = vmm_committed(p);
    if (!vmm_reply_owed(p) || s->last_fp != fp) return false;
    unsigned c = p->current & 1;
    if (vmm_seg_sum(s, VMM_SEG_CORE) == p->sum[c][VMM_SEG_CORE]) return true;
    vmm_persist_check(p); // the record answered from must be the one committed
    s = vmm_committed(p);
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
    if (!o->len || o->len > VMM_OUT_MAX) return true;
    // New output starts where the published bytes end; output that ends where they end was
    // published by a predecessor (the ring has no other writer). Anything else is a stray
    // write's flipped out_end (committed with the state), or a state older than the ring: the
    // output goes where the ring is, else every line after it would be lost or cut.
    uint64_t head = ring->head;
    if (end - o->len != head && end != head) end = head + o->len;
    uint64_t tail = ring->tail, start = end - o->len;
    if (tail >= end) return true;                   // init printed it all already
    if (end - tail > VMM_OUTPUT_RING) return false; // bytes init has not printed would go
    for (unsigned i = 0; i < o->len && i < VMM_OUT_MAX; i++)
        ring->buf[(start + i) % VMM_OUTPUT_RING] = (uint8_t)o->text[i];
    BARRIER(); // the bytes are in before head says so (x86 keeps stores in order)
    if (ring->head < end) ring->head = end;
    return true;
}

/* The exit's identity for vmm_is_redelivery. The kernel numbers exits (RS_EXIT_MR_SEQ) and a
 * re-delivered exit keeps its number, so that number with a few words that name the access
 * tells exits apart; the interrupt-state bits, which the VMM's own requests change while an
 * exit is held (an interrupt-window request after a restart), are not among them (a UART byte
 * printed twice: system-linux-vmm-crash found it when they were). */
uint64_t vmm_fingerprint(const uint64_t *w)
{
    static const uint8_t words[] = {RS_EXIT_MR_SEQ, RS_EXIT_MR_REASON, RS_EXIT_MR_QUAL,
                                    RS_EXIT_MR_GPA, RS_EXIT_MR_RIP};
    uint64_t h = 0x9E3779B97F4A7C15ull;
    for (unsigned i = 0; i < sizeof(words); i++) {
        h = (h ^ w[words[i]]) * 0xBF58476D1CE4E5B9ull;
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
