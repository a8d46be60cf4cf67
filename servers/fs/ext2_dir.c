/* SPDX-License-Identifier: MIT */
/* Directories: linear lists of entries in blocks, every entry checked before use (an entry
 * never crosses its block, rec_len covers the name, the inode number is in range). A hashed
 * (dir_index) directory reads as a linear one; its index flag is dropped on the first change,
 * as e2fsck accepts and Linux rebuilds. */
#include "ext2_int.h"

uint8_t mode_to_ft(uint32_t mode)
{
    switch (mode & S_IFMT) {
    case S_IFREG: return FT_REG;
    case S_IFDIR: return FT_DIR;
    case S_IFLNK: return FT_SYMLINK;
    default: return FT_UNKNOWN;
    }
}

static int dir_blocks(struct ext2_fs *fs, const struct inode *dir, uint64_t *n)
{
    uint64_t size = i_size(dir);
    if (!i_isdir(dir)) return EXT2_ENOTDIR;
    if (size % fs->bs || size == 0 || (size >> fs->bs_shift) > fs->blocks_count)
        return EXT2_EUCLEAN;
    *n = size >> fs->bs_shift;
    return 0;
}

/* The entry at off of block d: EXT2_EUCLEAN if it is malformed. */
static int entry_at(const struct ext2_fs *fs, const uint8_t *d, uint32_t off, uint32_t *ino,
                    uint32_t *rec, uint32_t *nl)
{
    if (off + DE_HDR > fs->bs) return EXT2_EUCLEAN;
    *ino = le_get32(d + off);
    *rec = le_get16(d + off + 4);
    *nl = d[off + 6];
    if (*rec < DE_HDR || *rec % 4 || off + *rec > fs->bs || (*ino && DE_HDR + *nl > *rec) ||
        *ino > fs->inodes_count)
        return EXT2_EUCLEAN;
    return 0;
}

/* Get block lblk of a directory (no holes allowed). */
static int dir_block(struct ext2_fs *fs, struct inode *dir, uint64_t lblk, uint8_t **d, int *slot,
                     uint32_t *pblk)
{
    uint32_t p;
    int rc = bmap(fs, dir, lblk, false, &p, NULL);
    if (rc < 0) return rc;
    if (p == 0) return EXT2_EUCLEAN;
    if (pblk) *pblk = p;
    return bget(fs, p, d, slot);
}

struct where {
    int slot;
    uint32_t off, prev; /* prev: offset of the entry before, UINT32_MAX if first */
    uint8_t *d;
};

/* Walks the directory's entries in order until `stop` says so: returns 1 with the entry's block
 * still referenced in *w (the caller releases it), 0 when no entry stopped the walk, or an error
 * (a corrupt entry ends the walk). `stop` sees each entry's inode, record and name lengths. */
static int walk(struct ext2_fs *fs, struct inode *dir,
                bool (*stop)(const void *arg, const uint8_t *d, uint32_t off, uint32_t ino,
                             uint32_t rec, uint32_t nl),
                const void *arg, struct where *w)
{
    uint64_t n;
    int rc = dir_blocks(fs, dir, &n);
    if (rc < 0) return rc;
    for (uint64_t b = 0; b < n; b++) {
        uint8_t *d;
        int slot;
        if ((rc = dir_block(fs, dir, b, &d, &slot, NULL)) < 0) return rc;
        uint32_t prev = UINT32_MAX;
        for (uint32_t off = 0; off < fs->bs;) {
            uint32_t ino, rec, nl;
            if ((rc = entry_at(fs, d, off, &ino, &rec, &nl)) < 0) {
                bput(fs, slot);
                return rc;
            }
            if (stop(arg, d, off, ino, rec, nl)) {
                *w = (struct where){.slot = slot, .off = off, .prev = prev, .d = d};
                return 1;
            }
            prev = off;
            off += rec;
        }
        bput(fs, slot);
    }
    return 0;
}

struct name {
    const char *s;
    uint32_t len;
};

static bool is_name(const void *arg, const uint8_t *d, uint32_t off, uint32_t ino, uint32_t rec,
                    uint32_t nl)
{
    const struct name *m = arg;
    (void)rec;
    return ino && nl == m->len && memcmp(d + off + DE_HDR, m->s, m->len) == 0;
}

