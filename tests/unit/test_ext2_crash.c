/* SPDX-License-Identifier: MIT */
/* Crash consistency of the ext2 library: a workload's block write stream is recorded, then
 * cut at every point (or a seeded sample, plus every point right before a flush): the prefix, the prefix with its last write torn,
 * and the writes since the last flush persisted as a random subset (what a disk with a write
 * cache may keep). After recovery (mount) every image must pass e2fsck -fn and hold every
 * file whose fsync had returned, byte for byte. EXT2_CRASH_ALL=1 tries every cut point. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_ext2_host.h"
#include "xorshift.h"

struct ack {
    char path[64];
    uint64_t seed;
    uint32_t len;
    size_t at; /* events recorded when fsync returned */
};

#define MAX_ACKS 64

struct run {
    struct memdev m;
    struct ext2_fs *fs;
    struct ack acks[MAX_ACKS];
    int nacks;
    uint8_t *base; /* the image before the workload */
};

static void put_file(struct run *r, const char *path, uint32_t len, uint64_t seed, bool sync)
{
    uint32_t ino;
    cr_assert_eq(ext2_create(r->fs, path, 0644, &ino), 0, "%s", path);
    uint8_t *buf = malloc(len + 1);
    pattern(buf, len, seed, 0);
    /* Two writes, the second one overlapping the first's end. */
    uint32_t half = len / 2;
    cr_assert_eq(ext2_write(r->fs, ino, 0, buf, half), half);
    cr_assert_eq(ext2_write(r->fs, ino, half, buf + half, len - half), len - half);
    free(buf);
    if (!sync) return;
    cr_assert_eq(ext2_fsync(r->fs, ino), 0);
    cr_assert_lt(r->nacks, MAX_ACKS);
    struct ack *a = &r->acks[r->nacks++];
    snprintf(a->path, sizeof a->path, "%s", path);
    a->seed = seed;
    a->len = len;
    a->at = r->m.nev;
}

/* Creates, long writes (several transactions), renames of files and of a directory across
 * parents, rename over a file, unlink of a large file (stepped), truncate, rmdir. Files whose
 * fsync returned are never touched again. */
static void workload(struct run *r)
{
    struct ext2_fs *fs = r->fs;
    cr_assert_eq(ext2_mkdir(fs, "/w", 0755), 0);
    cr_assert_eq(ext2_mkdir(fs, "/w2", 0755), 0);
    const uint32_t sizes[] = {700, 5000, 40000, 300000, 1, 12288, 70000, 2100};
    for (int i = 0; i < 8; i++) {
        char p[64];
        snprintf(p, sizeof p, "/w/f%d", i);
        put_file(r, p, sizes[i], 100 + (uint64_t)i, i % 2 == 0);
    }
    cr_assert_eq(ext2_rename(fs, "/w/f1", "/w/f7"), 0);
    cr_assert_eq(ext2_mkdir(fs, "/w/d", 0755), 0);
    put_file(r, "/w/d/inner", 3000, 200, false);
    cr_assert_eq(ext2_rename(fs, "/w/d", "/w2/d"), 0);
    put_file(r, "/w2/synced", 9000, 201, true);
    put_file(r, "/w/big", 400000, 202, false);
    cr_assert_eq(ext2_unlink(fs, "/w/big"), 0);
    uint32_t ino;
    cr_assert_eq(ext2_lookup(fs, "/w/f5", &ino), 0);
    cr_assert_eq(ext2_truncate(fs, ino, 1000), 0);
    cr_assert_eq(ext2_unlink(fs, "/w2/d/inner"), 0);
    cr_assert_eq(ext2_rmdir(fs, "/w2/d"), 0);
    for (int i = 0; i < 20; i++) {
        char p[64];
        snprintf(p, sizeof p, "/w2/n%02d", i);
        put_file(r, p, 100u * (uint32_t)i + 1, 300 + (uint64_t)i, i % 5 == 4);
    }
    for (int i = 0; i < 20; i += 3) {
        char p[64];
        snprintf(p, sizeof p, "/w2/n%02d", i);
        if (i % 5 != 4) cr_assert_eq(ext2_unlink(fs, p), 0);
    }
    put_file(r, "/last", 33333, 400, true);
}

