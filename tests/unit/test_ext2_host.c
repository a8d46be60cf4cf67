/* SPDX-License-Identifier: MIT */
/* Host support of the ext2 tests (test_ext2_host.h). */
#define _GNU_SOURCE
#include "test_ext2_host.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *tmpdir_new(void)
{
    char *t = strdup("/tmp/ext2test.XXXXXX");
    cr_assert_not_null(mkdtemp(t));
    return t;
}

void tmp_write(const char *dir, const char *rel, const void *data, size_t len)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    FILE *f = fopen(p, "wb");
    cr_assert_not_null(f, "%s", p);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

void tmp_mkdir(const char *dir, const char *rel)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    cr_assert_eq(mkdir(p, 0755), 0, "%s", p);
}

static int run(const char *cmd)
{
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

void make_image(const char *dir, const char *img, unsigned bs, unsigned size_kb, const char *extra)
{
    /* The log: 64 KiB + a block of non-zero bytes, so that mke2fs allocates every block. */
    size_t loglen = 256u * bs > 65536u ? 256u * bs : 65536u;
    uint8_t *log = malloc(loglen);
    memset(log, 0xa5, loglen);
    tmp_write(dir, EXT2_LOG_NAME, log, loglen);
    free(log);
    char cmd[1024];
    unlink(img);
    snprintf(cmd, sizeof cmd, "mke2fs -q -F -t ext2 -b %u %s -d %s %s %uk >/dev/null 2>&1", bs,
             extra ? extra : "", dir, img, size_kb);
    cr_assert_eq(run(cmd), 0, "%s", cmd);
}

void memdev_load(struct memdev *m, const char *path)
{
    memset(m, 0, sizeof *m);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    fseek(f, 0, SEEK_END);
    m->size = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    m->img = malloc(m->size);
    cr_assert_eq(fread(m->img, 1, m->size, f), m->size);
    fclose(f);
}

void memdev_save(const struct memdev *m, const char *path)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s", path);
    cr_assert_eq(fwrite(m->img, 1, m->size, f), m->size);
    fclose(f);
}

static int md_read(void *ctx, uint64_t sector, uint32_t count, void *buf)
{
    struct memdev *m = ctx;
    cr_assert_leq((sector + count) * 512, m->size, "read beyond the image");
    memcpy(buf, m->img + sector * 512, (size_t)count * 512);
    m->reads++;
    if (m->flip_read > 0 && --m->flip_read == 0) /* a misread, or a flip in the reader's copy */
        ((uint8_t *)buf)[(m->reads * 7919u) % ((size_t)count * 512)] ^=
            (uint8_t)(1u << (m->reads % 8));
    return 0;
}

static void record(struct memdev *m, uint64_t sector, uint32_t count, const void *data)
{
    if (!m->evs) return;
    if (m->nev == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 1024;
        m->evs = realloc(m->evs, m->cap * sizeof *m->evs);
    }
    struct ev *e = &m->evs[m->nev++];
    e->sector = sector;
    e->count = count;
    e->data = NULL;
    if (data) {
        e->data = malloc((size_t)count * 512);
        memcpy(e->data, data, (size_t)count * 512);
    }
}

static int md_write(void *ctx, uint64_t sector, uint32_t count, const void *buf)
{
    struct memdev *m = ctx;
    cr_assert_leq((sector + count) * 512, m->size, "write beyond the image");
    if (m->fail_after > 0 && --m->fail_after == 0) {
        m->fail_after = 1;
        return -5;
    }
    m->writes++;
    record(m, sector, count, buf);
    memcpy(m->img + sector * 512, buf, (size_t)count * 512);
    return 0;
}

static int md_flush(void *ctx)
{
    struct memdev *m = ctx;
    m->flushes++;
    if (m->evs) record(m, 0, 0, NULL);
    return 0;
}

struct ext2_blkdev memdev_dev(struct memdev *m)
{
    return (struct ext2_blkdev){
        .ctx = m, .sectors = m->size / 512, .read = md_read, .write = md_write, .flush = md_flush};
}

void memdev_record(struct memdev *m)
{
    m->cap = 1024;
    m->evs = malloc(m->cap * sizeof *m->evs);
    m->nev = 0;
}

void memdev_free(struct memdev *m)
{
    for (size_t i = 0; i < m->nev; i++) free(m->evs[i].data);
    free(m->evs);
    free(m->img);
    memset(m, 0, sizeof *m);
}

int fsck(const char *img)
{
    char cmd[1300], out[600];
    snprintf(out, sizeof out, "%s.fsck", img);
    snprintf(cmd, sizeof cmd, "e2fsck -fn %s >%s 2>&1", img, out);
    int rc = run(cmd);
    if (rc != 0) {
        snprintf(cmd, sizeof cmd, "head -n 40 %s >&2", out);
        run(cmd);
    }
    unlink(out);
    return rc;
}

uint8_t *debugfs_cat(const char *img, const char *path, size_t *len)
{
    char cmd[800];
    snprintf(cmd, sizeof cmd, "debugfs -R 'cat %s' %s 2>/dev/null", path, img);
    FILE *p = popen(cmd, "r");
    if (!p) return NULL;
    size_t cap = 4096, n = 0;
    uint8_t *b = malloc(cap);
    size_t r;
    while ((r = fread(b + n, 1, cap - n, p)) > 0) {
        n += r;
        if (n == cap) b = realloc(b, cap *= 2);
    }
    pclose(p);
    *len = n;
    return b;
}

static uint32_t fixed_clock(void *ctx)
{
    (void)ctx;
    return 1700000000u;
}

struct ext2_fs *fs_new(void)
{
    struct ext2_fs *fs = calloc(1, sizeof *fs);
    cr_assert_not_null(fs);
    fs->clock = fixed_clock;
    return fs;
}

void pattern(uint8_t *buf, size_t len, uint64_t seed, uint64_t off)
{
    for (size_t i = 0; i < len; i++) {
        uint64_t x = (off + i) * 0x9e3779b97f4a7c15ull ^ seed;
        x ^= x >> 29;
        buf[i] = (uint8_t)(x * 0xbf58476d1ce4e5b9ull >> 56);
    }
}