/* Find name; on success the block stays referenced in *w (the caller releases it). */
static int find(struct ext2_fs *fs, struct inode *dir, const char *name, uint32_t len,
                struct where *w)
{
    struct name m = {name, len};
    int rc = walk(fs, dir, is_name, &m, w);
    return rc < 0 ? rc : rc ? 0 : EXT2_ENOENT;
}

/* Returns 0 and *ino, EXT2_ENOENT, EXT2_ENOTDIR, EXT2_EUCLEAN. */
int dir_find(struct ext2_fs *fs, struct inode *dir, const char *name, uint32_t len, uint32_t *ino)
{
    struct where w;
    int rc = find(fs, dir, name, len, &w);
    if (rc < 0) return rc;
    *ino = le_get32(w.d + w.off);
    bput(fs, w.slot);
    return *ino ? 0 : EXT2_EUCLEAN;
}

static void put_entry(struct ext2_fs *fs, uint8_t *p, uint32_t ino, uint32_t rec, const char *name,
                      uint32_t len, uint8_t type)
{
    le_put32(p, ino);
    le_put16(p + 4, (uint16_t)rec);
    p[6] = (uint8_t)len;
    p[7] = (fs->feat_incompat & INCOMPAT_FILETYPE) ? type : 0;
    memcpy(p + DE_HDR, name, len);
}

static int touched(struct ext2_fs *fs, struct inode *dir)
{
    uint32_t now = fs_now(fs);
    inode_put32(fs, dir, I_MTIME, now);
    inode_put32(fs, dir, I_CTIME, now);
    inode_put32(fs, dir, I_FLAGS, le_get32(dir->raw + I_FLAGS) & ~EXT2_INDEX_FL);
    return inode_write(fs, dir);
}

/* Add an entry (the caller checked that name is absent): into the first gap large enough, or
 * a new block at the end. Returns 0, EXT2_ENOSPC, EXT2_EFBIG, EXT2_EUCLEAN. */
static bool has_room(const void *arg, const uint8_t *d, uint32_t off, uint32_t ino, uint32_t rec,
                     uint32_t nl)
{
    (void)d, (void)off;
    return rec - (ino ? de_reclen(nl) : 0) >= *(const uint32_t *)arg;
}

int dir_add(struct ext2_fs *fs, struct inode *dir, const char *name, uint32_t len, uint32_t ino,
            uint8_t type)
{
    uint32_t need = de_reclen(len);
    struct where w;
    int rc = walk(fs, dir, has_room, &need, &w);
    if (rc < 0) return rc;
    if (rc) { // into the gap: after the entry there, or in place of an empty one
        uint32_t e = le_get32(w.d + w.off), rec = le_get16(w.d + w.off + 4);
        uint32_t used = e ? de_reclen(w.d[w.off + 6]) : 0;
        if (e) le_put16(w.d + w.off + 4, (uint16_t)used);
        put_entry(fs, w.d + w.off + used, ino, rec - used, name, len, type);
        bdirty(fs, w.slot, true);
        bput(fs, w.slot);
        return touched(fs, dir);
    }
    uint64_t n;
    if ((rc = dir_blocks(fs, dir, &n)) < 0) return rc;
    uint32_t p;
    bool fresh;
    if ((rc = bmap(fs, dir, n, true, &p, &fresh)) < 0) return rc;
    if (!fresh) return EXT2_EUCLEAN; /* a block beyond the directory's size */
    uint8_t *d;
    int slot;
    if ((rc = bget_new(fs, p, &d, &slot)) < 0) return rc;
    put_entry(fs, d, ino, fs->bs, name, len, type);
    bdirty(fs, slot, true);
    bput(fs, slot);
    i_set_size(fs, dir, (n + 1) << fs->bs_shift);
    return touched(fs, dir);
}

int dir_remove(struct ext2_fs *fs, struct inode *dir, const char *name, uint32_t len)
{
    struct where w;
    int rc = find(fs, dir, name, len, &w);
    if (rc < 0) return rc;
    if (w.prev == UINT32_MAX) {
        le_put32(w.d + w.off, 0);
    } else {
        uint32_t rec = le_get16(w.d + w.off + 4);
        le_put16(w.d + w.prev + 4, (uint16_t)(le_get16(w.d + w.prev + 4) + rec));
    }
    bdirty(fs, w.slot, true);
    bput(fs, w.slot);
    return touched(fs, dir);
}

