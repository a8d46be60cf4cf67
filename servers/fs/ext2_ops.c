/* SPDX-License-Identifier: MIT */
/* The file operations. Each is one transaction (ext2_log.c): it changes blocks in the cache,
 * then commits them all or, on any error, drops them all, so a failed operation leaves the
 * file system as it was. Operations that may touch more blocks than a transaction holds
 * (long writes, truncating or deleting a large file) commit between steps that each leave a
 * consistent file system. */
#include "ext2_int.h"

#define LINK_MAX 65000u

static int ready(struct ext2_fs *fs)
{
    if (!fs->mounted) return EXT2_EINVAL;
    return fs->broken ? EXT2_EROFS : 0;
}

/* An inode a client names by number: allocated and in use. */
static int get_live(struct ext2_fs *fs, uint32_t ino, struct inode *in)
{
    if (ino < 1 || ino > fs->inodes_count) return EXT2_ENOENT;
    int rc = inode_read(fs, ino, in);
    if (rc < 0) return rc;
    return i_mode(in) && i_links(in) ? 0 : EXT2_ENOENT;
}

int ext2_stat(struct ext2_fs *fs, uint32_t ino, struct ext2_stat *st)
{
    struct inode in;
    int rc = fs->mounted ? get_live(fs, ino, &in) : EXT2_EINVAL;
    if (rc < 0) return txn_end(fs, rc);
    st->ino = ino;
    st->mode = i_mode(&in);
    st->links = i_links(&in);
    st->uid = le_get16(in.raw + I_UID);
    st->gid = le_get16(in.raw + I_GID);
    st->size = i_size(&in);
    st->blocks512 = le_get32(in.raw + I_BLOCKS);
    st->atime = le_get32(in.raw + I_ATIME);
    st->mtime = le_get32(in.raw + I_MTIME);
    st->ctime = le_get32(in.raw + I_CTIME);
    st->generation = le_get32(in.raw + I_GENERATION);
    return txn_end(fs, 0);
}

/* A run of whole blocks moved straight between the device and a caller's buffer, bypassing
 * the cache (which holds none of them): one device request per run instead of one per block. */
struct run {
    uint32_t blk, count; /* physical blocks blk.. */
    uint8_t *buf;
    uint64_t lblk;    /* the file's logical block of blk */
    struct inode *in; /* the file */
};

static int run_io(struct ext2_fs *fs, struct run *r, bool write)
{
    if (!r->count) return 0;
    uint32_t spb = fs->bs >> 9;
    int rc = 0;
    if ((uint64_t)r->blk + r->count > fs->blocks_count ||
        ((uint64_t)r->blk + r->count) * spb > fs->dev.sectors)
        rc = EXT2_EIO;
    else if (write && !ext2_post_run_ok(fs, r->in, r->lblk, r->blk, r->count, r->buf))
        ext2_cache_corrupt(fs, EXT2_CACHE_BLOCKS);
    else rc = dev_rw(fs, write, (uint64_t)r->blk * spb, r->count * spb, r->buf);
    if (rc == 0 && write) fs->unflushed = fs->data_unflushed = true;
    r->count = 0;
    return rc;
}

/* Adds block p (its bytes at buf) to the run, sending the run first if p does not extend it. */
static int run_add(struct ext2_fs *fs, struct run *r, uint32_t p, uint8_t *buf, bool write,
                   uint64_t lblk)
{
    if (r->count && (r->blk + r->count != p || r->buf + (size_t)r->count * fs->bs != buf ||
                     r->count >= (256u << 10) >> fs->bs_shift)) {
        int rc = run_io(fs, r, write);
        if (rc < 0) return rc;
    }
    if (!r->count) {
        r->blk = p;
        r->buf = buf;
        r->lblk = lblk;
    }
    r->count++;
    return 0;
}

