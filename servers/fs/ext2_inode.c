/* SPDX-License-Identifier: MIT */
/* Inodes and the block map: 12 direct pointers, then single, double and triple indirect
 * blocks; allocation along a lookup, and freeing from the end in bounded steps. */
#include "ext2_int.h"

static int locate(struct ext2_fs *fs, uint32_t ino, uint32_t *blk, uint32_t *off)
{
    if (ino < 1 || ino > fs->inodes_count) return EXT2_EUCLEAN;
    uint32_t g = (ino - 1) / fs->ipg, idx = (ino - 1) % fs->ipg;
    uint64_t byte = (uint64_t)idx * fs->inode_size;
    *blk = fs->grp[g].inode_table + (uint32_t)(byte >> fs->bs_shift);
    *off = (uint32_t)(byte & (fs->bs - 1));
    return 0;
}

/* Returns 0, EXT2_EUCLEAN for a number outside the inode table, EXT2_EIO. */
/* ino, its block and offset sat on the stack while the block was read, where a stray write
 * (issue 15's `corrupt`) would read or write another inode's record: they must still agree. */
static void same_place(struct ext2_fs *fs, uint32_t ino, uint32_t blk, uint32_t off, int slot)
{
    uint32_t b, o;
    if (locate(fs, ino, &b, &o) < 0 || b != blk || o != off || fs->buf[slot].blk != blk)
        ext2_cache_corrupt(fs, EXT2_CACHE_BLOCKS);
}

int inode_read(struct ext2_fs *fs, uint32_t ino, struct inode *in)
{
    uint32_t blk, off;
    uint8_t *d;
    int slot, rc = locate(fs, ino, &blk, &off);
    if (rc < 0 || (rc = bget(fs, blk, &d, &slot)) < 0) return rc;
    same_place(fs, ino, blk, off, slot);
    in->ino = ino;
    memcpy(in->raw, d + off, sizeof in->raw);
    inode_seal(in);
    bput(fs, slot);
    return 0;
}

void inode_seal(struct inode *in)
{
    in->chk = cache_block_sum(in->raw, sizeof in->raw) ^ in->ino * 0x9E3779B97F4A7C15ull;
}

void inode_check(struct ext2_fs *fs, const struct inode *in)
{
    if (in->chk != (cache_block_sum(in->raw, sizeof in->raw) ^ in->ino * 0x9E3779B97F4A7C15ull))
        ext2_cache_corrupt(fs, EXT2_CACHE_BLOCKS);
}

void inode_put16(struct ext2_fs *fs, struct inode *in, uint32_t off, uint16_t v)
{
    inode_check(fs, in);
    le_put16(in->raw + off, v);
    inode_seal(in);
}

void inode_put32(struct ext2_fs *fs, struct inode *in, uint32_t off, uint32_t v)
{
    inode_check(fs, in);
    le_put32(in->raw + off, v);
    inode_seal(in);
}

int inode_write(struct ext2_fs *fs, const struct inode *in)
{
    inode_check(fs, in); // never a copy changed behind the operation's back to the disk
    uint32_t blk, off;
    uint8_t *d;
    int slot, rc = locate(fs, in->ino, &blk, &off);
    if (rc < 0 || (rc = bget(fs, blk, &d, &slot)) < 0) return rc;
    inode_check(fs, in);
    same_place(fs, in->ino, blk, off, slot);
    memcpy(d + off, in->raw, sizeof in->raw);
    bdirty(fs, slot, true);
    bput(fs, slot);
    return 0;
}

uint64_t i_size(const struct inode *in)
{
    uint64_t s = le_get32(in->raw + I_SIZE);
    if (i_isreg(in)) s |= (uint64_t)le_get32(in->raw + I_SIZE_HIGH) << 32;
    return s;
}

void i_set_size(struct ext2_fs *fs, struct inode *in, uint64_t size)
{
    inode_put32(fs, in, I_SIZE, (uint32_t)size);
    if (i_isreg(in)) inode_put32(fs, in, I_SIZE_HIGH, (uint32_t)(size >> 32));
}