int dir_retarget(struct ext2_fs *fs, struct inode *dir, const char *name, uint32_t len,
                 uint32_t ino, uint8_t type)
{
    struct where w;
    int rc = find(fs, dir, name, len, &w);
    if (rc < 0) return rc;
    le_put32(w.d + w.off, ino);
    w.d[w.off + 7] = (fs->feat_incompat & INCOMPAT_FILETYPE) ? type : 0;
    bdirty(fs, w.slot, true);
    bput(fs, w.slot);
    return touched(fs, dir);
}

static bool not_dot(const void *arg, const uint8_t *d, uint32_t off, uint32_t ino, uint32_t rec,
                    uint32_t nl)
{
    (void)arg, (void)rec;
    bool dot = (nl == 1 && d[off + DE_HDR] == '.') ||
               (nl == 2 && d[off + DE_HDR] == '.' && d[off + DE_HDR + 1] == '.');
    return ino && !dot;
}

/* Returns 1 if only "." and ".." are left, 0 if not, or an error. */
int dir_is_empty(struct ext2_fs *fs, struct inode *dir)
{
    struct where w;
    int rc = walk(fs, dir, not_dot, NULL, &w);
    if (rc < 0) return rc;
    if (rc) bput(fs, w.slot);
    return !rc;
}

/* The first block of a new directory: "." and "..". */
int dir_init(struct ext2_fs *fs, struct inode *dir, uint32_t parent)
{
    uint32_t p;
    bool fresh;
    int rc = bmap(fs, dir, 0, true, &p, &fresh);
    if (rc < 0) return rc;
    uint8_t *d;
    int slot;
    if ((rc = bget_new(fs, p, &d, &slot)) < 0) return rc;
    put_entry(fs, d, dir->ino, 12, ".", 1, FT_DIR);
    put_entry(fs, d + 12, parent, fs->bs - 12, "..", 2, FT_DIR);
    bdirty(fs, slot, true);
    bput(fs, slot);
    i_set_size(fs, dir, fs->bs);
    return 0;
}

static int readdir_(struct ext2_fs *fs, uint32_t ino, uint64_t *cookie, struct ext2_dirent *de);

int ext2_readdir(struct ext2_fs *fs, uint32_t ino, uint64_t *cookie, struct ext2_dirent *de)
{
    int rc = readdir_(fs, ino, cookie, de);
    if (rc < 0)
        txn_abort(fs); /* drops any reference an error path kept; no transaction is running */
    return rc;
}

static int readdir_(struct ext2_fs *fs, uint32_t ino, uint64_t *cookie, struct ext2_dirent *de)
{
    struct inode dir;
    uint64_t n;
    int rc;
    if (!fs->mounted) return EXT2_EINVAL;
    if ((rc = inode_read(fs, ino, &dir)) < 0 || (rc = dir_blocks(fs, &dir, &n)) < 0) return rc;
    for (uint64_t b = *cookie >> fs->bs_shift; b < n; b++) {
        uint8_t *d;
        int slot;
        if ((rc = dir_block(fs, &dir, b, &d, &slot, NULL)) < 0) return rc;
        uint32_t start = b == (*cookie >> fs->bs_shift) ? (uint32_t)(*cookie & (fs->bs - 1)) : 0;
        for (uint32_t off = 0; off < fs->bs;) {
            uint32_t e, rec, nl;
            if ((rc = entry_at(fs, d, off, &e, &rec, &nl)) < 0) {
                bput(fs, slot);
                return rc;
            }
            if (off >= start && e) {
                de->ino = e;
                de->name_len = (uint8_t)nl;
                de->type = (fs->feat_incompat & INCOMPAT_FILETYPE) ? d[off + 7] : FT_UNKNOWN;
                memcpy(de->name, d + off + DE_HDR, nl);
                de->name[nl] = 0;
                *cookie = (b << fs->bs_shift) + off + rec;
                bput(fs, slot);
                return 1;
            }
            off += rec;
        }
        bput(fs, slot);
    }
    *cookie = n << fs->bs_shift;
    return 0;
}
