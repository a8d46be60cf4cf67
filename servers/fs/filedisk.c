// SPDX-License-Identifier: MIT
// A file served as a block device over a channel (filedisk.h): sectors of /disks/NAME.img read
// and written with ext2_read / ext2_write straight into and out of the channel's data area
// (zero copy), FLUSH = ext2_fsync. A completion posted for a write means the data and its
// log record are on their way to blk's disk (sent on fs's blk channel, which outlives fs: they
// land even if fs dies now, servers/fs/blockdev_queue.c) but not yet durable; the guest's FLUSH
// is the durability point: ext2_fsync waits for every write sent and flushes blk. fs takes the
// requests waiting as a batch, carries them out in ring order (runs of requests that continue
// each other as one ext2 call), then publishes their completions and releases them; their blk
// requests overlap: writes are not waited for, and a sequential reader finds its next blocks
// read ahead.
#include "filedisk.h"

#include "common/kstring.h"
#include "proto/blk.h"

static bool name_ok(const char *name, size_t *len)
{
    size_t n = 0;
    while (n < FDISK_NAME_MAX && name[n]) {
        char ch = name[n];
        if (ch == '/' || (unsigned char)ch < 0x20) return false;
        n++;
    }
    *len = n;
    return n > 0 && name[0] != '.';
}

/* Looks the file up; its size is the disk's (whole sectors; a partial sector at the end is not
 * part of the disk). */
static void find_file(struct fdisk *d)
{
    if (d->ino || !d->path[0]) return;
    uint32_t ino;
    struct ext2_stat st;
    if (ext2_lookup(d->fs, d->path, &ino) != 0 || ext2_stat(d->fs, ino, &st) != 0) return;
    if ((st.mode & 0xF000) != 0x8000) return; // a regular file only
    d->ino = ino;
    d->sectors = st.size / CHAN_SECTOR;
}

int fdisk_attach(struct fdisk *d, struct ext2_fs *fs, void *base, uint64_t data_size,
                 const char *name)
{
    *d = (struct fdisk){.fs = fs, .data = chan_data(base), .data_size = data_size};
    if (chan_consumer_attach(&d->req, chan_req_ring(base))) d->ring_errors++;
    if (chan_producer_attach(&d->comp, chan_comp_ring(base))) d->ring_errors++;
    size_t n;
    if (!name_ok(name, &n)) return RS_INVALID_ARGUMENT;
    size_t dl = sizeof(FDISK_DIR) - 1, sl = sizeof(FDISK_SUFFIX) - 1;
    memcpy(d->path, FDISK_DIR, dl);
    memcpy(d->path + dl, name, n);
    memcpy(d->path + dl + n, FDISK_SUFFIX, sl + 1);
    find_file(d);
    return RS_OK;
}

/* Carries out op on len bytes (a checked request, or a run of them) at `sector` with the data
 * at data_offset in the data area: RS_OK or BLK_STATUS_IO_ERROR. */
static uint32_t run_io(struct fdisk *d, uint32_t op, uint64_t sector, uint32_t data_offset,
                       uint32_t len)
{
    int64_t rc = 0;
    uint8_t *buf = d->data + data_offset; // checked: inside the data area
    uint64_t off = sector * CHAN_SECTOR;
    switch (op) {
    case CHAN_OP_READ:
        rc = ext2_read(d->fs, d->ino, off, buf, len);
        if (rc >= 0 && rc < len) memset(buf + rc, 0, len - (uint32_t)rc); // a short file
        break;
    case CHAN_OP_WRITE:
        rc = ext2_write(d->fs, d->ino, off, buf, len);
        if (rc >= 0 && rc != len) rc = EXT2_EIO;
        break;
    default: rc = ext2_fsync(d->fs, d->ino); break; // CHAN_OP_FLUSH
    }
    if (rc < 0) d->refused++;
    return rc < 0 ? BLK_STATUS_IO_ERROR : RS_OK;
}