static void add_blocks(struct ext2_fs *fs, struct inode *in, int n)
{
    inode_put32(fs, in, I_BLOCKS,
                le_get32(in->raw + I_BLOCKS) + (uint32_t)(n * (int)(fs->bs >> 9)));
}

uint64_t max_file_blocks(const struct ext2_fs *fs)
{
    uint64_t a = fs->apb;
    uint64_t n = EXT2_NDIR + a + a * a + a * a * a;
    /* i_blocks counts 512-byte sectors in 32 bits, indirect blocks included. */
    uint64_t lim = (0xffffffffull / (fs->bs >> 9)) * 9 / 10;
    return n < lim ? n : lim;
}

/* A new block for the map of in, near its last one. */
static int new_block(struct ext2_fs *fs, struct inode *in, uint32_t goal, bool meta, uint32_t *p)
{
    if (!goal) goal = fs->first_data_block + ((in->ino - 1) / fs->ipg) * fs->bpg;
    int rc = alloc_block(fs, goal, p);
    if (rc < 0) return rc;
    add_blocks(fs, in, 1);
    if (meta) {
        uint8_t *d;
        int slot;
        if ((rc = bget_new(fs, *p, &d, &slot)) < 0) return rc;
        bdirty(fs, slot, true);
        bput(fs, slot);
    }
    return 0;
}

/* Returns 0, EXT2_EFBIG beyond the largest file, EXT2_EUCLEAN for a pointer outside the file
 * system, EXT2_ENOSPC. The inode record is the caller's to write back when it allocated. */
int bmap(struct ext2_fs *fs, struct inode *in, uint64_t lblk, bool alloc, uint32_t *pblk,
         bool *fresh)
{
    uint32_t idx[4];
    int depth, top;
    uint64_t a = fs->apb;
    if (fresh) *fresh = false;
    inode_check(fs, in);
    if (lblk >= max_file_blocks(fs)) return EXT2_EFBIG;
    if (lblk < EXT2_NDIR) {
        top = (int)lblk;
        depth = 0;
    } else if ((lblk -= EXT2_NDIR) < a) {
        top = EXT2_IND;
        depth = 1;
        idx[0] = (uint32_t)lblk;
    } else if ((lblk -= a) < a * a) {
        top = EXT2_DIND;
        depth = 2;
        idx[0] = (uint32_t)(lblk / a);
        idx[1] = (uint32_t)(lblk % a);
    } else {
        lblk -= a * a;
        top = EXT2_TIND;
        depth = 3;
        idx[0] = (uint32_t)(lblk / (a * a));
        idx[1] = (uint32_t)(lblk / a % a);
        idx[2] = (uint32_t)(lblk % a);
    }
    uint8_t *ip = in->raw + I_BLOCK + 4 * top;
    uint32_t p = le_get32(ip);
    int rc;
    if (p == 0) {
        if (!alloc) {
            *pblk = 0;
            return 0;
        }
        if ((rc = new_block(fs, in, 0, depth > 0, &p)) < 0) return rc;
        inode_put32(fs, in, (uint32_t)(ip - in->raw), p);
        if (depth == 0 && fresh) *fresh = true;
    } else if (!blk_valid(fs, p)) {
        return EXT2_EUCLEAN;
    }
    for (int l = 0; l < depth; l++) {
        uint8_t *d;
        int slot;
        if ((rc = bget(fs, p, &d, &slot)) < 0) return rc;
        uint32_t q = le_get32(d + 4 * idx[l]);
        if (q == 0) {
            if (!alloc) {
                bput(fs, slot);
                *pblk = 0;
                return 0;
            }
            if ((rc = new_block(fs, in, p, l + 1 < depth, &q)) < 0) {
                bput(fs, slot);
                return rc;
            }
            le_put32(d + 4 * idx[l], q);
            bdirty(fs, slot, true);
            if (l + 1 == depth && fresh) *fresh = true;
        } else if (!blk_valid(fs, q)) {
            bput(fs, slot);
            return EXT2_EUCLEAN;
        }
        bput(fs, slot);
        p = q;
    }
    *pblk = p;
    return 0;
}

struct shrink {
    uint64_t cut; /* first logical block to free */
    uint64_t low; /* every block at or beyond low is gone */
    bool stopped; /* the transaction is full: commit and continue */
    uint32_t freed;
};

