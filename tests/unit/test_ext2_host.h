/* SPDX-License-Identifier: MIT */
/* Host support of the ext2 tests: images made with mke2fs -d, an in-memory block device that
 * can record its write stream, and e2fsck / debugfs run on an image. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "servers/fs/ext2.h"

/* One event of a recorded stream: a write of count sectors at sector, or a flush (data NULL). */
struct ev {
    uint64_t sector;
    uint32_t count;
    uint8_t *data;
};

struct memdev {
    uint8_t *img;
    size_t size;
    uint64_t writes, flushes;
    int fail_after; /* > 0: the n-th write from now on and all later ones fail */
    long flip_read; /* > 0: the n-th read from now on returns with one bit flipped (once) */
    uint64_t reads;
    struct ev *evs; /* recording when non-NULL */
    size_t nev, cap;
};

/* A directory to fill with files, then an image of size_kb made from it with block size bs;
 * the log file is added. Returns the image path (static storage, one per call site). */
const char *tmpdir_new(void);
void tmp_write(const char *dir, const char *rel, const void *data, size_t len);
void tmp_mkdir(const char *dir, const char *rel);
void make_image(const char *dir, const char *img, unsigned bs, unsigned size_kb, const char *extra);

void memdev_load(struct memdev *m, const char *path);
void memdev_save(const struct memdev *m, const char *path);
struct ext2_blkdev memdev_dev(struct memdev *m);
void memdev_record(struct memdev *m);
void memdev_free(struct memdev *m);

/* e2fsck -fn on the image file: returns its exit status (0: clean) and prints its report when
 * it is not clean. */
int fsck(const char *img);
/* debugfs -R 'cat path': the file's bytes (malloc'd, *len), or NULL. */
uint8_t *debugfs_cat(const char *img, const char *path, size_t *len);

/* A fresh file system struct (the cache makes it large). */
struct ext2_fs *fs_new(void);
/* Deterministic contents: byte i of a file seeded with seed. */
void pattern(uint8_t *buf, size_t len, uint64_t seed, uint64_t off);
