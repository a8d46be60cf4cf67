// SPDX-License-Identifier: MIT
// A file served as a block device over a channel (filedisk.h): sectors of /disks/NAME.img read
// and written with ext2_read / ext2_write straight into and out of the channel's data area
// (zero copy), FLUSH = ext2_fsync. A completion posted for a write means the data and its
// log record are on their way to blk's disk (sent on fs's blk channel, which outlives fs: they
// land even if fs dies now, servers/fs/blockdev_queue.c) but not yet durable; the guest's FLUSH
// is the durability point: ext2_fsync waits for every write sent and flushes blk. Requests are
// carried out one after the other, but their blk requests overlap: writes are not waited for,
// and a guest reading sequentially finds its next blocks read ahead.
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
    int64_t rc = 0;
    uint8_t *buf = d->data + r->data_offset; // checked: inside the data area
    uint64_t off = r->offset * CHAN_SECTOR;
    switch (r->op) {
    case CHAN_OP_READ:
        rc = ext2_read(d->fs, d->ino, off, buf, r->len);
        if (rc >= 0 && rc < r->len) memset(buf + rc, 0, r->len - (uint32_t)rc); // a short file
        break;
    case CHAN_OP_WRITE:
        rc = ext2_write(d->fs, d->ino, off, buf, r->len);
        if (rc >= 0 && rc != r->len) rc = EXT2_EIO;
        break;
    default: rc = ext2_fsync(d->fs, d->ino); break; // CHAN_OP_FLUSH
    }
    c->status = rc < 0 ? BLK_STATUS_IO_ERROR : RS_OK;
    if (rc < 0) d->refused++;
}

bool fdisk_pending(const struct fdisk *d)
{
    uint32_t head = d->req.ring->head;
    return head != d->req.next && head - d->req.tail <= CHAN_ENTRIES && chan_space(&d->comp);
}

unsigned fdisk_serve(struct fdisk *d, unsigned max)
{
    unsigned done = 0;
    // a request an earlier instance consumed and did not release is read again first
    // (chan_consumer_attach); this instance consumes and releases one at a time
    while (done < max && chan_space(&d->comp)) {
        chan_desc_t r, c;
        int err = chan_consume(&d->req, &r);
        if (err == RS_RANGE_ERROR) d->ring_errors++;
        if (err) break;
        fdisk_do(d, &r, &c);
        if (chan_produce(&d->comp, &c)) { // the client corrupted its tail: nothing to answer to
            d->ring_errors++;
            break;
        }
        d->served++;
        done++;
        if (d->between) d->between(d->between_ctx);
        chan_release(&d->req);
    }
    return done;
}
