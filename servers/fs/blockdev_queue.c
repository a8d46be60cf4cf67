// SPDX-License-Identifier: MIT
// fs's block requests over a channel (blockdev_queue.h, proto/blk.h), several in flight: writes
// are sent and not waited for, reads wait for their own requests only, completions come in any
// order and are matched by id. Order is kept only where it matters:
//  - a read waits until every overlapping write sent before it has completed (it must see it);
//  - a write waits until every overlapping write before it is released and every overlapping
//    read has completed (a restarted driver redoes unreleased requests in any order: two
//    overlapping unreleased writes could land reversed, libipc/channel.h);
//  - a flush waits until everything sent before it has completed (a device flushes completed
//    writes only: Virtio 1.0 5.2.6.4, ATA FLUSH CACHE), so it is the barrier fs's log relies on
//    (docs/storage-fs.md: checkpoints flush; async records need no order among themselves).
// A sent write is on its way to the disk even if fs dies: the channel outlives fs, the driver
// completes it or a restarted driver redoes it, and a new fs drains the ring before it reads.
// The data area is a ring of request buffers in request order: a buffer is reused only once its
// request's slot is released, as the driver releases slots in order.
#include "blockdev_queue.h"

#include "common/kstring.h"
#include "proto/blk.h"

#define RA_GAP 16u /* sectors a sequential reader may skip (an ext2 indirect block: 1-4 KiB) */
#define RA_MIN 8u  /* sectors a read needs to count in a sequential run */

static uint64_t released(const struct blkq *q)
{
    unsigned pending = chan_pending(&q->req);
    return pending >= q->sent ? 0 : q->sent - pending;
}

/* The records and the waits (issue 15's `corrupt` of fs flips bits in its globals and stack
 * while it waits for blk): a flipped dst sends a read's data elsewhere and leaves the cache
 * buffer it was for as it was, a flipped done, id or request number ends a wait early (the
 * buffer is used before its data came), a flipped dstart or data_offset lets a new request's
 * buffer overlap one still in flight. Each record carries a check, set after every change and
 * verified whenever it is looked at; a wait's subject carries one too. A mismatch is the
 * owner's (fs crashes; the next instance drains the ring and mounts from the disk). */
static void broken_state(struct blkq *q)
{
    if (q->corrupt) q->corrupt(q->ctx);
    __builtin_trap();
}

static uint64_t mix(uint64_t h, uint64_t w)
{
    h = (h ^ w) * 0xBF58476D1CE4E5B9ull;
    return h ^ (h >> 31);
}

/* A term per field, each a field times its own odd constant (a bijection: a change confined to
 * one field always shows), summed with xor: the loops that look at every record (place, the
 * overlap tests) check each one, so this must be cheap, no chain of dependent rounds. */
static uint64_t rec_sum(const struct bq_rec *r)
{
    return (r->id * 0x9E3779B97F4A7C15ull) ^ (r->sector * 0xC2B2AE3D27D4EB4Full) ^
           (r->result * 0x165667B19E3779F9ull) ^ (r->dstart * 0xD6E8FEB86659FD93ull) ^
           ((uint64_t)(uintptr_t)r->dst * 0xFF51AFD7ED558CCDull) ^
           (((uint64_t)r->op << 32 | r->len) * 0xC4CEB9FE1A85EC53ull) ^
           (((uint64_t)r->data_offset << 32 | r->status) * 0x94D049BB133111EBull) ^
           (((uint64_t)r->done | (uint64_t)r->ra << 8 | 1ull << 16) * 0xBF58476D1CE4E5B9ull);
}

static void rec_seal(struct bq_rec *r) { r->chk = rec_sum(r); }

static struct bq_rec *rec(struct blkq *q, uint64_t n)
{
    struct bq_rec *r = &q->rec[n % CHAN_ENTRIES];
    if (r->chk != rec_sum(r)) broken_state(q);
    return r;
}

static bool overlaps(const struct bq_rec *r, uint64_t sector, uint32_t count)
{
    uint64_t rc = r->len / CHAN_SECTOR;
    return rc && count && r->sector < sector + count && sector < r->sector + rc;
}

