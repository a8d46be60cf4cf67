/* SPDX-License-Identifier: MIT */
/* Format a blank device as a one-group ext2 revision 1 file system (filetype, sparse_super,
 * large_file: what mke2fs -t ext2 makes, without resize_inode and dir_index) with the root,
 * lost+found and the log file, so that a server can start on an empty disk. Images made at
 * build time come from mke2fs -d instead; both mount the same way. */
#include "ext2_int.h"

#define FMT_LOG_BLOCKS 64u
#define FMT_INODE_SIZE 128u

/* Write one block of the new file system directly (nothing is mounted yet). */
static int put(const struct ext2_blkdev *dev, uint32_t bs, uint32_t blk, const void *buf)
{
    return dev->write(dev->ctx, (uint64_t)blk * (bs >> 9), bs >> 9, buf) < 0 ? EXT2_EIO : 0;
}

static void set_bits(uint8_t *bm, uint32_t from, uint32_t to)
{
    for (uint32_t i = from; i < to; i++) bm[i / 8] |= (uint8_t)(1u << (i % 8));
}

static void dirent(uint8_t *p, uint32_t ino, uint32_t rec, const char *name, uint8_t type)
{
    uint32_t len = (uint32_t)strlen(name);
    le_put32(p, ino);
    le_put16(p + 4, (uint16_t)rec);
    p[6] = (uint8_t)len;
    p[7] = type;
    memcpy(p + DE_HDR, name, len);
}

static void inode_rec(uint8_t *p, uint32_t mode, uint32_t links, uint64_t size, uint32_t blocks,
                      uint32_t bs, uint32_t now)
{
    le_put16(p + I_MODE, (uint16_t)mode);
    le_put32(p + I_SIZE, (uint32_t)size);
    le_put32(p + I_ATIME, now);
    le_put32(p + I_CTIME, now);
    le_put32(p + I_MTIME, now);
    le_put16(p + I_LINKS, (uint16_t)links);
    le_put32(p + I_BLOCKS, blocks * (bs >> 9));
}

/* Returns 0, EXT2_EINVAL for a block size other than 1024/4096 or a device too small (fewer
 * than 128 blocks) or too large for one group (8 * block size blocks), EXT2_EIO. buf is
 * scratch of one block (the caller's: this function keeps no state). */