static void apply(uint8_t *img, const struct ev *e, uint32_t sectors)
{
    if (e->data) memcpy(img + e->sector * 512, e->data, (size_t)sectors * 512);
}

static int n_fsck;
static bool async_mode; /* the workload ran with fs->async (group commit) */

/* The seeds a file of this name may hold (f7 may hold f1's bytes after the rename). */
static bool seed_ok(const char *name, uint64_t seed)
{
    int i;
    if (sscanf(name, "f%d", &i) == 1) return seed == 100u + (uint64_t)i || (i == 7 && seed == 101);
    if (sscanf(name, "n%d", &i) == 1) return seed == 300u + (uint64_t)i;
    return (!strcmp(name, "inner") && seed == 200) || (!strcmp(name, "synced") && seed == 201) ||
           (!strcmp(name, "big") && seed == 202) || (!strcmp(name, "last") && seed == 400);
}

/* Every file of the workload that exists holds its pattern up to its size: data reached the
 * disk before the size and block pointers that expose it. */
static void check_tree(struct ext2_fs *fs, uint32_t dir, int depth, const char *what, size_t k)
{
    /* Async mode orders data before the record only by the order of the writes, not by a
     * flush: a disk that reorders unflushed writes may keep the record and not the data of a
     * file not yet fsynced (docs/storage-fs.md). In order (a crash of fs or blk), never. */
    if (async_mode && !strcmp(what, "reordered")) return;
    uint64_t cookie = 0;
    struct ext2_dirent de;
    int rc;
    while ((rc = ext2_readdir(fs, dir, &cookie, &de)) == 1) {
        if (!strcmp(de.name, ".") || !strcmp(de.name, "..") || !strcmp(de.name, "lost+found") ||
            !strcmp(de.name, EXT2_LOG_NAME))
            continue;
        struct ext2_stat st;
        cr_assert_eq(ext2_stat(fs, de.ino, &st), 0);
        if ((st.mode & 0170000) == 0040000) {
            cr_assert_lt(depth, 4);
            check_tree(fs, de.ino, depth + 1, what, k);
            continue;
        }
        uint8_t *got = malloc(st.size + 1), *want = malloc(st.size + 1);
        cr_assert_eq(ext2_read(fs, de.ino, 0, got, (uint32_t)st.size), (int64_t)st.size);
        bool ok = false;
        for (uint64_t seed = 100; seed <= 400 && !ok; seed++) {
            if (!seed_ok(de.name, seed)) continue;
            pattern(want, st.size, seed, 0);
            ok = memcmp(got, want, st.size) == 0;
        }
        cr_assert(ok, "%s cut at %zu: %s (%lu bytes) holds bytes never written to it", what, k,
                  de.name, (unsigned long)st.size);
        free(got);
        free(want);
    }
    cr_assert_eq(rc, 0);
}

/* Mount (recovery) the image, check the acknowledged files, unmount, e2fsck. */
static void verify(struct run *r, uint8_t *img, size_t acked_upto, const char *file,
                   const char *what, size_t k)
{
    struct memdev m = {.img = img, .size = r->m.size};
    struct ext2_blkdev dev = memdev_dev(&m);
    struct ext2_fs *fs = fs_new();
    int rc = ext2_mount(fs, &dev);
    cr_assert_eq(rc, 0, "%s cut at %zu: mount %d", what, k, rc);
    for (int i = 0; i < r->nacks; i++) {
        struct ack *a = &r->acks[i];
        if (a->at > acked_upto) continue;
        uint32_t ino;
        cr_assert_eq(ext2_lookup(fs, a->path, &ino), 0, "%s cut at %zu: %s lost", what, k, a->path);
        uint8_t *got = malloc(a->len + 1), *want = malloc(a->len);
        pattern(want, a->len, a->seed, 0);
        cr_assert_eq(ext2_read(fs, ino, 0, got, a->len + 1), a->len, "%s cut at %zu: %s", what, k,
                     a->path);
        cr_assert_eq(memcmp(got, want, a->len), 0, "%s cut at %zu: %s differs", what, k, a->path);
        free(got);
        free(want);
    }
    check_tree(fs, 2, 0, what, k);
    cr_assert_eq(ext2_unmount(fs), 0);
    free(fs);
    FILE *f = fopen(file, "wb");
    cr_assert_eq(fwrite(img, 1, r->m.size, f), r->m.size);
    fclose(f);
    n_fsck++;
    cr_assert_eq(fsck(file), 0, "%s cut at %zu: e2fsck", what, k);
}

