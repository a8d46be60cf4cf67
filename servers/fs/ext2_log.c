/* SPDX-License-Identifier: MIT */
/* The redo log: how an operation's blocks reach the disk so that a crash at any moment leaves
 * every operation either entirely there or not at all (docs/storage-fs.md has the argument).
 *
 * The log is the regular file /.resurgo-log (made at format time, so e2fsck sees an ordinary
 * file). Block 0 is the header: where the chain of records since the last checkpoint starts
 * (ring position, sequence number) and the mount's epoch. Blocks 1..len-2 are a ring of
 * records: a record block (magic, epoch, sequence number, count n, the n home block numbers, a
 * checksum over it and the n logged blocks) followed by the n logged metadata blocks. The last
 * block is the reply table (a metadata block of its own, logged like the others).
 * Commit of a transaction: (1) its file data blocks in place, (2) its metadata blocks and the
 * record at the ring's head. Checkpoint: flush, the metadata in place, flush, a new header.
 * Recovery replays every valid record of the chain from the header's start, in order. Sync
 * mode (the default) flushes after (1), checkpoints after (2) and so is durable on return;
 * async mode flushes only in ext2_sync/ext2_fsync, after a transaction that freed blocks, and
 * checkpoints when the ring or the cache fills. */
#include "ext2_int.h"

#define LOG_MAGIC   0x524c5352u /* "RSLR": a record */
#define HDR_MAGIC   0x484c5352u /* "RSLH": the header */
#define LOG_VERSION 2u
#define LOG_HDR     40u /* magic, version, epoch, count, seq (8), bs, pad, checksum (8) */
#define LOG_CAP(bs) (((bs)-LOG_HDR) / 4u)
_Static_assert(LOG_CAP(EXT2_MAX_BS) * 8u <= EXT2_STAGE,
               "a record's block hashes fit the stage (log_recover)");

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
    le_put64(tmp + 32, 0);
    uint64_t h = fnv(FNV_INIT, tmp, LOG_HDR);
    return fnv(h, hdr + LOG_HDR, fs->bs - LOG_HDR);
}

static uint32_t ring_blk(const struct ext2_fs *fs, uint64_t pos)
{
    return fs->log_blk[1 + pos % fs->log_ring];
}

static int log_flush(struct ext2_fs *fs)
{
    int rc = dev_flush(fs);
    if (rc == 0) {
        fs->flushes++;
        fs->unflushed = fs->data_unflushed = false;
        fs->log_durable = fs->log_start; /* the newest header is durable now */
        log_state_set(fs);
    }
    return rc;
}

/* The header: all of it in its first 64 bytes (one sector: written whole or not at all). */
static int write_header(struct ext2_fs *fs)
{
    state_check(fs);
    uint8_t *h = fs->scratch;
    memset(h, 0, fs->bs);
    le_put32(h, HDR_MAGIC);
    le_put32(h + 4, LOG_VERSION);
    le_put32(h + 8, fs->log_epoch);
    le_put32(h + 12, (uint32_t)(fs->log_start % fs->log_ring));
    le_put64(h + 16, fs->log_seq + 1);
    le_put32(h + 24, fs->bs);
    le_put64(h + 32, fnv(FNV_INIT, h, 32));
    fs->unflushed = true;
    return dev_write(fs, fs->log_blk[0], h);
}

/* Every pinned buffer in place (its logged copy), after a flush that made its record durable;
 * then the header moves the chain's start past the records applied. */