int ext2_format(const struct ext2_blkdev *dev, uint32_t bs, uint32_t now, uint8_t *buf)
{
    if (bs != 1024 && bs != 4096) return EXT2_EINVAL;
    uint64_t dev_blocks = dev->sectors / (bs >> 9);
    uint32_t first = bs == 1024 ? 1 : 0;
    uint32_t n = dev_blocks > bs * 8u + first ? bs * 8u + first : (uint32_t)dev_blocks;
    if (n < 128) return EXT2_EINVAL;
    uint32_t ipb = bs / FMT_INODE_SIZE;
    uint32_t ipg = (n / 4 + ipb - 1) / ipb * ipb; /* an inode per 4 blocks */
    if (ipg > bs * 8) ipg = bs * 8 / ipb * ipb;
    uint32_t sb_blk = first, gdt = first + 1, bb = gdt + 1, ib = bb + 1, it = ib + 1;
    uint32_t itb = ipg / ipb;
    uint32_t root_blk = it + itb, lf_blk = root_blk + 1, log_ind = lf_blk + 1, log0 = log_ind + 1;
    uint32_t used_end = log0 + FMT_LOG_BLOCKS; /* blocks [first, used_end) are in use */
    if (used_end + 16 > n) return EXT2_EINVAL;
    uint32_t apb = bs / 4;
    int rc;

    /* Zero the metadata area and the log. */
    memset(buf, 0, bs);
    for (uint32_t b = 0; b < used_end; b++)
        if ((rc = put(dev, bs, b, buf)) < 0) return rc;

    /* Inode table: root (2), lost+found (11), log (12), in the table's first two blocks. */
    uint8_t rec[3][FMT_INODE_SIZE];
    const uint32_t nums[3] = {EXT2_ROOT_INO, 11, 12};
    memset(rec, 0, sizeof rec);
    inode_rec(rec[0], S_IFDIR | 0755, 3, bs, 1, bs, now);
    le_put32(rec[0] + I_BLOCK, root_blk);
    inode_rec(rec[1], S_IFDIR | 0700, 2, bs, 1, bs, now);
    le_put32(rec[1] + I_BLOCK, lf_blk);
    inode_rec(rec[2], S_IFREG | 0600, 1, (uint64_t)FMT_LOG_BLOCKS * bs, FMT_LOG_BLOCKS + 1, bs,
              now);
    for (uint32_t i = 0; i < EXT2_NDIR; i++) le_put32(rec[2] + I_BLOCK + 4 * i, log0 + i);
    le_put32(rec[2] + I_BLOCK + 4 * EXT2_IND, log_ind);
    for (uint32_t b = 0; b < 2 && b < itb; b++) {
        memset(buf, 0, bs);
        for (int i = 0; i < 3; i++) {
            uint32_t byte = (nums[i] - 1) * FMT_INODE_SIZE;
            if (byte / bs == b) memcpy(buf + byte % bs, rec[i], FMT_INODE_SIZE);
        }
        if ((rc = put(dev, bs, it + b, buf)) < 0) return rc;
    }
    /* The log's indirect block. */
    memset(buf, 0, bs);
    for (uint32_t i = EXT2_NDIR; i < FMT_LOG_BLOCKS && i - EXT2_NDIR < apb; i++)
        le_put32(buf + 4 * (i - EXT2_NDIR), log0 + i);
    if ((rc = put(dev, bs, log_ind, buf)) < 0) return rc;
    /* Directories. */
    memset(buf, 0, bs);
    dirent(buf, EXT2_ROOT_INO, 12, ".", FT_DIR);
    dirent(buf + 12, EXT2_ROOT_INO, 12, "..", FT_DIR);
    dirent(buf + 24, 11, 20, "lost+found", FT_DIR);
    dirent(buf + 44, 12, bs - 44, EXT2_LOG_NAME, FT_REG);
    if ((rc = put(dev, bs, root_blk, buf)) < 0) return rc;
    memset(buf, 0, bs);
    dirent(buf, 11, 12, ".", FT_DIR);
    dirent(buf + 12, EXT2_ROOT_INO, bs - 12, "..", FT_DIR);
    if ((rc = put(dev, bs, lf_blk, buf)) < 0) return rc;
    /* Bitmaps: the bits past the group's end are set, as e2fsck expects. */
    memset(buf, 0, bs);
    set_bits(buf, 0, used_end - first);
    set_bits(buf, n - first, bs * 8);
    if ((rc = put(dev, bs, bb, buf)) < 0) return rc;
    memset(buf, 0, bs);
    set_bits(buf, 0, 12);
    set_bits(buf, ipg, bs * 8);
    if ((rc = put(dev, bs, ib, buf)) < 0) return rc;
    /* Group descriptor. */
    uint32_t free_blocks = n - used_end, free_inodes = ipg - 12;
    memset(buf, 0, bs);
    le_put32(buf + GD_BLOCK_BITMAP, bb);
    le_put32(buf + GD_INODE_BITMAP, ib);
    le_put32(buf + GD_INODE_TABLE, it);
    le_put16(buf + GD_FREE_BLOCKS, (uint16_t)free_blocks);
    le_put16(buf + GD_FREE_INODES, (uint16_t)free_inodes);
    le_put16(buf + GD_USED_DIRS, 2);
    if ((rc = put(dev, bs, gdt, buf)) < 0) return rc;
    /* Superblock, last: until it is written the device is not an ext2 file system. */
    memset(buf, 0, bs);
    uint8_t *sb = buf + (bs == 1024 ? 0 : EXT2_SUPER_OFFSET);
    le_put32(sb + SB_INODES_COUNT, ipg);
    le_put32(sb + SB_BLOCKS_COUNT, n);
    le_put32(sb + SB_FREE_BLOCKS, free_blocks);
    le_put32(sb + SB_FREE_INODES, free_inodes);
    le_put32(sb + SB_FIRST_DATA_BLOCK, first);
    le_put32(sb + SB_LOG_BLOCK_SIZE, bs == 1024 ? 0 : 2);
    le_put32(sb + SB_LOG_FRAG_SIZE, bs == 1024 ? 0 : 2);
    le_put32(sb + SB_BLOCKS_PER_GROUP, bs * 8);
    le_put32(sb + SB_FRAGS_PER_GROUP, bs * 8);
    le_put32(sb + SB_INODES_PER_GROUP, ipg);
    le_put32(sb + 44, now);    /* s_mtime */
    le_put32(sb + 48, now);    /* s_wtime */
    le_put16(sb + 54, 0xffff); /* s_max_mnt_count: -1, no mount-count check */
    le_put16(sb + SB_MAGIC, EXT2_MAGIC);
    le_put16(sb + SB_STATE, 1); /* cleanly unmounted */
    le_put16(sb + 60, 1);       /* s_errors: continue */
    le_put32(sb + 64, now);     /* s_lastcheck */
    le_put32(sb + SB_REV_LEVEL, 1);
    le_put32(sb + SB_FIRST_INO, 11);
    le_put16(sb + SB_INODE_SIZE, FMT_INODE_SIZE);
    le_put32(sb + SB_FEATURE_INCOMPAT, INCOMPAT_FILETYPE);
    le_put32(sb + SB_FEATURE_RO_COMPAT, RO_COMPAT_SPARSE_SUPER | RO_COMPAT_LARGE_FILE);
    for (int i = 0; i < 16; i++) /* s_uuid: any value but zero */
        sb[104 + i] = (uint8_t)(0x52 + i * 7 + now);
    memcpy(sb + 120, "resurgo", 7); /* s_volume_name */
    if ((rc = put(dev, bs, sb_blk, buf)) < 0) return rc;
    return dev->flush(dev->ctx) < 0 ? EXT2_EIO : 0;
}
