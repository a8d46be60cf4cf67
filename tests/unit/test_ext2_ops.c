/* SPDX-License-Identifier: MIT */
/* The ext2 library's operations on real images (mke2fs -d, 1 KiB and 4 KiB blocks): each
 * operation, then e2fsck -fn clean and the contents as debugfs reads them; exact error codes. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "servers/fs/ext2_disk.h"
#include "test_ext2_host.h"

struct env {
    const char *dir;
    char img[256];
    struct memdev m;
    struct ext2_fs *fs;
    unsigned bs;
};

static void setup(struct env *e, unsigned bs, unsigned size_kb)
{
    e->bs = bs;
    e->dir = tmpdir_new();
    snprintf(e->img, sizeof e->img, "%s.img", e->dir);
    tmp_write(e->dir, "hello.txt", "hello, ext2\n", 12);
    uint8_t *big = malloc(300000);
    pattern(big, 300000, 1, 0);
    tmp_write(e->dir, "big.bin", big, 300000);
    free(big);
    tmp_mkdir(e->dir, "sub");
    tmp_write(e->dir, "sub/nested.txt", "nested", 6);
    make_image(e->dir, e->img, bs, size_kb, NULL);
    memdev_load(&e->m, e->img);
    e->fs = fs_new();
    struct ext2_blkdev dev = memdev_dev(&e->m);
    cr_assert_eq(ext2_mount(e->fs, &dev), 0);
}

static void teardown(struct env *e)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s %s", e->dir, e->img);
    cr_assert_eq(system(cmd), 0);
    memdev_free(&e->m);
    free(e->fs);
    free((char *)e->dir);
}

/* The image as it is on the device now must be clean. */
static void check_clean(struct env *e, const char *after)
{
    memdev_save(&e->m, e->img);
    cr_assert_eq(fsck(e->img), 0, "e2fsck after %s (bs %u)", after, e->bs);
}

static void check_cat(struct env *e, const char *path, const void *want, size_t len)
{
    size_t n;
    memdev_save(&e->m, e->img);
    uint8_t *got = debugfs_cat(e->img, path, &n);
    cr_assert_not_null(got);
    cr_assert_eq(n, len, "%s: debugfs reads %zu bytes, want %zu", path, n, len);
    cr_assert_eq(memcmp(got, want, len), 0, "%s: contents differ", path);
    free(got);
}

static uint32_t look(struct env *e, const char *path)
{
    uint32_t ino = 0;
    cr_assert_eq(ext2_lookup(e->fs, path, &ino), 0, "lookup %s", path);
    return ino;
}

static void reads_mke2fs_files(unsigned bs)
{
    struct env e;
    setup(&e, bs, 8192);
    uint8_t buf[300001], want[300000];
    uint32_t ino = look(&e, "/hello.txt");
    cr_assert_eq(ext2_read(e.fs, ino, 0, buf, sizeof buf), 12);
    cr_assert_eq(memcmp(buf, "hello, ext2\n", 12), 0);
    cr_assert_eq(ext2_read(e.fs, ino, 7, buf, 100), 5);
    cr_assert_eq(ext2_read(e.fs, ino, 12, buf, 100), 0);
    ino = look(&e, "big.bin");
    pattern(want, sizeof want, 1, 0);
    cr_assert_eq(ext2_read(e.fs, ino, 0, buf, sizeof buf), 300000);
    cr_assert_eq(memcmp(buf, want, sizeof want), 0);
    cr_assert_eq(ext2_read(e.fs, ino, 299990, buf, 100), 10);
    cr_assert_eq(memcmp(buf, want + 299990, 10), 0);
    struct ext2_stat st;
    cr_assert_eq(ext2_stat(e.fs, ino, &st), 0);
    cr_assert_eq(st.size, 300000);
    cr_assert_eq(st.mode & S_IFMT, S_IFREG);
    ino = look(&e, "/sub//nested.txt");
    cr_assert_eq(ext2_read(e.fs, ino, 0, buf, 10), 6);
    cr_assert_eq(look(&e, "/sub/.."), EXT2_ROOT_INO);
    /* readdir of the root: every name once. */
    const char *names[] = {".", "..", "lost+found", "hello.txt", "big.bin", "sub", EXT2_LOG_NAME};
    int seen[7] = {0};
    uint64_t cookie = 0;
    struct ext2_dirent de;
    int n = 0, rc;
    while ((rc = ext2_readdir(e.fs, EXT2_ROOT_INO, &cookie, &de)) == 1) {
        n++;
        for (int i = 0; i < 7; i++)
            if (strcmp(de.name, names[i]) == 0) seen[i]++;
    }
    cr_assert_eq(rc, 0);
    cr_assert_eq(n, 7);
    for (int i = 0; i < 7; i++) cr_assert_eq(seen[i], 1, "%s", names[i]);
    cr_assert_eq(ext2_lookup(e.fs, "/nope", &ino), EXT2_ENOENT);
    cr_assert_eq(ext2_lookup(e.fs, "/hello.txt/x", &ino), EXT2_ENOTDIR);
    cr_assert_eq(ext2_read(e.fs, EXT2_ROOT_INO, 0, buf, 10), EXT2_EISDIR);
    cr_assert_eq(ext2_unmount(e.fs), 0);
    check_clean(&e, "reading");
    teardown(&e);
}

