/* SPDX-License-Identifier: MIT */
/* Corrupted images: seeded corruption of the superblock, group descriptors, inodes, directory
 * entries and block pointers (seeded: a failure names its seed). Mount and every operation after it must return a result or an
 * error (never crash: ASan and UBSan watch; never loop: the timeout; never touch the device
 * outside the image: the in-memory device asserts). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/le.h"
#include "servers/fs/ext2_disk.h"
#include "test_ext2_host.h"
#include "xorshift.h"

static bool known_error(int64_t rc)
{
    switch (rc) {
    case EXT2_ENOENT:
    case EXT2_EIO:
    case EXT2_ENOMEM:
    case EXT2_EBUSY:
    case EXT2_EEXIST:
    case EXT2_ENOTDIR:
    case EXT2_EISDIR:
    case EXT2_EINVAL:
    case EXT2_EFBIG:
    case EXT2_ENOSPC:
    case EXT2_EROFS:
    case EXT2_EMLINK:
    case EXT2_ENAMETOOLONG:
    case EXT2_ENOTEMPTY:
    case EXT2_ELOOP:
    case EXT2_ENOTSUP:
    case EXT2_EUCLEAN: return true;
    default: return false;
    }
}

#define OK(expr)                                                                                   \
    do {                                                                                           \
        int64_t rc_ = (expr);                                                                      \
        cr_assert(rc_ >= 0 || known_error(rc_), "seed %lu: %s returned %ld", (unsigned long)seed,  \
                  #expr, (long)rc_);                                                               \
    } while (0)

static uint64_t seed;
static uint8_t iobuf[1 << 20];

static void walk(struct ext2_fs *fs, uint32_t dir, int depth, int *budget)
{
    uint64_t cookie = 0;
    struct ext2_dirent de;
    int64_t rc = 0;
    while (*budget > 0 && (rc = ext2_readdir(fs, dir, &cookie, &de)) == 1) {
        (*budget)--;
        struct ext2_stat st;
        rc = ext2_stat(fs, de.ino, &st);
        OK(rc);
        OK(ext2_read(fs, de.ino, 0, iobuf, sizeof iobuf));
        OK(ext2_read(fs, de.ino, 5000, iobuf, 100));
        if (rc == 0 && (st.mode & S_IFMT) == S_IFDIR && depth < 6 && de.name[0] != '.')
            walk(fs, de.ino, depth + 1, budget);
    }
    if (*budget > 0) OK(rc);
}

static void exercise(struct ext2_fs *fs)
{
    int budget = 2000;
    walk(fs, EXT2_ROOT_INO, 0, &budget);
    uint32_t ino = 0;
    OK(ext2_lookup(fs, "/dir/sub/deep", &ino));
    OK(ext2_create(fs, "/new", 0644, &ino));
    if (ino) {
        OK(ext2_write(fs, ino, 0, iobuf, 20000));
        OK(ext2_write(fs, ino, 70000000, "x", 1));
        OK(ext2_truncate(fs, ino, 3));
    }
    OK(ext2_mkdir(fs, "/dir/nd", 0755));
    OK(ext2_create(fs, "/dir/nd/f", 0644, NULL));
    OK(ext2_rename(fs, "/dir/nd", "/nd2"));
    OK(ext2_rename(fs, "/small", "/dir/small2"));
    OK(ext2_rename(fs, "/dir/f3", "/dir/sub/f3"));
    OK(ext2_unlink(fs, "/big"));
    OK(ext2_unlink(fs, "/dir/f1"));
    OK(ext2_rmdir(fs, "/dir/sub"));
    OK(ext2_rmdir(fs, "/dir/empty"));
    if (ext2_lookup(fs, "/small", &ino) == 0) {
        OK(ext2_truncate(fs, ino, 0));
        OK(ext2_fsync(fs, ino));
    }
    OK(ext2_unmount(fs));
}

static void build(const char *dir, const char *img, unsigned bs)
{
    uint8_t *big = malloc(300000);
    pattern(big, 300000, 9, 0);
    tmp_write(dir, "big", big, 300000);
    free(big);
    tmp_write(dir, "small", "small file", 10);
    tmp_mkdir(dir, "dir");
    tmp_mkdir(dir, "dir/sub");
    tmp_mkdir(dir, "dir/empty");
    tmp_write(dir, "dir/sub/deep", "deep", 4);
    for (int i = 0; i < 40; i++) {
        char p[64];
        snprintf(p, sizeof p, "dir/f%d", i);
        tmp_write(dir, p, p, strlen(p));
    }
    make_image(dir, img, bs, bs == 1024 ? 2048 : 4096, NULL);
}

/* Offsets worth corrupting, found by reading the clean image. */
struct targets {
    size_t sb, gdt, gdt_len, itab, isz, inodes, dirblk[4], ndir, ind[2], nind;
};

