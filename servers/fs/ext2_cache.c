/* SPDX-License-Identifier: MIT */
/* The block cache: a fixed pool of block buffers with LRU replacement. Dirty buffers are never
 * evicted: they belong to the running transaction until ext2_log.c commits or drops them. */
#include "ext2_int.h"

/* The cache is sealed around each request (ext2_cache_check.c: cache_wait_begin). */
int dev_rw(struct ext2_fs *fs, bool write, uint64_t sector, uint32_t count, void *buf)
{
    cache_wait_begin(fs, write ? NULL : buf);
    int rc = write ? fs->dev.write(fs->dev.ctx, sector, count, buf)
                   : fs->dev.read(fs->dev.ctx, sector, count, buf);
    cache_wait_end(fs, write ? NULL : buf);
    return rc < 0 ? EXT2_EIO : 0;
}

int dev_read(struct ext2_fs *fs, uint32_t blk, void *buf)
{
    uint32_t spb = fs->bs >> 9;
    if ((uint64_t)(blk + 1) * spb > fs->dev.sectors) return EXT2_EIO;
    read_poison(fs, blk, buf); // a read that returns before its data came shows (ext2_home.c)
    int rc = dev_rw(fs, false, (uint64_t)blk * spb, spb, buf);
    if (rc == 0 && !read_landed(fs, blk, buf)) ext2_cache_corrupt(fs, EXT2_CACHE_BLOCKS);
    return rc;
}

/* Every write of the library passes here: nothing beyond the device is ever written. */
int dev_write(struct ext2_fs *fs, uint32_t blk, const void *buf)
{
    uint32_t spb = fs->bs >> 9;
    cache_check_write(fs, buf); // a cached block changed since it was sealed never goes out
    if (blk >= fs->blocks_count || (uint64_t)(blk + 1) * spb > fs->dev.sectors) return EXT2_EIO;
    home_check(fs, blk, buf); // what the geometry fixes, as it says (ext2_home.c)
    return dev_rw(fs, true, (uint64_t)blk * spb, spb, (void *)(uintptr_t)buf);
}

int dev_flush(struct ext2_fs *fs)
{
    cache_wait_begin(fs, NULL);
    int rc = fs->dev.flush(fs->dev.ctx);
    cache_wait_end(fs, NULL);
    return rc < 0 ? EXT2_EIO : 0;
}

/* The index: a chain of slots per bucket of block numbers, so that a lookup does not scan the
 * whole cache. A slot is on the chain of its blk while `hashed`, valid or not. */
static uint32_t bucket(uint32_t blk) { return (blk * 2654435761u) >> (32 - EXT2_HASH_BITS); }

/* A link of a chain: a slot, or -1 at the end; anything else, or a chain longer than the cache
 * (a cycle), is a flipped link (ext2_cache_check.c) and crashes. */
static int link_ok(struct ext2_fs *fs, int s, uint32_t steps)
{
    if (s < -1 || s >= (int)EXT2_CACHE_BLOCKS || steps > EXT2_CACHE_BLOCKS)
        ext2_cache_corrupt(fs, EXT2_CACHE_BLOCKS);
    return s;
}

static int lookup(struct ext2_fs *fs, uint32_t blk)
{
    uint32_t steps = 0;
    for (int s = link_ok(fs, fs->hhead[bucket(blk)], 0); s >= 0;
         s = link_ok(fs, fs->buf[s].hnext, ++steps))
        if (fs->buf[s].valid && fs->buf[s].blk == blk) {
            cache_meta_check(fs, (uint32_t)s);
            return s;
        }
    return -1;
}

static void unhash(struct ext2_fs *fs, int s)
{
    if (!fs->buf[s].hashed) return;
    int16_t *p = &fs->hhead[bucket(fs->buf[s].blk)];
    uint32_t steps = 0;
    while (*p != s) {
        if (link_ok(fs, *p, ++steps) < 0) ext2_cache_corrupt(fs, (uint32_t)s); // not on its chain
        p = &fs->buf[*p].hnext;
    }
    *p = fs->buf[s].hnext;
    fs->buf[s].hashed = 0;
}

static void rehash(struct ext2_fs *fs, int s, uint32_t blk)
{
    unhash(fs, s);
    fs->buf[s].blk = blk;
    uint32_t h = bucket(blk);
    fs->buf[s].hnext = fs->hhead[h];
    fs->hhead[h] = (int16_t)s;
    fs->buf[s].hashed = 1;
    cache_meta_set(fs, (uint32_t)s);
}