static void crash_test(unsigned bs, unsigned size_kb, uint64_t seed, unsigned samples, bool async)
{
    async_mode = async;
    const char *dir = tmpdir_new();
    char img[256], work[300];
    snprintf(img, sizeof img, "%s.img", dir);
    snprintf(work, sizeof work, "%s.crash", dir);
    make_image(dir, img, bs, size_kb, NULL);
    struct run *r = calloc(1, sizeof *r);
    memdev_load(&r->m, img);
    r->fs = fs_new();
    r->fs->async = async;
    struct ext2_blkdev dev = memdev_dev(&r->m);
    cr_assert_eq(ext2_mount(r->fs, &dev), 0);
    /* the image as the mount left it (flushed): the first mount writes the log's header */
    r->base = malloc(r->m.size);
    memcpy(r->base, r->m.img, r->m.size);
    memdev_record(&r->m);
    workload(r);
    cr_assert_eq(ext2_unmount(r->fs), 0);
    size_t n = r->m.nev;
    cr_log_info("bs %u: %zu events (%lu writes, %lu flushes), %d fsyncs", bs, n,
                (unsigned long)r->m.writes, (unsigned long)r->m.flushes, r->nacks);
    const char *all = getenv("EXT2_CRASH_ALL");
    bool every = all && all[0] == '1';
    /* Running images: everything before k, and everything before the last flush. */
    uint8_t *at_k = malloc(r->m.size), *at_f = malloc(r->m.size), *tmp = malloc(r->m.size);
    memcpy(at_k, r->base, r->m.size);
    memcpy(at_f, r->base, r->m.size);
    size_t f_end = 0;
    uint64_t rng = seed;
    n_fsck = 0;
    for (size_t k = 0; k <= n; k++) {
        bool pick = every || k == n || xorshift64(&rng) % n < samples;
        /* Right before a flush the most writes are unordered: every such point is tried. */
        bool before_flush = k < n && !r->m.evs[k].data;
        if (before_flush && !pick) {
            memcpy(tmp, at_f, r->m.size);
            for (size_t j = f_end; j < k; j++)
                if (xorshift64(&rng) & 1) apply(tmp, &r->m.evs[j], r->m.evs[j].count);
            verify(r, tmp, f_end, work, "reordered", k);
        }
        if (pick) {
            /* The prefix. */
            memcpy(tmp, at_k, r->m.size);
            verify(r, tmp, k, work, "prefix", k);
            /* The prefix with write k torn: its first half of sectors only. */
            if (k < n && r->m.evs[k].data && r->m.evs[k].count > 1) {
                memcpy(tmp, at_k, r->m.size);
                apply(tmp, &r->m.evs[k], r->m.evs[k].count / 2);
                verify(r, tmp, k, work, "torn", k);
            }
            /* What the last flush made durable, plus any subset of the later writes. */
            memcpy(tmp, at_f, r->m.size);
            for (size_t j = f_end; j < k; j++)
                if (xorshift64(&rng) & 1) apply(tmp, &r->m.evs[j], r->m.evs[j].count);
            verify(r, tmp, f_end, work, "reordered", k);
        }
        if (k == n) break;
        apply(at_k, &r->m.evs[k], r->m.evs[k].count);
        if (!r->m.evs[k].data) {
            memcpy(at_f, at_k, r->m.size);
            f_end = k + 1;
        }
    }
    cr_log_info("bs %u: %d images checked by e2fsck", bs, n_fsck);
    free(at_k);
    free(at_f);
    free(tmp);
    free(r->base);
    free(r->fs);
    memdev_free(&r->m);
    free(r);
    char cmd[800];
    snprintf(cmd, sizeof cmd, "rm -rf %s %s %s", dir, img, work);
    cr_assert_eq(system(cmd), 0);
    free((char *)dir);
}