int64_t ext2_read(struct ext2_fs *fs, uint32_t ino, uint64_t off, void *buf, uint32_t len)
{
    struct inode in;
    int rc = fs->mounted ? get_live(fs, ino, &in) : EXT2_EINVAL;
    if (rc < 0) return txn_end(fs, rc);
    if (i_isdir(&in)) return txn_end(fs, EXT2_EISDIR);
    if (!i_isreg(&in)) return txn_end(fs, EXT2_EINVAL);
    uint64_t size = i_size(&in);
    if (off >= size) return txn_end(fs, 0);
    if (len > size - off) len = (uint32_t)(size - off);
    uint8_t *out = buf;
    uint32_t done = 0;
    struct run run = {0};
    while (done < len) {
        uint64_t pos = off + done;
        uint32_t in_blk = (uint32_t)(pos & (fs->bs - 1));
        uint32_t n = fs->bs - in_blk < len - done ? fs->bs - in_blk : len - done;
        uint32_t p;
        if ((rc = bmap(fs, &in, pos >> fs->bs_shift, false, &p, NULL)) < 0) return txn_end(fs, rc);
        if (p == 0) {
            memset(out + done, 0, n);
        } else if (n == fs->bs && cache_find(fs, p) < 0) {
            /* a whole block the cache does not hold: straight from the device */
            if ((rc = run_add(fs, &run, p, out + done, false, 0)) < 0) return txn_end(fs, rc);
        } else {
            uint8_t *d;
            int slot;
            if ((rc = bget(fs, p, &d, &slot)) < 0) return txn_end(fs, rc);
            memcpy(out + done, d + in_blk, n);
            bput(fs, slot);
        }
        done += n;
    }
    if ((rc = run_io(fs, &run, false)) < 0) return txn_end(fs, rc);
    return txn_end(fs, 0) < 0 ? EXT2_EIO : (int64_t)len;
}

static uint64_t max_size(const struct ext2_fs *fs)
{
    if (!(fs->feat_ro & RO_COMPAT_LARGE_FILE)) return 0x7fffffffu;
    return max_file_blocks(fs) << fs->bs_shift;
}

int64_t ext2_write(struct ext2_fs *fs, uint32_t ino, uint64_t off, const void *buf, uint32_t len)
{
    struct inode in;
    int rc = ready(fs);
    if (rc == 0) rc = get_live(fs, ino, &in);
    if (rc < 0) return txn_end(fs, rc);
    if (i_isdir(&in)) return txn_end(fs, EXT2_EISDIR);
    if (!i_isreg(&in) || ino == fs->log_ino) return txn_end(fs, EXT2_EINVAL);
    if (off > max_size(fs) || len > max_size(fs) - off) return txn_end(fs, EXT2_EFBIG);
    const uint8_t *src = buf;
    uint32_t done = 0;
    struct run run = {.in = &in};
    while (done < len) {
        uint64_t pos = off + done;
        uint32_t in_blk = (uint32_t)(pos & (fs->bs - 1));
        uint32_t n = fs->bs - in_blk < len - done ? fs->bs - in_blk : len - done;
        uint32_t p;
        bool fresh;
        if ((rc = bmap(fs, &in, pos >> fs->bs_shift, true, &p, &fresh)) < 0) break;
        if (n == fs->bs && cache_find(fs, p) < 0) {
            /* A whole block the cache does not hold: straight to the device, in place, before
             * the record that may make it reachable (as txn_commit's step 1 would). */
            if ((rc = run_add(fs, &run, p, (uint8_t *)(uintptr_t)(src + done), true,
                              pos >> fs->bs_shift)) < 0)
                break;
        } else {
            uint8_t *d;
            int slot;
            rc = (fresh || n == fs->bs) ? bget_new(fs, p, &d, &slot) : bget(fs, p, &d, &slot);
            if (rc < 0) break;
            memcpy(d + in_blk, src + done, n);
            bdirty(fs, slot, false);
            bput(fs, slot);
        }
        done += n;
        if (pos + n > i_size(&in)) i_set_size(fs, &in, pos + n);
        /* A full transaction commits here: the file then holds a prefix of the write. */
        if (cache_dirty_count(fs) + 16 >= fs->txn_max && done < len) {
            if ((rc = run_io(fs, &run, true)) < 0 || (rc = inode_write(fs, &in)) < 0 ||
                (rc = txn_commit(fs)) < 0)
                break;
        }
    }
    if (rc == 0) rc = run_io(fs, &run, true);
    if (rc == 0) {
        uint32_t now = fs_now(fs);
        inode_put32(fs, &in, I_MTIME, now);
        inode_put32(fs, &in, I_CTIME, now);
        rc = inode_write(fs, &in);
    }
    fs->tag_value = len;
    rc = txn_end(fs, rc);
    return rc < 0 ? rc : (int64_t)len;
}

