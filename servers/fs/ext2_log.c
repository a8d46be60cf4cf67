/* SPDX-License-Identifier: MIT */
/* The redo log: how an operation's blocks reach the disk so that a crash at any moment leaves
 * either all of the operation or none of it (docs/storage-fs.md has the argument).
 *
 * The log is the regular file /.resurgo-log (made at format time, so e2fsck sees an ordinary
 * file). Its block 0 is the commit record: magic, sequence number, count n, the n home block
 * numbers and a checksum over all of it and the n logged blocks, which sit in log blocks 1..n.
 * Commit: (1) file data blocks in place, (2) metadata blocks into the log, flush, (3) the
 * commit record, flush, (4) metadata in place, flush. Recovery rewrites the blocks of a valid
 * commit record in place; doing that again, or for a record already applied, changes nothing,
 * because no later transaction writes metadata in place before its own record replaces it. */
#include "ext2_int.h"

#define LOG_MAGIC   0x474c5352u /* "RSLG" */
#define LOG_VERSION 1u
#define LOG_HDR     32u /* magic, version, seq (8), count, bs, checksum (8) */

/* FNV-1a, 64 bits: enough to tell a torn or stale record from a complete one. */
static uint64_t fnv(uint64_t h, const uint8_t *p, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}
#define FNV_INIT 0xcbf29ce484222325ull

static uint64_t record_sum(const struct ext2_fs *fs, const uint8_t *hdr)
{
    uint8_t tmp[LOG_HDR];
    memcpy(tmp, hdr, LOG_HDR);
    le_put64(tmp + 24, 0);
    uint64_t h = fnv(FNV_INIT, tmp, LOG_HDR);
    return fnv(h, hdr + LOG_HDR, fs->bs - LOG_HDR);
}

/* Commit the running transaction. Returns 0, or EXT2_EIO after which the file system refuses
 * further writes (the disk is still consistent: recovery at the next mount finishes or
 * forgets the transaction). */
int txn_commit(struct ext2_fs *fs)
{
    if (!fs->txn_dirty) return 0;
    uint32_t n = 0;
    int rc = 0;
    uint8_t *hdr = fs->scratch;
    memset(hdr, 0, fs->bs);
    /* (1) data in place and (2) metadata into the log. */
    for (uint32_t i = 0; i < EXT2_CACHE_BLOCKS && rc == 0; i++) {
        struct ext2_buf *b = &fs->buf[i];
        if (!b->dirty) continue;
        if (!b->meta) {
            rc = dev_write(fs, b->blk, fs->data[i]);
            continue;
        }
        if (n + 2 >= fs->log_len || n >= fs->log_cap) {
            rc = EXT2_ENOMEM; /* a bug: operations keep below txn_max */
            break;
        }
        le_put32(hdr + LOG_HDR + 4 * n, b->blk);
        rc = dev_write(fs, fs->log_blk[n + 1], fs->data[i]);
        n++;
    }
    if (rc == 0) rc = dev_flush(fs);
    if (rc == 0 && n) {
        /* (3) the commit record: the checksum covers the logged blocks too. */
        le_put32(hdr, LOG_MAGIC);
        le_put32(hdr + 4, LOG_VERSION);
        le_put64(hdr + 8, ++fs->log_seq);
        le_put32(hdr + 16, n);
        le_put32(hdr + 20, fs->bs);
        uint64_t h = record_sum(fs, hdr);
        uint32_t k = 0;
        for (uint32_t i = 0; i < EXT2_CACHE_BLOCKS; i++)
            if (fs->buf[i].dirty && fs->buf[i].meta) {
                h = fnv(h, fs->data[i], fs->bs);
                k++;
            }
        le_put64(hdr + 24, h);
        rc = dev_write(fs, fs->log_blk[0], hdr);
        if (rc == 0) rc = dev_flush(fs);
        /* (4) in place. */
        for (uint32_t i = 0; i < EXT2_CACHE_BLOCKS && rc == 0; i++)
            if (fs->buf[i].dirty && fs->buf[i].meta)
                rc = dev_write(fs, fs->buf[i].blk, fs->data[i]);
        if (rc == 0) rc = dev_flush(fs);
        (void)k;
    }
    if (rc < 0) {
        fs->broken = true;
        txn_abort(fs);
        return EXT2_EIO;
    }
    for (uint32_t i = 0; i < EXT2_CACHE_BLOCKS; i++) fs->buf[i].dirty = fs->buf[i].meta = 0;
    fs->txn_dirty = 0;
    fs->commits++;
    return 0;
}

/* Forget the running transaction: its blocks never reached the disk, so dropping the dirty
 * buffers restores the state before the operation. */
void txn_abort(struct ext2_fs *fs)
{
    for (uint32_t i = 0; i < EXT2_CACHE_BLOCKS; i++) {
        struct ext2_buf *b = &fs->buf[i];
        if (b->dirty) b->valid = b->dirty = b->meta = 0;
        b->refs = 0;
    }
    fs->txn_dirty = 0;
    cache_seal(fs);
}

