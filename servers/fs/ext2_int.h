/* SPDX-License-Identifier: MIT */
/* Declarations shared by the ext2 library's files (not part of its interface). */
#pragma once
#include "common/kstring.h"
#include "common/le.h"
#include "ext2.h"
#include "ext2_disk.h"

/* ext2_cache.c: buffers are referenced (bget/bput); a dirty buffer stays in the cache until
 * its transaction commits or aborts. */
int bget(struct ext2_fs *fs, uint32_t blk, uint8_t **data, int *slot);
/* A block about to be overwritten entirely: not read, zero-filled. */
int bget_new(struct ext2_fs *fs, uint32_t blk, uint8_t **data, int *slot);
void bput(struct ext2_fs *fs, int slot);
void bdirty(struct ext2_fs *fs, int slot, bool meta);
uint32_t cache_dirty_count(struct ext2_fs *fs);
void txn_dirty_set(struct ext2_fs *fs, uint32_t n);
int cache_find(struct ext2_fs *fs, uint32_t blk);
void cache_reset(struct ext2_fs *fs);
/* ext2_cache_check.c: the cache's checksums. Taking a buffer (hit: verified if sealed) opens
 * it; cache_seal, at the end of every operation, seals the open ones with their checksum; a
 * sealed buffer is verified again before it is written out. A mismatch: ext2_cache_corrupt. */
void cache_check_take(struct ext2_fs *fs, uint32_t slot, bool hit);
void cache_check_write(struct ext2_fs *fs, const void *buf);
void cache_seal(struct ext2_fs *fs);
/* Around every device request (a wait, where a stray write strikes): the open buffers sealed
 * before it, those held across it verified after it; into: a cache buffer the request reads
 * into, or NULL. */
void cache_wait_begin(struct ext2_fs *fs, const void *into);
void cache_wait_end(struct ext2_fs *fs, const void *into);
uint64_t cache_block_sum(const uint8_t *d, uint32_t bs);
/* Every change of a buffer's fields is followed by cache_meta_set; cache_meta_check before they
 * are acted on. state_set (at mount), log_state_set (the log's positions changed),
 * tag_state_set (ext2_tag) and state_check (before writing) do the same for the rest. */
void cache_meta_set(struct ext2_fs *fs, uint32_t slot);
void cache_meta_check(struct ext2_fs *fs, uint32_t slot);
void state_set(struct ext2_fs *fs);
void log_state_set(struct ext2_fs *fs);
/* The geometry's check alone: taken after mount's first pass, which the second must match. */
void geo_state_set(struct ext2_fs *fs);
bool geo_state_intact(const struct ext2_fs *fs);
void tag_state_set(struct ext2_fs *fs);
void state_check(struct ext2_fs *fs);
/* A sealed buffer's contents changed, or slot EXT2_CACHE_BLOCKS: the checked state did:
 * crashes (weak: host tests may replace it). */
void ext2_cache_corrupt(struct ext2_fs *fs, uint32_t slot);
/* ext2_home.c: a read's buffer poisoned before it (read_landed: whether the device wrote every
 * sector); a block checked against the geometry as read (home_ok: else the disk is damaged)
 * and before it is logged or written (home_check: a mismatch is ext2_cache_corrupt). */
void read_poison(const struct ext2_fs *fs, uint32_t blk, void *buf);
bool read_landed(const struct ext2_fs *fs, uint32_t blk, const void *buf);
bool home_ok(const struct ext2_fs *fs, uint32_t blk, const uint8_t *d, bool read);
void home_check(struct ext2_fs *fs, uint32_t blk, const uint8_t *d);
int dev_read(struct ext2_fs *fs, uint32_t blk, void *buf);
int dev_write(struct ext2_fs *fs, uint32_t blk, const void *buf);
int dev_flush(struct ext2_fs *fs);
/* count sectors from sector on, between the device and buf, as one request: 0 or EXT2_EIO
 * (bounds are the caller's). Every request of the library goes through here or the three above. */
int dev_rw(struct ext2_fs *fs, bool write, uint64_t sector, uint32_t count, void *buf);

/* ext2_log.c: the redo log. */
int txn_commit(struct ext2_fs *fs);
void txn_abort(struct ext2_fs *fs);
int log_recover(struct ext2_fs *fs);
/* An operation's result through commit or abort; a success is checked against fs->post
 * first (a mismatch: ext2_cache_corrupt). */
int txn_end(struct ext2_fs *fs, int rc);

/* ext2_post.c: whether the running operation did what fs->post says. */
bool ext2_post_holds(struct ext2_fs *fs);
/* Whether a write may put count blocks from buf in place at blk.. (logical block lblk.. of in)
 * before the commit, where no abort undoes it: the file, the bytes and the blocks fs->post's
 * write names. */