static void find_targets(const uint8_t *img, unsigned bs, struct targets *t)
{
    t->sb = 1024;
    t->gdt = (size_t)(bs == 1024 ? 2 : 1) * bs;
    uint32_t groups =
        (le_get32(img + 1024 + 4) - (bs == 1024 ? 1 : 0) + le_get32(img + 1024 + 32) - 1) /
        le_get32(img + 1024 + 32);
    t->gdt_len = groups * 32;
    t->itab = (size_t)le_get32(img + t->gdt + 8) * bs;
    t->isz = le_get16(img + 1024 + 88);
    t->inodes = 60;
    /* Directory blocks: those of the directories in the first inodes; indirect blocks. */
    t->ndir = t->nind = 0;
    for (uint32_t i = 1; i < 60; i++) {
        const uint8_t *in = img + t->itab + (size_t)i * t->isz;
        uint16_t mode = le_get16(in);
        if ((mode & S_IFMT) == S_IFDIR && t->ndir < 4)
            t->dirblk[t->ndir++] = (size_t)le_get32(in + I_BLOCK) * bs;
        if ((mode & S_IFMT) == S_IFREG && le_get32(in + I_BLOCK + 4 * 12) && t->nind < 2) {
            t->ind[t->nind++] = (size_t)le_get32(in + I_BLOCK + 4 * 12) * bs;
            if (le_get32(in + I_BLOCK + 4 * 13) && t->nind < 2)
                t->ind[t->nind++] = (size_t)le_get32(in + I_BLOCK + 4 * 13) * bs;
        }
    }
}

static void corrupt(uint8_t *img, size_t size, unsigned bs, const struct targets *t, uint64_t *rng)
{
    size_t base, len;
    switch (xorshift64(rng) % 6) {
    case 0:
        base = t->sb;
        len = 264;
        break;
    case 1:
        base = t->gdt;
        len = t->gdt_len;
        break;
    case 2:
        base = t->itab;
        len = t->inodes * t->isz;
        break;
    case 3:
        base = t->dirblk[xorshift64(rng) % t->ndir];
        len = bs;
        break;
    case 4:
        base = t->nind ? t->ind[xorshift64(rng) % t->nind] : t->itab;
        len = t->nind ? 64 : 128;
        break;
    default:
        base = t->itab + t->isz * (xorshift64(rng) % 16);
        len = 128;
        break;
    }
    int n = 1 + (int)(xorshift64(rng) % 4);
    for (int i = 0; i < n; i++) {
        size_t off = base + (xorshift64(rng) % len & ~(size_t)3);
        if (off + 4 > size) continue;
        uint32_t v;
        switch (xorshift64(rng) % 5) {
        case 0: v = (uint32_t)xorshift64(rng); break;
        case 1: v = 0; break;
        case 2: v = 0xffffffffu; break;
        case 3: v = le_get32(img + off) ^ (1u << (xorshift64(rng) % 32)); break;
        default: v = (uint32_t)(xorshift64(rng) % 4096); break;
        }
        le_put32(img + off, v);
    }
}

static void fuzz(unsigned bs, unsigned runs, uint64_t s0)
{
    const char *dir = tmpdir_new();
    char img[256];
    snprintf(img, sizeof img, "%s.img", dir);
    build(dir, img, bs);
    struct memdev clean;
    memdev_load(&clean, img);
    struct targets t;
    find_targets(clean.img, bs, &t);
    cr_assert_geq(t.ndir, 3);
    cr_assert_geq(t.nind, 1);
    struct ext2_fs *fs = fs_new();
    struct memdev m = {.size = clean.size, .img = malloc(clean.size)};
    int mounted = 0;
    for (unsigned r = 0; r < runs; r++) {
        seed = s0 + r;
        uint64_t rng = seed * 0x9e3779b97f4a7c15ull + 1;
        memcpy(m.img, clean.img, clean.size);
        corrupt(m.img, m.size, bs, &t, &rng);
        struct ext2_blkdev dev = memdev_dev(&m);
        int rc = ext2_mount(fs, &dev);
        OK(rc);
        if (rc == 0) {
            mounted++;
            exercise(fs);
        }
    }
    cr_log_info("bs %u: %u corrupted images, %d mounted", bs, runs, mounted);
    /* The clean image works, and the operations leave it clean. */
    memcpy(m.img, clean.img, clean.size);
    struct ext2_blkdev dev = memdev_dev(&m);
    cr_assert_eq(ext2_mount(fs, &dev), 0);
    exercise(fs);
    memdev_save(&m, img);
    cr_assert_eq(fsck(img), 0);
    free(m.img);
    memdev_free(&clean);
    free(fs);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s %s", dir, img);
    cr_assert_eq(system(cmd), 0);
    free((char *)dir);
}

/* EXT2_FUZZ_SCALE=n runs n times as many images (the suite's default keeps it to ~40 s). */
static unsigned scale(void)
{
    const char *s = getenv("EXT2_FUZZ_SCALE");
    return s && atoi(s) > 0 ? (unsigned)atoi(s) : 1;
}

Test(ext2_fuzz, corrupt_images_1k, .timeout = 300) { fuzz(1024, 1500 * scale(), 1); }
Test(ext2_fuzz, corrupt_images_4k, .timeout = 300) { fuzz(4096, 700 * scale(), 100000); }

/* The library's checks of its own state (ext2_cache_check.c, ext2_home.c) fire only for state
 * changed behind its back, never for a damaged image: a failure that names the image. */
void ext2_cache_corrupt(struct ext2_fs *fs, uint32_t slot)
{
    (void)fs;
    cr_assert_fail("seed %lu: ext2_cache_corrupt(%u) on a damaged image", (unsigned long)seed,
                   slot);
}