static int checkpoint(struct ext2_fs *fs)
{
    state_check(fs);
    uint32_t pinned = 0;
    for (uint32_t i = 0; i < EXT2_CACHE_BLOCKS; i++) {
        cache_meta_check(fs, i); // its blk and logpos decide what is written where
        pinned += fs->buf[i].pinned;
    }
    if (pinned != fs->pinned) ext2_cache_corrupt(fs, EXT2_CACHE_BLOCKS);
    int rc = log_flush(fs);
    bool any = false;
    for (uint32_t i = 0; i < EXT2_CACHE_BLOCKS && rc == 0; i++) {
        struct ext2_buf *b = &fs->buf[i];
        if (!b->pinned) continue;
        any = true;
        if (!b->dirty) {
            rc = dev_write(fs, b->blk, fs->data[i]);
        } else if ((rc = dev_read(fs, ring_blk(fs, b->logpos), fs->scratch)) == 0) {
            /* changed again by the running transaction: home gets the logged copy */
            rc = dev_write(fs, b->blk, fs->scratch);
        }
    }
    if (rc == 0 && any) rc = log_flush(fs);
    if (rc < 0) return rc;
    for (uint32_t i = 0; i < EXT2_CACHE_BLOCKS; i++) {
        cache_meta_check(fs, i);
        fs->buf[i].pinned = 0;
        cache_meta_set(fs, i);
    }
    fs->pinned = 0;
    if (fs->log_start != fs->log_head) {
        fs->log_start = fs->log_head;
        log_state_set(fs);
        rc = write_header(fs);
    }
    fs->checkpoints++;
    return rc;
}

/* Whether a record and its n - 1 blocks at ring position pos fit the staging buffer and lie on
 * consecutive disk blocks inside the file system (mke2fs -d allocates the log contiguously). */
static bool staging_fits(const struct ext2_fs *fs, uint64_t pos, uint32_t n)
{
    uint32_t at = (uint32_t)(pos % fs->log_ring), first = fs->log_blk[1 + at];
    if ((size_t)n * fs->bs > EXT2_STAGE || at + n > fs->log_ring) return false;
    if ((uint64_t)first + n > fs->blocks_count ||
        ((uint64_t)first + n) * (fs->bs >> 9) > fs->dev.sectors)
        return false;
    for (uint32_t j = 1; j < n; j++)
        if (fs->log_blk[1 + at + j] != first + j) return false;
    return true;
}

static void broken(struct ext2_fs *fs)
{
    fs->broken = true;
    txn_abort(fs);
}

/* Commit the running transaction. Returns 0, or EXT2_EIO after which the file system refuses
 * further writes (the disk is still consistent: recovery at the next mount finishes or
 * forgets the transaction). */