/* Zero the bytes of the last block beyond size, so that growing the file later reads zeros.
 * The block goes through the log, so that it changes only together with the size (written in
 * place, a crash could leave the old size over the zeroed bytes). */
static int zero_tail(struct ext2_fs *fs, struct inode *in, uint64_t size)
{
    uint32_t in_blk = (uint32_t)(size & (fs->bs - 1));
    if (!in_blk) return 0;
    uint32_t p;
    int rc = bmap(fs, in, size >> fs->bs_shift, false, &p, NULL);
    if (rc < 0 || p == 0) return rc;
    uint8_t *d;
    int slot;
    if ((rc = bget(fs, p, &d, &slot)) < 0) return rc;
    memset(d + in_blk, 0, fs->bs - in_blk);
    bdirty(fs, slot, true);
    bput(fs, slot);
    return 0;
}

int ext2_truncate(struct ext2_fs *fs, uint32_t ino, uint64_t size)
{
    struct inode in;
    int rc = ready(fs);
    if (rc == 0) rc = get_live(fs, ino, &in);
    if (rc < 0) return txn_end(fs, rc);
    if (i_isdir(&in)) return txn_end(fs, EXT2_EISDIR);
    if (!i_isreg(&in) || ino == fs->log_ino) return txn_end(fs, EXT2_EINVAL);
    if (size > max_size(fs)) return txn_end(fs, EXT2_EFBIG);
    uint32_t now = fs_now(fs);
    inode_put32(fs, &in, I_MTIME, now);
    inode_put32(fs, &in, I_CTIME, now);
    if (size >= i_size(&in)) {
        i_set_size(fs, &in, size);
        return txn_end(fs, inode_write(fs, &in));
    }
    if ((rc = zero_tail(fs, &in, size)) < 0) return txn_end(fs, rc);
    return txn_end(fs, inode_shrink(fs, &in, size, true));
}

int ext2_fsync(struct ext2_fs *fs, uint32_t ino)
{
    struct inode in;
    int rc = ready(fs);
    if (rc == 0) rc = get_live(fs, ino, &in);
    if (rc == 0) rc = ext2_sync(fs, false);
    return txn_end(fs, rc);
}

/* The parent of path as a directory inode, and the last component. */
static int parent_of(struct ext2_fs *fs, const char *path, struct inode *dir, const char **name,
                     uint32_t *len)
{
    uint32_t p;
    int rc = path_parent(fs, path, &p, name, len);
    if (rc < 0) return rc;
    if ((rc = get_live(fs, p, dir)) < 0) return rc == EXT2_ENOENT ? EXT2_EUCLEAN : rc;
    return i_isdir(dir) ? 0 : EXT2_ENOTDIR;
}

