/* SPDX-License-Identifier: MIT */
/* A file of the file system served as a block device over a channel (filedisk.c): a VMM's
 * virtio-blk backend (servers/vmm/virtio_blk_chan.c) is the client, fs the server, with the
 * requests of proto/blk.h. Channel NAME serves the file /disks/NAME.img (docs/storage.md). */
#pragma once
#include "ext2.h"
#include "libipc/channel.h"

#define FDISK_DIR      "/disks/"
#define FDISK_SUFFIX   ".img"
#define FDISK_NAME_MAX 24u /* ipc_channel_info_t's name */
#define FDISK_PATH_MAX (sizeof(FDISK_DIR) + FDISK_NAME_MAX + sizeof(FDISK_SUFFIX))
#define FDISK_RUN_MAX  (256u * 1024u) /* bytes of one ext2 call made of several requests */

struct fdisk {
    struct ext2_fs *fs;
    uint8_t *data;      /* the channel's data area */
    uint64_t data_size; /* its bytes */
    chan_consumer_t req;
    chan_producer_t comp;
    char path[FDISK_PATH_MAX];
    uint32_t ino;     /* 0: the file is not (yet) found */
    uint64_t sectors; /* the file's size in whole sectors, fixed when it is found */
    uint64_t served, refused, ring_errors;
    uint64_t runs, merged; /* ext2 calls that carried out several requests, and those requests */
    chan_desc_t batch[CHAN_ENTRIES]; /* fdisk_serve's requests, then their completions */
    /* called after a completion is published and before its request is released: the moment
     * a crash makes the next instance redo a request the client may already have seen done */
    void (*between)(void *ctx);
    void *between_ctx;
};

/* Takes up the server end of a channel whose memory starts at base (data_size bytes of data
 * area), named name (at most FDISK_NAME_MAX bytes, NUL-terminated or not): reading resumes at
 * the shared tail, so what an earlier instance of fs consumed and did not release is done again.
 * Looks the file up (again at each request until it exists). RS_INVALID_ARGUMENT for a name
 * that is empty, holds '/' or a control character, or starts with '.' (then no path is set and
 * every request fails with RS_NOT_FOUND). */
int fdisk_attach(struct fdisk *d, struct ext2_fs *fs, void *base, uint64_t data_size,
                 const char *name);
/* Serves the requests waiting, several at once: reads as many as the completion ring has room
 * for, in at most max runs (a run: requests that continue each other on the disk and in the
 * data area with the same op, read or write; any other request is a run of its own), checks
 * each, carries them out in ring order (a run as one ext2 call of up to FDISK_RUN_MAX bytes),
 * publishes all their completions in ring order, then releases them. Stops early when the
 * completion ring is full or the client's head is out of range. Returns the completions
 * published. */
unsigned fdisk_serve(struct fdisk *d, unsigned max);
/* Whether requests wait to be served (and the completion ring has room for one). */
bool fdisk_pending(const struct fdisk *d);
/* One request (a private copy r) carried out into its completion c: the status (proto/blk.h;
 * RS_NOT_FOUND while the file does not exist), for BLK_OP_INFO the size in sectors in offset. */
void fdisk_do(struct fdisk *d, const chan_desc_t *r, chan_desc_t *c);