int txn_commit(struct ext2_fs *fs)
{
    if (!cache_dirty_count(fs)) return 0;
    uint32_t n = 0, data = 0;
    int rc = 0;
    state_check(fs); // the geometry, the log's blocks and positions as they were set
    if (fs->intact && !fs->intact(fs->intact_ctx)) ext2_cache_corrupt(fs, EXT2_CACHE_BLOCKS);
    // file data goes in place, beyond an abort's reach: only into the blocks the write names
    if (!ext2_post_data_ok(fs)) ext2_cache_corrupt(fs, EXT2_CACHE_BLOCKS);
    for (uint32_t i = 0; i < EXT2_CACHE_BLOCKS; i++) {
        cache_meta_check(fs, i); // what is dirty, and as what, decides what is written where
        if (fs->buf[i].dirty) fs->buf[i].meta ? n++ : data++;
    }
    if (n + data != cache_dirty_count(fs)) ext2_cache_corrupt(fs, EXT2_CACHE_BLOCKS);
    if (n >= fs->log_ring || n > LOG_CAP(fs->bs)) {
        broken(fs); /* a bug: operations keep below txn_max */
        return EXT2_EIO;
    }
    /* Room in the ring: never over the chain the durable header names (a crash would then
     * find it broken), so first make the newest header durable, then checkpoint. */
    if (n && fs->log_head - fs->log_durable + 1 + n > fs->log_ring &&
        fs->log_durable != fs->log_start)
        rc = log_flush(fs);
    if (rc == 0 && n && fs->log_head - fs->log_start + 1 + n > fs->log_ring) {
        rc = checkpoint(fs);
        if (rc == 0) rc = log_flush(fs);
    }
    /* (1) data in place. */
    for (uint32_t i = 0; i < EXT2_CACHE_BLOCKS && rc == 0; i++)
        if (fs->buf[i].dirty && !fs->buf[i].meta) rc = dev_write(fs, fs->buf[i].blk, fs->data[i]);
    if (rc == 0 && data) fs->unflushed = fs->data_unflushed = true;
    /* sync mode: the data durable before the record that makes it reachable */
    if (rc == 0 && fs->data_unflushed && n && !fs->async) rc = log_flush(fs);
    if (rc == 0 && n) {
        /* (2) the logged blocks after the record's position, then the record. */
        uint64_t pos = fs->log_head;
        bool staged = staging_fits(fs, pos, 1 + n);
        uint8_t *hdr = staged ? fs->stage : fs->scratch;
        memset(hdr, 0, fs->bs);
        uint32_t k = 0;
        for (uint32_t i = 0; i < EXT2_CACHE_BLOCKS && rc == 0; i++) {
            struct ext2_buf *b = &fs->buf[i];
            if (!(b->dirty && b->meta)) continue;
            k++;
            if (staged) memcpy(fs->stage + (size_t)k * fs->bs, fs->data[i], fs->bs);
            else rc = dev_write(fs, ring_blk(fs, pos + k), fs->data[i]);
        }
        // the ring writes above were waits, where a stray write strikes: the locals that say
        // where the record goes, as they were
        if (rc == 0 && (k != n || pos != fs->log_head || staged != staging_fits(fs, pos, 1 + n) ||
                        hdr != (staged ? fs->stage : fs->scratch)))
            ext2_cache_corrupt(fs, EXT2_CACHE_BLOCKS);
        if (rc == 0) {
            // The record is made after the waits, with none until it is sent: its homes (a
            // flipped one would be replayed over another block: seen, the log file's own
            // indirect block zeroed, every later mount refused) and the blocks' sum, from the
            // blocks as they went into the ring or the stage (a flip in one while a later one
            // was written would make the sum disagree with it, and recovery would end the
            // chain there, dropping every acknowledged record after it).
            k = 0;
            for (uint32_t i = 0; i < EXT2_CACHE_BLOCKS; i++) {
                if (!(fs->buf[i].dirty && fs->buf[i].meta)) continue;
                cache_meta_check(fs, i);
                cache_check_write(fs, fs->data[i]);
                // refused before its record makes it replayable (ext2_home.c): a recovery
                // would otherwise write it home at every mount
                home_check(fs, fs->buf[i].blk, fs->data[i]);
                le_put32(hdr + LOG_HDR + 4 * k++, fs->buf[i].blk);
            }
            le_put32(hdr, LOG_MAGIC);
            le_put32(hdr + 4, LOG_VERSION);
            le_put32(hdr + 8, fs->log_epoch);
            le_put32(hdr + 12, n);
            le_put64(hdr + 16, fs->log_seq + 1);
            le_put32(hdr + 24, fs->bs);
            uint64_t h = record_sum(fs, hdr);
            for (uint32_t i = 0; i < EXT2_CACHE_BLOCKS; i++)
                if (fs->buf[i].dirty && fs->buf[i].meta) h = fnv(h, fs->data[i], fs->bs);
            le_put64(hdr + 32, h);
            if (staged) {
                uint32_t spb = fs->bs >> 9, first = ring_blk(fs, pos);
                rc = dev_rw(fs, true, (uint64_t)first * spb, (1 + n) * spb, fs->stage);
            } else {
                rc = dev_write(fs, ring_blk(fs, pos), hdr);
            }
        }
        if (rc == 0) {
            fs->log_seq++;
            fs->unflushed = true;
            k = 0;
            for (uint32_t i = 0; i < EXT2_CACHE_BLOCKS; i++) {
                struct ext2_buf *b = &fs->buf[i];
                if (!(b->dirty && b->meta)) continue;
                cache_meta_check(fs, i);
                k++;
                if (!b->pinned) fs->pinned++;
                b->pinned = 1;
                b->logpos = (uint32_t)((pos + k) % fs->log_ring);
                cache_meta_set(fs, i);
            }
            /* pos and n are locals a stray write may have changed since the record went out:
             * the next record must follow this one where recovery will look for it */
            if (pos != fs->log_head || k != n) ext2_cache_corrupt(fs, EXT2_CACHE_BLOCKS);
            fs->log_head = pos + 1 + n;
            log_state_set(fs);
        }
    }
    if (rc < 0) {
        broken(fs);
        return EXT2_EIO;
    }
    for (uint32_t i = 0; i < EXT2_CACHE_BLOCKS; i++) {
        cache_meta_check(fs, i);
        fs->buf[i].dirty = fs->buf[i].meta = 0;
        cache_meta_set(fs, i);
    }
    txn_dirty_set(fs, 0);
    fs->commits++;
    /* Sync mode: everything durable and in place now. Async mode checkpoints when the pinned
     * buffers crowd the cache, and after freeing blocks: a freed block may be reused as file
     * data, written in place, only when no record that a recovery replays can still write
     * its old contents home (the checkpoint's header made durable) and the record freeing it
     * is durable. */
    bool freed = fs->txn_freed;
    fs->txn_freed = false;
    if (!fs->async || freed || fs->pinned + fs->txn_max + 16 > EXT2_CACHE_BLOCKS)
        rc = checkpoint(fs);
    if (rc == 0 && fs->async && freed) rc = log_flush(fs);
    if (rc < 0) {
        broken(fs);
        return EXT2_EIO;
    }
    return 0;
}

