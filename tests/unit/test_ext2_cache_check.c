// SPDX-License-Identifier: MIT
// The block cache's checksums (servers/fs/ext2_cache_check.c; issue 15: `corrupt` of fs made it
// serve and acknowledge wrong data): bits flipped in cached blocks between operations are never
// served nor written; fs crashes instead (here ext2_cache_corrupt jumps back to the test, as
// init's restart would), and the next instance reads the disk, which holds what was synced.
#include <criterion/criterion.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "servers/fs/ext2_int.h"
#include "test_ext2_host.h"

#define BIG 300000

static jmp_buf crashed;
static unsigned corrupt_calls;

/* The server's version traps (a restart); this one ends the operation like a crash would. */
void ext2_cache_corrupt(struct ext2_fs *fs, uint32_t slot)
{
    (void)fs, (void)slot;
    corrupt_calls++;
    longjmp(crashed, 1);
}

static const char *dir;
static char img[256];
static struct memdev m;

static void setup(void)
{
    dir = tmpdir_new();
    snprintf(img, sizeof img, "%s.img", dir);
    uint8_t *big = malloc(BIG);
    pattern(big, BIG, 1, 0);
    tmp_write(dir, "big.bin", big, BIG);
    free(big);
    make_image(dir, img, 1024, 2048, NULL);
    memdev_load(&m, img);
    corrupt_calls = 0;
}

static void teardown(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s %s", dir, img);
    cr_assert_eq(system(cmd), 0);
    memdev_free(&m);
}

TestSuite(ext2cache, .init = setup, .fini = teardown);

/* A new instance of fs: mounted afresh on the device (the cache starts empty). */
static struct ext2_fs *instance(void)
{
    struct ext2_fs *fs = fs_new();
    struct ext2_blkdev dev = memdev_dev(&m);
    cr_assert_eq(ext2_mount(fs, &dev), 0);
    return fs;
}

/* Pieces smaller than a block: a whole block the cache does not hold bypasses it (ext2_read,
 * ext2_write), and these tests are about cached blocks. */
#define PIECE 1000

/* Reads len bytes of ino at off into buf, PIECE bytes a call. */
static void read_all(struct ext2_fs *fs, uint32_t ino, uint64_t off, uint8_t *buf, size_t len)
{
    for (size_t done = 0; done < len;) {
        uint32_t n = len - done > PIECE ? PIECE : (uint32_t)(len - done);
        cr_assert_eq(ext2_read(fs, ino, off + done, buf + done, n), n);
        done += n;
    }
}

/* The slot holding the block whose contents are want (bs bytes), or -1. */
static int slot_holding(const struct ext2_fs *fs, const uint8_t *want)
{
    for (uint32_t i = 0; i < EXT2_CACHE_BLOCKS; i++)
        if (fs->buf[i].valid && !memcmp(fs->data[i], want, fs->bs)) return (int)i;
    return -1;
}

Test(ext2cache, a_flipped_bit_in_a_cached_data_block_is_never_served)
{
    struct ext2_fs *fs = instance();
    uint32_t ino;
    cr_assert_eq(ext2_lookup(fs, "/big.bin", &ino), 0);
    uint8_t want[4096], got[4096];
    pattern(want, sizeof want, 1, 0);
    read_all(fs, ino, 0, got, sizeof got);
    cr_assert(!memcmp(got, want, sizeof got));
    int s = slot_holding(fs, want);
    cr_assert_geq(s, 0);
    fs->data[s][100] ^= 0x10; // the campaign's `corrupt` between two requests
    if (!setjmp(crashed)) {
        read_all(fs, ino, 0, got, sizeof got);
        cr_assert_fail("served %s data", memcmp(got, want, sizeof got) ? "wrong" : "the right");
    }
    cr_assert_eq(corrupt_calls, 1);
    free(fs);
    fs = instance(); // restarted: the block comes from the disk again
    read_all(fs, ino, 0, got, sizeof got);
    cr_assert(!memcmp(got, want, sizeof got));
    free(fs);
}

