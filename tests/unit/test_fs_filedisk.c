/* SPDX-License-Identifier: MIT */
/* fs serving a file as a block device over a channel (servers/fs/filedisk.c), against an ext2
 * image made by mke2fs -d holding /disks/vda.img: INFO, READ, WRITE, FLUSH with their data in
 * the channel's data area; hostile requests (absurd ids, ops, offsets, lengths, data offsets,
 * ring indices) get their exact status and change nothing; a request consumed and not released
 * by a crashed instance is done again by the next; the image stays e2fsck-clean. */
#include <criterion/criterion.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/blk.h"
#include "servers/fs/filedisk.h"
#include "test_ext2_host.h"
#include "xorshift.h"

#define DISK_BYTES (64u * 1024u) /* /disks/vda.img: 128 sectors */
#define DATA_BYTES (64u * 1024u) /* the channel's data area */

static const char *dir, *img;
static char img_path[600];
static struct memdev m;
static struct ext2_fs *fs;
static uint8_t *chan;        /* rings + data area */
static chan_producer_t creq; /* the client's ends */
static chan_consumer_t ccomp;
static struct fdisk d;

static void mount_fs(void)
{
    struct ext2_blkdev dev = memdev_dev(&m);
    fs = fs_new();
    cr_assert_eq(ext2_mount(fs, &dev), 0);
}

static void setup(void)
{
    dir = tmpdir_new();
    tmp_mkdir(dir, "disks");
    uint8_t *pat = malloc(DISK_BYTES);
    pattern(pat, DISK_BYTES, 7, 0);
    tmp_write(dir, "disks/vda.img", pat, DISK_BYTES);
    tmp_write(dir, "disks/short.img", pat, 1000); // one whole sector and a part
    free(pat);
    snprintf(img_path, sizeof img_path, "%s.img", dir);
    img = img_path;
    make_image(dir, img, 1024, 2048, NULL);
    memdev_load(&m, img);
    mount_fs();
    chan = aligned_alloc(4096, CHAN_DATA_OFFSET + DATA_BYTES);
    memset(chan, 0, CHAN_DATA_OFFSET + DATA_BYTES);
    chan_format(chan);
    cr_assert_eq(chan_producer_attach(&creq, chan_req_ring(chan)), 0);
    cr_assert_eq(chan_consumer_attach(&ccomp, chan_comp_ring(chan)), 0);
    cr_assert_eq(fdisk_attach(&d, fs, chan, DATA_BYTES, "vda"), 0);
    cr_assert_str_eq(d.path, "/disks/vda.img");
    cr_assert_eq(d.sectors, DISK_BYTES / 512);
}

static void teardown(void)
{
    free(fs);
    memdev_free(&m);
    free(chan);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf %s %s", dir, img);
    cr_assert_eq(system(cmd), 0);
}

/* One request through the channel: produced, served, its completion taken. */
static chan_desc_t roundtrip(chan_desc_t r)
{
    cr_assert_eq(chan_produce(&creq, &r), 0);
    cr_assert(fdisk_pending(&d));
    cr_assert_eq(fdisk_serve(&d, 8), 1);
    chan_desc_t c;
    cr_assert_eq(chan_consume(&ccomp, &c), 0);
    chan_release(&ccomp);
    cr_assert_eq(c.id, r.id);
    cr_assert_eq(c.op, r.op);
    cr_assert_eq(chan_pending(&creq), 0, "released after its completion");
    return c;
}

static uint32_t status_of(uint64_t id, uint32_t op, uint64_t sector, uint32_t data_offset,
                          uint32_t len)
{
    chan_desc_t r = {.id = id, .op = op, .offset = sector, .data_offset = data_offset, .len = len};
    return roundtrip(r).status;
}

static void expect_file(uint64_t seed_changes_at, const uint8_t *changed, uint32_t n)
{
    uint8_t *want = malloc(DISK_BYTES), *got = malloc(DISK_BYTES);
    pattern(want, DISK_BYTES, 7, 0);
    if (changed) memcpy(want + seed_changes_at, changed, n);
    uint32_t ino;
    cr_assert_eq(ext2_lookup(fs, "/disks/vda.img", &ino), 0);
    cr_assert_eq(ext2_read(fs, ino, 0, got, DISK_BYTES), DISK_BYTES);
    cr_assert_eq(memcmp(want, got, DISK_BYTES), 0, "the disk file holds what was written only");
    free(want);
    free(got);
}