int ext2_sync(struct ext2_fs *fs, bool ckpt)
{
    if (!fs->mounted) return EXT2_EINVAL;
    if (fs->broken) return EXT2_EROFS;
    int rc = txn_commit(fs);
    if (rc == 0 && ckpt) rc = checkpoint(fs);
    if (rc == 0 && fs->unflushed) rc = log_flush(fs);
    if (rc < 0) {
        broken(fs);
        return EXT2_EIO;
    }
    return 0;
}

/* Forget the running transaction: its blocks never reached the disk, so dropping the dirty
 * buffers restores the state before the operation; a pinned buffer gets its logged copy back. */
void txn_abort(struct ext2_fs *fs)
{
    for (uint32_t i = 0; i < EXT2_CACHE_BLOCKS; i++) {
        struct ext2_buf *b = &fs->buf[i];
        cache_meta_check(fs, i); // a pinned one's logpos says which copy comes back
        bool back = b->dirty && b->pinned;
        b->refs = 0;
        if (b->dirty) {
            b->dirty = b->meta = 0;
            if (!b->pinned) b->valid = 0;
        }
        cache_meta_set(fs, i); // the read below is a wait (cache_wait_begin checks the open slots)
        if (back && dev_read(fs, ring_blk(fs, b->logpos), fs->data[i]) < 0) {
            fs->broken = true; /* the logged copy is unreadable: stop writing */
            b->valid = b->pinned = 0;
            fs->pinned--;
            cache_meta_set(fs, i);
        }
    }
    txn_dirty_set(fs, 0);
    fs->txn_freed = false;
    cache_seal(fs);
}

#define TAG_MAGIC    0x0100474154535252ull /* "RRSTAG", version 1 */
#define TAG_ENTRY(c) (16u + 24u * (c))

/* The reply table: the log file's last block, one entry per client (request id, result,
 * value), changed in the transaction of the request it records. */
static int tag_record(struct ext2_fs *fs, int rc)
{
    state_check(fs); // the client and id as ext2_tag set them
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
    tag_state_set(fs);
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
    // what the operation did, as its request asked, before any of it is committed
    if (rc >= 0 && fs->post && !ext2_post_holds(fs)) ext2_cache_corrupt(fs, EXT2_CACHE_BLOCKS);
    bool tag = fs->tag_set;
    if (tag) state_check(fs);
    fs->tag_set = false;
    if (rc >= 0 && tag && cache_dirty_count(fs)) {
        int t = tag_record(fs, rc);
        if (t < 0) rc = t;
    }
    if (rc < 0) {
        txn_abort(fs);
        return rc;
    }
    int c = txn_commit(fs);
    for (uint32_t i = 0; i < EXT2_CACHE_BLOCKS; i++) {
        cache_meta_check(fs, i);
        fs->buf[i].refs = 0; /* an operation's references end with it */
        cache_meta_set(fs, i);
    }
    cache_seal(fs);
    return c < 0 ? c : rc;
}