Test(ext2cache, a_flipped_bit_in_a_synced_block_never_reaches_the_disk)
{
    struct ext2_fs *fs = instance();
    uint32_t ino;
    cr_assert_eq(ext2_create(fs, "/new.bin", 0100644, &ino), 0);
    uint8_t data[8192], got[8192];
    pattern(data, sizeof data, 7, 0);
    for (uint32_t off = 0; off < sizeof data; off += PIECE) {
        uint32_t n = sizeof data - off > PIECE ? PIECE : (uint32_t)(sizeof data - off);
        cr_assert_eq(ext2_write(fs, ino, off, data + off, n), (int64_t)n);
    }
    cr_assert_eq(ext2_fsync(fs, ino), 0);
    int s = slot_holding(fs, data + 1024);
    cr_assert_geq(s, 0);
    fs->data[s][5] ^= 0x01;
    // the next write to that block would have written the flipped bit with it
    if (!setjmp(crashed)) {
        ext2_write(fs, ino, 1024 + 512, data + 1024 + 512, 16);
        cr_assert_fail("wrote a corrupt block");
    }
    free(fs);
    fs = instance();
    read_all(fs, ino, 0, got, sizeof got);
    cr_assert(!memcmp(got, data, sizeof got), "what was synced is what the disk holds");
    free(fs);
    memdev_save(&m, img);
    cr_assert_eq(fsck(img), 0);
}

/* Random bits flipped in random cached blocks (data and metadata) between reads: every read
 * returns the file's bytes, or fs stops; never other bytes. */
Test(ext2cache, random_flips_give_right_data_or_a_crash, .timeout = 300)
{
    uint8_t *want = malloc(BIG), *got = malloc(BIG);
    pattern(want, BIG, 1, 0);
    uint64_t rng = 0x2545F4914F6CDD1Dull;
    unsigned crashes = 0, clean = 0;
    for (unsigned trial = 0; trial < 200; trial++) {
        struct ext2_fs *volatile fs = instance();
        uint32_t ino;
        cr_assert_eq(ext2_lookup(fs, "/big.bin", &ino), 0);
        uint64_t off = (trial * 7919u) % (BIG - 64 * 1024);
        read_all(fs, ino, off, got, 64 * 1024); // fills the cache
        unsigned flips = 1 + trial % 4;
        for (unsigned i = 0; i < flips; i++) {
            rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
            uint32_t s = (uint32_t)(rng % EXT2_CACHE_BLOCKS);
            if (!fs->buf[s].valid) continue;
            fs->data[s][(rng >> 20) % fs->bs] ^= (uint8_t)(1u << ((rng >> 40) % 8));
        }
        if (!setjmp(crashed)) {
            memset(got, 0, BIG);
            read_all(fs, ino, off, got, 64 * 1024);
            cr_assert(!memcmp(got, want + off, 64 * 1024), "trial %u: wrong data served", trial);
            clean++;
        } else {
            crashes++;
        }
        free(fs);
    }
    cr_assert_gt(crashes, 50, "the flips hit blocks the reads need");
    cr_assert_gt(clean, 0);
    free(want);
    free(got);
}

/* A flipped block number in a pinned buffer's header (async mode: logged, its home stale until
 * the checkpoint): the checkpoint would write the block over its neighbour's home and leave its
 * own home stale. The seal covers the number, so fs crashes instead; the next instance replays
 * the log. (Fails without blk in the seal: e2fsck finds the disk damaged.) */
