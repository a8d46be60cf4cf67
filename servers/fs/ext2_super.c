/* SPDX-License-Identifier: MIT */
/* Mount: the superblock and group descriptors, each field checked before anything trusts it,
 * the log found and recovered. */
#include "ext2_int.h"

bool blk_valid(const struct ext2_fs *fs, uint32_t blk)
{
    return blk >= fs->first_data_block && blk < fs->blocks_count;
}

uint32_t fs_now(struct ext2_fs *fs) { return fs->clock ? fs->clock(fs->clock_ctx) : 0; }

int sb_get(struct ext2_fs *fs, uint8_t **sb, int *slot)
{
    uint8_t *d;
    *sb = NULL;
    int rc = bget(fs, fs->sb_blk, &d, slot);
    if (rc == 0) *sb = d + fs->sb_off;
    return rc;
}

int gd_get(struct ext2_fs *fs, uint32_t group, uint8_t **gd, int *slot)
{
    uint32_t off = group * GD_SIZE;
    uint8_t *d;
    *gd = NULL;
    int rc = bget(fs, fs->first_data_block + 1 + off / fs->bs, &d, slot);
    if (rc == 0) *gd = d + off % fs->bs;
    return rc;
}

/* The geometry fields of the superblock sb (in scratch): EXT2_ENOTSUP for what this library
 * does not implement, EXT2_EUCLEAN for values that contradict each other or the device. */
static int check_super(struct ext2_fs *fs, const uint8_t *sb)
{
    if (le_get16(sb + SB_MAGIC) != EXT2_MAGIC) return EXT2_EUCLEAN;
    if (le_get32(sb + SB_REV_LEVEL) != 1)
        return EXT2_ENOTSUP; /* revision 0 (fixed inode size) is not supported */
    uint32_t lbs = le_get32(sb + SB_LOG_BLOCK_SIZE);
    if (lbs > 2) return EXT2_ENOTSUP;
    fs->bs_shift = 10 + lbs;
    fs->bs = 1024u << lbs;
    fs->apb = fs->bs / 4;
    fs->feat_compat = le_get32(sb + SB_FEATURE_COMPAT);
    fs->feat_incompat = le_get32(sb + SB_FEATURE_INCOMPAT);
    fs->feat_ro = le_get32(sb + SB_FEATURE_RO_COMPAT);
    if (fs->feat_incompat & ~INCOMPAT_SUPPORTED) return EXT2_ENOTSUP;
    if (fs->feat_ro & ~RO_COMPAT_SUPPORTED) return EXT2_ENOTSUP;
    if (fs->feat_compat & ~COMPAT_SUPPORTED) return EXT2_ENOTSUP;
    fs->blocks_count = le_get32(sb + SB_BLOCKS_COUNT);
    fs->inodes_count = le_get32(sb + SB_INODES_COUNT);
    fs->first_data_block = le_get32(sb + SB_FIRST_DATA_BLOCK);
    fs->bpg = le_get32(sb + SB_BLOCKS_PER_GROUP);
    fs->ipg = le_get32(sb + SB_INODES_PER_GROUP);
    fs->inode_size = le_get16(sb + SB_INODE_SIZE);
    fs->first_ino = le_get32(sb + SB_FIRST_INO);
    if (le_get32(sb + SB_LOG_FRAG_SIZE) != lbs || le_get32(sb + SB_FRAGS_PER_GROUP) != fs->bpg)
        return EXT2_ENOTSUP; /* fragments were never implemented anywhere */
    if (fs->first_data_block != (fs->bs == 1024 ? 1u : 0u)) return EXT2_EUCLEAN;
    if (fs->bpg == 0 || fs->bpg > fs->bs * 8 || fs->bpg % 8) return EXT2_EUCLEAN;
    if (fs->inode_size < EXT2_GOOD_OLD_INODE_SIZE || fs->inode_size > fs->bs ||
        (fs->inode_size & (fs->inode_size - 1)))
        return EXT2_EUCLEAN;
    if (fs->ipg == 0 || fs->ipg > fs->bs * 8 || fs->ipg % (fs->bs / fs->inode_size))
        return EXT2_EUCLEAN;
    if (fs->blocks_count <= fs->first_data_block + 1) return EXT2_EUCLEAN;
    if ((uint64_t)fs->blocks_count * (fs->bs >> 9) > fs->dev.sectors)
        return EXT2_EUCLEAN; /* the file system claims more than the device has */
    fs->groups = (fs->blocks_count - fs->first_data_block + fs->bpg - 1) / fs->bpg;
    if (fs->groups > EXT2_MAX_GROUPS) return EXT2_ENOTSUP;
    if ((uint64_t)fs->groups * fs->ipg != fs->inodes_count) return EXT2_EUCLEAN;
    if (fs->first_ino < 11 || fs->first_ino >= fs->inodes_count) return EXT2_EUCLEAN;
    if (le_get32(sb + SB_FREE_BLOCKS) > fs->blocks_count ||
        le_get32(sb + SB_FREE_INODES) > fs->inodes_count ||
        le_get32(sb + SB_R_BLOCKS_COUNT) > fs->blocks_count)
        return EXT2_EUCLEAN;
    fs->itb_per_group = fs->ipg / (fs->bs / fs->inode_size);
    fs->gdt_blocks = (fs->groups * GD_SIZE + fs->bs - 1) / fs->bs;
    if (fs->first_data_block + 1 + fs->gdt_blocks > fs->blocks_count) return EXT2_EUCLEAN;
    return 0;
}

