/* SPDX-License-Identifier: MIT */
/* Block and inode allocation: the bitmaps and the free counts of the group descriptors and the
 * superblock, which change together in one transaction (e2fsck compares all three). */
#include "ext2_int.h"

/* Add delta to a 16-bit group counter and a 32-bit superblock counter. */
static int adjust(struct ext2_fs *fs, uint32_t group, int gd_off, int sb_off, int delta)
{
    uint8_t *gd, *sb;
    int gs, ss, rc = gd_get(fs, group, &gd, &gs);
    if (rc < 0) return rc;
    le_put16(gd + gd_off, (uint16_t)(le_get16(gd + gd_off) + delta));
    bdirty(fs, gs, true);
    bput(fs, gs);
    if (sb_off < 0) return 0;
    if ((rc = sb_get(fs, &sb, &ss)) < 0) return rc;
    le_put32(sb + sb_off, le_get32(sb + sb_off) + (uint32_t)delta);
    bdirty(fs, ss, true);
    bput(fs, ss);
    return 0;
}

/* A group descriptor's 16-bit counter at `off` (free blocks, free inodes). */
static int gd_count(struct ext2_fs *fs, uint32_t g, int off, uint32_t *val)
{
    uint8_t *gd;
    int gs, rc = gd_get(fs, g, &gd, &gs);
    if (rc < 0) return rc;
    *val = le_get16(gd + off);
    bput(fs, gs);
    return 0;
}

/* Clears bit i of the bitmap in block `bitmap`; EXT2_EUCLEAN if it was clear already. */
/* Clears bit x - base of its group's bitmap (of inodes or blocks): x, its group and bit sat on
 * the stack while the bitmap was read, where a stray write into one of them (issue 15's
 * `corrupt`) would free another inode or block than the caller's: they must still agree. */
static int bitmap_release(struct ext2_fs *fs, bool inodes, uint32_t x, uint32_t base)
{
    uint32_t per = inodes ? fs->ipg : fs->bpg, g = (x - base) / per, i = (x - base) % per;
    uint8_t *bm;
    int bs, rc = bget(fs, inodes ? fs->grp[g].inode_bitmap : fs->grp[g].block_bitmap, &bm, &bs);
    if (rc < 0) return rc;
    if (g != (x - base) / per || i != (x - base) % per ||
        fs->buf[bs].blk != (inodes ? fs->grp[g].inode_bitmap : fs->grp[g].block_bitmap))
        ext2_cache_corrupt(fs, EXT2_CACHE_BLOCKS);
    if (!(bm[i / 8] & (1u << (i % 8)))) {
        bput(fs, bs);
        return EXT2_EUCLEAN;
    }
    bm[i / 8] &= (uint8_t) ~(1u << (i % 8));
    bdirty(fs, bs, true);
    bput(fs, bs);
    return 0;
}

static uint32_t group_blocks(const struct ext2_fs *fs, uint32_t g)
{
    uint32_t start = fs->first_data_block + g * fs->bpg;
    return fs->blocks_count - start < fs->bpg ? fs->blocks_count - start : fs->bpg;
}

/* Allocate a block, preferring goal's group. The block's contents are the caller's to set.
 * Returns 0 and *blk, EXT2_ENOSPC, or an error reading a bitmap. */