static int create(struct ext2_fs *fs, const char *path, uint32_t mode, bool isdir, uint32_t *out)
{
    struct inode dir, in;
    const char *name;
    uint32_t len, ino;
    int rc = parent_of(fs, path, &dir, &name, &len);
    if (rc < 0) return rc;
    rc = dir_find(fs, &dir, name, len, &ino);
    if (rc == 0) return EXT2_EEXIST;
    if (rc != EXT2_ENOENT) return rc;
    if (isdir && i_links(&dir) >= LINK_MAX) return EXT2_EMLINK;
    if ((rc = alloc_inode(fs, dir.ino, isdir, &ino)) < 0) return rc;
    mode = (mode & 07777) | (isdir ? S_IFDIR : S_IFREG);
    if ((rc = inode_new(fs, ino, mode, isdir ? 2 : 1, &in)) < 0) return rc;
    if (isdir && (rc = dir_init(fs, &in, dir.ino)) < 0) return rc;
    if ((rc = inode_write(fs, &in)) < 0) return rc;
    if ((rc = dir_add(fs, &dir, name, len, ino, mode_to_ft(mode))) < 0) return rc;
    if (isdir) {
        inode_put16(fs, &dir, I_LINKS, (uint16_t)(i_links(&dir) + 1));
        if ((rc = inode_write(fs, &dir)) < 0) return rc;
    }
    if (out) *out = ino;
    fs->tag_value = ino;
    return 0;
}

int ext2_create(struct ext2_fs *fs, const char *path, uint32_t mode, uint32_t *ino)
{
    int rc = ready(fs);
    return txn_end(fs, rc < 0 ? rc : create(fs, path, mode, false, ino));
}

int ext2_mkdir(struct ext2_fs *fs, const char *path, uint32_t mode)
{
    int rc = ready(fs);
    return txn_end(fs, rc < 0 ? rc : create(fs, path, mode, true, NULL));
}

/* Drop one link of in (already removed from its directory); a directory loses both. */
static int drop_link(struct ext2_fs *fs, struct inode *in)
{
    uint32_t links = i_links(in);
    if (i_isdir(in) || links <= 1) return inode_release(fs, in);
    inode_put16(fs, in, I_LINKS, (uint16_t)(links - 1));
    inode_put32(fs, in, I_CTIME, fs_now(fs));
    return inode_write(fs, in);
}

/* Before the last link of a large file goes: free its blocks in committed steps while it is
 * still linked, so that the final transaction is small. */
static int pre_release(struct ext2_fs *fs, struct inode *in)
{
    if (i_isreg(in) && i_links(in) <= 1 && in->ino != fs->log_ino)
        return inode_shrink(fs, in, 0, true);
    return 0;
}

static int unlink_(struct ext2_fs *fs, const char *path, bool isdir)
{
    struct inode dir, in;
    const char *name;
    uint32_t len, ino;
    int rc = parent_of(fs, path, &dir, &name, &len);
    if (rc < 0 || (rc = dir_find(fs, &dir, name, len, &ino)) < 0) return rc;
    if ((rc = get_live(fs, ino, &in)) < 0) return rc == EXT2_ENOENT ? EXT2_EUCLEAN : rc;
    if (ino == fs->log_ino || ino == EXT2_ROOT_INO) return EXT2_EBUSY;
    if (!isdir && i_isdir(&in)) return EXT2_EISDIR;
    if (isdir && !i_isdir(&in)) return EXT2_ENOTDIR;
    if (isdir && (rc = dir_is_empty(fs, &in)) <= 0) return rc < 0 ? rc : EXT2_ENOTEMPTY;
    if ((rc = pre_release(fs, &in)) < 0) return rc;
    if ((rc = dir_remove(fs, &dir, name, len)) < 0) return rc;
    if (isdir) {
        inode_put16(fs, &dir, I_LINKS, (uint16_t)(i_links(&dir) - 1));
        if ((rc = inode_write(fs, &dir)) < 0) return rc;
    }
    return drop_link(fs, &in);
}

int ext2_unlink(struct ext2_fs *fs, const char *path)
{
    int rc = ready(fs);
    return txn_end(fs, rc < 0 ? rc : unlink_(fs, path, false));
}

int ext2_rmdir(struct ext2_fs *fs, const char *path)
{
    int rc = ready(fs);
    return txn_end(fs, rc < 0 ? rc : unlink_(fs, path, true));
}