static bool txn_full(struct ext2_fs *fs) { return cache_dirty_count(fs) + 12 >= fs->txn_max; }

/* ptr must still be what its source (the parent's entry, in the cache or the inode copy) holds
 * when it is freed: ptr sat on the stack while the blocks below it were read, where a stray
 * write (issue 15's `corrupt`) would free a block someone else holds. */
static void same_ptr(struct ext2_fs *fs, const uint8_t *src, uint32_t ptr)
{
    if (le_get32(src) != ptr) ext2_cache_corrupt(fs, EXT2_CACHE_BLOCKS);
}

/* Free what ptr (read from src) maps at and beyond s->cut; level 0: ptr is a data block
 * covering first. *gone: ptr itself was freed (its caller clears its pointer). */
static int shrink_tree(struct ext2_fs *fs, const uint8_t *src, uint32_t ptr, int level,
                       uint64_t first, uint64_t span, struct shrink *s, bool *gone)
{
    *gone = false;
    if (!blk_valid(fs, ptr)) return EXT2_EUCLEAN;
    if (level == 0) {
        same_ptr(fs, src, ptr);
        int rc = free_block(fs, ptr);
        if (rc == 0) {
            *gone = true;
            s->freed++;
            s->low = first;
        }
        return rc;
    }
    uint8_t *d;
    int slot, rc = bget(fs, ptr, &d, &slot);
    if (rc < 0) return rc;
    uint64_t child_span = span / fs->apb;
    bool left = false, changed = false;
    for (uint32_t i = fs->apb; i-- > 0;) {
        uint64_t cs = first + (uint64_t)i * child_span;
        uint32_t q = le_get32(d + 4 * i);
        if (cs + child_span <= s->cut) {
            left = true; /* this entry and those below it stay */
            break;
        }
        if (q == 0) {
            s->low = cs > s->cut ? cs : s->cut;
            continue;
        }
        if (txn_full(fs)) {
            s->stopped = true;
            left = true;
            break;
        }
        bool g;
        if ((rc = shrink_tree(fs, d + 4 * i, q, level - 1, cs, child_span, s, &g)) < 0) break;
        if (!g) {
            left = true;
            break;
        }
        le_put32(d + 4 * i, 0);
        changed = true;
    }
    if (rc == 0 && changed) bdirty(fs, slot, true);
    bput(fs, slot);
    if (rc < 0) return rc;
    if (!left && first >= s->cut) {
        same_ptr(fs, src, ptr);
        if ((rc = free_block(fs, ptr)) < 0) return rc;
        s->freed++;
        *gone = true;
    }
    return 0;
}

/* One pass over the inode's map from the end. */
static int shrink_pass(struct ext2_fs *fs, struct inode *in, struct shrink *s)
{
    uint64_t a = fs->apb;
    const struct {
        int top, level;
        uint64_t first, span;
    } roots[] = {
        {EXT2_TIND, 3, EXT2_NDIR + a + a * a, a * a * a},
        {EXT2_DIND, 2, EXT2_NDIR + a, a * a},
        {EXT2_IND, 1, EXT2_NDIR, a},
    };
    int rc;
    for (uint32_t r = 0; r < 3 + EXT2_NDIR; r++) {
        int top, level;
        uint64_t first, span;
        if (r < 3) {
            top = roots[r].top;
            level = roots[r].level;
            first = roots[r].first;
            span = roots[r].span;
        } else {
            top = (int)(EXT2_NDIR - 1 - (r - 3));
            level = 0;
            first = (uint64_t)top;
            span = 1;
        }
        uint8_t *ip = in->raw + I_BLOCK + 4 * top;
        uint32_t p = le_get32(ip);
        if (first + span <= s->cut) return 0;
        if (p == 0) {
            s->low = first > s->cut ? first : s->cut;
            continue;
        }
        if (txn_full(fs)) {
            s->stopped = true;
            return 0;
        }
        bool g;
        if ((rc = shrink_tree(fs, ip, p, level, first, span, s, &g)) < 0) return rc;
        if (g) inode_put32(fs, in, (uint32_t)(ip - in->raw), 0);
        if (s->stopped || !g) return 0;
    }
    return 0;
}

