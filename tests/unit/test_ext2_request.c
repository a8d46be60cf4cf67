/* SPDX-License-Identifier: MIT */
/* The fs server's request checks (servers/fs/request.c) over a formatted in-memory disk: each
 * proto/fs.h operation, and absurd lengths, offsets, inode numbers and short messages, which
 * get their exact rs_error. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/fs.h"
#include "servers/fs/request.h"
#include "test_ext2_host.h"

static struct memdev m;
static struct ext2_fs *fs;
static ipc_msg_t rep;

static void setup(void)
{
    static uint8_t scratch[4096];
    m.size = 2u << 20;
    m.img = calloc(1, m.size);
    struct ext2_blkdev dev = memdev_dev(&m);
    cr_assert_eq(ext2_format(&dev, 1024, 1700000000u, scratch), 0);
    fs = fs_new();
    cr_assert_eq(ext2_mount(fs, &dev), 0);
}

static void teardown(void)
{
    free(fs);
    free(m.img);
    memset(&m, 0, sizeof m);
}

/* A request: label, then its words after the id. */
static uint64_t next_id = 1;

static int call(rs_word_t label, unsigned n, ...)
{
    ipc_msg_t req = {.label = label, .len = n + 1};
    req.w[0] = next_id++;
    va_list ap;
    va_start(ap, n);
    for (unsigned i = 0; i < n; i++) req.w[1 + i] = va_arg(ap, rs_word_t);
    va_end(ap);
    rep = (ipc_msg_t){.len = 1};
    return fs_request(fs, 3, &req, &rep);
}

/* A request with a string or bytes packed from word `at` (after `pre` leading words). */
static int call_bytes(rs_word_t label, const rs_word_t *pre, unsigned npre, const void *bytes,
                      size_t len, unsigned words)
{
    ipc_msg_t req = {.label = label, .len = 1 + npre + words};
    req.w[0] = next_id++;
    memcpy(&req.w[1], pre, npre * sizeof *pre);
    memcpy(&req.w[1 + npre], bytes, len);
    rep = (ipc_msg_t){.len = 1};
    return fs_request(fs, 3, &req, &rep);
}

static int path_op(rs_word_t label, const char *path)
{
    rs_word_t pre[] = {strlen(path)};
    return call_bytes(label, pre, 1, path, strlen(path), (unsigned)(strlen(path) + 7) / 8);
}

static int create(const char *path, rs_word_t label)
{
    rs_word_t pre[] = {0644, strlen(path)};
    return call_bytes(label, pre, 2, path, strlen(path), (unsigned)(strlen(path) + 7) / 8);
}

