/* SPDX-License-Identifier: MIT */
/* Block cache checksums: a stray write into a cached block (a bug, or an injected `corrupt`)
 * must not be served to a client or written to the disk. Each buffer is either open (taken by
 * the running operation, which may change it) or sealed with a checksum of its contents, taken
 * when the operation that opened it ended. A sealed buffer is verified when it is taken again
 * and before it is written out; a mismatch crashes fs on purpose (ext2_cache_corrupt): the
 * restarted instance reads the block from the disk again, where everything acknowledged as
 * synced is (docs/restart.md "Validating inherited state"). */
#include "ext2_int.h"

/* A multiply-xorshift hash, one round per 64-bit word: each round is a bijection of the state,
 * so a change confined to one word always changes the result, and changes in several words
 * cancel with a chance of 2^-64. (A Fletcher sum was tried first: two of its sums moved
 * together for a flip of a word's top bit, which then went unseen.) */
uint64_t cache_block_sum(const uint8_t *d, uint32_t bs)
{
    uint64_t h = 0x243F6A8885A308D3ull ^ bs;
    for (uint32_t i = 0; i + 8 <= bs; i += 8) {
        uint64_t w;
        memcpy(&w, d + i, 8);
        h = (h ^ w) * 0xBF58476D1CE4E5B9ull;
        h ^= h >> 31;
    }
    return h;
}

/* The default reaction to a corrupt block (or slot EXT2_CACHE_BLOCKS: other state): an invalid opcode, which init sees as a crash and
 * answers with a restart. (A host test may replace it.) */
__attribute__((weak)) void ext2_cache_corrupt(struct ext2_fs *fs, uint32_t slot)
{
    (void)fs, (void)slot;
    __builtin_trap();
}

/* The seal covers the block number too: a flipped b->blk would otherwise serve the contents
 * as another block's, or write them over another block's home at a checkpoint (seen: a stale
 * inode-table block over /t/a2's inode after a `corrupt` of fs). */
static uint64_t seal_of(const struct ext2_fs *fs, uint32_t slot)
{
    return cache_block_sum(fs->data[slot], fs->bs) ^ (fs->buf[slot].blk * 0x9E3779B97F4A7C15ull);
}

static void verify(struct ext2_fs *fs, uint32_t slot)
{
    const struct ext2_buf *b = &fs->buf[slot];
    if (b->valid && !b->open && seal_of(fs, slot) != b->sum) ext2_cache_corrupt(fs, slot);
}

/* The list of open slots (fs->open_list): a wait and the operation's end visit these alone.
 * Its check is a sum of a term per entry, so adding one is cheap; it is recomputed in full
 * wherever the list is walked. A flipped entry or count is a corrupt state. */
static uint64_t mix(uint64_t h, uint64_t w);

static uint64_t open_term(uint32_t slot) { return mix(0x9E3779B97F4A7C15ull, slot + 1u); }

static uint64_t open_sum(const struct ext2_fs *fs)
{
    uint64_t h = 0;
    for (uint32_t i = 0; i < fs->n_open; i++) h += open_term(fs->open_list[i]) + 1;
    return h;
}

static void open_verify(struct ext2_fs *fs)
{
    if (fs->n_open > EXT2_CACHE_BLOCKS || open_sum(fs) != fs->open_chk)
        ext2_cache_corrupt(fs, EXT2_CACHE_BLOCKS);
}

/* Marks slot open and lists it (its fields were checked just before). */
static void open_slot(struct ext2_fs *fs, uint32_t slot)
{
    struct ext2_buf *b = &fs->buf[slot];
    if (!b->open) {
        if (fs->n_open >= EXT2_CACHE_BLOCKS) ext2_cache_corrupt(fs, EXT2_CACHE_BLOCKS);
        fs->open_list[fs->n_open++] = (uint16_t)slot;
        fs->open_chk += open_term(slot) + 1;
    }
    b->open = 1;
    cache_meta_set(fs, slot);
}