#define TAG_MAGIC    0x0100474154535252ull /* "RRSTAG", version 1 */
#define TAG_ENTRY(c) (16u + 24u * (c))

/* The reply table: the log file's last block, one entry per client (request id, result,
 * value), changed in the transaction of the request it records. */
static int tag_record(struct ext2_fs *fs, int rc)
{
    uint8_t *d;
    int slot, r = bget(fs, fs->log_blk[fs->log_len - 1], &d, &slot);
    if (r < 0) return r;
    if (le_get64(d) != TAG_MAGIC) {
        memset(d, 0, fs->bs);
        le_put64(d, TAG_MAGIC);
    }
    uint8_t *e = d + TAG_ENTRY(fs->tag_client);
    le_put64(e, fs->tag_id);
    le_put64(e + 8, (uint64_t)(int64_t)rc);
    le_put64(e + 16, fs->tag_value);
    bdirty(fs, slot, true);
    bput(fs, slot);
    return 0;
}

void ext2_tag(struct ext2_fs *fs, uint32_t client, uint64_t id)
{
    fs->tag_set = client < EXT2_TAG_CLIENTS && id != 0;
    fs->tag_client = client;
    fs->tag_id = id;
    fs->tag_value = 0;
}

int ext2_tag_find(struct ext2_fs *fs, uint32_t client, uint64_t id, int64_t *rc, uint64_t *value)
{
    if (!fs->mounted || client >= EXT2_TAG_CLIENTS || id == 0) return 0;
    uint8_t *d;
    int slot, r = bget(fs, fs->log_blk[fs->log_len - 1], &d, &slot);
    if (r < 0) {
        txn_abort(fs);
        return 0; /* unreadable: the request runs again and meets the same error */
    }
    const uint8_t *e = d + TAG_ENTRY(client);
    int hit = le_get64(d) == TAG_MAGIC && le_get64(e) == id;
    if (hit) {
        *rc = (int64_t)le_get64(e + 8);
        *value = le_get64(e + 16);
    }
    bput(fs, slot);
    return hit;
}

int txn_end(struct ext2_fs *fs, int rc)
{
    bool tag = fs->tag_set;
    fs->tag_set = false;
    if (rc >= 0 && tag && fs->txn_dirty) {
        int t = tag_record(fs, rc);
        if (t < 0) rc = t;
    }
    if (rc < 0) {
        txn_abort(fs);
        return rc;
    }
    int c = txn_commit(fs);
    for (uint32_t i = 0; i < EXT2_CACHE_BLOCKS; i++)
        fs->buf[i].refs = 0; /* an operation's references end with it */
    cache_seal(fs);
    return c < 0 ? c : rc;
}

/* Replay the last committed transaction if the log holds a valid record. Returns 0 (also when
 * there is nothing to replay), EXT2_EUCLEAN for a valid-looking record that names blocks
 * outside the file system, EXT2_EIO. */
int log_recover(struct ext2_fs *fs)
{
    uint8_t *hdr = fs->scratch;
    int rc = dev_read(fs, fs->log_blk[0], hdr);
    if (rc < 0) return rc;
    fs->log_seq = 0;
    if (le_get32(hdr) != LOG_MAGIC || le_get32(hdr + 4) != LOG_VERSION ||
        le_get32(hdr + 20) != fs->bs)
        return 0;
    uint32_t n = le_get32(hdr + 16);
    if (n == 0 || n + 1 >= fs->log_len || n > fs->log_cap) return 0;
    /* Checksum: the header, then every logged block, read through cache slot 0 (the cache is
     * empty at mount). */
    uint64_t h = record_sum(fs, hdr);
    uint8_t *blk = fs->data[0];
    for (uint32_t i = 0; i < n; i++) {
        if ((rc = dev_read(fs, fs->log_blk[i + 1], blk)) < 0) return rc;
        h = fnv(h, blk, fs->bs);
    }
    uint64_t seq = le_get64(hdr + 8);
    if (h != le_get64(hdr + 24))
        return 0; /* torn: the transaction never committed, nothing of it is in place */
    fs->log_seq = seq;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t home = le_get32(hdr + LOG_HDR + 4 * i);
        if (home >= fs->blocks_count || (home < fs->first_data_block && home != fs->sb_blk))
            return EXT2_EUCLEAN;
        for (uint32_t j = 0; j + 1 < fs->log_len; j++) /* the last: the reply table */
            if (fs->log_blk[j] == home) return EXT2_EUCLEAN;
    }
    for (uint32_t i = 0; i < n; i++) {
        if ((rc = dev_read(fs, fs->log_blk[i + 1], blk)) < 0) return rc;
        if ((rc = dev_write(fs, le_get32(hdr + LOG_HDR + 4 * i), blk)) < 0) return rc;
    }
    return dev_flush(fs);
}