/* A record at ring position pos with sequence seq of this epoch, checksum included: returns
 * its count, 0 if there is none, or an error; *hsum: the hash of its record block alone. */
static int64_t record_at(struct ext2_fs *fs, uint64_t pos, uint64_t seq, uint32_t room,
                         uint64_t *hsum)
{
    uint8_t *hdr = fs->scratch, *blk = fs->data[0];
    int rc = dev_read(fs, ring_blk(fs, pos), hdr);
    if (rc < 0) return rc;
    uint32_t n = le_get32(hdr + 12);
    if (le_get32(hdr) != LOG_MAGIC || le_get32(hdr + 4) != LOG_VERSION ||
        le_get32(hdr + 8) != fs->log_epoch || le_get64(hdr + 16) != seq ||
        le_get32(hdr + 24) != fs->bs || n == 0 || n > LOG_CAP(fs->bs) || 1 + n > room)
        return 0;
    /* Checksum: the record, then every logged block, read through cache slot 0 (the cache is
     * empty at mount); each block's own hash kept in the staging buffer (unused at mount) for
     * the replay to check before it writes the block home. */
    uint64_t h = *hsum = record_sum(fs, hdr), *each = (uint64_t *)(void *)fs->stage;
    for (uint32_t i = 0; i < n; i++) {
        if ((rc = dev_read(fs, ring_blk(fs, pos + 1 + i), blk)) < 0) return rc;
        h = fnv(h, blk, fs->bs);
        each[i] = fnv(FNV_INIT, blk, fs->bs);
    }
    if (h != le_get64(hdr + 32)) return 0;     /* torn: never committed, nothing of it in place */
    rc = dev_read(fs, ring_blk(fs, pos), hdr); /* slot 0 held the blocks; the record again */
    if (rc < 0) return rc;
    if (record_sum(fs, hdr) != *hsum) return EXT2_EIO; /* read differently: see log_recover */
    for (uint32_t i = 0; i < n; i++) {
        uint32_t home = le_get32(hdr + LOG_HDR + 4 * i);
        if (home >= fs->blocks_count || (home < fs->first_data_block && home != fs->sb_blk))
            return EXT2_EUCLEAN;
        for (uint32_t j = 0; j + 1 < fs->log_len; j++) /* the last: the reply table */
            if (fs->log_blk[j] == home) return EXT2_EUCLEAN;
    }
    return n;
}

/* The log's header block names a chain to replay. */
static bool header_valid(const struct ext2_fs *fs, const uint8_t *h)
{
    return le_get32(h) == HDR_MAGIC && le_get32(h + 4) == LOG_VERSION &&
           le_get32(h + 24) == fs->bs && le_get32(h + 12) < fs->log_ring &&
           le_get64(h + 32) == fnv(FNV_INIT, h, 32);
}

/* Replay every record of the chain the header names, in order, then start a new epoch after
 * it. Returns 0 (also when there is nothing to replay), EXT2_EUCLEAN for a valid-looking
 * record that names blocks outside the file system, EXT2_EIO.
 *
 * Where the chain ends decides what survives: ending it one record early loses every
 * acknowledged operation after it for good (the new epoch makes them stale). So the decision is
 * taken twice and everything it rests on is checked again before the new header is written: a
 * bit flipped in this instance's memory while it recovers (a campaign's `corrupt` of a fs that
 * is starting: seed 15 lost four acknowledged creates so, e2fsck clean) or a misread block makes
 * the mount fail with EXT2_EIO instead, and the next instance recovers again (the header has
 * not moved; replaying is idempotent). Each block is checked against its hash from the
 * checksum pass before it goes home, the record block (its home numbers) before any of them,
 * and the record after the end is looked at twice. */