struct inode;
bool ext2_post_run_ok(struct ext2_fs *fs, struct inode *in, uint64_t lblk, uint32_t blk,
                      uint32_t count, const uint8_t *buf);
/* Whether every dirty file-data block (written in place at the commit) is one fs->post's
 * write maps. */
bool ext2_post_data_ok(struct ext2_fs *fs);

/* ext2_super.c */
bool blk_valid(const struct ext2_fs *fs, uint32_t blk);
int sb_get(struct ext2_fs *fs, uint8_t **sb, int *slot);
int gd_get(struct ext2_fs *fs, uint32_t group, uint8_t **gd, int *slot);
uint32_t fs_now(struct ext2_fs *fs);

/* ext2_alloc.c */
int alloc_block(struct ext2_fs *fs, uint32_t goal, uint32_t *blk);
int free_block(struct ext2_fs *fs, uint32_t blk);
int alloc_inode(struct ext2_fs *fs, uint32_t parent, bool dir, uint32_t *ino);
int free_inode(struct ext2_fs *fs, uint32_t ino, bool dir);

/* ext2_inode.c: an inode as a copy of its 128-byte record. */
struct inode {
    uint32_t ino;
    uint8_t raw[EXT2_GOOD_OLD_INODE_SIZE];
    uint64_t chk; /* of ino and raw: the copy lives on the stack while its operation waits for
                   * the disk, where a stray write (issue 15's `corrupt`) must not reach the
                   * disk through inode_write or redirect bmap: see inode_check */
};
/* Every change of a copy goes through inode_put16/32 (checked before, sealed after); the copy
 * is checked before it is written back or its block map is used. A mismatch crashes. */
void inode_seal(struct inode *in);
void inode_check(struct ext2_fs *fs, const struct inode *in);
void inode_put16(struct ext2_fs *fs, struct inode *in, uint32_t off, uint16_t v);
void inode_put32(struct ext2_fs *fs, struct inode *in, uint32_t off, uint32_t v);
int inode_read(struct ext2_fs *fs, uint32_t ino, struct inode *in);
int inode_write(struct ext2_fs *fs, const struct inode *in);
static inline uint32_t i_mode(const struct inode *in) { return le_get16(in->raw + I_MODE); }
static inline bool i_isdir(const struct inode *in) { return (i_mode(in) & S_IFMT) == S_IFDIR; }
static inline bool i_isreg(const struct inode *in) { return (i_mode(in) & S_IFMT) == S_IFREG; }
uint64_t i_size(const struct inode *in);
void i_set_size(struct ext2_fs *fs, struct inode *in, uint64_t size);
static inline uint32_t i_links(const struct inode *in) { return le_get16(in->raw + I_LINKS); }
/* Map logical block lblk to *pblk (0 for a hole); with alloc, allocate what is missing (the
 * data block zero-filled in the cache when *fresh is set). */
int bmap(struct ext2_fs *fs, struct inode *in, uint64_t lblk, bool alloc, uint32_t *pblk,
         bool *fresh);
/* Free the blocks at and beyond logical block from, setting the size to size (<= from * bs).
 * Commits between bounded steps when commit_steps is set (each step leaves a consistent
 * file), so that freeing a huge file never needs more than one transaction's worth of buffers. */
int inode_shrink(struct ext2_fs *fs, struct inode *in, uint64_t size, bool commit_steps);
/* Drop the inode (links reached 0): free its blocks, xattr block and the inode itself. */
int inode_release(struct ext2_fs *fs, struct inode *in);
uint64_t max_file_blocks(const struct ext2_fs *fs);

/* ext2_dir.c */
int dir_find(struct ext2_fs *fs, struct inode *dir, const char *name, uint32_t len, uint32_t *ino);
int dir_add(struct ext2_fs *fs, struct inode *dir, const char *name, uint32_t len, uint32_t ino,
            uint8_t type);
int dir_remove(struct ext2_fs *fs, struct inode *dir, const char *name, uint32_t len);
/* Point the existing entry name at ino (rename over an existing name). */
int dir_retarget(struct ext2_fs *fs, struct inode *dir, const char *name, uint32_t len,
                 uint32_t ino, uint8_t type);
int dir_is_empty(struct ext2_fs *fs, struct inode *dir);
int dir_init(struct ext2_fs *fs, struct inode *dir, uint32_t parent);
uint8_t mode_to_ft(uint32_t mode);

/* ext2_path.c */
int path_walk(struct ext2_fs *fs, const char *path, uint32_t *ino);
/* Split path into its parent directory (looked up) and the last component. */
int path_parent(struct ext2_fs *fs, const char *path, uint32_t *parent, const char **name,
                uint32_t *len);
int inode_new(struct ext2_fs *fs, uint32_t ino, uint32_t mode, uint32_t links, struct inode *in);