static void expect_clean(void)
{
    cr_assert_eq(ext2_unmount(fs), 0);
    memdev_save(&m, img);
    cr_assert_eq(fsck(img), 0, "e2fsck -fn clean");
}

TestSuite(fs_filedisk, .init = setup, .fini = teardown);

Test(fs_filedisk, info_gives_the_files_size_in_sectors)
{
    chan_desc_t c = roundtrip((chan_desc_t){.id = 5, .op = BLK_OP_INFO});
    cr_assert_eq(c.status, RS_OK);
    cr_assert_eq(c.offset, DISK_BYTES / 512);
    cr_assert_eq(status_of(0, BLK_OP_INFO, 0, 0, 0), RS_INVALID_ARGUMENT, "id 0");
}

Test(fs_filedisk, read_puts_the_files_sectors_in_the_data_area)
{
    cr_assert_eq(status_of(1, CHAN_OP_READ, 3, 4096, 2048), RS_OK);
    uint8_t want[2048];
    pattern(want, sizeof want, 7, 3 * 512);
    cr_assert_eq(memcmp(chan_data(chan) + 4096, want, sizeof want), 0);
    // the last sector, the whole area
    cr_assert_eq(status_of(2, CHAN_OP_READ, DISK_BYTES / 512 - 1, DATA_BYTES - 512, 512), RS_OK);
    cr_assert_eq(status_of(3, CHAN_OP_READ, 0, 0, BLK_MAX_REQUEST), RS_OK);
}

Test(fs_filedisk, write_is_durable_and_flush_flushes)
{
    uint8_t buf[3 * 512];
    pattern(buf, sizeof buf, 99, 0);
    memcpy(chan_data(chan) + 8192, buf, sizeof buf);
    cr_assert_eq(status_of(10, CHAN_OP_WRITE, 5, 8192, sizeof buf), RS_OK);
    uint64_t flushes = m.flushes;
    cr_assert_eq(status_of(11, CHAN_OP_FLUSH, 0, 0, 0), RS_OK);
    cr_assert_gt(m.flushes, flushes, "FLUSH flushes blk's disk");
    expect_file(5 * 512, buf, sizeof buf);
    // a fresh mount (a new instance of fs) reads the write back through a read request
    expect_clean();
    free(fs);
    mount_fs();
    cr_assert_eq(fdisk_attach(&d, fs, chan, DATA_BYTES, "vda"), 0);
    memset(chan_data(chan), 0, DATA_BYTES);
    cr_assert_eq(status_of(12, CHAN_OP_READ, 5, 0, sizeof buf), RS_OK);
    cr_assert_eq(memcmp(chan_data(chan), buf, sizeof buf), 0);
}

Test(fs_filedisk, hostile_requests_get_errors_and_change_nothing)
{
    memset(chan_data(chan), 0x5A, DATA_BYTES);
    const uint64_t S = DISK_BYTES / 512;
    cr_assert_eq(status_of(0, CHAN_OP_WRITE, 0, 0, 512), RS_INVALID_ARGUMENT, "id 0");
    cr_assert_eq(status_of(1, 99, 0, 0, 512), RS_ILLEGAL_OPERATION, "unknown op");
    cr_assert_eq(status_of(2, 0, 0, 0, 512), RS_ILLEGAL_OPERATION, "op 0");
    cr_assert_eq(status_of(3, CHAN_OP_WRITE, 0, 0, 0), RS_INVALID_ARGUMENT, "len 0");
    cr_assert_eq(status_of(4, CHAN_OP_WRITE, 0, 0, 513), RS_INVALID_ARGUMENT, "not whole sectors");
    cr_assert_eq(status_of(5, CHAN_OP_WRITE, 0, 0, BLK_MAX_REQUEST + 512), RS_INVALID_ARGUMENT,
                 "beyond the request limit");
    cr_assert_eq(status_of(6, CHAN_OP_WRITE, 0, UINT32_MAX - 511, 1024), RS_BAD_ADDRESS,
                 "data offset + length wrapping 32 bits");
    cr_assert_eq(status_of(7, CHAN_OP_WRITE, 0, DATA_BYTES - 512, 1024), RS_BAD_ADDRESS,
                 "data past the area");
    cr_assert_eq(status_of(8, CHAN_OP_WRITE, S, 0, 512), RS_RANGE_ERROR, "the sector past the end");
    cr_assert_eq(status_of(9, CHAN_OP_WRITE, S - 1, 0, 1024), RS_RANGE_ERROR, "straddling the end");
    cr_assert_eq(status_of(10, CHAN_OP_WRITE, UINT64_MAX, 0, 512), RS_RANGE_ERROR, "sector 2^64-1");
    cr_assert_eq(status_of(11, CHAN_OP_READ, UINT64_MAX / 512 + 1, 0, 512), RS_RANGE_ERROR,
                 "a byte offset that wraps 64 bits");
    cr_assert_eq(status_of(UINT64_MAX, CHAN_OP_READ, 0, 0, 512), RS_OK, "any id but 0 is an id");
    cr_assert_eq(d.refused, 12);
    expect_file(0, NULL, 0);
    expect_clean();
}