/* Every group's bitmaps and inode table lie inside the group (no flex_bg), apart from the
 * superblock and descriptor table, and its counts do not exceed its size. */
static int check_groups(struct ext2_fs *fs)
{
    for (uint32_t g = 0; g < fs->groups; g++) {
        uint8_t *gd;
        int slot, rc = gd_get(fs, g, &gd, &slot);
        if (rc < 0) return rc;
        struct ext2_group *G = &fs->grp[g];
        G->block_bitmap = le_get32(gd + GD_BLOCK_BITMAP);
        G->inode_bitmap = le_get32(gd + GD_INODE_BITMAP);
        G->inode_table = le_get32(gd + GD_INODE_TABLE);
        uint32_t fb = le_get16(gd + GD_FREE_BLOCKS), fi = le_get16(gd + GD_FREE_INODES);
        uint32_t dirs = le_get16(gd + GD_USED_DIRS);
        bput(fs, slot);
        uint32_t start = fs->first_data_block + g * fs->bpg;
        uint32_t end = start + fs->bpg;
        if (end > fs->blocks_count || end < start) end = fs->blocks_count;
        uint32_t meta_end = start + 1 + fs->gdt_blocks;
        bool in = G->block_bitmap >= start && G->block_bitmap < end && G->inode_bitmap >= start &&
                  G->inode_bitmap < end && G->inode_table >= start && G->inode_table < end &&
                  (uint64_t)G->inode_table + fs->itb_per_group <= end;
        if (!in || G->block_bitmap == G->inode_bitmap ||
            (G->block_bitmap >= G->inode_table &&
             G->block_bitmap < G->inode_table + fs->itb_per_group) ||
            (G->inode_bitmap >= G->inode_table &&
             G->inode_bitmap < G->inode_table + fs->itb_per_group))
            return EXT2_EUCLEAN;
        if (g == 0 &&
            (G->block_bitmap < meta_end || G->inode_bitmap < meta_end || G->inode_table < meta_end))
            return EXT2_EUCLEAN;
        if (fb > end - start || fi > fs->ipg || dirs > fs->ipg) return EXT2_EUCLEAN;
    }
    return 0;
}

