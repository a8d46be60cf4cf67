/* SPDX-License-Identifier: MIT */
/* Protocol of the fs server (servers/fs): files by path and inode number over IPC. Requests
 * follow the libipc convention: label = operation, w[0] = request id (set by ipc_call),
 * w[1..] = arguments; the reply's label is an rs_error, w[1..] the results. Strings and data
 * travel inline, packed little endian into the words after the fixed arguments (at most
 * FS_INLINE_MAX bytes); bulk data travels through a shared data window (FS_READ_WIN,
 * FS_WRITE_WIN). Every operation is on the disk when its reply is sent (a crash of fs or blk
 * loses none of it); it is durable against the loss of the disk's write cache (power) once an
 * FS_FSYNC of any file has returned (docs/storage-fs.md). */
#pragma once
#include <stdint.h>

enum fs_op {
    FS_LOOKUP = 1, /* w[1] path length, w[2..] path -> w[1] ino, w[2] mode, w[3] size */
    FS_STAT = 2,   /* w[1] ino -> w[1] mode, w[2] size, w[3] links, w[4] mtime, w[5] generation */
    FS_READ =
        3, /* w[1] ino, w[2] offset, w[3] length (<= FS_READ_MAX) -> w[1] count, w[2..] bytes */
    FS_WRITE =
        4, /* w[1] ino, w[2] offset, w[3] length (<= FS_WRITE_MAX), w[4..] bytes -> w[1] count */
    FS_CREATE = 5,    /* w[1] mode, w[2] path length, w[3..] path -> w[1] ino */
    FS_MKDIR = 6,     /* w[1] mode, w[2] path length, w[3..] path */
    FS_UNLINK = 7,    /* w[1] path length, w[2..] path */
    FS_RMDIR = 8,     /* w[1] path length, w[2..] path (an empty directory) */
    FS_RENAME = 9,    /* w[1] from length, w[2] to length, w[3..] from then to */
    FS_READDIR = 10,  /* w[1] ino, w[2] cookie (0: start) -> w[1] next cookie, w[2] ino, w[3] type,
                        w[4] name length, w[5..] name (at most FS_NAME_INLINE bytes of it);
                        RS_NOT_FOUND at the end */
    FS_TRUNCATE = 11, /* w[1] ino, w[2] size */
    FS_FSYNC = 12,    /* w[1] ino */
    /* The bulk data path: the bytes sit in the client's data window (below), the message
     * carries only where. Errors as above, and RS_ILLEGAL_OPERATION (w[1] 0) for a client
     * without a window, RS_INVALID_ARGUMENT for a length above FS_WIN_MAX, RS_BAD_ADDRESS for
     * bytes beyond the window. */
    FS_READ_WIN = 13,  /* w[1] ino, w[2] offset, w[3] length, w[4] window offset -> w[1] count
                          (bytes at the window offset; a short count at the end of the file) */
    FS_WRITE_WIN = 14, /* w[1] ino, w[2] offset, w[3] length, w[4] window offset -> w[1] count */
};

/* A client's data window: the data area of a manifest channel whose client is that client and
 * whose server is fs, named FS_WIN_PREFIX... (`channel fsdata-NAME client=C server=fs
 * pages=N`: N - 2 pages of window). Its rings are unused. fs knows the window by the
 * channel's peer (proto/init.h: ipc_channel_info_t.peer), the badge the client calls it with,
 * and copies straight between the window and the disk (or its cache). The client must not
 * change a write's bytes before the reply (they would be written as they are then). */
#define FS_WIN_PREFIX "fsdata"
#define FS_WIN_MAX    (256u << 10) /* bytes per call */

#define FS_INLINE_MAX  (15u * 8u)            /* bytes in w[1..15] */
#define FS_READ_MAX    (FS_INLINE_MAX - 8u)  /* after w[1] count */
#define FS_WRITE_MAX   (FS_INLINE_MAX - 24u) /* after ino, offset, length */
#define FS_PATH_MAX    (FS_INLINE_MAX - 16u) /* after the longest fixed part (rename, create) */
#define FS_NAME_INLINE (FS_INLINE_MAX - 32u)

/* Errors: the reply label is an rs_error and, for every error the file system itself reports,
 * w[1] is its negated errno (servers/fs/ext2.h: EXT2_ENOENT ...):
 * RS_NOT_FOUND (ENOENT; READDIR: the end), RS_INVALID_ARGUMENT (EINVAL, EEXIST, ENOTDIR,
 * EISDIR, ENOTEMPTY, ENAMETOOLONG, ELOOP, EMLINK, or a length beyond the inline limits),
 * RS_NOT_ENOUGH_MEMORY (ENOSPC), RS_RANGE_ERROR (EFBIG), RS_BUSY (EBUSY: the log file),
 * RS_ILLEGAL_OPERATION (EIO, EROFS, EUCLEAN: the disk failed or is corrupt; unknown operation),
 * RS_TRUNCATED_MESSAGE (fewer words than the operation needs). */