/* Each block size in sync mode, then with group commit (async: records without flushes,
 * metadata in place only at checkpoints). */
Test(ext2_crash, every_cut_kind_1k, .timeout = 900)
{
    crash_test(1024, 4096, 0x1234567, 60, false);
    crash_test(1024, 4096, 0x2345678, 60, true);
}
Test(ext2_crash, every_cut_kind_4k, .timeout = 900)
{
    crash_test(4096, 8192, 0x7654321, 60, false);
    crash_test(4096, 8192, 0x8765432, 60, true);
}

/* Group commit: a stream of writes costs no flush; a crash of the caller (the image as the
 * device holds it, every write in order) loses none of them; fsync costs one flush and then a
 * loss of everything unflushed loses none of them either; e2fsck is clean throughout. */
static void async_no_flush_test(unsigned bs)
{
    const char *dir = tmpdir_new();
    char img[256];
    snprintf(img, sizeof img, "%s.img", dir);
    make_image(dir, img, bs, 16384, NULL);
    struct memdev m = {0};
    memdev_load(&m, img);
    struct ext2_blkdev dev = memdev_dev(&m);
    struct ext2_fs *fs = fs_new();
    fs->async = true;
    cr_assert_eq(ext2_mount(fs, &dev), 0);
    const uint32_t len = 3u << 20, call = 64u << 10;
    uint8_t *buf = malloc(len), *got = malloc(len);
    pattern(buf, len, 77, 0);
    uint32_t ino;
    cr_assert_eq(ext2_create(fs, "/s", 0644, &ino), 0);
    uint64_t f0 = m.flushes;
    for (uint32_t off = 0; off < len; off += call)
        cr_assert_eq(ext2_write(fs, ino, off, buf + off, call), call);
    cr_assert_leq(m.flushes - f0, (uint64_t)(len / call / 4), "%lu flushes for %u writes",
                  (unsigned long)(m.flushes - f0), len / call);
    /* the caller dies: nothing unmounted, nothing flushed; a new mount recovers */
    struct ext2_fs *fs2 = fs_new();
    fs2->async = true;
    uint8_t *copy = malloc(m.size);
    memcpy(copy, m.img, m.size);
    cr_assert_eq(ext2_mount(fs2, &dev), 0);
    cr_assert_eq(ext2_lookup(fs2, "/s", &ino), 0);
    cr_assert_eq(ext2_read(fs2, ino, 0, got, len), len);
    cr_assert_eq(memcmp(got, buf, len), 0);
    /* more writes, one fsync: one flush */
    pattern(buf, len, 78, 0);
    for (uint32_t off = 0; off < len; off += call)
        cr_assert_eq(ext2_write(fs2, ino, off, buf + off, call), call);
    uint64_t f1 = m.flushes;
    cr_assert_eq(ext2_fsync(fs2, ino), 0);
    cr_assert_eq(m.flushes - f1, 1);
    cr_assert_eq(ext2_unmount(fs2), 0);
    memdev_save(&m, img);
    cr_assert_eq(fsck(img), 0);
    size_t n;
    uint8_t *cat = debugfs_cat(img, "/s", &n);
    cr_assert(cat && n == len && !memcmp(cat, buf, len));
    free(cat);
    /* the image the dead caller left (its log not checkpointed) is clean after recovery too */
    memcpy(m.img, copy, m.size);
    struct ext2_fs *fs3 = fs_new();
    cr_assert_eq(ext2_mount(fs3, &dev), 0);
    cr_assert_eq(ext2_unmount(fs3), 0);
    memdev_save(&m, img);
    cr_assert_eq(fsck(img), 0);
    free(copy);
    free(buf);
    free(got);
    free(fs);
    free(fs2);
    free(fs3);
    memdev_free(&m);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s %s", dir, img);
    cr_assert_eq(system(cmd), 0);
    free((char *)dir);
}

Test(ext2_crash, async_writes_without_flushes, .timeout = 300)
{
    async_no_flush_test(1024);
    async_no_flush_test(4096);
}
