/* SPDX-License-Identifier: MIT */
/* The ext2 file-system library: mount, path lookup and the file operations over a block device
 * given as callbacks, with a fixed block cache and a redo log that makes every operation atomic,
 * and durable when it returns (sync mode) or at the next fsync (async mode: group commit)
 * (docs/storage-fs.md). Pure C: no system calls, no allocation;
 * the same code runs over a host file in tests and over a channel to servers/blk. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Errors: negated Linux errno values, so that a client library can pass them on unchanged. */
enum {
    EXT2_ENOENT = -2,
    EXT2_EIO = -5,
    EXT2_EBADF = -9,
    EXT2_ENOMEM = -12,
    EXT2_EBUSY = -16,
    EXT2_EEXIST = -17,
    EXT2_EXDEV = -18,
    EXT2_ENOTDIR = -20,
    EXT2_EISDIR = -21,
    EXT2_EINVAL = -22,
    EXT2_EFBIG = -27,
    EXT2_ENOSPC = -28,
    EXT2_EROFS = -30,
    EXT2_EMLINK = -31,
    EXT2_ENAMETOOLONG = -36,
    EXT2_ENOTEMPTY = -39,
    EXT2_ELOOP = -40,
    EXT2_ENOTSUP = -95,
    EXT2_EUCLEAN = -117, /* the image is corrupt (what Linux returns as EFSCORRUPTED) */
};

/* The device, in 512-byte sectors. Each callback returns 0 or a negative error. A write is
 * durable only after a flush returns; between flushes the device may persist any subset of the
 * writes, and a write cut by a crash may leave its sectors old or new. */
struct ext2_blkdev {
    void *ctx;
    uint64_t sectors; /* the device's size */
    int (*read)(void *ctx, uint64_t sector, uint32_t count, void *buf);
    int (*write)(void *ctx, uint64_t sector, uint32_t count, const void *buf);
    int (*flush)(void *ctx);
};

#define EXT2_MAX_BS 4096u
#ifndef EXT2_CACHE_BLOCKS
#define EXT2_CACHE_BLOCKS 160u /* the server may build with fewer (txn_max follows) */
#endif
/* A transaction must hold the blocks one step of any operation dirties (~10) with room. */
_Static_assert(EXT2_CACHE_BLOCKS >= 48, "the ext2 cache needs at least 48 blocks");
_Static_assert(EXT2_CACHE_BLOCKS < 32768, "cache slots are int16_t");
#define EXT2_STAGE       (64u << 10)
#define EXT2_HASH_BITS   9u
#define EXT2_HASH        (1u << EXT2_HASH_BITS)
#define EXT2_MAX_GROUPS  1024u
#define EXT2_LOG_MAX     1024u /* log blocks kept in the mount state */
#define EXT2_LOG_NAME    ".resurgo-log"
#define EXT2_TAG_CLIENTS 32u

struct ext2_buf {
    uint32_t blk;
    uint32_t stamp; /* LRU */
    uint16_t refs;
    uint8_t valid;
    uint8_t dirty;
    uint8_t meta;    /* dirty as metadata: goes through the log */
    uint8_t pinned;  /* logged, not yet in place (async mode): neither evicted nor re-read */
    uint8_t hashed;  /* on the chain of blk's bucket (ext2_cache.c) */
    int16_t hnext;   /* the next slot on that chain, -1 at its end */
    uint32_t logpos; /* pinned: the ring position of its latest logged copy */
    uint8_t open;    /* taken by the running operation: sum not valid (ext2_cache_check.c) */
    uint64_t sum;    /* else: cache_block_sum of the contents, mixed with blk */
    uint64_t mchk;   /* a check of the fields above but stamp, hnext, sum (ext2_cache_check.c) */
};

struct ext2_group {
    uint32_t block_bitmap, inode_bitmap, inode_table;
};

/* What an operation must have done when it succeeds (ext2_post_holds), as its request says:
 * the changes are looked at again in the cache before they are committed, so that a stray
 * write into the operation's locals (a block number, an offset, a name's inode; issue 15's
 * `corrupt`) is found instead of committed. */
