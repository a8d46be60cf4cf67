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

/* The default reaction to a corrupt block: an invalid opcode, which init sees as a crash and
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

void cache_check_take(struct ext2_fs *fs, uint32_t slot, bool hit)
{
    if (hit) verify(fs, slot);
    fs->buf[slot].open = 1;
}

void cache_check_write(struct ext2_fs *fs, const void *buf)
{
    uintptr_t p = (uintptr_t)buf, first = (uintptr_t)fs->data[0];
    if (p < first || p >= first + sizeof(fs->data)) return; // not a cache buffer (the log header)
    verify(fs, (uint32_t)((p - first) / EXT2_MAX_BS));
}

void cache_seal(struct ext2_fs *fs)
{
    for (uint32_t i = 0; i < EXT2_CACHE_BLOCKS; i++) {
        struct ext2_buf *b = &fs->buf[i];
        if (!b->open) continue;
        if (b->valid) b->sum = seal_of(fs, i);
        b->open = 0;
    }
}
