/* SPDX-License-Identifier: MIT */
/* An operation's post-condition, checked before its commit (txn_end): the names, inodes and
 * bytes it changed are looked up again in the cache, where the commit takes them from, and
 * compared with what the request asked for (struct ext2_post, which the caller keeps intact).
 * The operation's locals (block numbers, offsets, loop counts, a name's inode number) sit on
 * the stack while it waits for the disk, where a stray write (issue 15's `corrupt`) can change
 * them; no check of a single value tells a flipped one from a right one, but the result then
 * differs from the request. Uncommitted, nothing of it is on the disk yet. */
#include "ext2_int.h"

static bool file_is(struct ext2_fs *fs, uint32_t ino, uint32_t mode, uint32_t links,
                    struct inode *in)
{
    return inode_read(fs, ino, in) == 0 && i_mode(in) == mode && i_links(in) == links;
}

static bool dir_entry_is(struct ext2_fs *fs, struct inode *dir, const char *name, uint32_t want)
{
    uint32_t ino;
    return dir_find(fs, dir, name, (uint32_t)strlen(name), &ino) == 0 && ino == want;
}

static bool parent_is(struct ext2_fs *fs, const char *path, struct inode *dir)
{
    uint32_t parent, len;
    const char *name;
    return path_parent(fs, path, &parent, &name, &len) == 0 && dir_entry_is(fs, dir, "..", parent);
}

static bool written(struct ext2_fs *fs, const struct ext2_post *p)
{
    struct inode in;
    if (inode_read(fs, p->ino, &in) < 0 || !i_isreg(&in) || i_size(&in) < p->off + p->len)
        return false;
    for (uint64_t done = 0; done < p->len;) {
        uint64_t pos = p->off + done;
        uint32_t in_blk = (uint32_t)(pos & (fs->bs - 1));
        uint32_t n = fs->bs - in_blk < p->len - done ? fs->bs - in_blk : (uint32_t)(p->len - done);
        uint32_t blk;
        if (bmap(fs, &in, pos >> fs->bs_shift, false, &blk, NULL) < 0 || blk == 0) return false;
        /* a block the cache does not hold went straight to the device, after
         * ext2_post_run_ok checked its place and its bytes: not read back */
        if (cache_find(fs, blk) >= 0) {
            uint8_t *d;
            int slot;
            if (bget(fs, blk, &d, &slot) < 0) return false;
            bool same = memcmp(d + in_blk, p->data + done, n) == 0;
            bput(fs, slot);
            if (!same) return false;
        }
        done += n;
    }
    return true;
}

static bool renamed(struct ext2_fs *fs, const struct ext2_post *p)
{
    uint32_t got;
    struct inode in;
    if (path_walk(fs, p->b, &got) < 0 || got != p->ino || inode_read(fs, p->ino, &in) < 0 ||
        !i_links(&in))
        return false;
    if (i_isdir(&in) && !parent_is(fs, p->b, &in)) return false;
    int rc = path_walk(fs, p->a, &got);
    /* a still names the file only when the rename changed nothing (a and b were links of it) */
    return rc == EXT2_ENOENT || (rc == 0 && got == p->ino && !cache_dirty_count(fs));
}

bool ext2_post_holds(struct ext2_fs *fs)
{
    const struct ext2_post *p = fs->post;
    uint32_t ino;
    struct inode in;
    switch (p->op) {
    case EXT2_POST_NONE: return true;
    case EXT2_POST_CREATE:
        return path_walk(fs, p->a, &ino) == 0 && ino == fs->tag_value &&
               file_is(fs, ino, S_IFREG | (p->mode & 07777), 1, &in) && i_size(&in) == 0;
    case EXT2_POST_MKDIR:
        return path_walk(fs, p->a, &ino) == 0 && ino == fs->tag_value &&
               file_is(fs, ino, S_IFDIR | (p->mode & 07777), 2, &in) &&
               dir_entry_is(fs, &in, ".", ino) && parent_is(fs, p->a, &in) &&
               dir_is_empty(fs, &in) == 1;
    case EXT2_POST_GONE: return path_walk(fs, p->a, &ino) == EXT2_ENOENT;
    case EXT2_POST_RENAME: return renamed(fs, p);
    case EXT2_POST_WRITE: return written(fs, p);
    case EXT2_POST_TRUNCATE:
        return inode_read(fs, p->ino, &in) == 0 && i_isreg(&in) && i_size(&in) == p->len;
    }
    return false;
}

bool ext2_post_run_ok(struct ext2_fs *fs, struct inode *in, uint64_t lblk, uint32_t blk,
                      uint32_t count, const uint8_t *buf)
{
    const struct ext2_post *p = fs->post;
    if (!p) return true; /* not a request's (filedisk.c) */
    uint64_t at = lblk << fs->bs_shift, bytes = (uint64_t)count << fs->bs_shift;
    if (p->op != EXT2_POST_WRITE || in->ino != p->ino || at < p->off ||
        at + bytes > p->off + p->len || buf != p->data + (at - p->off))
        return false;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t got;
        if (bmap(fs, in, lblk + i, false, &got, NULL) < 0 || got != blk + i) return false;
    }
    return true;
}

/* A write's file data (dirty, not logged) goes in place at the commit: every such block must
 * be one of the blocks the request's range maps to (counted: each block of the range that is
 * dirty data in the cache, against all dirty data). */
bool ext2_post_data_ok(struct ext2_fs *fs)
{
    const struct ext2_post *p = fs->post;
    uint32_t dirty = 0, mapped = 0;
    for (uint32_t i = 0; i < EXT2_CACHE_BLOCKS; i++)
        if (fs->buf[i].dirty && !fs->buf[i].meta) dirty++;
    if (!p || !dirty) return true;
    struct inode in;
    if (p->op != EXT2_POST_WRITE || inode_read(fs, p->ino, &in) < 0) return false;
    for (uint64_t l = p->off >> fs->bs_shift; l << fs->bs_shift < p->off + p->len; l++) {
        uint32_t got;
        if (bmap(fs, &in, l, false, &got, NULL) < 0) return false;
        int slot = got ? cache_find(fs, got) : -1;
        if (slot >= 0 && fs->buf[slot].dirty && !fs->buf[slot].meta) mapped++;
    }
    return mapped == dirty;
}
