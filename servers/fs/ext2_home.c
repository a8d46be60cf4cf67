/* SPDX-License-Identifier: MIT */
/* What a block must hold before it goes to the disk, and whether a read landed (issue 15: a
 * `corrupt` storm of fs left a metadata block zeroed at its home, the group descriptors once and
 * the log file's indirect block once, after which every mount failed with EUCLEAN). Both
 * shapes are a buffer whose contents no read or operation made: a read that returned before its
 * data came (the buffer keeps what it held: zeros in a new instance's cache), or a buffer
 * written home that was never filled. So every read first fills its buffer with a poison only
 * that read's block and this instance give, and a sector still holding it after the read did
 * not land; and the blocks whose contents the mounted geometry fixes are checked against it
 * when they are read (a damaged disk: EUCLEAN, an error the client sees) and before they are
 * logged or written (then only this instance's memory can be wrong: fs crashes, and the next
 * instance mounts from the disk, which the refused write never reached). */
#include "ext2_int.h"

static uint64_t poison_word(uint32_t blk, uint32_t sector)
{
    uint64_t h = ((uint64_t)blk << 32 | sector) ^ 0x9E3779B97F4A7C15ull;
    h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9ull;
    h = (h ^ (h >> 27)) * 0x94D049BB133111EBull;
    return (h ^ (h >> 31)) | 1; /* never zero */
}

void read_poison(const struct ext2_fs *fs, uint32_t blk, void *buf)
{
    uint8_t *p = buf;
    for (uint32_t s = 0; s < fs->bs >> 9; s++)
        for (uint32_t i = 0; i < 512; i += 8) {
            uint64_t w = poison_word(blk, s) + i;
            memcpy(p + s * 512 + i, &w, 8);
        }
}

bool read_landed(const struct ext2_fs *fs, uint32_t blk, const void *buf)
{
    const uint8_t *p = buf;
    for (uint32_t s = 0; s < fs->bs >> 9; s++) {
        uint64_t first, last;
        memcpy(&first, p + s * 512, 8);
        memcpy(&last, p + s * 512 + 504, 8);
        /* both ends of a sector as poisoned: the device never wrote it (a real sector equals
         * them with a chance of 2^-128) */
        if (first == poison_word(blk, s) && last == poison_word(blk, s) + 504) return false;
    }
    return true;
}

static bool bit(const uint8_t *bm, uint32_t i) { return bm[i / 8] >> (i % 8) & 1; }

/* Whether block b of the file system is marked in the bitmap bm of group g (true when b lies
 * outside the group). */
static bool marked(const struct ext2_fs *fs, const uint8_t *bm, uint32_t g, uint32_t b)
{
    uint64_t first = (uint64_t)fs->first_data_block + (uint64_t)g * fs->bpg;
    return b < first || b >= first + fs->bpg || bit(bm, (uint32_t)(b - first));
}

bool home_ok(const struct ext2_fs *fs, uint32_t blk, const uint8_t *d, bool read)
{
    uint32_t groups = fs->groups < EXT2_MAX_GROUPS ? fs->groups : EXT2_MAX_GROUPS;
    if (!groups || !fs->bs) return true; /* no geometry yet: the mount's own reads */
    if (blk == fs->sb_blk) {
        const uint8_t *sb = d + fs->sb_off;
        if (le_get16(sb + SB_MAGIC) != EXT2_MAGIC ||
            le_get32(sb + SB_BLOCKS_COUNT) != fs->blocks_count ||
            le_get32(sb + SB_INODES_COUNT) != fs->inodes_count)
            return false;
    }
    uint32_t gd0 = fs->first_data_block + 1, per = fs->bs / GD_SIZE;
    if (blk >= gd0 && blk - gd0 < (groups + per - 1) / per) {
        /* a descriptor table block: every descriptor in it where the geometry says */
        for (uint32_t g = (blk - gd0) * per; g < groups && g < (blk - gd0 + 1) * per; g++) {
            const uint8_t *gd = d + (g % per) * GD_SIZE;
            if (le_get32(gd + GD_BLOCK_BITMAP) != fs->grp[g].block_bitmap ||
                le_get32(gd + GD_INODE_BITMAP) != fs->grp[g].inode_bitmap ||
                le_get32(gd + GD_INODE_TABLE) != fs->grp[g].inode_table)
                return false;
        }
    }
    for (uint32_t g = 0; g < groups; g++) {
        if ((blk == fs->grp[g].block_bitmap || (g == 0 && blk == fs->grp[0].inode_bitmap)) &&
            !read) {
            /* written: never all zeros (an operation on a damaged image may free a metadata
             * block a flipped pointer names, but not all of them) */
            for (uint32_t i = 0; i < fs->bs; i++)
                if (d[i]) return true;
            return false;
        }
        if (blk == fs->grp[g].block_bitmap) {
            /* read: the group's share of every group's bitmaps and inode table is in use */
            for (uint32_t h = 0; h < groups; h++) {
                const struct ext2_group *G = &fs->grp[h];
                if (!marked(fs, d, g, G->block_bitmap) || !marked(fs, d, g, G->inode_bitmap) ||
                    !marked(fs, d, g, G->inode_table) ||
                    !marked(fs, d, g, G->inode_table + fs->itb_per_group - 1))
                    return false;
            }
            if (g == 0 && !marked(fs, d, 0, fs->first_data_block)) // the superblock's
                return false;
        }
        if (g == 0 && blk == fs->grp[0].inode_bitmap) {
            /* the reserved inodes (the root's among them) are in use */
            for (uint32_t i = 0; i + 1 < fs->first_ino && i < fs->ipg; i++)
                if (!bit(d, i)) return false;
        }
    }
    return true;
}

void home_check(struct ext2_fs *fs, uint32_t blk, const uint8_t *d)
{
    if (!home_ok(fs, blk, d, false)) ext2_cache_corrupt(fs, EXT2_CACHE_BLOCKS);
}
