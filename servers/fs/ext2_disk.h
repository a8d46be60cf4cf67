/* SPDX-License-Identifier: MIT */
/* The ext2 revision 1 on-disk layout: superblock offsets, group descriptor and inode records,
 * directory entries, feature bits (Card, Ts'o, Tweedie: "Design and Implementation of the
 * Second Extended Filesystem"; e2fsprogs lib/ext2fs/ext2_fs.h is the reference). All fields are
 * little endian; the host and the target are both x86-64, and every access goes through
 * common/le.h so that alignment never matters. */
#pragma once
#include <stdint.h>

#define EXT2_SUPER_OFFSET        1024u
#define EXT2_MAGIC               0xEF53u
#define EXT2_ROOT_INO            2u
#define EXT2_GOOD_OLD_INODE_SIZE 128u
#define EXT2_NDIR                12u
#define EXT2_IND                 12u
#define EXT2_DIND                13u
#define EXT2_TIND                14u
#define EXT2_NAME_MAX            255u

/* Superblock field offsets (bytes from the superblock's start). */
#define SB_INODES_COUNT      0
#define SB_BLOCKS_COUNT      4
#define SB_R_BLOCKS_COUNT    8
#define SB_FREE_BLOCKS       12
#define SB_FREE_INODES       16
#define SB_FIRST_DATA_BLOCK  20
#define SB_LOG_BLOCK_SIZE    24
#define SB_LOG_FRAG_SIZE     28
#define SB_BLOCKS_PER_GROUP  32
#define SB_FRAGS_PER_GROUP   36
#define SB_INODES_PER_GROUP  40
#define SB_MAGIC             56
#define SB_STATE             58
#define SB_REV_LEVEL         76
#define SB_FIRST_INO         84
#define SB_INODE_SIZE        88
#define SB_FEATURE_COMPAT    92
#define SB_FEATURE_INCOMPAT  96
#define SB_FEATURE_RO_COMPAT 100
#define SB_DESC_SIZE         254

/* Features. Compat ones may be ignored by a writer, except a journal (ext3), whose stale
 * transactions e2fsck would replay over our writes. */
#define COMPAT_DIR_PREALLOC  0x0001u
#define COMPAT_IMAGIC_INODES 0x0002u
#define COMPAT_HAS_JOURNAL   0x0004u
#define COMPAT_EXT_ATTR      0x0008u
#define COMPAT_RESIZE_INODE  0x0010u
#define COMPAT_DIR_INDEX     0x0020u
#define COMPAT_SUPPORTED                                                                           \
    (COMPAT_DIR_PREALLOC | COMPAT_IMAGIC_INODES | COMPAT_EXT_ATTR | COMPAT_RESIZE_INODE |          \
     COMPAT_DIR_INDEX)
#define INCOMPAT_FILETYPE      0x0002u
#define INCOMPAT_SUPPORTED     INCOMPAT_FILETYPE
#define RO_COMPAT_SPARSE_SUPER 0x0001u
#define RO_COMPAT_LARGE_FILE   0x0002u
#define RO_COMPAT_SUPPORTED    (RO_COMPAT_SPARSE_SUPER | RO_COMPAT_LARGE_FILE)

/* Group descriptor (32 bytes, no 64bit feature). */
#define GD_SIZE         32u
#define GD_BLOCK_BITMAP 0
#define GD_INODE_BITMAP 4
#define GD_INODE_TABLE  8
#define GD_FREE_BLOCKS  12
#define GD_FREE_INODES  14
#define GD_USED_DIRS    16

/* Inode record (the first 128 bytes; larger inodes keep their tail untouched). */
#define I_MODE          0
#define I_UID           2
#define I_SIZE          4
#define I_ATIME         8
#define I_CTIME         12
#define I_MTIME         16
#define I_DTIME         20
#define I_GID           24
#define I_LINKS         26
#define I_BLOCKS        28
#define I_FLAGS         32
#define I_BLOCK         40
#define I_GENERATION    100
#define I_FILE_ACL      104
#define I_SIZE_HIGH     108
#define I_FILE_ACL_HIGH 118

#define S_IFMT          0170000u
#define S_IFREG         0100000u
#define S_IFDIR         0040000u
#define S_IFLNK         0120000u
#define EXT2_INDEX_FL   0x1000u /* hashed directory: the index blocks also read as linear ones */
#define EXT2_EXTENTS_FL 0x80000u

/* Directory entry: inode u32, rec_len u16, name_len u8, file_type u8, name. */
#define DE_HDR     8u
#define FT_UNKNOWN 0
#define FT_REG     1
#define FT_DIR     2
#define FT_SYMLINK 7
static inline uint32_t de_reclen(uint32_t name_len) { return (DE_HDR + name_len + 3u) & ~3u; }

/* Extended attribute block header: magic, reference count. */
#define EA_MAGIC 0xEA020000u