Test(ext2cache, a_flipped_block_number_never_takes_a_block_home_elsewhere)
{
    struct ext2_fs *fs = fs_new();
    fs->async = true;
    struct ext2_blkdev dev = memdev_dev(&m);
    cr_assert_eq(ext2_mount(fs, &dev), 0);
    uint32_t ino;
    uint8_t data[700], got[700];
    pattern(data, sizeof data, 9, 0);
    cr_assert_eq(ext2_create(fs, "/pinned.bin", 0100644, &ino), 0);
    cr_assert_eq(ext2_write(fs, ino, 0, data, sizeof data), (int64_t)sizeof data);
    cr_assert_eq(ext2_mkdir(fs, "/pinned.dir", 0755), 0);
    int s = -1;
    for (uint32_t i = 0; i < EXT2_CACHE_BLOCKS && s < 0; i++)
        if (fs->buf[i].valid && fs->buf[i].pinned && !fs->buf[i].open &&
            fs->buf[i].blk > fs->first_data_block + 1)
            s = (int)i;
    cr_assert_geq(s, 0, "a logged block not yet in place");
    fs->buf[s].blk ^= 1; // `corrupt` of fs between two requests
    if (!setjmp(crashed)) {
        ext2_sync(fs, true); // a checkpoint: every pinned block home
        cr_assert_fail("checkpointed a block with a flipped number");
    }
    cr_assert_eq(corrupt_calls, 1);
    free(fs);
    fs = instance(); // the log's records replayed
    cr_assert_eq(ext2_lookup(fs, "/pinned.bin", &ino), 0);
    cr_assert_eq(ext2_read(fs, ino, 0, got, sizeof got), (int64_t)sizeof got);
    cr_assert(!memcmp(got, data, sizeof got));
    cr_assert_eq(ext2_lookup(fs, "/pinned.dir", &ino), 0);
    cr_assert_eq(ext2_unmount(fs), 0);
    free(fs);
    memdev_save(&m, img);
    cr_assert_eq(fsck(img), 0);
}

/* A read that returns before its data came (issue 15: a `corrupt` storm of fs once left the
 * group descriptors, once the log file's indirect block zeroed at home, after which no mount
 * succeeded): the device here skips the copy of one block, as a queue whose wait ended early
 * would. The buffer keeps what it held (a fresh slot: zeros), and the operation would commit a
 * block made from it. fs must crash instead, with nothing of it on the disk. */
static uint32_t lost_sector = UINT32_MAX;
static unsigned lost_reads;

static int lossy_read(void *ctx, uint64_t sector, uint32_t count, void *buf)
{
    struct memdev *d = ctx;
    if (sector <= lost_sector && lost_sector < sector + count) {
        lost_reads++;
        lost_sector = UINT32_MAX; // once
        return 0;
    }
    memcpy(buf, d->img + sector * 512, (size_t)count * 512);
    return 0;
}

Test(ext2cache, a_read_that_never_landed_is_never_used)
{
    struct ext2_fs *fs = fs_new();
    struct ext2_blkdev dev = memdev_dev(&m);
    dev.read = lossy_read;
    cr_assert_eq(ext2_mount(fs, &dev), 0);
    // the block bitmap: a create with a write allocates from it
    lost_sector = fs->grp[0].block_bitmap * (fs->bs >> 9);
    lost_reads = 0;
    uint32_t ino;
    uint8_t data[700];
    pattern(data, sizeof data, 3, 0);
    if (!setjmp(crashed)) {
        cr_assert_eq(ext2_create(fs, "/lost.bin", 0100644, &ino), 0);
        ext2_write(fs, ino, 0, data, sizeof data);
        ext2_sync(fs, true);
        cr_assert_fail("used a block whose read never landed");
    }
    cr_assert_eq(lost_reads, 1);
    cr_assert_eq(corrupt_calls, 1);
    free(fs);
    fs = instance(); // the next instance mounts the disk, as it was
    cr_assert_eq(ext2_unmount(fs), 0);
    free(fs);
    memdev_save(&m, img);
    cr_assert_eq(fsck(img), 0);
}

/* A cache slot whose contents no read or operation made, yet sealed as valid (a flip of its
 * `valid` or block number words and the seal taken over it): the group descriptors as zeros.
 * An operation that changes them (free counts) would log them and a checkpoint put them home,
 * and every later mount would fail (EUCLEAN). What the geometry fixes is checked before a block
 * is logged or written (ext2_home.c). */