Test(fs_filedisk, names_map_to_files_under_disks_only)
{
    struct fdisk e;
    const char *bad[] = {"", "../x", "a/b", ".resurgo-log", "x\n"};
    for (unsigned i = 0; i < sizeof bad / sizeof *bad; i++) {
        cr_assert_eq(fdisk_attach(&e, fs, chan, DATA_BYTES, bad[i]), RS_INVALID_ARGUMENT, "%s",
                     bad[i]);
        chan_desc_t c;
        fdisk_do(&e, &(chan_desc_t){.id = 1, .op = CHAN_OP_READ, .len = 512}, &c);
        cr_assert_eq(c.status, RS_NOT_FOUND);
    }
    // a 24-byte name without its NUL (ipc_channel_info_t's name field) stays inside its field
    char full[FDISK_NAME_MAX + 8];
    memset(full, 'n', sizeof full);
    cr_assert_eq(fdisk_attach(&e, fs, chan, DATA_BYTES, full), RS_OK);
    cr_assert_eq(strlen(e.path), strlen("/disks/.img") + FDISK_NAME_MAX);
    // a file that is not there (yet): NOT_FOUND, then found once it exists
    cr_assert_eq(fdisk_attach(&e, fs, chan, DATA_BYTES, "late"), RS_OK);
    chan_desc_t c;
    fdisk_do(&e, &(chan_desc_t){.id = 2, .op = BLK_OP_INFO}, &c);
    cr_assert_eq(c.status, RS_NOT_FOUND);
    fdisk_do(&e, &(chan_desc_t){.id = 3, .op = CHAN_OP_WRITE, .len = 512}, &c);
    cr_assert_eq(c.status, RS_NOT_FOUND);
    uint32_t ino;
    cr_assert_eq(ext2_create(fs, "/disks/late.img", 0644, &ino), 0);
    cr_assert_eq(ext2_truncate(fs, ino, 4096), 0);
    fdisk_do(&e, &(chan_desc_t){.id = 4, .op = BLK_OP_INFO}, &c);
    cr_assert_eq(c.status, RS_OK);
    cr_assert_eq(c.offset, 8);
    // a directory is no disk; a partial last sector is not part of it
    cr_assert_eq(fdisk_attach(&e, fs, chan, DATA_BYTES, "short"), RS_OK);
    cr_assert_eq(e.sectors, 1);
    cr_assert_eq(ext2_mkdir(fs, "/disks/dir.img", 0755), 0);
    cr_assert_eq(fdisk_attach(&e, fs, chan, DATA_BYTES, "dir"), RS_OK);
    fdisk_do(&e, &(chan_desc_t){.id = 5, .op = BLK_OP_INFO}, &c);
    cr_assert_eq(c.status, RS_NOT_FOUND);
    expect_clean();
}

Test(fs_filedisk, corrupt_ring_indices_serve_nothing)
{
    chan_req_ring(chan)->head = 65; // more than the ring holds beyond the tail
    cr_assert_not(fdisk_pending(&d));
    cr_assert_eq(fdisk_serve(&d, 8), 0);
    cr_assert_gt(d.ring_errors, 0);
    chan_req_ring(chan)->head = 0;
    // a completion ring whose tail the client moved past the head: nothing is produced
    chan_comp_ring(chan)->tail = 1000;
    chan_desc_t r = {.id = 1, .op = CHAN_OP_READ, .len = 512};
    cr_assert_eq(chan_produce(&creq, &r), 0);
    cr_assert_eq(fdisk_serve(&d, 8), 0);
    chan_comp_ring(chan)->tail = 0;
    cr_assert_eq(fdisk_serve(&d, 8), 1, "served once the ring is sane again");
}