static int slot_for(struct ext2_fs *fs, uint32_t blk, bool *hit)
{
    int victim = lookup(fs, blk);
    *hit = victim >= 0;
    if (*hit) return victim;
    for (uint32_t i = 0; i < EXT2_CACHE_BLOCKS; i++) {
        struct ext2_buf *b = &fs->buf[i];
        /* A miss is read from the block's home, which is stale while the block is pinned: every
         * slot's fields are checked, and a slot that holds blk after all (the index lost it) is
         * corrupt state, never a reason to read the home. */
        cache_meta_check(fs, i);
        if (b->blk == blk && (b->valid || b->pinned || b->dirty)) ext2_cache_corrupt(fs, i);
        if (b->refs || b->dirty || b->pinned) continue; /* pinned: home is stale (ext2_log.c) */
        if (victim < 0 || !b->valid || (fs->buf[victim].valid && b->stamp < fs->buf[victim].stamp))
            victim = (int)i;
    }
    *hit = false;
    return victim < 0 ? EXT2_ENOMEM : victim;
}

static int get(struct ext2_fs *fs, uint32_t blk, uint8_t **data, int *slot, bool fresh)
{
    *data = NULL;
    *slot = -1;
    if (!blk_valid(fs, blk) && blk != fs->sb_blk) return EXT2_EUCLEAN;
    bool hit;
    int s = slot_for(fs, blk, &hit);
    if (s < 0) return s;
    struct ext2_buf *b = &fs->buf[s];
    if (!hit) {
        b->valid = 0;
        cache_meta_set(fs, (uint32_t)s);
        if (fresh) {
            memset(fs->data[s], 0, fs->bs);
        } else {
            int rc = dev_read(fs, blk, fs->data[s]);
            if (rc < 0) return rc;
            if (fs->mounted && !home_ok(fs, blk, fs->data[s], true)) return EXT2_EUCLEAN; // damaged
        }
        cache_meta_check(fs, (uint32_t)s); // the read waited for the disk
        rehash(fs, s, blk);
        b->valid = 1;
        b->dirty = 0;
        b->meta = 0;
    } else if (fresh) {
        memset(fs->data[s], 0, fs->bs);
    }
    b->refs++;
    cache_meta_set(fs, (uint32_t)s); // no wait for the disk since the check (slot_for, above)
    cache_check_take(fs, (uint32_t)s, hit && !fresh); // served only as sealed (or now read)
    b->stamp = ++fs->stamp;
    *data = fs->data[s];
    *slot = s;
    return 0;
}

/* Returns 0 with the buffer referenced, EXT2_EUCLEAN for a block number outside the file
 * system, EXT2_ENOMEM when every buffer is referenced or dirty, EXT2_EIO. */
int bget(struct ext2_fs *fs, uint32_t blk, uint8_t **data, int *slot)
{
    return get(fs, blk, data, slot, false);
}

int bget_new(struct ext2_fs *fs, uint32_t blk, uint8_t **data, int *slot)
{
    return get(fs, blk, data, slot, true);
}

void bput(struct ext2_fs *fs, int slot)
{
    if (slot >= 0 && slot < (int)EXT2_CACHE_BLOCKS && fs->buf[slot].refs) {
        cache_meta_check(fs, (uint32_t)slot);
        fs->buf[slot].refs--;
        cache_meta_set(fs, (uint32_t)slot);
    }
}

/* Mark the buffer part of the running transaction; meta: through the log (anything but a
 * file's data block). */
void bdirty(struct ext2_fs *fs, int slot, bool meta)
{
    struct ext2_buf *b = &fs->buf[slot];
    cache_meta_check(fs, (uint32_t)slot);
    if (!b->dirty) txn_dirty_set(fs, cache_dirty_count(fs) + 1);
    b->dirty = 1;
    b->meta |= meta;
    cache_meta_set(fs, (uint32_t)slot);
}

/* The running transaction's count of dirty buffers decides whether there is a commit at all: a
 * stray write that zeroed it had an operation acknowledged with nothing logged, and the next
 * commit's count found the mismatch only after that reply (a `corrupt` storm's lost creates,
 * docs/resilience.md). So it is kept with its complement and checked wherever it is read. */
uint32_t cache_dirty_count(struct ext2_fs *fs)
{
    if (fs->txn_dirty != ~fs->txn_dirty_not) ext2_cache_corrupt(fs, EXT2_CACHE_BLOCKS);
    return fs->txn_dirty;
}

void txn_dirty_set(struct ext2_fs *fs, uint32_t n)
{
    fs->txn_dirty = n;
    fs->txn_dirty_not = ~n;
}

/* The slot holding blk, or -1: for writers that bypass the cache when it holds no copy. */
int cache_find(struct ext2_fs *fs, uint32_t blk) { return lookup(fs, blk); }

void cache_reset(struct ext2_fs *fs)
{
    memset(fs->buf, 0, sizeof fs->buf);
    for (uint32_t i = 0; i < EXT2_HASH; i++) fs->hhead[i] = -1;
    txn_dirty_set(fs, 0);
    fs->pinned = 0;
    fs->n_open = 0;
    fs->open_chk = 0;
    for (uint32_t i = 0; i < EXT2_CACHE_BLOCKS; i++) cache_meta_set(fs, i);
}