/* Is dir ino an ancestor of (or equal to) dir start? Walks "..", bounded by the inode count. */
static int is_ancestor(struct ext2_fs *fs, uint32_t ino, uint32_t start)
{
    uint32_t cur = start;
    for (uint32_t steps = 0; steps <= fs->inodes_count; steps++) {
        if (cur == ino) return 1;
        if (cur == EXT2_ROOT_INO) return 0;
        struct inode d;
        int rc = inode_read(fs, cur, &d);
        if (rc < 0) return rc;
        if ((rc = dir_find(fs, &d, "..", 2, &cur)) < 0) return rc;
    }
    return EXT2_ELOOP;
}

static int rename_(struct ext2_fs *fs, const char *from, const char *to)
{
    struct inode sdir, ddir, src, dst;
    const char *sn, *dn;
    uint32_t sl, dl, sino, dino;
    int rc = parent_of(fs, from, &sdir, &sn, &sl);
    if (rc < 0 || (rc = parent_of(fs, to, &ddir, &dn, &dl)) < 0) return rc;
    if ((rc = dir_find(fs, &sdir, sn, sl, &sino)) < 0) return rc;
    if ((rc = get_live(fs, sino, &src)) < 0) return rc == EXT2_ENOENT ? EXT2_EUCLEAN : rc;
    if (sino == fs->log_ino) return EXT2_EBUSY;
    bool isdir = i_isdir(&src);
    bool same = sdir.ino == ddir.ino;
    struct inode *dp = &ddir, *sp = same ? &ddir : &sdir;
    if (isdir && !same) {
        if ((rc = is_ancestor(fs, sino, ddir.ino)) != 0)
            return rc < 0 ? rc : EXT2_EINVAL; /* into its own subtree */
    }
    rc = dir_find(fs, dp, dn, dl, &dino);
    bool exists = rc == 0;
    if (rc < 0 && rc != EXT2_ENOENT) return rc;
    if (exists) {
        if (dino == sino) return 0; /* two links of one file: POSIX says do nothing */
        if ((rc = get_live(fs, dino, &dst)) < 0) return rc == EXT2_ENOENT ? EXT2_EUCLEAN : rc;
        if (dino == fs->log_ino) return EXT2_EBUSY;
        if (i_isdir(&dst) && !isdir) return EXT2_EISDIR;
        if (!i_isdir(&dst) && isdir) return EXT2_ENOTDIR;
        if (i_isdir(&dst) && (rc = dir_is_empty(fs, &dst)) <= 0)
            return rc < 0 ? rc : EXT2_ENOTEMPTY;
        if ((rc = pre_release(fs, &dst)) < 0) return rc;
        rc = dir_retarget(fs, dp, dn, dl, sino, mode_to_ft(i_mode(&src)));
    } else {
        if (isdir && !same && i_links(dp) >= LINK_MAX) return EXT2_EMLINK;
        rc = dir_add(fs, dp, dn, dl, sino, mode_to_ft(i_mode(&src)));
    }
    if (rc < 0 || (rc = dir_remove(fs, sp, sn, sl)) < 0) return rc;
    if (isdir && !same) {
        if ((rc = dir_retarget(fs, &src, "..", 2, ddir.ino, FT_DIR)) < 0) return rc;
        inode_put16(fs, sp, I_LINKS, (uint16_t)(i_links(sp) - 1));
        if ((rc = inode_write(fs, sp)) < 0) return rc;
        if (!exists) {
            inode_put16(fs, dp, I_LINKS, (uint16_t)(i_links(dp) + 1));
            if ((rc = inode_write(fs, dp)) < 0) return rc;
        }
    } else if (isdir && exists) {
        /* The replaced directory's ".." link to the same parent goes with it. */
        inode_put16(fs, dp, I_LINKS, (uint16_t)(i_links(dp) - 1));
        if ((rc = inode_write(fs, dp)) < 0) return rc;
    }
    inode_put32(fs, &src, I_CTIME, fs_now(fs));
    if (!isdir || same) {
        if ((rc = inode_write(fs, &src)) < 0) return rc;
    }
    return exists ? drop_link(fs, &dst) : 0;
}

int ext2_rename(struct ext2_fs *fs, const char *from, const char *to)
{
    int rc = ready(fs);
    return txn_end(fs, rc < 0 ? rc : rename_(fs, from, to));
}