int blkq_attach(struct blkq *q, void *base, uint64_t data_size, uint64_t id_base)
{
    *q = (struct blkq){.data = chan_data(base), .data_size = data_size, .id_base = id_base};
    uint64_t room = data_size < BLK_MAX_REQUEST ? data_size : BLK_MAX_REQUEST;
    q->max_len = (uint32_t)(room & ~(uint64_t)(CHAN_SECTOR - 1));
    q->window = CHAN_ENTRIES;
    q->ra_depth = 8;
    for (unsigned i = 0; i < CHAN_ENTRIES; i++) rec_seal(&q->rec[i]);
    q->idle_below = 0;
    q->idle_below_chk = ~0ull;
    int err = chan_producer_attach(&q->req, chan_req_ring(base));
    if (chan_consumer_attach(&q->comp, chan_comp_ring(base))) err = RS_RANGE_ERROR;
    return err;
}

void blkq_reap(struct blkq *q)
{
    chan_desc_t d;
    while (chan_consume(&q->comp, &d) == RS_OK) {
        chan_release(&q->comp);
        uint64_t n = d.id - q->id_base;
        struct bq_rec *r = rec(q, n); // checked: what its fields say decides where data goes
        // the driver's answer is input: only our record says where the data goes
        if (d.id < q->id_base || n >= q->sent || q->sent - n > CHAN_ENTRIES || r->id != d.id ||
            r->done) {
            q->ignored++;
            continue;
        }
        r->done = true;
        r->status = d.status;
        r->result = d.offset;
        q->inflight--;
        if (r->op == CHAN_OP_READ && d.status == RS_OK && r->dst)
            memcpy(r->dst, q->data + r->data_offset, r->len);
        if (r->op == CHAN_OP_WRITE && d.status != RS_OK && !q->werr) q->werr = d.status;
        r->dst = NULL;
        rec_seal(r);
    }
}

/* What a wait is for: request n, sectors sector..sector+count, len bytes of buffer. */
struct what {
    uint64_t n, sector;
    uint32_t count, len;
};

static uint64_t what_sum(const struct what *w)
{
    return mix(mix(mix(0x13198A2E03707344ull, w->n), w->sector), (uint64_t)w->count << 32 | w->len);
}

/* A read's or write's request as its caller made it, and how much of it is sent (issue 15: a
 * storm of `corrupt` into fs zeroed some 1,200 blocks from the group descriptors on: a write's
 * count, a local of blkq_write, flipped at a wait or fault point between its pieces, and the
 * loop sent piece after piece from the cache buffer on through fs's memory, mostly zeros, until
 * memcpy ran off the end of .bss; a flipped sector or buffer pointer sends a piece elsewhere or
 * fills the wrong buffer the same way). The running position is derived from the checked span
 * right before each piece is sent or copied, never carried in locals across a wait. */
struct span {
    uint64_t sector;
    uint8_t *buf;
    uint32_t count, done;
    uint64_t chk;
};

static uint64_t span_sum(const struct span *s)
{
    uint64_t h = mix(mix(0xA4093822299F31D0ull, s->sector), (uint64_t)(uintptr_t)s->buf);
    return mix(h, (uint64_t)s->count << 32 | s->done);
}

static void span_check(struct blkq *q, const struct span *s)
{
    if (s->chk != span_sum(s) || s->done > s->count) broken_state(q);
}

/* Whether a piece of len bytes at sector from/into p is the span's next one. */
static void span_piece_check(struct blkq *q, const struct span *s, uint64_t sector, const void *p,
                             uint32_t len)
{
    span_check(q, s);
    if (sector != s->sector + s->done || p != s->buf + (size_t)s->done * CHAN_SECTOR || !len ||
        len % CHAN_SECTOR || len > q->max_len || len / CHAN_SECTOR > s->count - s->done)
        broken_state(q);
}

static void span_advance(struct blkq *q, struct span *s, uint32_t k)
{
    span_check(q, s);
    if (k > s->count - s->done) broken_state(q);
    s->done += k;
    s->chk = span_sum(s);
}