int log_recover(struct ext2_fs *fs)
{
    fs->log_ring = fs->log_len - 2;
    uint8_t *h = fs->scratch, first[LOG_HDR];
    int rc = dev_read(fs, fs->log_blk[0], h);
    if (rc < 0) return rc;
    memcpy(first, h, LOG_HDR);
    uint64_t pos = 0;
    uint64_t seq = 1;
    bool valid = header_valid(fs, h);
    if (valid) {
        fs->log_epoch = le_get32(h + 8);
        pos = le_get32(h + 12);
        seq = le_get64(h + 16);
    } else {
        /* no header (a new image) or a damaged one: a fresh epoch unlike any recent one */
        fs->log_epoch = (uint32_t)fnv(FNV_INIT, h, fs->bs);
    }
    const uint32_t epoch = fs->log_epoch;
    uint64_t pos_chk = ~pos, seq_chk = ~seq; /* a flipped bit in pos or seq shows */
    uint32_t used = 0, used_chk = ~0u;       /* and in used (the room left: a record beyond it ends
                                        * the chain) */
    bool replayed = false;
    while (valid && used < fs->log_ring) {
        uint64_t hsum;
        int64_t n = record_at(fs, pos, seq, fs->log_ring - used, &hsum);
        if (n < 0) return (int)n;
        if (n == 0) break;
        uint8_t *hdr = fs->scratch, *blk = fs->data[0];
        const uint64_t *each = (const uint64_t *)(const void *)fs->stage;
        uint64_t sum = hsum;
        for (uint32_t i = 0; i < (uint32_t)n; i++) {
            if ((rc = dev_read(fs, ring_blk(fs, pos + 1 + i), blk)) < 0) return rc;
            sum = fnv(sum, blk, fs->bs);
            if (fnv(FNV_INIT, blk, fs->bs) != each[i]) return EXT2_EIO; /* never home misread */
            /* the homes as record_at checked them: the reads were waits, where a stray write
             * into hdr would send the block over another one */
            if (record_sum(fs, hdr) != hsum) return EXT2_EIO;
            if ((rc = dev_write(fs, le_get32(hdr + LOG_HDR + 4 * i), blk)) < 0) return rc;
        }
        if (sum != le_get64(hdr + 32)) return EXT2_EIO;
        replayed = true;
        pos = (pos + 1 + (uint32_t)n) % fs->log_ring;
        pos_chk = ~pos;
        if (used != ~used_chk) return EXT2_EIO;
        used += 1 + (uint32_t)n;
        used_chk = ~used;
        seq++;
        seq_chk = ~seq;
    }
    /* The end again: no valid record there, pos and seq as counted, the header as first read,
     * this epoch as it said. */
    if (valid && used < fs->log_ring) {
        uint64_t hsum;
        int64_t n = record_at(fs, pos, seq, fs->log_ring - used, &hsum);
        if (n < 0) return (int)n;
        if (n > 0) return EXT2_EIO;
    }
    if ((rc = dev_read(fs, fs->log_blk[0], h)) < 0) return rc;
    /* valid and the ring's size decided where the chain was looked for: as first found */
    if (pos != ~pos_chk || seq != ~seq_chk || used != ~used_chk || memcmp(first, h, LOG_HDR) != 0 ||
        fs->log_epoch != epoch || (valid && le_get32(h + 8) != epoch) ||
        valid != header_valid(fs, h) || fs->log_ring != fs->log_len - 2)
        return EXT2_EIO;
    if (replayed && (rc = dev_flush(fs)) < 0) return rc;
    /* A new epoch from the end of the chain: records of the dead instance beyond it (a torn
     * one, or later ones the device kept) can never join the new chain. */
    fs->log_epoch++;
    fs->log_seq = seq - 1;
    fs->log_start = fs->log_durable = fs->log_head = pos;
    /* the geometry and the log's blocks it used as the mount's first pass found them */
    if (!geo_state_intact(fs)) return EXT2_EIO;
    log_state_set(fs);
    tag_state_set(fs);
    if ((rc = write_header(fs)) < 0) return rc;
    return dev_flush(fs);
}