Test(ext2_request, every_operation, .init = setup, .fini = teardown)
{
    cr_assert_eq(create("/a", FS_CREATE), RS_OK);
    rs_word_t ino = rep.w[1];
    cr_assert_gt(ino, 11);
    const char text[] = "twenty bytes of text";
    rs_word_t pre[] = {ino, 0, 20};
    cr_assert_eq(call_bytes(FS_WRITE, pre, 3, text, 20, 3), RS_OK);
    cr_assert_eq(rep.w[1], 20);
    cr_assert_eq(call(FS_READ, 3, ino, 7, 100), RS_OK);
    cr_assert_eq(rep.w[1], 13);
    cr_assert_eq(memcmp(&rep.w[2], text + 7, 13), 0);
    cr_assert_eq(rep.len, 2 + 2);
    cr_assert_eq(path_op(FS_LOOKUP, "/a"), RS_OK);
    cr_assert_eq(rep.w[1], ino);
    cr_assert_eq(rep.w[3], 20);
    cr_assert_eq(call(FS_STAT, 1, ino), RS_OK);
    cr_assert_eq(rep.w[2], 20);
    cr_assert_eq(rep.w[3], 1);
    /* readdir of the root: ".", "..", lost+found, the log, a. */
    rs_word_t cookie = 0;
    int found = 0, n = 0;
    while (call(FS_READDIR, 2, (rs_word_t)2, cookie) == RS_OK) {
        cookie = rep.w[1];
        n++;
        if (rep.w[4] == 1 && memcmp(&rep.w[5], "a", 1) == 0 && rep.w[2] == ino) found++;
        cr_assert_lt(n, 10);
    }
    cr_assert_eq(n, 5);
    cr_assert_eq(found, 1);
    const char two[] = "/a/b";
    rs_word_t rn[] = {2, 2};
    cr_assert_eq(call_bytes(FS_RENAME, rn, 2, two, 4, 1), RS_OK);
    cr_assert_eq(path_op(FS_LOOKUP, "/a"), RS_NOT_FOUND);
    cr_assert_eq((int64_t)rep.w[1], EXT2_ENOENT);
    cr_assert_eq(call(FS_TRUNCATE, 2, ino, (rs_word_t)5), RS_OK);
    cr_assert_eq(call(FS_FSYNC, 1, ino), RS_OK);
    cr_assert_eq(create("/d", FS_MKDIR), RS_OK);
    cr_assert_eq(create("/d", FS_MKDIR), RS_INVALID_ARGUMENT);
    cr_assert_eq((int64_t)rep.w[1], EXT2_EEXIST);
    cr_assert_eq(path_op(FS_RMDIR, "/d"), RS_OK);
    cr_assert_eq(path_op(FS_UNLINK, "/b"), RS_OK);
    cr_assert_eq(call(FS_STAT, 1, ino), RS_NOT_FOUND);
    cr_assert_eq(path_op(FS_UNLINK, "/" EXT2_LOG_NAME), RS_BUSY);
    cr_assert_eq(ext2_unmount(fs), 0);
    char img[] = "/tmp/ext2req.XXXXXX";
    int fd = mkstemp(img);
    cr_assert_geq(fd, 0);
    close(fd);
    memdev_save(&m, img);
    cr_assert_eq(fsck(img), 0);
    unlink(img);
}

Test(ext2_request, absurd_requests, .init = setup, .fini = teardown)
{
    cr_assert_eq(create("/f", FS_CREATE), RS_OK);
    rs_word_t ino = rep.w[1];
    static const char big[200];
    rs_word_t pre[] = {ino, 0, 1000};
    cr_assert_eq(call_bytes(FS_WRITE, pre, 3, big, 96, 12),
                 RS_INVALID_ARGUMENT); /* > FS_WRITE_MAX */
    rs_word_t pre2[] = {ino, 0, FS_WRITE_MAX};
    cr_assert_eq(call_bytes(FS_WRITE, pre2, 3, big, 8, 1), RS_TRUNCATED_MESSAGE);
    rs_word_t pre3[] = {ino, (rs_word_t)1 << 62, 8};
    cr_assert_eq(call_bytes(FS_WRITE, pre3, 3, big, 8, 1), RS_RANGE_ERROR);
    cr_assert_eq((int64_t)rep.w[1], EXT2_EFBIG);
    cr_assert_eq(call(FS_READ, 3, ino, (rs_word_t)-1, 8), RS_OK); /* beyond the end: nothing */
    cr_assert_eq(rep.w[1], 0);
    cr_assert_eq(call(FS_READ, 3, ino, 0, FS_READ_MAX + 1), RS_INVALID_ARGUMENT);
    cr_assert_eq(call(FS_READ, 2, ino, 0), RS_TRUNCATED_MESSAGE);
    cr_assert_eq(call(FS_STAT, 1, (rs_word_t)1 << 40), RS_NOT_FOUND);
    cr_assert_eq(call(FS_STAT, 1, (rs_word_t)0), RS_NOT_FOUND);
    cr_assert_eq(call(FS_STAT, 1, (rs_word_t)99999), RS_NOT_FOUND);
    cr_assert_eq(call(FS_READ, 3, (rs_word_t)2, 0, 8), RS_INVALID_ARGUMENT); /* a directory */
    cr_assert_eq((int64_t)rep.w[1], EXT2_EISDIR);
    cr_assert_eq(call(FS_STAT, 0), RS_TRUNCATED_MESSAGE);
    cr_assert_eq(call(99, 0), RS_ILLEGAL_OPERATION);
    /* Paths: empty, too long, a NUL inside, longer than the message. */
    rs_word_t zero[] = {0};
    cr_assert_eq(call_bytes(FS_UNLINK, zero, 1, "", 0, 0), RS_INVALID_ARGUMENT);
    rs_word_t lng[] = {500};
    cr_assert_eq(call_bytes(FS_UNLINK, lng, 1, big, 100, 13), RS_INVALID_ARGUMENT);
    rs_word_t nul[] = {4};
    cr_assert_eq(call_bytes(FS_UNLINK, nul, 1, "/f\0x", 4, 1), RS_INVALID_ARGUMENT);
    rs_word_t over[] = {40};
    cr_assert_eq(call_bytes(FS_UNLINK, over, 1, "/f", 2, 1), RS_TRUNCATED_MESSAGE);
    rs_word_t rn[] = {60, 60};
    cr_assert_eq(call_bytes(FS_RENAME, rn, 2, big, 8, 1), RS_INVALID_ARGUMENT);
    cr_assert_eq(call(FS_READDIR, 2, (rs_word_t)2, (rs_word_t)-1),
                 RS_NOT_FOUND);                                     /* cookie past the end */
    cr_assert_eq(call(FS_READDIR, 2, ino, 0), RS_INVALID_ARGUMENT); /* not a directory */
    cr_assert_eq((int64_t)rep.w[1], EXT2_ENOTDIR);
    cr_assert_eq(path_op(FS_LOOKUP, "/f"), RS_OK); /* still there, untouched */
    cr_assert_eq(rep.w[3], 0);
}