/* The log file: a regular file without holes in the root directory, at least 64 blocks. */
static int find_log(struct ext2_fs *fs)
{
    struct inode root, log;
    int rc = inode_read(fs, EXT2_ROOT_INO, &root);
    if (rc < 0) return rc;
    if (!i_isdir(&root) || i_links(&root) < 2) return EXT2_EUCLEAN;
    uint32_t ino;
    rc = dir_find(fs, &root, EXT2_LOG_NAME, sizeof EXT2_LOG_NAME - 1, &ino);
    if (rc == EXT2_ENOENT)
        return EXT2_ENOTSUP; /* an image without the log: made without the Resurgo tooling */
    if (rc < 0) return rc;
    if ((rc = inode_read(fs, ino, &log)) < 0) return rc;
    uint64_t size = i_size(&log);
    if (!i_isreg(&log) || size % fs->bs || size / fs->bs < 64) return EXT2_EUCLEAN;
    fs->log_ino = ino;
    fs->log_len = size / fs->bs > EXT2_LOG_MAX ? EXT2_LOG_MAX : (uint32_t)(size / fs->bs);
    for (uint32_t i = 0; i < fs->log_len; i++) {
        uint32_t p;
        if ((rc = bmap(fs, &log, i, false, &p, NULL)) < 0) return rc;
        if (p == 0 || p == fs->sb_blk || p <= fs->first_data_block + fs->gdt_blocks)
            return EXT2_EUCLEAN;
        fs->log_blk[i] = p;
    }
    fs->log_cap = (fs->bs - 40) / 4;
    uint32_t max = fs->log_len - 3; /* the header, a record, and the reply table last */
    if (max > fs->log_cap) max = fs->log_cap;
    if (max > EXT2_CACHE_BLOCKS - 16) max = EXT2_CACHE_BLOCKS - 16;
    /* async: pinned buffers share the cache with the running transaction */
    if (fs->async && max > EXT2_CACHE_BLOCKS / 3) max = EXT2_CACHE_BLOCKS / 3;
    fs->txn_max = max;
    return 0;
}

/* The superblock (1 KiB at byte 1024, read as two sectors into scratch), the group
 * descriptors and the log's blocks, each checked: the fields geo_state_set covers. */
static int read_geometry(struct ext2_fs *fs)
{
    uint8_t *sb = fs->scratch;
    if (fs->dev.read(fs->dev.ctx, EXT2_SUPER_OFFSET / 512, 2, sb) < 0) return EXT2_EIO;
    int rc = check_super(fs, sb);
    if (rc < 0) return rc;
    fs->sb_blk = EXT2_SUPER_OFFSET / fs->bs;
    fs->sb_off = EXT2_SUPER_OFFSET % fs->bs;
    if ((rc = check_groups(fs)) < 0) return rc;
    return find_log(fs);
}

int ext2_mount(struct ext2_fs *fs, const struct ext2_blkdev *dev)
{
    uint32_t (*clock)(void *) = fs->clock;
    void *clock_ctx = fs->clock_ctx;
    bool async = fs->async;
    memset(fs, 0, offsetof(struct ext2_fs, buf));
    cache_reset(fs);
    fs->async = async;
    fs->clock = clock;
    fs->clock_ctx = clock_ctx;
    fs->dev = *dev;
    if (!dev->read || !dev->write || !dev->flush || dev->sectors < 4) return EXT2_EINVAL;
    int rc = read_geometry(fs);
    if (rc < 0) return rc;
    /* fs answers pings while it waits for the disk, and so takes injected faults while it
     * mounts: what the first pass found is checked by a second one before recovery writes
     * anything (a flip during the first, of a log block's number say, would have recovery look
     * for the chain in the wrong block, end it early and write a header after that end: every
     * acknowledged record beyond it lost, e2fsck clean), by recovery before it writes its
     * header, and by a third pass after it. */
    geo_state_set(fs);
    cache_reset(fs);
    if ((rc = read_geometry(fs)) < 0) return rc;
    if (!geo_state_intact(fs)) return EXT2_EIO;
    /* Recovery writes the last committed transaction in place; then the cache starts empty,
     * since what it read may have been stale, and the checks run again on the result. */
    cache_reset(fs);
    if ((rc = log_recover(fs)) < 0) return rc;
    cache_reset(fs);
    if ((rc = read_geometry(fs)) < 0) return rc;
    if (!geo_state_intact(fs)) return EXT2_EIO;
    cache_reset(fs);
    state_set(fs);
    fs->mounted = true;
    return 0;
}

int ext2_unmount(struct ext2_fs *fs)
{
    if (!fs->mounted) return EXT2_EINVAL;
    int rc = fs->broken ? EXT2_EIO : ext2_sync(fs, true);
    fs->mounted = false;
    return rc;
}