/* Drops the listed slots no longer open. */
static void open_compact(struct ext2_fs *fs)
{
    uint32_t j = 0;
    for (uint32_t i = 0; i < fs->n_open; i++)
        if (fs->buf[fs->open_list[i]].open) fs->open_list[j++] = fs->open_list[i];
    fs->n_open = j;
    fs->open_chk = open_sum(fs);
}

void cache_check_take(struct ext2_fs *fs, uint32_t slot, bool hit)
{
    if (hit) verify(fs, slot);
    cache_meta_check(fs, slot);
    open_slot(fs, slot);
}

static int slot_of(const struct ext2_fs *fs, const void *buf);

void cache_check_write(struct ext2_fs *fs, const void *buf)
{
    int slot = slot_of(fs, buf);
    if (slot >= 0) verify(fs, (uint32_t)slot); // else not a cache buffer (the log header)
}

/* The slot whose data buf is, or -1 (not a cache buffer). */
static int slot_of(const struct ext2_fs *fs, const void *buf)
{
    uintptr_t p = (uintptr_t)buf, first = (uintptr_t)fs->data[0];
    return p >= first && p < first + sizeof(fs->data) ? (int)((p - first) / EXT2_MAX_BS) : -1;
}

/* A device request is where an operation waits for the disk, and where a stray write strikes
 * (issue 15's `corrupt` is injected at fs's block requests and at the pings fs answers while it
 * waits). A buffer the running operation took used to stay open until the operation's end, and
 * a flip in it then was sealed and committed as a right result: a name in a directory block
 * read on the way (its file "not found" for good, e2fsck clean), bytes of a data block beside
 * those a write names. So before each request every open buffer is sealed: one nobody holds
 * is closed (a later take verifies it and opens it again), one held across the request is
 * checked after it. into: the buffer the request reads into (its old contents no longer
 * count: it stays open, sealed at the operation's end), or NULL. */
void cache_wait_begin(struct ext2_fs *fs, const void *into)
{
    int into_slot = slot_of(fs, into);
    open_verify(fs);
    for (uint32_t k = 0; k < fs->n_open; k++) {
        uint32_t i = fs->open_list[k];
        struct ext2_buf *b = &fs->buf[i];
        cache_meta_check(fs, i);
        if (!b->open || !b->valid || (int)i == into_slot) continue;
        b->sum = seal_of(fs, i);
        b->open = b->refs != 0;
        cache_meta_set(fs, i);
    }
    open_compact(fs);
}

void cache_wait_end(struct ext2_fs *fs, const void *into)
{
    int into_slot = slot_of(fs, into);
    open_verify(fs);
    for (uint32_t k = 0; k < fs->n_open; k++) {
        uint32_t i = fs->open_list[k];
        struct ext2_buf *b = &fs->buf[i];
        cache_meta_check(fs, i);
        if ((int)i != into_slot && b->open && b->valid && b->refs && seal_of(fs, i) != b->sum)
            ext2_cache_corrupt(fs, i);
    }
    if (into_slot >= 0) {
        cache_meta_check(fs, (uint32_t)into_slot);
        open_slot(fs, (uint32_t)into_slot);
    }
}

void cache_seal(struct ext2_fs *fs)
{
    open_verify(fs);
    for (uint32_t k = 0; k < fs->n_open; k++) {
        uint32_t i = fs->open_list[k];
        struct ext2_buf *b = &fs->buf[i];
        cache_meta_check(fs, i);
        if (!b->open) continue;
        if (b->valid) b->sum = seal_of(fs, i);
        b->open = 0;
        cache_meta_set(fs, i);
    }
    fs->n_open = 0;
    fs->open_chk = 0;
}

/* The bookkeeping of the cache and the log (issue 15: a `corrupt` of fs flips bits in its
 * globals, of which the blocks' contents are only the largest part). A flipped `pinned` lets a
 * buffer whose home is stale be evicted and the stale home be read again; a flipped `valid`,
 * `blk` or link of the index makes a lookup miss a buffer the cache holds, and the stale home
 * is read as well; a flipped `logpos` takes another block's logged copy home; a flipped log
 * position leaves a gap in the chain that recovery stops at. Each of these would be committed
 * as a correct result. So every buffer's fields carry a check, set wherever they change and
 * verified before they are acted on (a lookup's hit, every slot on a miss, commit, checkpoint,
 * abort); the geometry and the log's block list (fixed at mount) and the log's positions carry
 * one too, verified before anything is written. A mismatch is handled as a corrupt block:
 * fs crashes and the next instance mounts from the disk. */