/* A request done before a crash whose reply was lost: its retry (same client, same id) after
 * the remount gets the first reply; without the record, create would answer EEXIST and unlink
 * ENOENT. A new id runs again. */
Test(ext2_request, retry_after_a_crash_runs_once, .init = setup, .fini = teardown)
{
    const char path[] = "/once";
    ipc_msg_t req = {.label = FS_CREATE, .len = 4};
    req.w[0] = 1000;
    req.w[1] = 0644;
    req.w[2] = 5;
    memcpy(&req.w[3], path, 5);
    cr_assert_eq(fs_request(fs, 3, &req, &rep), RS_OK);
    uint64_t ino = rep.w[1];
    /* The crash: a new instance mounts the disk (recovery) and gets the retry. */
    struct ext2_blkdev dev = memdev_dev(&m);
    cr_assert_eq(ext2_mount(fs, &dev), 0);
    rep = (ipc_msg_t){.len = 1};
    cr_assert_eq(fs_request(fs, 3, &req, &rep), RS_OK);
    cr_assert_eq(rep.w[1], ino);
    /* Another client with the same id is another request. */
    cr_assert_eq(fs_request(fs, 4, &req, &rep), RS_INVALID_ARGUMENT);
    cr_assert_eq((int64_t)rep.w[1], EXT2_EEXIST);
    /* The next id of client 3 runs. */
    req.w[0] = 1001;
    cr_assert_eq(fs_request(fs, 3, &req, &rep), RS_INVALID_ARGUMENT);
    /* Unlink, crash, retry: once. */
    ipc_msg_t un = {.label = FS_UNLINK, .len = 3};
    un.w[0] = 1002;
    un.w[1] = 5;
    memcpy(&un.w[2], path, 5);
    cr_assert_eq(fs_request(fs, 3, &un, &rep), RS_OK);
    cr_assert_eq(ext2_mount(fs, &dev), 0);
    cr_assert_eq(fs_request(fs, 3, &un, &rep), RS_OK);
    un.w[0] = 1003;
    cr_assert_eq(fs_request(fs, 3, &un, &rep), RS_NOT_FOUND);
}

