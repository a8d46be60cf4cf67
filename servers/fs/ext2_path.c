/* SPDX-License-Identifier: MIT */
/* Path lookup: components separated by '/', from the root; "." and ".." are the entries every
 * directory holds. The walk is bounded by the path's length. */
#include "ext2_int.h"

static const char *next_comp(const char *p, const char **start, uint32_t *len)
{
    while (*p == '/') p++;
    *start = p;
    while (*p && *p != '/') p++;
    *len = (uint32_t)(p - *start);
    return p;
}

/* Returns 0 and *ino, EXT2_ENOENT, EXT2_ENOTDIR, EXT2_ENAMETOOLONG, EXT2_EUCLEAN. */
int path_walk(struct ext2_fs *fs, const char *path, uint32_t *ino)
{
    uint32_t cur = EXT2_ROOT_INO;
    const char *p = path, *c;
    uint32_t len;
    for (;;) {
        p = next_comp(p, &c, &len);
        if (len == 0) break;
        if (len > EXT2_NAME_MAX) return EXT2_ENAMETOOLONG;
        struct inode dir;
        int rc = inode_read(fs, cur, &dir);
        if (rc < 0) return rc;
        if (!i_isdir(&dir)) return EXT2_ENOTDIR;
        if ((rc = dir_find(fs, &dir, c, len, &cur)) < 0) return rc;
    }
    *ino = cur;
    return 0;
}

/* Returns 0, the path errors above, or EXT2_EINVAL when the last component is missing or is
 * "." or "..". */
int path_parent(struct ext2_fs *fs, const char *path, uint32_t *parent, const char **name,
                uint32_t *len)
{
    const char *last = NULL, *p = path, *c;
    uint32_t l, ll = 0;
    for (;;) {
        p = next_comp(p, &c, &l);
        if (l == 0) break;
        last = c;
        ll = l;
    }
    if (!last || (ll == 1 && last[0] == '.') || (ll == 2 && last[0] == '.' && last[1] == '.'))
        return EXT2_EINVAL;
    if (ll > EXT2_NAME_MAX) return EXT2_ENAMETOOLONG;
    /* Walk the prefix: a copy bounded by the name limit of a path (4096, as PATH_MAX). */
    char pre[4096];
    size_t n = (size_t)(last - path);
    if (n >= sizeof pre) return EXT2_ENAMETOOLONG;
    memcpy(pre, path, n);
    pre[n] = 0;
    int rc = path_walk(fs, pre, parent);
    /* the copy is on the stack while the walk waits for the disk: a stray write into it would
     * have walked to another directory (issue 15's `corrupt`): crash rather than act on it */
    if (memcmp(pre, path, n) != 0 || pre[n]) ext2_cache_corrupt(fs, EXT2_CACHE_BLOCKS);
    if (rc < 0) return rc;
    struct inode dir;
    if ((rc = inode_read(fs, *parent, &dir)) < 0) return rc;
    if (!i_isdir(&dir)) return EXT2_ENOTDIR;
    *name = last;
    *len = ll;
    return 0;
}

int ext2_lookup(struct ext2_fs *fs, const char *path, uint32_t *ino)
{
    if (!fs->mounted) return EXT2_EINVAL;
    int rc = path_walk(fs, path, ino);
    txn_abort(fs); /* drop references a failed walk may hold */
    return rc;
}