Test(fs_filedisk, a_full_completion_ring_stops_serving)
{
    for (unsigned i = 0; i < CHAN_ENTRIES; i++) {
        chan_desc_t r = {
            .id = 100 + i, .op = CHAN_OP_READ, .offset = i, .len = 512, .data_offset = i * 512};
        cr_assert_eq(chan_produce(&creq, &r), 0);
    }
    cr_assert_eq(fdisk_serve(&d, 1000), CHAN_ENTRIES);
    chan_desc_t r = {.id = 999, .op = CHAN_OP_READ, .len = 512};
    cr_assert_eq(chan_produce(&creq, &r), 0);
    cr_assert_not(fdisk_pending(&d), "no room for its completion");
    cr_assert_eq(fdisk_serve(&d, 8), 0);
    chan_desc_t c;
    cr_assert_eq(chan_consume(&ccomp, &c), 0);
    cr_assert_eq(c.id, 100);
    chan_release(&ccomp);
    cr_assert_eq(fdisk_serve(&d, 8), 1);
}

static jmp_buf crash;
static void die(void *ctx)
{
    (void)ctx;
    longjmp(crash, 1);
}

/* A crash between a write's completion and its release: the next instance (a fresh mount and
 * attach over the same channel memory) does the write again; the client sees the id twice. */
Test(fs_filedisk, an_unreleased_request_is_done_again_after_a_crash)
{
    uint8_t buf[1024];
    pattern(buf, sizeof buf, 1234, 0);
    memcpy(chan_data(chan), buf, sizeof buf);
    chan_desc_t r = {.id = 77, .op = CHAN_OP_WRITE, .offset = 9, .len = sizeof buf};
    cr_assert_eq(chan_produce(&creq, &r), 0);
    d.between = die;
    if (!setjmp(crash)) {
        fdisk_serve(&d, 8);
        cr_assert_fail("the hook did not run");
    }
    cr_assert_eq(chan_pending(&creq), 1, "the crashed instance did not release it");
    free(fs); // its cache dies with it; the disk keeps what was flushed
    mount_fs();
    cr_assert_eq(fdisk_attach(&d, fs, chan, DATA_BYTES, "vda"), 0);
    cr_assert(fdisk_pending(&d));
    cr_assert_eq(fdisk_serve(&d, 8), 1);
    chan_desc_t c1, c2;
    cr_assert_eq(chan_consume(&ccomp, &c1), 0);
    cr_assert_eq(chan_consume(&ccomp, &c2), 0);
    cr_assert_eq(c1.id, 77);
    cr_assert_eq(c2.id, 77);
    cr_assert_eq(c2.status, RS_OK);
    cr_assert_eq(chan_pending(&creq), 0);
    expect_file(9 * 512, buf, sizeof buf);
    expect_clean();
}

/* Thousands of random requests from a seeded generator: each gets a status of proto/blk.h,
 * writes land only inside the file, the image stays clean. */
Test(fs_filedisk, random_requests)
{
    uint64_t seed = 0x5EED0FD15Cull;
    uint8_t *shadow = malloc(DISK_BYTES);
    pattern(shadow, DISK_BYTES, 7, 0);
    for (unsigned i = 0; i < 3000; i++) {
        uint64_t x = xorshift64(&seed), y = xorshift64(&seed);
        chan_desc_t r = {.id = x % 16 ? i + 1 : 0, .op = (uint32_t)(y % 5)};
        switch (x >> 8 & 3) { // sectors: mostly inside the disk, sometimes absurd
        case 0: r.offset = y >> 40; break;
        default: r.offset = (y >> 16) % (DISK_BYTES / 512); break;
        }
        r.len = (x >> 16 & 7) ? (uint32_t)((x >> 24) % 9) * 512 : (uint32_t)(x >> 24);
        r.data_offset = (x >> 56 & 1) ? (uint32_t)(y >> 32) : (uint32_t)((y >> 8) % 64) * 512;
        if (r.op == 0) r.op = BLK_OP_INFO;
        for (uint32_t k = 0; k < 16; k++)
            chan_data(chan)[(r.data_offset + k) % DATA_BYTES] ^= (uint8_t)y;
        int want = r.op == BLK_OP_INFO
                       ? (r.id ? RS_OK : RS_INVALID_ARGUMENT)
                       : chan_desc_check(&r, DATA_BYTES, DISK_BYTES / 512, BLK_MAX_REQUEST);
        chan_desc_t c = roundtrip(r);
        cr_assert_eq(c.status, (uint32_t)want, "request %u: op %u sector %lu len %u at %u", i, r.op,
                     r.offset, r.len, r.data_offset);
        if (want == RS_OK && r.op == CHAN_OP_WRITE)
            memcpy(shadow + r.offset * 512, chan_data(chan) + r.data_offset, r.len);
        if (want == RS_OK && r.op == CHAN_OP_READ)
            cr_assert_eq(memcmp(shadow + r.offset * 512, chan_data(chan) + r.data_offset, r.len), 0,
                         "request %u reads what was written", i);
    }
    uint32_t ino;
    uint8_t *got = malloc(DISK_BYTES);
    cr_assert_eq(ext2_lookup(fs, "/disks/vda.img", &ino), 0);
    cr_assert_eq(ext2_read(fs, ino, 0, got, DISK_BYTES), DISK_BYTES);
    cr_assert_eq(memcmp(shadow, got, DISK_BYTES), 0);
    free(shadow);
    free(got);
    expect_clean();
    size_t len;
    uint8_t *host = debugfs_cat(img, "/disks/vda.img", &len);
    cr_assert_eq(len, DISK_BYTES);
    free(host);
}