/* The bulk data path: FS_READ_WIN / FS_WRITE_WIN move bytes through client 3's window; every
 * window offset and length is checked against the window before a byte moves. */
Test(ext2_request, data_window, .init = setup, .fini = teardown)
{
    const size_t wsize = 256u << 10;
    uint8_t *win = malloc(wsize), *want = malloc(wsize);
    for (size_t i = 0; i < wsize; i++) want[i] = win[i] = (uint8_t)(i * 7 + 3);
    cr_assert_eq(create("/w", FS_CREATE), RS_OK);
    rs_word_t ino = rep.w[1];
    /* without a window: refused */
    cr_assert_eq(call(FS_WRITE_WIN, 4, ino, 0, 16, 0), RS_ILLEGAL_OPERATION);
    cr_assert_eq(fs_window_set(FS_WINDOWS, win, wsize), RS_INVALID_ARGUMENT);
    cr_assert_eq(fs_window_set(3, win, wsize), RS_OK);
    /* 200 KiB from window offset 4096, read back to offset 0 of a cleared window */
    cr_assert_eq(call(FS_WRITE_WIN, 4, ino, 0, 200000, 4096), RS_OK);
    cr_assert_eq(rep.w[1], 200000);
    memset(win, 0, wsize);
    cr_assert_eq(call(FS_READ_WIN, 4, ino, 0, wsize, 0), RS_OK);
    cr_assert_eq(rep.w[1], 200000, "a short count at the end of the file");
    cr_assert_eq(memcmp(win, want + 4096, 200000), 0);
    /* an odd range */
    cr_assert_eq(call(FS_READ_WIN, 4, ino, 1023, 5000, 7), RS_OK);
    cr_assert_eq(rep.w[1], 5000);
    cr_assert_eq(memcmp(win + 7, want + 4096 + 1023, 5000), 0);
    /* hostile: beyond the window, wrapping offsets, too long, short message, bad inodes */
    cr_assert_eq(call(FS_WRITE_WIN, 4, ino, 0, 1, wsize), RS_BAD_ADDRESS);
    cr_assert_eq(call(FS_READ_WIN, 4, ino, 0, 2, wsize - 1), RS_BAD_ADDRESS);
    cr_assert_eq(call(FS_WRITE_WIN, 4, ino, 0, 100, UINT64_MAX - 10), RS_BAD_ADDRESS);
    cr_assert_eq(call(FS_WRITE_WIN, 4, ino, 0, FS_WIN_MAX + 1, 0), RS_INVALID_ARGUMENT);
    cr_assert_eq(call(FS_READ_WIN, 4, ino, 0, UINT64_MAX, 0), RS_INVALID_ARGUMENT);
    cr_assert_eq(call(FS_WRITE_WIN, 3, ino, 0, 16), RS_TRUNCATED_MESSAGE);
    cr_assert_eq(call(FS_WRITE_WIN, 4, 1ull << 40, 0, 16, 0), RS_NOT_FOUND);
    cr_assert_eq(call(FS_WRITE_WIN, 4, 2, 0, 16, 0), RS_INVALID_ARGUMENT); /* a directory */
    cr_assert_eq((int64_t)rep.w[1], EXT2_EISDIR);
    cr_assert_eq(call(FS_WRITE_WIN, 4, ino, 1ull << 62, 16, 0), RS_RANGE_ERROR);
    /* none of them changed the file */
    memset(win, 0, wsize);
    cr_assert_eq(call(FS_READ_WIN, 4, ino, 0, 200000, 0), RS_OK);
    cr_assert_eq(memcmp(win, want + 4096, 200000), 0);
    cr_assert_eq(call(FS_STAT, 1, ino), RS_OK);
    cr_assert_eq(rep.w[2], 200000);
    /* another client's window is not this one's */
    cr_assert_eq(fs_window_set(3, NULL, 0), RS_OK);
    cr_assert_eq(call(FS_READ_WIN, 4, ino, 0, 16, 0), RS_ILLEGAL_OPERATION);
    free(win);
    free(want);
}
