/* SPDX-License-Identifier: MIT */
/* fs's block device over a channel to servers/blk (blockdev_chan.c). */
#pragma once
#include "ext2.h"
#include "ipc.h"
#include "libipc/channel.h"

struct chan_dev {
    ipc_server_t *srv; /* for init's pings while waiting */
    rs_cptr_t peer;    /* signals blk */
    uint8_t *data;     /* the channel's data area */
    chan_producer_t req;
    chan_consumer_t comp;
    uint32_t max_sectors; /* per request */
    uint64_t next_id, waiting, result, requests, ignored;
    uint32_t status;
    bool done, no_flush_said;
};

/* Takes up channel k of the info page as the client of a block driver: waits until blk has
 * released every request an earlier instance of fs left (so none of them lands later), asks the
 * disk's size and fills *dev with callbacks that make each read, write and flush one or more
 * requests, each waited for (several ids in turn; completions of other ids are ignored).
 * RS_NOT_FOUND when there is no such client channel, else RS_OK or blk's status. */
int chan_dev_open(struct chan_dev *c, ipc_server_t *srv, unsigned k, struct ext2_blkdev *dev);