/* Several requests at once: a batch is taken whole, runs of requests that continue each other
 * on the disk and in the data area are one ext2 call each, everything in ring order (a read
 * after a write in the same batch sees it), completions in ring order; max bounds the runs. */
Test(fs_filedisk, a_batch_serves_runs_in_ring_order)
{
    uint8_t *in = malloc(16 * 1024);
    pattern(in, 16 * 1024, 99, 0);
    memcpy(chan_data(chan), in, 16 * 1024);
    uint64_t id = 1;
    // 16 writes of 1 KiB: sectors 20.., data 0..16 KiB (one run); one read of what the 3rd
    // wrote (data 32 KiB: its own run); a write that does not continue (a gap of one sector);
    // a flush; 8 reads of 1 KiB back over sectors 20.. into data 40 KiB.. (one run)
    for (unsigned i = 0; i < 16; i++) {
        chan_desc_t r = {.id = id++,
                         .op = CHAN_OP_WRITE,
                         .offset = 20 + 2 * i,
                         .data_offset = i * 1024,
                         .len = 1024};
        cr_assert_eq(chan_produce(&creq, &r), 0);
    }
    chan_desc_t w = {
        .id = id++, .op = CHAN_OP_READ, .offset = 24, .data_offset = 32768, .len = 1024};
    cr_assert_eq(chan_produce(&creq, &w), 0);
    w = (chan_desc_t){.id = id++, .op = CHAN_OP_WRITE, .offset = 53, .data_offset = 0, .len = 512};
    cr_assert_eq(chan_produce(&creq, &w), 0);
    w = (chan_desc_t){.id = id++, .op = CHAN_OP_FLUSH};
    cr_assert_eq(chan_produce(&creq, &w), 0);
    for (unsigned i = 0; i < 8; i++) {
        chan_desc_t r = {.id = id++,
                         .op = CHAN_OP_READ,
                         .offset = 20 + 2 * i,
                         .data_offset = 40960 + i * 1024,
                         .len = 1024};
        cr_assert_eq(chan_produce(&creq, &r), 0);
    }
    cr_assert_eq(fdisk_serve(&d, 1), 16, "max 1: the first run only");
    cr_assert_eq(chan_pending(&creq), 27 - 16, "the rest stays for the next call");
    cr_assert_eq(d.runs, 1);
    cr_assert_eq(d.merged, 16);
    cr_assert_eq(fdisk_serve(&d, 8), 11);
    cr_assert_eq(d.runs, 2, "the 8 reads are one run, the lone read and write are not");
    cr_assert_eq(d.merged, 24);
    cr_assert_eq(chan_pending(&creq), 0);
    for (uint64_t want = 1; want < id; want++) {
        chan_desc_t c;
        cr_assert_eq(chan_consume(&ccomp, &c), 0);
        chan_release(&ccomp);
        cr_assert_eq(c.id, want, "completions in ring order");
        cr_assert_eq(c.status, RS_OK, "request %lu", want);
    }
    cr_assert_eq(memcmp(chan_data(chan) + 32768, in + 2048, 1024), 0, "the read saw the write");
    cr_assert_eq(memcmp(chan_data(chan) + 40960, in, 8192), 0, "the read run");
    uint8_t *want = malloc(DISK_BYTES), *got = malloc(DISK_BYTES);
    pattern(want, DISK_BYTES, 7, 0);
    memcpy(want + 20 * 512, in, 16 * 1024);
    memcpy(want + 53 * 512, in, 512);
    uint32_t ino;
    cr_assert_eq(ext2_lookup(fs, "/disks/vda.img", &ino), 0);
    cr_assert_eq(ext2_read(fs, ino, 0, got, DISK_BYTES), DISK_BYTES);
    cr_assert_eq(memcmp(want, got, DISK_BYTES), 0);
    free(want);
    free(got);
    free(in);
    expect_clean();
}