void fdisk_do(struct fdisk *d, const chan_desc_t *r, chan_desc_t *c)
{
    *c = *r;
    find_file(d);
    if (r->op == BLK_OP_INFO) {
        c->offset = d->sectors;
        c->status = !r->id ? RS_INVALID_ARGUMENT : d->ino ? RS_OK : RS_NOT_FOUND;
        return;
    }
    // without the file, a request that is well formed otherwise is answered NOT_FOUND
    int bad = chan_desc_check(r, d->data_size, d->ino ? d->sectors : UINT64_MAX, BLK_MAX_REQUEST);
    if (!bad && !d->ino) bad = RS_NOT_FOUND;
    if (bad) {
        c->status = (uint32_t)bad;
        d->refused++;
        return;
    }
    c->status = run_io(d, r->op, r->offset, r->data_offset, r->len);
}

bool fdisk_pending(const struct fdisk *d)
{
    uint32_t head = d->req.ring->head;
    return head != d->req.next && head - d->req.tail <= CHAN_ENTRIES && chan_space(&d->comp);
}

/* Whether request b continues request a on the disk and in the data area with the same op
 * (read or write), both well formed, and a run of run_len bytes ending with a can take b: then
 * one ext2 call carries out both. */
static bool continues(const struct fdisk *d, const chan_desc_t *a, const chan_desc_t *b,
                      uint32_t run_len)
{
    if (a->op != b->op || (a->op != CHAN_OP_READ && a->op != CHAN_OP_WRITE) || !d->ino ||
        run_len + b->len > FDISK_RUN_MAX || b->offset != a->offset + a->len / CHAN_SECTOR ||
        b->data_offset != (uint64_t)a->data_offset + a->len)
        return false;
    return !chan_desc_check(a, d->data_size, d->sectors, BLK_MAX_REQUEST) &&
           !chan_desc_check(b, d->data_size, d->sectors, BLK_MAX_REQUEST);
}

unsigned fdisk_serve(struct fdisk *d, unsigned max)
{
    // The batch: the requests waiting, in ring order, as many as the completion ring has room
    // for and in at most max runs (a request an earlier instance consumed and did not release
    // is read again first: chan_consumer_attach).
    chan_desc_t *b = d->batch;
    unsigned n = 0, runs = 0, room = chan_space(&d->comp);
    uint32_t run_len = 0;
    find_file(d);
    while (n < room && n < CHAN_ENTRIES) {
        int err = chan_consume(&d->req, &b[n]);
        if (err == RS_RANGE_ERROR) d->ring_errors++;
        if (err) break;
        if (!n || !continues(d, &b[n - 1], &b[n], run_len)) {
            if (runs == max) { // the start of a run for the next call: not read after all
                d->req.next--;
                break;
            }
            runs++, run_len = 0;
        }
        run_len += b[n].len;
        n++;
    }
    // Carried out in ring order; a run of requests that continue each other (a guest request's
    // slots, a sequential reader's or writer's next request) as one ext2 call: one transaction
    // and log record for a run of writes, and for a run of reads blk requests of up to
    // BLK_MAX_REQUEST sent together, where one call per slot would wait for each. A read after
    // a write sees it; a FLUSH (ext2_fsync) comes after everything before it was sent to blk
    // and waits for all of it, so it covers every request completed before it.
    for (unsigned i = 0, j; i < n; i = j) {
        uint32_t len = b[i].len;
        for (j = i + 1; j < n && continues(d, &b[j - 1], &b[j], len); j++) len += b[j].len;
        if (j == i + 1) {
            chan_desc_t c;
            fdisk_do(d, &b[i], &c);
            b[i] = c;
            continue;
        }
        uint32_t st = run_io(d, b[i].op, b[i].offset, b[i].data_offset, len);
        for (unsigned k = i; k < j; k++) b[k].status = st;
        d->runs++, d->merged += j - i;
    }
    // Then the completions, in ring order, then the releases: a crash in between makes the next
    // instance do the batch again (the same data to the same sectors; the client ignores the
    // second completion of an id: libipc/channel.h).
    unsigned done = 0;
    for (; done < n; done++) {
        if (chan_produce(&d->comp, &b[done])) { // the client corrupted its tail
            d->ring_errors++;
            break;
        }
        d->served++;
    }
    if (done && d->between) d->between(d->between_ctx);
    for (unsigned i = 0; i < done; i++) chan_release(&d->req);
    return done;
}