static uint64_t mix(uint64_t h, uint64_t w)
{
    h = (h ^ w) * 0xBF58476D1CE4E5B9ull; // a bijection per round, as in cache_block_sum
    return h ^ (h >> 31);
}

static uint64_t meta_of(const struct ext2_buf *b)
{
    uint64_t f = (uint64_t)b->refs | (uint64_t)b->valid << 16 | (uint64_t)b->dirty << 24 |
                 (uint64_t)b->meta << 32 | (uint64_t)b->pinned << 40 | (uint64_t)b->hashed << 48 |
                 (uint64_t)b->open << 56;
    return mix(mix(0x6A09E667F3BCC908ull, (uint64_t)b->blk | (uint64_t)b->logpos << 32), f);
}

/* Called right after a change of the fields, which the caller checked just before it (a
 * stray change in between would otherwise become the checked state). */
void cache_meta_set(struct ext2_fs *fs, uint32_t slot)
{
    fs->buf[slot].mchk = meta_of(&fs->buf[slot]);
}

void cache_meta_check(struct ext2_fs *fs, uint32_t slot)
{
    if (slot >= EXT2_CACHE_BLOCKS || fs->buf[slot].mchk != meta_of(&fs->buf[slot]))
        ext2_cache_corrupt(fs, slot);
}

static uint64_t words(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i += 4) {
        uint32_t w = 0;
        memcpy(&w, b + i, n - i < 4 ? n - i : 4);
        h = mix(h, w);
    }
    return h;
}

static uint64_t geo_of(const struct ext2_fs *fs)
{
    uint64_t h = words(0x3C6EF372FE94F82Bull, &fs->bs,
                       (size_t)((const uint8_t *)&fs->grp - (const uint8_t *)&fs->bs));
    uint32_t groups = fs->groups < EXT2_MAX_GROUPS ? fs->groups : EXT2_MAX_GROUPS;
    uint32_t len = fs->log_len < EXT2_LOG_MAX ? fs->log_len : EXT2_LOG_MAX;
    h = words(h, fs->grp, groups * sizeof fs->grp[0]);
    h = mix(mix(mix(mix(h, fs->log_ino), fs->log_len), fs->log_cap), fs->txn_max);
    return words(h, fs->log_blk, len * sizeof fs->log_blk[0]);
}

static uint64_t log_of(const struct ext2_fs *fs)
{
    uint64_t h = mix(mix(0xA54FF53A5F1D36F1ull, fs->log_head), fs->log_start);
    h = mix(mix(h, fs->log_durable), fs->log_seq);
    return mix(mix(h, fs->log_epoch), fs->log_ring);
}

static uint64_t tag_of(const struct ext2_fs *fs)
{
    return mix(mix(0x510E527FADE682D1ull, fs->tag_client), fs->tag_id);
}

void state_set(struct ext2_fs *fs)
{
    fs->geo_chk = geo_of(fs);
    fs->log_chk = log_of(fs);
    fs->tag_chk = tag_of(fs);
}

void log_state_set(struct ext2_fs *fs) { fs->log_chk = log_of(fs); }
void geo_state_set(struct ext2_fs *fs) { fs->geo_chk = geo_of(fs); }
bool geo_state_intact(const struct ext2_fs *fs) { return fs->geo_chk == geo_of(fs); }
void tag_state_set(struct ext2_fs *fs) { fs->tag_chk = tag_of(fs); }

void state_check(struct ext2_fs *fs)
{
    if (fs->geo_chk != geo_of(fs) || fs->log_chk != log_of(fs) || fs->tag_chk != tag_of(fs))
        ext2_cache_corrupt(fs, EXT2_CACHE_BLOCKS);
}