/* A run that continues another but holds a bad request is cut there: each bad one gets its own
 * status, the good ones around it are carried out. */
Test(fs_filedisk, a_bad_request_in_a_run_gets_its_own_status)
{
    chan_desc_t rs[] = {
        {.id = 1, .op = CHAN_OP_WRITE, .offset = 0, .data_offset = 0, .len = 512},
        {.id = 2, .op = CHAN_OP_WRITE, .offset = 1, .data_offset = 512, .len = 512},
        {.id = 0, .op = CHAN_OP_WRITE, .offset = 2, .data_offset = 1024, .len = 512},
        {.id = 4, .op = CHAN_OP_WRITE, .offset = 3, .data_offset = 1536, .len = 513},
        {.id = 5,
         .op = CHAN_OP_WRITE,
         .offset = DISK_BYTES / 512 - 1,
         .data_offset = 2048,
         .len = 1024},
        {.id = 6, .op = CHAN_OP_WRITE, .offset = 4, .data_offset = 2048, .len = 512},
    };
    uint32_t want[] = {RS_OK,          RS_OK, RS_INVALID_ARGUMENT, RS_INVALID_ARGUMENT,
                       RS_RANGE_ERROR, RS_OK};
    for (unsigned i = 0; i < 6; i++) cr_assert_eq(chan_produce(&creq, &rs[i]), 0);
    cr_assert_eq(fdisk_serve(&d, 64), 6);
    for (unsigned i = 0; i < 6; i++) {
        chan_desc_t c;
        cr_assert_eq(chan_consume(&ccomp, &c), 0);
        chan_release(&ccomp);
        cr_assert_eq(c.status, want[i], "request %u", i);
    }
    cr_assert_eq(d.runs, 1);
    cr_assert_eq(d.merged, 2);
    expect_clean();
}

/* A crash after a batch's completions and before its releases: the next instance does the
 * whole batch again and the file holds each write once, in ring order. */
Test(fs_filedisk, an_unreleased_batch_is_done_again_after_a_crash)
{
    uint8_t buf[4096];
    pattern(buf, sizeof buf, 4321, 0);
    memcpy(chan_data(chan), buf, sizeof buf);
    for (unsigned i = 0; i < 4; i++) {
        chan_desc_t r = {.id = 10 + i,
                         .op = CHAN_OP_WRITE,
                         .offset = 30 + 2 * i,
                         .data_offset = i * 1024,
                         .len = 1024};
        cr_assert_eq(chan_produce(&creq, &r), 0);
    }
    chan_desc_t f = {.id = 20, .op = CHAN_OP_FLUSH};
    cr_assert_eq(chan_produce(&creq, &f), 0);
    d.between = die;
    if (!setjmp(crash)) {
        fdisk_serve(&d, 8);
        cr_assert_fail("the hook did not run");
    }
    cr_assert_eq(chan_pending(&creq), 5, "the crashed instance released nothing");
    free(fs);
    mount_fs();
    cr_assert_eq(fdisk_attach(&d, fs, chan, DATA_BYTES, "vda"), 0);
    cr_assert_eq(fdisk_serve(&d, 8), 5);
    cr_assert_eq(chan_pending(&creq), 0);
    for (unsigned k = 0; k < 10; k++) {
        chan_desc_t c;
        cr_assert_eq(chan_consume(&ccomp, &c), 0);
        cr_assert_eq(c.id, k % 5 < 4 ? 10 + k % 5 : 20u, "each id twice, in ring order");
        cr_assert_eq(c.status, RS_OK);
    }
    expect_file(30 * 512, buf, sizeof buf);
    expect_clean();
}