Test(ext2_ops, reads_mke2fs_files_1k) { reads_mke2fs_files(1024); }
Test(ext2_ops, reads_mke2fs_files_4k) { reads_mke2fs_files(4096); }

static void every_operation(unsigned bs)
{
    struct env e;
    setup(&e, bs, 16384);
    struct ext2_fs *fs = e.fs;
    uint32_t a, b;
    static uint8_t buf[400000], want[400000];

    cr_assert_eq(ext2_create(fs, "/a.txt", 0644, &a), 0);
    check_clean(&e, "create");
    cr_assert_eq(ext2_create(fs, "/a.txt", 0644, NULL), EXT2_EEXIST);
    cr_assert_eq(ext2_write(fs, a, 0, "first", 5), 5);
    check_clean(&e, "write");
    check_cat(&e, "/a.txt", "first", 5);

    /* Through single and double indirect blocks (and triple with 1 KiB blocks). */
    pattern(want, sizeof want, 7, 0);
    cr_assert_eq(ext2_create(fs, "/b.bin", 0600, &b), 0);
    cr_assert_eq(ext2_write(fs, b, 0, want, sizeof want), (int64_t)sizeof want);
    check_clean(&e, "long write");
    check_cat(&e, "/b.bin", want, sizeof want);
    cr_assert_eq(ext2_read(fs, b, 0, buf, sizeof buf), (int64_t)sizeof buf);
    cr_assert_eq(memcmp(buf, want, sizeof want), 0);

    /* A sparse file whose tail is behind the triple indirect block. */
    uint64_t a_ = bs / 4;
    uint64_t tind = (12 + a_ + a_ * a_) * bs;
    uint32_t s;
    cr_assert_eq(ext2_create(fs, "/sparse", 0644, &s), 0);
    cr_assert_eq(ext2_write(fs, s, tind + 100, "tail", 4), 4);
    cr_assert_eq(ext2_write(fs, s, 3, "head", 4), 4);
    check_clean(&e, "triple indirect write");
    struct ext2_stat st;
    cr_assert_eq(ext2_stat(fs, s, &st), 0);
    cr_assert_eq(st.size, tind + 104);
    cr_assert_eq(ext2_read(fs, s, tind + 96, buf, 100), 8);
    cr_assert_eq(memcmp(buf, "\0\0\0\0tail", 8), 0);
    cr_assert_eq(ext2_read(fs, s, 0, buf, 8), 8);
    cr_assert_eq(memcmp(buf, "\0\0\0head\0", 8), 0);
    /* Truncate it back below the indirect blocks: all of them go. */
    cr_assert_eq(ext2_truncate(fs, s, 5), 0);
    check_clean(&e, "truncate of the sparse file");
    cr_assert_eq(ext2_stat(fs, s, &st), 0);
    cr_assert_eq(st.size, 5);
    cr_assert_eq(st.blocks512, bs / 512);
    /* Growing again reads zeros past the old end. */
    cr_assert_eq(ext2_truncate(fs, s, 20), 0);
    cr_assert_eq(ext2_read(fs, s, 0, buf, 100), 20);
    cr_assert_eq(memcmp(buf, "\0\0\0he\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 20), 0);
    check_clean(&e, "truncate up");

    /* Overwrite in the middle and truncate b. */
    cr_assert_eq(ext2_write(fs, b, 5000, "XYZ", 3), 3);
    memcpy(want + 5000, "XYZ", 3);
    cr_assert_eq(ext2_truncate(fs, b, 123457), 0);
    check_clean(&e, "truncate down");
    check_cat(&e, "/b.bin", want, 123457);
    cr_assert_eq(ext2_fsync(fs, b), 0);

    /* Directories. */
    cr_assert_eq(ext2_mkdir(fs, "/d1", 0755), 0);
    cr_assert_eq(ext2_mkdir(fs, "/d1/d2", 0755), 0);
    cr_assert_eq(ext2_mkdir(fs, "/d3", 0755), 0);
    check_clean(&e, "mkdir");
    cr_assert_eq(ext2_mkdir(fs, "/d1", 0755), EXT2_EEXIST);
    cr_assert_eq(ext2_mkdir(fs, "/a.txt/x", 0755), EXT2_ENOTDIR);
    cr_assert_eq(ext2_create(fs, "/d1/d2/f", 0644, NULL), 0);
    cr_assert_eq(ext2_rmdir(fs, "/d1"), EXT2_ENOTEMPTY);
    cr_assert_eq(ext2_rmdir(fs, "/a.txt"), EXT2_ENOTDIR);
    cr_assert_eq(ext2_unlink(fs, "/d1"), EXT2_EISDIR);
    cr_assert_eq(ext2_rmdir(fs, "/"), EXT2_EINVAL);
    cr_assert_eq(ext2_rename(fs, "/d1", "/d1/d2/x"), EXT2_EINVAL);
    cr_assert_eq(ext2_rename(fs, "/d1", "/a.txt"), EXT2_ENOTDIR);
    cr_assert_eq(ext2_rename(fs, "/a.txt", "/d3"), EXT2_EISDIR);
    cr_assert_eq(ext2_rename(fs, "/d1", "/d3/d1"), 0); /* across parents: ".." follows */
    check_clean(&e, "rename of a directory across parents");
    uint32_t d3 = look(&e, "/d3");
    cr_assert_eq(look(&e, "/d3/d1/.."), d3);
    cr_assert_eq(look(&e, "/d3/d1/d2/.."), look(&e, "/d3/d1"));
    cr_assert_eq(ext2_stat(fs, d3, &st), 0);
    cr_assert_eq(st.links, 3);
    cr_assert_eq(ext2_stat(fs, EXT2_ROOT_INO, &st), 0);
    uint32_t root_links = st.links;

    /* Rename over an existing file, then over an empty directory. */
    cr_assert_eq(ext2_rename(fs, "/a.txt", "/hello.txt"), 0);
    check_clean(&e, "rename over a file");
    check_cat(&e, "/hello.txt", "first", 5);
    cr_assert_eq(ext2_lookup(fs, "/a.txt", &a), EXT2_ENOENT);
    cr_assert_eq(ext2_mkdir(fs, "/empty", 0755), 0);
    cr_assert_eq(ext2_rename(fs, "/d3/d1/d2", "/empty"), 0);
    check_clean(&e, "rename over an empty directory");
    cr_assert_eq(look(&e, "/empty/.."), EXT2_ROOT_INO);
    cr_assert_eq(ext2_stat(fs, EXT2_ROOT_INO, &st), 0);
    cr_assert_eq(st.links, root_links + 1); /* /empty went, d2 came */
    cr_assert_eq(ext2_rename(fs, "/sub", "/d3"), EXT2_ENOTEMPTY);

    /* Unlink and rmdir. */
    cr_assert_eq(ext2_unlink(fs, "/empty/f"), 0);
    cr_assert_eq(ext2_rmdir(fs, "/empty"), 0);
    cr_assert_eq(ext2_unlink(fs, "/b.bin"), 0);
    cr_assert_eq(ext2_unlink(fs, "/sparse"), 0);
    cr_assert_eq(ext2_unlink(fs, "/big.bin"), 0);
    check_clean(&e, "unlink and rmdir");
    cr_assert_eq(ext2_unlink(fs, "/b.bin"), EXT2_ENOENT);
    cr_assert_eq(ext2_unlink(fs, "/" EXT2_LOG_NAME), EXT2_EBUSY);
    char longname[300];
    memset(longname, 'n', 299);
    longname[0] = '/';
    longname[299] = 0;
    cr_assert_eq(ext2_create(fs, longname, 0644, NULL), EXT2_ENAMETOOLONG);

    /* Many entries: the root directory grows by blocks. */
    for (int i = 0; i < 300; i++) {
        char p[64];
        snprintf(p, sizeof p, "/d3/file-with-a-longer-name-%04d", i);
        cr_assert_eq(ext2_create(fs, p, 0644, &a), 0, "%s", p);
        cr_assert_eq(ext2_write(fs, a, 0, p, strlen(p)), (int64_t)strlen(p));
    }
    for (int i = 0; i < 300; i += 2) {
        char p[64];
        snprintf(p, sizeof p, "/d3/file-with-a-longer-name-%04d", i);
        cr_assert_eq(ext2_unlink(fs, p), 0);
    }
    check_clean(&e, "300 creates and 150 unlinks");
    check_cat(&e, "/d3/file-with-a-longer-name-0123", "/d3/file-with-a-longer-name-0123", 32);
    cr_assert_eq(ext2_unmount(fs), 0);

    /* A second mount sees the same. */
    struct ext2_blkdev dev = memdev_dev(&e.m);
    cr_assert_eq(ext2_mount(fs, &dev), 0);
    cr_assert_eq(ext2_read(fs, look(&e, "/hello.txt"), 0, buf, 100), 5);
    teardown(&e);
}

Test(ext2_ops, every_operation_1k, .timeout = 120) { every_operation(1024); }
Test(ext2_ops, every_operation_4k, .timeout = 120) { every_operation(4096); }

/* Filling the disk: ENOSPC, nothing half-done, what was written before stays. */
static void full_disk(unsigned bs)
{
    struct env e;
    setup(&e, bs, 2048);
    uint32_t f;
    static uint8_t chunk[65536];
    pattern(chunk, sizeof chunk, 3, 0);
    cr_assert_eq(ext2_create(e.fs, "/fill", 0644, &f), 0);
    int64_t rc = 0;
    uint64_t off = 0;
    for (int i = 0; i < 1000 && rc >= 0; i++) {
        rc = ext2_write(e.fs, f, off, chunk, sizeof chunk);
        if (rc > 0) off += (uint64_t)rc;
    }
    cr_assert_eq(rc, EXT2_ENOSPC);
    check_clean(&e, "ENOSPC");
    struct ext2_stat st;
    cr_assert_eq(ext2_stat(e.fs, f, &st), 0);
    cr_assert_geq(st.size, off);
    cr_assert_eq(ext2_create(e.fs, "/more", 0644, NULL), 0); /* inodes remain */
    cr_assert_eq(ext2_unlink(e.fs, "/fill"), 0);
    check_clean(&e, "unlink after ENOSPC");
    teardown(&e);
}

Test(ext2_ops, full_disk_1k, .timeout = 120) { full_disk(1024); }
Test(ext2_ops, full_disk_4k, .timeout = 120) { full_disk(4096); }

/* A device that fails in the middle of a commit: the operation reports EIO, later writes
 * EROFS, and the next mount recovers a clean file system. */
Test(ext2_ops, device_error_mid_commit)
{
    struct env e;
    setup(&e, 1024, 8192);
    uint32_t f;
    cr_assert_eq(ext2_create(e.fs, "/x", 0644, &f), 0);
    e.m.fail_after = 3;
    static uint8_t data[50000];
    cr_assert_eq(ext2_write(e.fs, f, 0, data, sizeof data), EXT2_EIO);
    e.m.fail_after = 0;
    cr_assert_eq(ext2_write(e.fs, f, 0, "x", 1), EXT2_EROFS);
    struct ext2_blkdev dev = memdev_dev(&e.m);
    cr_assert_eq(ext2_mount(e.fs, &dev), 0);
    check_clean(&e, "a failed commit and recovery");
    teardown(&e);
}

/* What it does not support it refuses, with EXT2_ENOTSUP. */
Test(ext2_ops, refuses_unsupported)
{
    const char *dir = tmpdir_new();
    char img[256];
    snprintf(img, sizeof img, "%s.img", dir);
    struct ext2_fs *fs = fs_new();
    const char *opts[] = {"-O extent", "-O ^resize_inode,meta_bg", "-j", "-O huge_file"};
    for (unsigned i = 0; i < 4; i++) {
        make_image(dir, img, 1024, 4096, opts[i]);
        struct memdev m;
        memdev_load(&m, img);
        struct ext2_blkdev dev = memdev_dev(&m);
        cr_assert_eq(ext2_mount(fs, &dev), EXT2_ENOTSUP, "%s", opts[i]);
        cr_assert_eq(m.writes, 0);
        memdev_free(&m);
    }
    /* No log file: not made by the Resurgo tooling. */
    char cmd[600];
    snprintf(cmd, sizeof cmd, "mke2fs -q -F -t ext2 -b 1024 %s 4096k >/dev/null 2>&1", img);
    cr_assert_eq(system(cmd), 0);
    struct memdev m;
    memdev_load(&m, img);
    struct ext2_blkdev dev = memdev_dev(&m);
    cr_assert_eq(ext2_mount(fs, &dev), EXT2_ENOTSUP);
    memdev_free(&m);
    snprintf(cmd, sizeof cmd, "rm -rf %s %s", dir, img);
    cr_assert_eq(system(cmd), 0);
    free(fs);
    free((char *)dir);
}

/* ext2_format: a blank device becomes a file system e2fsck finds clean, which mounts and
 * takes every operation. */
static void format_and_use(unsigned bs)
{
    struct env e = {.bs = bs};
    e.dir = tmpdir_new();
    snprintf(e.img, sizeof e.img, "%s.img", e.dir);
    e.m.size = 4u << 20;
    e.m.img = calloc(1, e.m.size);
    struct ext2_blkdev dev = memdev_dev(&e.m);
    static uint8_t scratch[4096];
    cr_assert_eq(ext2_format(&dev, 512, 0, scratch), EXT2_EINVAL);
    cr_assert_eq(ext2_format(&dev, bs, 1700000000u, scratch), 0);
    check_clean(&e, "format");
    e.fs = fs_new();
    cr_assert_eq(ext2_mount(e.fs, &dev), 0);
    uint32_t f;
    cr_assert_eq(ext2_mkdir(e.fs, "/d", 0755), 0);
    cr_assert_eq(ext2_create(e.fs, "/d/f", 0644, &f), 0);
    static uint8_t data[100000];
    pattern(data, sizeof data, 5, 0);
    cr_assert_eq(ext2_write(e.fs, f, 0, data, sizeof data), (int64_t)sizeof data);
    check_clean(&e, "operations on a formatted device");
    check_cat(&e, "/d/f", data, sizeof data);
    cr_assert_eq(ext2_unlink(e.fs, "/d/f"), 0);
    cr_assert_eq(ext2_rmdir(e.fs, "/d"), 0);
    check_clean(&e, "unlink and rmdir on a formatted device");
    teardown(&e);
}

Test(ext2_ops, format_and_use_1k) { format_and_use(1024); }
Test(ext2_ops, format_and_use_4k) { format_and_use(4096); }