Test(ext2cache, a_never_filled_metadata_block_never_reaches_the_disk)
{
    struct ext2_fs *fs = instance();
    uint32_t gd = fs->first_data_block + 1, ino;
    cr_assert_eq(ext2_lookup(fs, "/big.bin", &ino), 0);
    uint8_t *d;
    int s;
    cr_assert_eq(bget(fs, gd, &d, &s), 0);
    bput(fs, s);
    cache_seal(fs);
    memset(fs->data[s], 0, fs->bs);
    fs->buf[s].sum = cache_block_sum(fs->data[s], fs->bs) ^ (gd * 0x9E3779B97F4A7C15ull);
    if (!setjmp(crashed)) {
        ext2_unlink(fs, "/big.bin"); // its inode and blocks freed: the free counts change
        ext2_sync(fs, true);
        cr_assert_fail("committed zeroed group descriptors");
    }
    cr_assert_eq(corrupt_calls, 1);
    free(fs);
    fs = instance(); // the disk mounts: nothing of the zeroed block reached it
    cr_assert_eq(ext2_lookup(fs, "/big.bin", &ino), 0);
    cr_assert_eq(ext2_unmount(fs), 0);
    free(fs);
    memdev_save(&m, img);
    cr_assert_eq(fsck(img), 0);
}

/* The open list (fs->open_list): a wait seals and checks the slots it lists alone, so a flip in
 * the list itself must show, or a block taken by the running operation would stay unsealed and
 * a flip in it be committed. Here a block is taken (opened), then its list entry or the list's
 * count is flipped; the next device request (a wait) must crash fs. And without a flip, a
 * block held across a wait and flipped during it is caught after the wait. */
Test(ext2cache, a_flipped_open_list_never_leaves_a_taken_block_unsealed)
{
    struct ext2_fs *fs = instance();
    uint32_t sb_blk = fs->bs == 1024 ? 1 : 0, other = sb_blk + 1;
    for (int flip = 0; flip < 3; flip++) {
        uint8_t *d;
        int s;
        cr_assert_eq(bget(fs, sb_blk, &d, &s), 0);
        cr_assert(fs->buf[s].open);
        cr_assert_geq(fs->n_open, 1u);
        corrupt_calls = 0;
        if (flip == 0) fs->open_list[fs->n_open - 1] ^= 4; // another slot named
        if (flip == 1) fs->n_open--;                       // the slot dropped from the list
        if (!setjmp(crashed)) {
            if (flip == 2) { // no flip in the list: the held block flipped during the wait
                cache_wait_begin(fs, NULL);
                d[7] ^= 1;
                cache_wait_end(fs, NULL);
            } else {
                uint8_t buf[4096];
                cr_assert_eq(dev_read(fs, other, buf), 0); // a wait
            }
            cr_assert_fail("flip %d: not caught", flip);
        }
        cr_assert_eq(corrupt_calls, 1, "flip %d", flip);
        free(fs);
        fs = instance();
    }
    free(fs);
}

/* A stray write that zeroes the running transaction's count of dirty buffers between an
 * operation's changes and its commit: txn_commit took "nothing dirty" for nothing to commit, the
 * operation was acknowledged with nothing logged, and the next commit's count found the mismatch
 * only after that reply (session 11: a `corrupt` storm into fs, seed 17, lost acknowledged
 * creates, each the last before an fs death). The count must crash fs before the reply. */
Test(ext2cache, a_zeroed_dirty_count_never_acknowledges_an_uncommitted_change)
{
    struct ext2_fs *fs = instance();
    uint8_t *d;
    int s;
    uint32_t blk = fs->grp[0].block_bitmap;
    cr_assert_eq(bget(fs, blk, &d, &s), 0);
    bdirty(fs, s, true);
    bput(fs, s);
    cr_assert_eq(cache_dirty_count(fs), 1u);
    fs->txn_dirty = 0; // the stray write
    corrupt_calls = 0;
    if (!setjmp(crashed)) {
        int rc = txn_end(fs, 0);
        cr_assert_fail("the change was answered (%d) with nothing committed", rc);
    }
    cr_assert_eq(corrupt_calls, 1);
    free(fs);
}