/* Reaps, then sleeps until cond holds. w sits on the stack across the sleeps: checked. */
static void wait_for(struct blkq *q, bool (*cond)(struct blkq *, const struct what *),
                     struct what w)
{
    const uint64_t sum = what_sum(&w);
    for (;;) {
        blkq_reap(q);
        if (what_sum(&w) != sum) broken_state(q);
        if (cond(q, &w)) return;
        q->waits++;
        q->wait(q->ctx);
    }
}

void blkq_drain(struct blkq *q)
{
    for (;;) {
        blkq_reap(q);
        if (!chan_pending(&q->req)) break;
        if (q->kick) q->kick(q->ctx); // the driver may be new and not know of them yet
        q->waits++;
        q->wait(q->ctx);
    }
}

/* Whether request n completed. */
static bool is_done(struct blkq *q, const struct what *w) { return rec(q, w->n)->done; }

static bool nothing_in_flight(struct blkq *q, const struct what *w)
{
    (void)w;
    return q->inflight == 0;
}

/* No write sent and not completed overlaps the sectors (a read may go). */
static bool no_write_overlap(struct blkq *q, const struct what *w)
{
    for (uint64_t n = released(q); n < q->sent; n++) {
        struct bq_rec *r = rec(q, n);
        if (!r->done && r->op == CHAN_OP_WRITE && overlaps(r, w->sector, w->count)) return false;
    }
    return true;
}

/* No unreleased write and no unfinished read overlaps the sectors (a write may go). */
static bool no_overlap(struct blkq *q, const struct what *w)
{
    for (uint64_t n = released(q); n < q->sent; n++) {
        struct bq_rec *r = rec(q, n);
        if (overlaps(r, w->sector, w->count) && (r->op == CHAN_OP_WRITE || !r->done)) return false;
    }
    return true;
}

/* Where len bytes would go in the data area (the ring of buffers): the bytes skipped at its
 * end first (a buffer does not wrap), or -1 if they would reach the oldest unreleased request's
 * buffer. */
/* The oldest request whose buffer is still in use: not released, or released and its completion
 * not reaped yet (the driver may publish a completion and release its slot between fs's reap
 * and its look at the tail: a read's data is copied out only when its completion is reaped). */
static uint64_t oldest_busy(struct blkq *q)
{
    uint64_t rel = released(q), from = q->sent > CHAN_ENTRIES ? q->sent - CHAN_ENTRIES : 0;
    // every request below idle_below is done (a done one stays so until its record is reused):
    // looked at once, not at every place (checked: a flipped one would skip a busy buffer)
    if (q->idle_below != ~q->idle_below_chk) broken_state(q);
    if (q->idle_below > from) from = q->idle_below;
    if (from > rel) from = rel; // requests from the released tail on count as busy, as ever
    uint64_t n = from;
    for (; n < rel; n++) {
        const struct bq_rec *r = rec(q, n);
        if (r->id == q->id_base + n && !r->done) break;
    }
    q->idle_below = n;
    q->idle_below_chk = ~n;
    return n;
}

static int64_t place(struct blkq *q, uint32_t len)
{
    if (!len) return 0;
    uint64_t oldest = oldest_busy(q), off = q->dpos % q->data_size;
    uint64_t skip = off + len > q->data_size ? q->data_size - off : 0;
    uint64_t limit =
        oldest < q->sent ? rec(q, oldest)->dstart + q->data_size : q->dpos + skip + q->data_size;
    return q->dpos + skip + len > limit ? -1 : (int64_t)skip;
}

/* Room for one more request of len bytes: a ring entry, the window, its buffer, and its record
 * (request sent - CHAN_ENTRIES's, whose completion is reaped once its slot is released: the
 * driver publishes a completion before it releases the slot). */
static bool room(struct blkq *q, const struct what *w)
{
    const struct bq_rec *r = rec(q, q->sent);
    return chan_space(&q->req) > 0 && q->inflight < q->window && (!r->id || r->done) &&
           place(q, w->len) >= 0;
}

/* A write's bytes, summed before a wait and again where they were copied to: a stray write
 * into the caller's buffer while it waited (a cache block, the staged record, the log's
 * header) would otherwise go to the disk as if fs had written it (a torn record ends the
 * log's chain at the next recovery: every acknowledged record after it lost). */