enum ext2_post_op {
    EXT2_POST_NONE,
    EXT2_POST_CREATE,   /* a names a new regular file of mode's permissions: fs->tag_value */
    EXT2_POST_MKDIR,    /* a names a new, empty directory of mode's permissions */
    EXT2_POST_GONE,     /* a names nothing (unlink, rmdir) */
    EXT2_POST_RENAME,   /* b names ino (a's inode before), a nothing (or ino, if unchanged) */
    EXT2_POST_WRITE,    /* ino holds data's len bytes at off */
    EXT2_POST_TRUNCATE, /* ino is len bytes long */
};
struct ext2_post {
    enum ext2_post_op op;
    const char *a, *b;
    uint32_t ino, mode;
    uint64_t off, len;
    const uint8_t *data;
};

struct ext2_fs {
    struct ext2_blkdev dev;
    uint32_t (*clock)(void *ctx); /* seconds for timestamps; may be NULL (then 0) */
    void *clock_ctx;
    /* May be NULL; else asked before every commit whether the running operation's inputs are
     * as they came (request.c: a stray write into fs's stack must not be committed). */
    bool (*intact)(void *ctx);
    void *intact_ctx;
    /* May be NULL; else what the running operation must have done, checked before its commit
     * (ext2_post.c): its caller keeps it and the paths and data it names intact. */
    const struct ext2_post *post;
    /* Geometry, validated at mount and immutable afterwards. */
    uint32_t bs, bs_shift, first_data_block, blocks_count, inodes_count;
    uint32_t bpg, ipg, groups, inode_size, first_ino, apb, gdt_blocks, itb_per_group;
    uint32_t feat_compat, feat_incompat, feat_ro;
    uint32_t sb_blk, sb_off;
    struct ext2_group grp[EXT2_MAX_GROUPS];
    /* The redo log: the blocks of /.resurgo-log, block 0 its commit record. */
    uint32_t log_ino, log_len, log_cap;
    uint32_t log_blk[EXT2_LOG_MAX];
    uint64_t log_seq;   /* the last record's sequence number */
    uint32_t log_epoch; /* this mount's: a record of another epoch ends the chain */
    uint32_t log_ring;  /* ring positions 0..log_ring-1 are log blocks 1..log_len-2 */
    /* Ring positions counted without wrapping (the block is the position modulo log_ring). */
    uint64_t log_head;    /* the next record's position */
    uint64_t log_start;   /* the first record since the last checkpoint (the newest header) */
    uint64_t log_durable; /* the start of the newest header known to be durable */
    /* async (set by the owner before ext2_mount, kept across mounts): an operation's record is
     * written without a flush, and metadata reaches its home at a checkpoint; ext2_sync and
     * ext2_fsync make everything durable. Otherwise every operation is durable on return. */
    bool async;
    bool unflushed;      /* writes since the last flush */
    bool data_unflushed; /* file data written in place since the last flush */
    bool txn_freed;      /* the running transaction freed blocks */
    uint32_t pinned;     /* buffers pinned */
    uint32_t txn_max;    /* dirty metadata blocks one transaction may hold */
    /* The request the running operation carries out (ext2_tag), recorded in its commit. */
    bool tag_set;
    uint32_t tag_client;
    uint64_t tag_id, tag_value;
    uint32_t txn_dirty, txn_dirty_not; /* the latter its complement: cache_dirty_count */
    bool mounted, broken;
    uint32_t stamp;
    uint64_t commits, flushes, checkpoints; /* statistics */
    /* Checks of the state above that a stray write must not change unseen (ext2_cache_check.c):
     * the geometry and the log's blocks (fixed at mount), the log's positions, the tag. */
    uint64_t geo_chk, log_chk, tag_chk;
    /* The slots opened since the last seal, so a wait seals and checks those alone instead of
     * scanning the whole cache (ext2_cache_check.c); every slot with `open` set is listed. */
    uint16_t open_list[EXT2_CACHE_BLOCKS];
    uint32_t n_open;
    uint64_t open_chk;        /* the list's check: zero for the empty list */
    int16_t hhead[EXT2_HASH]; /* the cache's index: first slot of each bucket's chain, -1 none */
    struct ext2_buf buf[EXT2_CACHE_BLOCKS];
    uint8_t data[EXT2_CACHE_BLOCKS][EXT2_MAX_BS];
    uint8_t scratch[EXT2_MAX_BS];
    /* A record and its blocks, when they fit and the ring's blocks there are contiguous on the
     * disk: one device write instead of 1 + n. */
    uint8_t stage[EXT2_STAGE];
};