int alloc_block(struct ext2_fs *fs, uint32_t goal, uint32_t *blk)
{
    uint32_t g0 = blk_valid(fs, goal) ? (goal - fs->first_data_block) / fs->bpg : 0;
    for (uint32_t k = 0; k < fs->groups; k++) {
        uint32_t g = (g0 + k) % fs->groups;
        uint32_t free;
        int rc = gd_count(fs, g, GD_FREE_BLOCKS, &free);
        if (rc < 0) return rc;
        if (!free) continue;
        uint8_t *bm;
        int bs;
        if ((rc = bget(fs, fs->grp[g].block_bitmap, &bm, &bs)) < 0) return rc;
        uint32_t n = group_blocks(fs, g);
        uint32_t start = (k == 0 && goal > fs->first_data_block + g * fs->bpg)
                             ? goal - fs->first_data_block - g * fs->bpg
                             : 0;
        for (uint32_t j = 0; j < n; j++) {
            uint32_t i = (start + j) % n;
            if (bm[i / 8] & (1u << (i % 8))) continue;
            bm[i / 8] |= (uint8_t)(1u << (i % 8));
            bdirty(fs, bs, true);
            bput(fs, bs);
            *blk = fs->first_data_block + g * fs->bpg + i;
            return adjust(fs, g, GD_FREE_BLOCKS, SB_FREE_BLOCKS, -1);
        }
        bput(fs, bs);
        return EXT2_EUCLEAN; /* the descriptor counted free blocks the bitmap does not have */
    }
    return EXT2_ENOSPC;
}

/* Returns 0, or EXT2_EUCLEAN for a block outside the file system or already free. */
int free_block(struct ext2_fs *fs, uint32_t blk)
{
    if (!blk_valid(fs, blk)) return EXT2_EUCLEAN;
    uint32_t g = (blk - fs->first_data_block) / fs->bpg;
    int rc = bitmap_release(fs, false, blk, fs->first_data_block);
    if (rc < 0) return rc;
    fs->txn_freed = true; /* ext2_log.c: no reuse before this is durable */
    return adjust(fs, g, GD_FREE_BLOCKS, SB_FREE_BLOCKS, 1);
}

/* Allocate an inode: a directory goes to the group with the most free inodes (spreading the
 * tree), a file to its parent's group. The record is the caller's to write. */
int alloc_inode(struct ext2_fs *fs, uint32_t parent, bool dir, uint32_t *ino)
{
    uint32_t g0 = (parent - 1) / fs->ipg;
    if (dir) {
        uint32_t best = 0;
        for (uint32_t g = 0; g < fs->groups; g++) {
            uint32_t f;
            int rc = gd_count(fs, g, GD_FREE_INODES, &f);
            if (rc < 0) return rc;
            if (f > best) {
                best = f;
                g0 = g;
            }
        }
    }
    for (uint32_t k = 0; k < fs->groups; k++) {
        uint32_t g = (g0 + k) % fs->groups;
        uint32_t free;
        int rc = gd_count(fs, g, GD_FREE_INODES, &free);
        if (rc < 0) return rc;
        if (!free) continue;
        uint8_t *bm;
        int bs;
        if ((rc = bget(fs, fs->grp[g].inode_bitmap, &bm, &bs)) < 0) return rc;
        for (uint32_t i = 0; i < fs->ipg; i++) {
            uint32_t n = g * fs->ipg + i + 1;
            if (n < fs->first_ino || (bm[i / 8] & (1u << (i % 8)))) continue;
            bm[i / 8] |= (uint8_t)(1u << (i % 8));
            bdirty(fs, bs, true);
            bput(fs, bs);
            *ino = n;
            if ((rc = adjust(fs, g, GD_FREE_INODES, SB_FREE_INODES, -1)) < 0) return rc;
            return dir ? adjust(fs, g, GD_USED_DIRS, -1, 1) : 0;
        }
        bput(fs, bs);
        return EXT2_EUCLEAN;
    }
    return EXT2_ENOSPC;
}

int free_inode(struct ext2_fs *fs, uint32_t ino, bool dir)
{
    if (ino < 1 || ino > fs->inodes_count) return EXT2_EUCLEAN;
    uint32_t g = (ino - 1) / fs->ipg;
    int rc = bitmap_release(fs, true, ino, 1);
    if (rc < 0) return rc;
    if ((rc = adjust(fs, g, GD_FREE_INODES, SB_FREE_INODES, 1)) < 0) return rc;
    return dir ? adjust(fs, g, GD_USED_DIRS, -1, -1) : 0;
}