static uint64_t bytes_sum(const void *p, uint32_t len)
{
    const uint8_t *b = p;
    uint64_t h = 0x243F6A8885A308D3ull ^ len;
    for (uint32_t i = 0; i < len; i += 8) {
        uint64_t w = 0;
        memcpy(&w, b + i, len - i < 8 ? len - i : 8);
        h = mix(h, w);
    }
    return h;
}

/* Sends one request once there is room: its number, or UINT64_MAX if the ring is corrupt. The
 * data of a write is copied in; a read's is copied to dst at its completion. *sum: the write's
 * bytes as the caller had them before an earlier wait (or 0: none); summed here too if this
 * one waits, and checked once they are copied. */
static uint64_t send(struct blkq *q, uint32_t op, uint64_t sector, uint32_t len, const void *src,
                     void *dst, uint64_t sum, const struct span *sp)
{
    blkq_reap(q);
    if (!room(q, &(struct what){.len = len})) { // a wait: the bytes summed before it
        if (src && !sum) sum = bytes_sum(src, len);
        wait_for(q, room, (struct what){.len = len});
    }
    // the piece as the caller's request says, after the wait (a caller's piece: sp)
    if (sp) span_piece_check(q, sp, sector, src ? src : dst, len);
    int64_t skip = place(q, len);
    uint64_t n = q->sent;
    struct bq_rec *r = rec(q, n);
    *r = (struct bq_rec){.id = q->id_base + n,
                         .sector = sector,
                         .dstart = q->dpos + (uint64_t)skip,
                         .dst = dst,
                         .op = op,
                         .len = len,
                         .data_offset = (uint32_t)((q->dpos + (uint64_t)skip) % q->data_size)};
    uint64_t dfrom = q->dpos;
    if (len) q->dpos += (uint64_t)skip + len;
    if (src) memcpy(q->data + r->data_offset, src, len);
    if (src && sum && bytes_sum(q->data + r->data_offset, len) != sum) broken_state(q);
    chan_desc_t d = {
        .id = r->id, .op = op, .offset = sector, .data_offset = r->data_offset, .len = len};
    rec_seal(r);
    if (chan_produce(&q->req, &d) != RS_OK) { // the driver corrupted its tail
        r->id = 0;
        rec_seal(r);
        q->dpos = dfrom;
        return UINT64_MAX;
    }
    q->sent++;
    if (++q->inflight > q->max_inflight) q->max_inflight = q->inflight;
    if (q->published) q->published(q->ctx);
    if (q->kick) q->kick(q->ctx);
    return n;
}

/* The oldest prefetched read holding `sector` whose buffer still holds its data (no later
 * buffer reached it): its number, or UINT64_MAX. The oldest: on a device that runs one command
 * at a time (ATA) it is the first to finish. *next: the first prefetched sector after `sector`
 * (UINT64_MAX if none), where a read sent instead should stop to find the rest read ahead. */
static uint64_t prefetched(struct blkq *q, uint64_t sector, uint64_t *next)
{
    uint64_t found = UINT64_MAX;
    *next = UINT64_MAX;
    for (uint64_t n = q->sent > CHAN_ENTRIES ? q->sent - CHAN_ENTRIES : 0; n < q->sent; n++) {
        struct bq_rec *r = rec(q, n);
        if (!r->ra || q->dpos > r->dstart + q->data_size) continue;
        if (r->sector <= sector && sector < r->sector + r->len / CHAN_SECTOR) {
            if (found == UINT64_MAX) found = n;
        } else if (r->sector > sector && r->sector < *next) {
            *next = r->sector;
        }
    }
    return found;
}

/* After a read that continued the previous one, reads ahead: requests of k sectors past `end`
 * up to ra_depth of them, each only if there is room now (a prefetch never waits), all of them
 * in half the data area at most (so that they are read before later buffers overwrite them).
 * Sectors a prefetch holds already are not read again: a reader's pieces change size (a run
 * cut by an indirect block, a short last piece), and before this rule a small piece after large
 * ones moved the window back to its end and read again what was in flight, each duplicate
 * queued in front of the reader's next read on a device that runs one command at a time (ATA:
 * sequential reads through fs fell from 80 to 14 MB/s, docs/benchmarks.md). */