struct ext2_stat {
    uint32_t ino, mode, links, uid, gid, generation;
    uint64_t size, blocks512;
    uint32_t atime, mtime, ctime;
};

struct ext2_dirent {
    uint32_t ino;
    uint8_t type; /* FT_* of ext2_disk.h */
    uint8_t name_len;
    char name[256];
};

/* Mount the image on dev: validate the superblock, every group descriptor, the root directory
 * and the log, then replay the log's last committed transaction (recovery after a crash).
 * Returns 0, EXT2_ENOTSUP for features or layouts it does not support, EXT2_EUCLEAN for a
 * corrupt image, EXT2_EIO for device errors. fs is large (the cache): callers keep it static. */
int ext2_mount(struct ext2_fs *fs, const struct ext2_blkdev *dev);
/* Flush and forget the mount; the image stays clean. */
int ext2_unmount(struct ext2_fs *fs);

/* Path lookup from the root ('/'-separated, absolute or relative to the root). Symbolic links
 * are not followed. Returns 0 and *ino, or EXT2_ENOENT / EXT2_ENOTDIR / EXT2_ENAMETOOLONG. */
int ext2_lookup(struct ext2_fs *fs, const char *path, uint32_t *ino);
int ext2_stat(struct ext2_fs *fs, uint32_t ino, struct ext2_stat *st);
/* Read up to len bytes at off of a regular file: returns the count (0 at end) or an error. */
int64_t ext2_read(struct ext2_fs *fs, uint32_t ino, uint64_t off, void *buf, uint32_t len);
/* Write len bytes at off (extending the file, holes read as zeros): returns len or an error;
 * the data and the new size are durable when it returns (async mode: after the next flush;
 * they survive a crash of the caller at once, being on the device). */
int64_t ext2_write(struct ext2_fs *fs, uint32_t ino, uint64_t off, const void *buf, uint32_t len);
int ext2_truncate(struct ext2_fs *fs, uint32_t ino, uint64_t size);
/* Makes every completed operation durable (in async mode: a flush of the device; otherwise
 * they are durable already and fsync only flushes); checks the file first. */
int ext2_fsync(struct ext2_fs *fs, uint32_t ino);
/* Async mode: flush if anything was written since the last flush (every completed operation
 * is then durable); with checkpoint, also write the pinned metadata in place. 0 or EXT2_EIO. */
int ext2_sync(struct ext2_fs *fs, bool checkpoint);
/* Create a regular file (EXT2_EEXIST if the name exists); *ino may be NULL. */
int ext2_create(struct ext2_fs *fs, const char *path, uint32_t mode, uint32_t *ino);
int ext2_mkdir(struct ext2_fs *fs, const char *path, uint32_t mode);
int ext2_unlink(struct ext2_fs *fs, const char *path);
/* Remove an empty directory (EXT2_ENOTEMPTY otherwise). */
int ext2_rmdir(struct ext2_fs *fs, const char *path);
/* Rename, replacing an existing file or empty directory at to (POSIX rename(2)). */
int ext2_rename(struct ext2_fs *fs, const char *from, const char *to);
/* The next entry of directory ino at *cookie (start with 0): returns 1 and *de, 0 at the end. */
int ext2_readdir(struct ext2_fs *fs, uint32_t ino, uint64_t *cookie, struct ext2_dirent *de);
/* Format dev as a fresh one-group file system with block size bs (1024 or 4096), the root,
 * lost+found and the log; buf is one block of scratch. Returns 0, EXT2_EINVAL, EXT2_EIO. */
int ext2_format(const struct ext2_blkdev *dev, uint32_t bs, uint32_t now, uint8_t *buf);

/* Exactly once across restarts: the next operation carries out request id of client (a server's
 * badge, < EXT2_TAG_CLIENTS); if it changes the disk, (id, result, value) is recorded in the
 * log file's last block in the same transaction. ext2_tag_find returns 1 and the recorded
 * result when client's last recorded request is id (a retry of a request done before a crash),
 * else 0. Create records the new inode number as value, write the byte count. */
void ext2_tag(struct ext2_fs *fs, uint32_t client, uint64_t id);
int ext2_tag_find(struct ext2_fs *fs, uint32_t client, uint64_t id, int64_t *rc, uint64_t *value);