int inode_shrink(struct ext2_fs *fs, struct inode *in, uint64_t size, bool commit_steps)
{
    uint64_t cut = (size + fs->bs - 1) >> fs->bs_shift;
    for (int idle = 0;;) {
        struct shrink s = {.cut = cut, .low = UINT64_MAX};
        inode_check(fs, in);
        uint64_t old = i_size(in);
        int rc = shrink_pass(fs, in, &s);
        if (rc < 0) return rc;
        int n = (int)s.freed;
        inode_put32(fs, in, I_BLOCKS, le_get32(in->raw + I_BLOCKS) - (uint32_t)n * (fs->bs >> 9));
        uint64_t nsize = size;
        if (s.stopped)
            nsize = s.low == UINT64_MAX              ? old
                    : (s.low << fs->bs_shift) > size ? s.low << fs->bs_shift
                                                     : size;
        idle = s.freed ? 0 : idle + 1;
        if (idle > 1) return EXT2_EUCLEAN; /* no progress with an empty transaction */
        if (nsize > old) nsize = old;
        i_set_size(fs, in, nsize);
        if ((rc = inode_write(fs, in)) < 0) return rc;
        if (!s.stopped) return 0;
        if (!commit_steps) return EXT2_EFBIG; /* more than one transaction can hold */
        if ((rc = txn_commit(fs)) < 0) return rc;
    }
}

int inode_release(struct ext2_fs *fs, struct inode *in)
{
    bool dir = i_isdir(in);
    int rc;
    uint32_t acl = le_get32(in->raw + I_FILE_ACL);
    /* A fast symbolic link keeps its target in the block pointers. */
    bool fast =
        (i_mode(in) & S_IFMT) == S_IFLNK && le_get32(in->raw + I_BLOCKS) == (acl ? fs->bs >> 9 : 0);
    if (!fast && (rc = inode_shrink(fs, in, 0, false)) < 0) return rc;
    if (acl) {
        uint8_t *d;
        int slot;
        if ((rc = bget(fs, acl, &d, &slot)) < 0) return rc;
        if (le_get32(d) != EA_MAGIC || le_get32(d + 4) == 0) {
            bput(fs, slot);
            return EXT2_EUCLEAN;
        }
        uint32_t refs = le_get32(d + 4) - 1;
        le_put32(d + 4, refs);
        bdirty(fs, slot, true);
        bput(fs, slot);
        if (!refs && (rc = free_block(fs, acl)) < 0) return rc;
    }
    inode_check(fs, in);
    memset(in->raw, 0, sizeof in->raw);
    uint32_t now = fs_now(fs);
    le_put32(in->raw + I_DTIME, now ? now : 1);
    inode_seal(in);
    if ((rc = inode_write(fs, in)) < 0) return rc;
    return free_inode(fs, in->ino, dir);
}

/* Zero an inode's whole on-disk record (a reused slot may hold another file's extra fields)
 * and start it as mode with links; the caller writes it back after filling it in. */
int inode_new(struct ext2_fs *fs, uint32_t ino, uint32_t mode, uint32_t links, struct inode *in)
{
    uint32_t blk, off;
    uint8_t *d;
    int slot, rc = locate(fs, ino, &blk, &off);
    if (rc < 0 || (rc = bget(fs, blk, &d, &slot)) < 0) return rc;
    memset(d + off, 0, fs->inode_size);
    bdirty(fs, slot, true);
    bput(fs, slot);
    uint32_t now = fs_now(fs);
    in->ino = ino;
    memset(in->raw, 0, sizeof in->raw);
    le_put16(in->raw + I_MODE, (uint16_t)mode);
    le_put16(in->raw + I_LINKS, (uint16_t)links);
    le_put32(in->raw + I_ATIME, now);
    le_put32(in->raw + I_CTIME, now);
    le_put32(in->raw + I_MTIME, now);
    le_put32(in->raw + I_GENERATION, (uint32_t)(fs->commits * 2654435761u) ^ ino);
    inode_seal(in);
    return 0;
}