static void read_ahead(struct blkq *q, uint64_t end, uint32_t k)
{
    if (!q->ra_depth || !k) return;
    unsigned depth = q->ra_depth;
    while (depth > 1 && (uint64_t)depth * k * CHAN_SECTOR > q->data_size / 2) depth--;
    if ((uint64_t)depth * k * CHAN_SECTOR > q->data_size / 2) return;
    // the window is kept while it lies within reach of the largest pieces (max_len)
    uint64_t per = q->max_len / CHAN_SECTOR, limit = end + (uint64_t)depth * k;
    if (q->ra_next < end || q->ra_next > end + (uint64_t)q->ra_depth * per) q->ra_next = end;
    while (q->ra_next < limit && q->ra_next < q->sectors) {
        uint64_t next, held = prefetched(q, q->ra_next, &next);
        if (held != UINT64_MAX) { // read ahead already: past it
            q->ra_next = rec(q, held)->sector + rec(q, held)->len / CHAN_SECTOR;
            continue;
        }
        uint32_t kk = next - q->ra_next < k ? (uint32_t)(next - q->ra_next) : k;
        if (q->ra_next + kk > q->sectors || !room(q, &(struct what){.len = kk * CHAN_SECTOR}) ||
            !no_write_overlap(q, &(struct what){.sector = q->ra_next, .count = kk}))
            return;
        uint64_t n = send(q, CHAN_OP_READ, q->ra_next, kk * CHAN_SECTOR, NULL, NULL, 0, NULL);
        if (n == UINT64_MAX) return;
        rec(q, n)->ra = true;
        rec_seal(&q->rec[n % CHAN_ENTRIES]);
        q->ra_sent++;
        q->ra_next += kk;
    }
}

uint32_t blkq_read(struct blkq *q, uint64_t sector, uint32_t count, void *buf)
{
    struct span sp = {.sector = sector, .buf = buf, .count = count};
    sp.chk = span_sum(&sp);
    uint32_t per = q->max_len / CHAN_SECTOR, st = RS_OK, k0 = count < per ? count : per;
    uint64_t first = q->sent, last = q->sent, end = sector + count;
    // sequential: from where the last read ended, or a little after (a file's indirect block);
    // read ahead only for a run of such reads of some size (not for a metadata block that
    // happens to lie before the data read next: on ATA every needless read costs a turn)
    bool sequential = sector >= q->seq_end && sector <= q->seq_end + RA_GAP;
    q->seq_run = sequential && count >= RA_MIN ? q->seq_run + 1 : 0;
    if (!sequential) q->ra_next = 0; // a new run: its window starts at its end
    q->seq_end = end;
    wait_for(q, no_write_overlap, (struct what){.sector = sector, .count = count});
    for (;;) {
        span_check(q, &sp); // the position from the span, after every wait
        if (sp.done == sp.count) break;
        uint32_t left = sp.count - sp.done, k = left < per ? left : per;
        uint64_t at = sp.sector + sp.done;
        uint8_t *out = sp.buf + (size_t)sp.done * CHAN_SECTOR;
        uint64_t next, n = prefetched(q, at, &next);
        if (n != UINT64_MAX) { // read ahead already: wait for it, take what it holds
            wait_for(q, is_done, (struct what){.n = n});
            struct bq_rec *r = rec(q, n);
            uint32_t skip = (uint32_t)(at - r->sector), have = r->len / CHAN_SECTOR - skip;
            if (r->status == RS_OK && q->dpos <= r->dstart + q->data_size) {
                k = left < have ? left : have;
                span_piece_check(q, &sp, at, out, k * CHAN_SECTOR);
                memcpy(out, q->data + r->data_offset + (size_t)skip * CHAN_SECTOR,
                       (size_t)k * CHAN_SECTOR);
                if (k == have) r->ra = false; // used up
                rec_seal(r);
                q->ra_hits++;
                span_advance(q, &sp, k);
                continue;
            }
            r->ra = false;
            rec_seal(r);
        }
        if (next - at < k) k = (uint32_t)(next - at); // the rest is read ahead
        n = send(q, CHAN_OP_READ, at, k * CHAN_SECTOR, NULL, out, 0, &sp);
        if (n == UINT64_MAX) {
            st = BLK_STATUS_IO_ERROR;
            break;
        }
        last = n + 1;
        span_advance(q, &sp, k);
    }
    uint64_t span = first ^ last * 0x9E3779B97F4A7C15ull; // first and last, over the waits
    if (q->seq_run >= 2 && st == RS_OK) read_ahead(q, end, k0);
    for (uint64_t n = first; n < last; n++) {
        wait_for(q, is_done, (struct what){.n = n});
        if (rec(q, n)->status != RS_OK && st == RS_OK) st = rec(q, n)->status;
    }
    // every request of this read done (a flipped loop count would return before its data came)
    if (span != (first ^ last * 0x9E3779B97F4A7C15ull) || last > q->sent ||
        last - first > CHAN_ENTRIES)
        broken_state(q);
    for (uint64_t n = first; n < last; n++)
        if (!rec(q, n)->done || rec(q, n)->id != q->id_base + n) broken_state(q);
    return st;
}

/* A write of more than this many pieces sums the later ones before its first is sent (a
 * fault point: published). fs's longest is 256 KiB (ext2_ops.c: run_add), four pieces. */
#define SUMMED_PIECES 8u

uint32_t blkq_write(struct blkq *q, uint64_t sector, uint32_t count, const void *buf)
{
    struct span sp = {.sector = sector, .buf = (uint8_t *)(uintptr_t)buf, .count = count};
    sp.chk = span_sum(&sp);
    uint32_t per = q->max_len / CHAN_SECTOR;
    uint64_t later[SUMMED_PIECES] = {0};
    for (uint32_t i = 1, left = count - (count < per ? count : per); left && i < SUMMED_PIECES;
         i++) {
        uint32_t k = left < per ? left : per;
        later[i] = bytes_sum(sp.buf + (size_t)(count - left) * CHAN_SECTOR, k * CHAN_SECTOR);
        left -= k;
    }
    for (unsigned piece = 0;; piece++) {
        span_check(q, &sp); // the position from the span, after every wait and fault point
        if (sp.done == sp.count) break;
        uint32_t left = sp.count - sp.done, k = left < per ? left : per;
        uint64_t at = sp.sector + sp.done;
        const uint8_t *in = sp.buf + (size_t)sp.done * CHAN_SECTOR;
        struct what w = {.sector = at, .count = k};
        // the bytes as they were before a wait or an earlier piece's fault point (send)
        uint64_t sum = piece < SUMMED_PIECES ? later[piece] : 0;
        if (!sum && !no_overlap(q, &w)) sum = bytes_sum(in, k * CHAN_SECTOR);
        wait_for(q, no_overlap, w);
        for (unsigned i = 0; i < CHAN_ENTRIES; i++) { // a prefetch of these sectors is stale
            // checked only where acted on (a prefetch is checked again before it is used)
            if (q->rec[i].ra && overlaps(&q->rec[i], at, k)) {
                struct bq_rec *r = rec(q, i);
                r->ra = false;
                rec_seal(r);
            }
        }
        uint64_t n = send(q, CHAN_OP_WRITE, at, k * CHAN_SECTOR, in, NULL, sum, &sp);
        if (n == UINT64_MAX) return BLK_STATUS_IO_ERROR;
        span_advance(q, &sp, k);
        if (q->window == 1) { // one at a time: waited for, its failure reported now
            wait_for(q, is_done, (struct what){.n = n});
            if (rec(q, n)->status != RS_OK) return rec(q, n)->status;
        }
    }
    return RS_OK;
}

uint32_t blkq_call(struct blkq *q, uint32_t op, uint64_t *result)
{
    uint64_t n = send(q, op, 0, 0, NULL, NULL, 0, NULL);
    if (n == UINT64_MAX) return BLK_STATUS_IO_ERROR;
    wait_for(q, is_done, (struct what){.n = n});
    if (result) *result = rec(q, n)->result;
    return rec(q, n)->status;
}

uint32_t blkq_flush(struct blkq *q)
{
    wait_for(q, nothing_in_flight, (struct what){0});
    uint32_t st = blkq_call(q, CHAN_OP_FLUSH, NULL);
    if (q->werr && (st == RS_OK || st == RS_NOT_SUPPORTED)) st = q->werr;
    q->werr = 0;
    return st;
}
